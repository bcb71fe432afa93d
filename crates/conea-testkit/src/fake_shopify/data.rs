//! Generated shop data in the shapes of Shopify's REST Admin API resources.

use conea_core::clock::{rfc3339, EpochMs};
use serde_json::{json, Value};

/// `2024-01-01T00:00:00Z`: record `i` was created here plus `i` minutes and updated one
/// hour after that.
pub const BASE_MS: EpochMs = 1_704_067_200_000;

pub fn updated_at_ms(i: usize) -> EpochMs {
    created_at_ms(i) + 3_600_000
}

fn created_at_ms(i: usize) -> EpochMs {
    BASE_MS + i as EpochMs * 60_000
}

pub fn product(i: usize) -> Value {
    let id = 7_000_000_000u64 + i as u64;
    json!({
        "id": id,
        "title": format!("Product {i}"),
        "body_html": format!("<p>Product {i}</p>"),
        "vendor": format!("Vendor {}", i % 7),
        "product_type": "Shirts",
        "handle": format!("product-{i}"),
        "status": if i % 10 == 0 { "draft" } else { "active" },
        "tags": "cotton, comfortable",
        "created_at": rfc3339(created_at_ms(i)),
        "updated_at": rfc3339(updated_at_ms(i)),
        "published_at": rfc3339(created_at_ms(i)),
        "admin_graphql_api_id": format!("gid://shopify/Product/{id}"),
        "variants": [{
            "id": 40_000_000_000u64 + i as u64,
            "product_id": id,
            "title": "Default Title",
            "price": format!("{}.99", 10 + i % 90),
            "sku": format!("SKU-{i}"),
            "position": 1,
            "inventory_quantity": (i % 50) as i64,
            "taxable": true,
            "created_at": rfc3339(created_at_ms(i)),
            "updated_at": rfc3339(updated_at_ms(i)),
        }],
        "options": [{"name": "Title", "position": 1, "values": ["Default Title"]}],
        "images": [],
    })
}

pub fn customer(i: usize) -> Value {
    let id = 6_000_000_000u64 + i as u64;
    json!({
        "id": id,
        "email": format!("customer{i}@example.com"),
        "first_name": format!("First{i}"),
        "last_name": format!("Last{i}"),
        "orders_count": (i % 5) as i64,
        "total_spent": format!("{}.50", i % 1000),
        "state": "enabled",
        "verified_email": true,
        "currency": "EUR",
        "tags": "",
        "created_at": rfc3339(created_at_ms(i)),
        "updated_at": rfc3339(updated_at_ms(i)),
        "admin_graphql_api_id": format!("gid://shopify/Customer/{id}"),
    })
}

/// Every 10th order is cancelled, every 5th otherwise closed, the rest open.
pub fn order(i: usize) -> Value {
    let id = 5_000_000_000u64 + i as u64;
    let cancelled = i % 10 == 0;
    let closed = !cancelled && i % 5 == 0;
    let at = |cond: bool| {
        if cond {
            Value::String(rfc3339(updated_at_ms(i)))
        } else {
            Value::Null
        }
    };
    json!({
        "id": id,
        "name": format!("#{}", 1001 + i),
        "order_number": 1001 + i,
        "email": format!("customer{}@example.com", i % 100),
        "created_at": rfc3339(created_at_ms(i)),
        "updated_at": rfc3339(updated_at_ms(i)),
        "processed_at": rfc3339(created_at_ms(i)),
        "cancelled_at": at(cancelled),
        "closed_at": at(closed),
        "currency": "EUR",
        "total_price": "59.97",
        "subtotal_price": "59.97",
        "financial_status": if cancelled { "refunded" } else { "paid" },
        "fulfillment_status": if closed { Value::from("fulfilled") } else { Value::Null },
        "line_items": [{
            "id": 90_000_000_000u64 + i as u64,
            "product_id": 7_000_000_000u64 + (i % 100) as u64,
            "variant_id": 40_000_000_000u64 + (i % 100) as u64,
            "title": format!("Product {}", i % 100),
            "name": format!("Product {} - Default Title", i % 100),
            "sku": format!("SKU-{}", i % 100),
            "quantity": 3,
            "price": "19.99",
        }],
        "customer": {"id": 6_000_000_000u64 + (i % 100) as u64},
        "admin_graphql_api_id": format!("gid://shopify/Order/{id}"),
    })
}

/// Whether order `i` is open (`status=open`, Shopify's default filter).
pub fn order_is_open(i: usize) -> bool {
    i % 5 != 0
}

/// `GET shop.json` as Shopify answers it (the Admin API reference's example body, byte for
/// byte, compact as Shopify sends it), for the shop `domain`.
pub fn shop_json(domain: &str) -> String {
    SHOP_JSON.replace("{domain}", domain)
}

const SHOP_JSON: &str = r#"{"shop":{"id":690933842,"name":"Super Toys","email":"super@supertoys.com","domain":"{domain}","province":"Tennessee","country":"US","address1":"190 MacLaren Street","zip":"37178","city":"Houston","source":null,"phone":"3213213210","latitude":null,"longitude":null,"primary_locale":"en","address2":null,"created_at":"2025-01-02T09:00:00-05:00","updated_at":"2025-01-02T09:00:00-05:00","country_code":"US","country_name":"United States","currency":"USD","customer_email":"customers@apple.com","timezone":"(GMT-05:00) Eastern Time (US & Canada)","iana_timezone":"America/New_York","shop_owner":"John Smith","money_format":"${{amount}}","money_with_currency_format":"${{amount}} USD","weight_unit":"lb","province_code":"TN","taxes_included":null,"auto_configure_tax_inclusivity":null,"tax_shipping":null,"county_taxes":true,"plan_display_name":"Shopify Plus","plan_name":"enterprise","has_discounts":true,"has_gift_cards":false,"myshopify_domain":"{domain}","google_apps_domain":null,"google_apps_login_enabled":null,"money_in_emails_format":"${{amount}}","money_with_currency_in_emails_format":"${{amount}} USD","eligible_for_payments":true,"requires_extra_payments_agreement":false,"password_enabled":false,"has_storefront":true,"finances":true,"primary_location_id":655441491,"checkout_api_supported":true,"multi_location_enabled":true,"setup_required":false,"pre_launch_enabled":false,"enabled_presentment_currencies":["USD"],"marketing_sms_consent_enabled_at_checkout":false,"transactional_sms_disabled":false}}"#;
