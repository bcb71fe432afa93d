//! REST listings of products, customers and orders, a page at a time. Items stay raw
//! Shopify JSON: `conea_shopdata`'s parser maps them into records.

use crate::client::{parse_json, ShopifyClient};
use crate::error::{ErrorKind, ShopifyApiError};
use crate::headers;
use crate::pagination::next_page_info;
use conea_core::clock::{rfc3339, EpochMs};
use conea_shopdata::RecordKind;
use serde_json::Value;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The resource objects, as Shopify sent them.
    pub items: Vec<Value>,
    /// The cursor of the next page (pass it back as `page_info`); `None` on the last page.
    pub next_page_info: Option<String>,
}

/// The resources listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Products,
    Customers,
    Orders,
}

impl Resource {
    /// The JSON key of the list in the answer, and the path's stem.
    pub fn key(self) -> &'static str {
        match self {
            Resource::Products => "products",
            Resource::Customers => "customers",
            Resource::Orders => "orders",
        }
    }

    /// The listing that holds records of `kind`.
    pub fn of(kind: RecordKind) -> Resource {
        match kind {
            RecordKind::Products => Resource::Products,
            RecordKind::Customers => Resource::Customers,
            RecordKind::Orders => Resource::Orders,
        }
    }

    /// The JSON key of one object in the answer (`product`).
    pub fn singular(self) -> &'static str {
        match self {
            Resource::Products => "product",
            Resource::Customers => "customer",
            Resource::Orders => "order",
        }
    }
}

impl ShopifyClient {
    /// Products changed at or after `updated_at_min` (all when `None`). Pass `page_info`
    /// from the previous page to continue; the filter travels inside the cursor.
    pub async fn list_products(
        &self,
        updated_at_min: Option<EpochMs>,
        page_info: Option<&str>,
    ) -> Result<Page, ShopifyApiError> {
        self.list(Resource::Products, updated_at_min, page_info)
            .await
    }

    /// Customers changed at or after `updated_at_min`.
    pub async fn list_customers(
        &self,
        updated_at_min: Option<EpochMs>,
        page_info: Option<&str>,
    ) -> Result<Page, ShopifyApiError> {
        self.list(Resource::Customers, updated_at_min, page_info)
            .await
    }

    /// Orders of every status (`status=any`: open, closed and cancelled; Shopify's default
    /// is open only) changed at or after `updated_at_min`.
    pub async fn list_orders(
        &self,
        updated_at_min: Option<EpochMs>,
        page_info: Option<&str>,
    ) -> Result<Page, ShopifyApiError> {
        self.list(Resource::Orders, updated_at_min, page_info).await
    }

    /// The shop the token opens (`GET shop.json`): its `shop` object (`myshopify_domain`,
    /// `name`, `currency`, …). A token the shop refuses is an `Unauthorized` error.
    pub async fn shop(&self) -> Result<Value, ShopifyApiError> {
        let answer = self.rest_get("shop.json", &[]).await?;
        let mut body = parse_json(&answer)?;
        match body.get_mut("shop").map(Value::take) {
            Some(shop @ Value::Object(_)) => Ok(shop),
            _ => Err(
                ShopifyApiError::new(ErrorKind::Malformed, "the answer has no `shop` object")
                    .with_request_id(answer.request_id.clone()),
            ),
        }
    }

    /// One object by its Shopify id (`GET {resource}/{id}.json`). A 404 is the answer for an
    /// object deleted in the shop (or never created): `Ok(None)`, so callers delete their
    /// copy instead of retrying; every other error stays an error.
    pub async fn get_one(
        &self,
        resource: Resource,
        id: i64,
    ) -> Result<Option<Value>, ShopifyApiError> {
        let path = format!("{}/{id}.json", resource.key());
        let answer = match self.rest_get(&path, &[]).await {
            Ok(answer) => answer,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut body = parse_json(&answer)?;
        match body.get_mut(resource.singular()).map(Value::take) {
            Some(object @ Value::Object(_)) => Ok(Some(object)),
            _ => Err(ShopifyApiError::new(
                ErrorKind::Malformed,
                format!("the answer has no `{}` object", resource.singular()),
            )
            .with_request_id(answer.request_id.clone())),
        }
    }

    /// One page of the ids of every `resource` object (`fields=id`, 250 a page; orders of
    /// every status), for reconciliation; pass the returned cursor back for the next.
    pub async fn list_ids(
        &self,
        resource: Resource,
        page_info: Option<&str>,
    ) -> Result<(Vec<i64>, Option<String>), ShopifyApiError> {
        let mut query = vec![
            ("limit", crate::client::MAX_PAGE_SIZE.to_string()),
            ("fields", "id".to_owned()),
        ];
        match page_info {
            Some(cursor) => query.push(("page_info", cursor.to_owned())),
            None if resource == Resource::Orders => query.push(("status", "any".to_owned())),
            None => {}
        }
        let answer = self
            .rest_get(&format!("{}.json", resource.key()), &query)
            .await?;
        let next = headers::link(&answer.headers).and_then(next_page_info);
        let body = parse_json(&answer)?;
        let malformed = || {
            ShopifyApiError::new(
                ErrorKind::Malformed,
                format!("the answer has no `{}` list of ids", resource.key()),
            )
            .with_request_id(answer.request_id.clone())
        };
        let ids = body
            .get(resource.key())
            .and_then(Value::as_array)
            .ok_or_else(malformed)?
            .iter()
            .map(|o| o.get("id").and_then(Value::as_i64).ok_or_else(malformed))
            .collect::<Result<Vec<i64>, _>>()?;
        Ok((ids, next))
    }

    /// One page of `resource`. With a `page_info`, Shopify accepts only `limit` beside it.
    pub async fn list(
        &self,
        resource: Resource,
        updated_at_min: Option<EpochMs>,
        page_info: Option<&str>,
    ) -> Result<Page, ShopifyApiError> {
        let mut query = vec![("limit", self.page_size().to_string())];
        match page_info {
            Some(cursor) => query.push(("page_info", cursor.to_owned())),
            None => {
                if let Some(t) = updated_at_min {
                    query.push(("updated_at_min", rfc3339(t)));
                }
                if resource == Resource::Orders {
                    query.push(("status", "any".to_owned()));
                }
            }
        }
        let answer = self
            .rest_get(&format!("{}.json", resource.key()), &query)
            .await?;
        let next_page_info = headers::link(&answer.headers).and_then(next_page_info);
        let mut body = parse_json(&answer)?;
        let items = match body.get_mut(resource.key()).map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(ShopifyApiError::new(
                    ErrorKind::Malformed,
                    format!("the answer has no `{}` list", resource.key()),
                )
                .with_request_id(answer.request_id.clone()))
            }
        };
        Ok(Page {
            items,
            next_page_info,
        })
    }
}
