//! Shopify's deprecation warnings: an answer with `X-Shopify-API-Deprecated-Reason` says the
//! call used an API version (or a field) Shopify is retiring. The client hands each such
//! notice to the [`DeprecationObserver`] it was built with; Conea records it on the shop
//! (`integration::access`), so `/health`, `conea diagnose` and the shop's status show it.

use async_trait::async_trait;

/// One call Shopify flagged as deprecated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    /// `name.myshopify.com`
    pub shop: String,
    /// The API version the call used (`2025-01`).
    pub api_version: String,
    /// The header's value as Shopify sent it (a URL of the notice, or the deprecated fields).
    pub reason: String,
    /// The path called, without the query (`/admin/api/2025-01/orders.json`).
    pub endpoint: String,
}

/// Told about every answer Shopify flagged as deprecated (2xx or not). Called on the
/// request's task: keep it short (record, deduplicate), never fail the call.
#[async_trait]
pub trait DeprecationObserver: Send + Sync + 'static {
    async fn deprecated(&self, notice: Deprecation);
}
