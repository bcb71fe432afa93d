//! Shopify for Conea: the Admin API client and webhook verification. The only crate that
//! knows Shopify's wire format; records it fetches stay raw JSON for conea-core's
//! `shopdata` parser.
//!
//! - [`client`] [`ShopifyClient`] for one shop (REST and GraphQL), built with
//!   [`ShopifyClient::builder`]; the private `http` module is the one request path
//!   (throttle, send, retry, classify) both use.
//! - [`throttle`] [`Throttles`], the process-wide registry of each shop's REST leaky bucket
//!   and GraphQL cost bucket; waits go through a [`Sleeper`] ([`sleep`]).
//! - [`resources`] `list_products` / `list_customers` / `list_orders`, a [`Page`] at a time;
//!   [`graphql`] `graphql(query, variables, estimated_cost)`; [`pagination`] the cursors.
//! - [`webhook`] HMAC `verify`/`sign`, [`WebhookHeaders`], shop domain validation;
//!   [`topics`] each topic's payload as its own type ([`TopicPayload`]), so a signed body
//!   re-sent under another topic is refused.
//! - [`oauth`] the app install's authorization-code grant: the consent URL, the callback's
//!   `hmac`, the code exchange; [`install_link`] the signed install links a merchant opens
//!   without a Conea credential; [`subscriptions`] webhook subscriptions through GraphQL.
//! - [`bulk`] GraphQL bulk operations: start, poll, stream the JSONL result, and
//!   [`BulkRows`] joining child lines to their parents through `__parentId`.
//! - [`deprecation`] an answer's `X-Shopify-API-Deprecated-Reason`, handed to a
//!   [`DeprecationObserver`].
//! - [`error`] [`ShopifyApiError`] with its [`ErrorKind`].
//! - [`integration`] the service (connect, webhooks, sync) and the `shopify.webhook` and
//!   `shopify.sync` job kinds.
//!
//! ```no_run
//! use conea_shopify::{verify, ShopifyClient, Throttles, WebhookHeaders};
//! use std::sync::Arc;
//!
//! # async fn demo(headers: &reqwest::header::HeaderMap, body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! // Once per process, kept in the application state (tests: the FakeClock).
//! let throttles = Throttles::new(Arc::new(conea_core::SystemClock));
//! let client = ShopifyClient::builder("demo.myshopify.com", "shpat_…", "2025-01", throttles.clone())
//!     .build()?;
//!
//! // REST listings, a page at a time; the cursor carries the filter.
//! let mut cursor: Option<String> = None;
//! loop {
//!     let page = client.list_orders(Some(1_735_689_600_000), cursor.as_deref()).await?;
//!     for order in &page.items { /* conea_shopdata::parse_ndjson_line(..) */ }
//!     cursor = page.next_page_info;
//!     if cursor.is_none() { break; }
//! }
//!
//! // GraphQL with its estimated cost.
//! let r = client
//!     .graphql("query { shop { name } }", serde_json::json!({}), 1)
//!     .await?;
//! println!("{}", r.data["shop"]["name"]);
//!
//! // A webhook delivery: headers, then the raw body against the current and previous secret.
//! let delivery = WebhookHeaders::from_header_map(headers)?;
//! if !verify(body, &delivery.hmac, &["current-secret", "previous-secret"]) {
//!     return Err("bad signature".into());
//! }
//! # Ok(()) }
//! ```

pub mod bulk;
pub mod client;
pub mod deprecation;
pub mod error;
pub mod graphql;
pub mod headers;
mod http;
pub mod install_link;
pub mod integration;
pub mod oauth;
pub mod pagination;
pub mod resources;
pub mod retry;
pub mod shop;
pub mod sleep;
pub mod subscriptions;
pub mod throttle;
pub mod topics;
pub mod webhook;

pub use bulk::{bulk_query, BulkOperation, BulkRows, Joined};
pub use client::{ShopifyClient, ShopifyClientBuilder};
pub use deprecation::{Deprecation, DeprecationObserver};
pub use error::{ErrorKind, ShopifyApiError};
pub use graphql::{GraphqlResponse, QueryCost};
pub use pagination::{next_page_info, Connection};
pub use resources::{Page, Resource};
pub use retry::RetryPolicy;
pub use shop::{is_valid_api_version, is_valid_shop_domain};
pub use sleep::{FakeSleeper, Sleeper, TokioSleeper};
pub use subscriptions::Subscription;
pub use throttle::{RestLimits, RestSnapshot, ThrottleStatus, Throttles};
pub use topics::{BulkFinish, CustomerRequest, TopicMismatch, TopicPayload, SUBSCRIBED_TOPICS};
pub use webhook::{sign, verify, DeliveryKey, WebhookHeaderError, WebhookHeaders};
