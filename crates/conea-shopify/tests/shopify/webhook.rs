//! Webhook verification against signatures computed independently by `openssl`, secret
//! rotation, tampering, both header spellings, and shop domain validation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::{HeaderMap, HeaderValue};
use conea_shopify::{is_valid_shop_domain, sign, verify, WebhookHeaders};
use std::io::Write;
use std::process::{Command, Stdio};

const PRODUCT_UPDATE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/products_update_webhook.json"
));

/// `openssl dgst -sha256 -hmac SECRET -binary | base64` of `body`, or `None` (with the
/// reason printed) when openssl cannot be run.
fn openssl_hmac(body: &[u8], secret: &str) -> Option<String> {
    let mut child = match Command::new("sh")
        .arg("-c")
        .arg(r#"openssl dgst -sha256 -hmac "$SECRET" -binary | base64 | tr -d "\n""#)
        .env("SECRET", secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            println!("skipping the openssl vector: cannot run sh: {e}");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        println!(
            "skipping the openssl vector: openssl failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    Some(String::from_utf8(out.stdout).unwrap().trim().to_owned())
}

#[test]
fn signatures_match_openssl_vectors() {
    if Command::new("openssl").arg("version").output().is_err() {
        println!("skipping signatures_match_openssl_vectors: openssl is not installed");
        return;
    }
    let vectors: [(&[u8], &str); 4] = [
        (PRODUCT_UPDATE, "shpss_0123456789abcdef0123456789abcdef"),
        (b"", "secret"),
        (b"{\"id\":1,\"note\":\"caf\xc3\xa9 \xe2\x82\xac\"}\n", "k"),
        (
            &[0u8, 1, 2, 255, 254, b'\n', b'\r'],
            "a much longer secret than the sixty-four bytes of one SHA-256 block, to hash the key",
        ),
    ];
    for (body, secret) in vectors {
        let Some(expected) = openssl_hmac(body, secret) else {
            return;
        };
        assert_eq!(expected.len(), 44, "base64 of 32 bytes: {expected}");
        assert_eq!(sign(body, secret), expected);
        assert!(verify(body, &expected, &[secret]));
    }
}

#[test]
fn the_previous_secret_is_accepted_during_rotation() {
    let header = sign(PRODUCT_UPDATE, "old-secret");
    assert!(verify(
        PRODUCT_UPDATE,
        &header,
        &["new-secret", "old-secret"]
    ));
    assert!(!verify(PRODUCT_UPDATE, &header, &["new-secret"]));
    let fresh = sign(PRODUCT_UPDATE, "new-secret");
    assert!(verify(
        PRODUCT_UPDATE,
        &fresh,
        &["new-secret", "old-secret"]
    ));
}

#[test]
fn a_tampered_body_or_signature_fails() {
    let header = sign(PRODUCT_UPDATE, "secret");
    let mut tampered = PRODUCT_UPDATE.to_vec();
    let at = tampered.iter().position(|b| *b == b'9').unwrap();
    tampered[at] = b'8';
    assert!(!verify(&tampered, &header, &["secret"]));
    let mut body_with_space = PRODUCT_UPDATE.to_vec();
    body_with_space.push(b' ');
    assert!(!verify(&body_with_space, &header, &["secret"]));
    let mut flipped = header.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    assert!(!verify(
        PRODUCT_UPDATE,
        &String::from_utf8(flipped).unwrap(),
        &["secret"]
    ));
    assert!(!verify(PRODUCT_UPDATE, "", &["secret"]));
}

#[test]
fn prefixed_headers_are_read_from_an_http_header_map() {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("X-Shopify-Topic", "products/update"),
        ("X-Shopify-Shop-Domain", "demo-shop.myshopify.com"),
        ("X-Shopify-Hmac-Sha256", "c2lnbmF0dXJl"),
        (
            "X-Shopify-Webhook-Id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
        ("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5"),
        ("X-Shopify-API-Version", "2025-01"),
        ("X-Shopify-Triggered-At", "2025-04-22T19:30:00.123456Z"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    let w = WebhookHeaders::from_header_map(&h).unwrap();
    assert_eq!(w.topic, "products/update");
    assert_eq!(w.shop_domain, "demo-shop.myshopify.com");
    assert_eq!(w.hmac, "c2lnbmF0dXJl");
    assert_eq!(w.api_version.as_deref(), Some("2025-01"));
    assert_eq!(w.triggered_at, Some(1_745_350_200_123));
    assert_eq!(
        w.dedup_key(),
        "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "the event id"
    );
}

#[test]
fn unprefixed_and_oddly_cased_headers_are_accepted() {
    let w = WebhookHeaders::from_pairs([
        ("shopify-topic", "orders/create"),
        ("SHOPIFY-SHOP-DOMAIN", "Demo.myshopify.com"),
        ("Shopify-Hmac-SHA256", "c2ln"),
        ("shopify-webhook-id", "wh-1"),
        ("Shopify-Api-Version", "2025-04"),
    ])
    .unwrap();
    assert_eq!(w.topic, "orders/create");
    assert_eq!(w.shop_domain, "demo.myshopify.com");
    assert_eq!(w.event_id, None);
    assert_eq!(
        w.dedup_key(),
        "wh-1",
        "the webhook id when there is no event id"
    );
    assert_eq!(w.api_version.as_deref(), Some("2025-04"));
    assert_eq!(w.triggered_at, None);
}

#[test]
fn missing_or_bad_headers_are_named() {
    let base = [
        ("x-shopify-topic", "orders/create"),
        ("x-shopify-shop-domain", "demo.myshopify.com"),
        ("x-shopify-hmac-sha256", "c2ln"),
        ("x-shopify-webhook-id", "wh-1"),
    ];
    for missing in 0..base.len() {
        let pairs = base
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, p)| *p);
        let e = WebhookHeaders::from_pairs(pairs).unwrap_err();
        assert!(
            e.to_string().to_ascii_lowercase().contains(base[missing].0),
            "{e} should name {}",
            base[missing].0
        );
    }
    let mut bad = base;
    bad[1] = ("x-shopify-shop-domain", "evil.example.com");
    let e = WebhookHeaders::from_pairs(bad).unwrap_err();
    assert_eq!(e.header, "X-Shopify-Shop-Domain");
}

#[test]
fn shop_domains_are_validated() {
    for ok in [
        "demo.myshopify.com",
        "my-shop-2.myshopify.com",
        "a.myshopify.com",
        "0shop.myshopify.com",
    ] {
        assert!(is_valid_shop_domain(ok), "{ok}");
    }
    let long = format!("{}.myshopify.com", "a".repeat(64));
    for bad in [
        "",
        ".myshopify.com",
        "myshopify.com",
        "Demo.myshopify.com",
        "-demo.myshopify.com",
        "demo-.myshopify.com",
        "de_mo.myshopify.com",
        "de mo.myshopify.com",
        "a.b.myshopify.com",
        "demo.myshopify.com.evil.test",
        "evil.com/x.myshopify.com",
        "https://demo.myshopify.com",
        "demo.myshopify.com/",
        "demo.shopify.com",
        long.as_str(),
    ] {
        assert!(!is_valid_shop_domain(bad), "{bad:?}");
    }
}
