//! How the Admin API jobs (`shopify.sync`, `shopify.refresh`) reach a shop: its connection
//! and decrypted token opened into a throttled [`ShopifyClient`], and the one answer to a
//! refused token (the shop becomes `unauthorized`, the job is discarded with a message that
//! says what to do).

use crate::client::ShopifyClient;
use crate::error::{ErrorKind, ShopifyApiError};
use crate::integration::store::{
    secret_context, SealedCredentials, ShopifyShop, ShopifyStatus, ShopifyStore,
};
use crate::sleep::Sleeper;
use crate::throttle::Throttles;
use conea_core::clock::Clock;
use conea_core::ids::ShopId;
use conea_core::secretbox::SecretBox;
use conea_jobs::JobError;
use std::sync::Arc;

/// How jobs reach Shopify (the same for every shop of a process).
#[derive(Clone)]
pub struct ApiOptions {
    pub throttles: Throttles,
    pub sleeper: Arc<dyn Sleeper>,
    pub http: reqwest::Client,
    /// Send to this base URL instead of `https://{shop}` (tests, proxies).
    pub base_url: Option<String>,
    pub page_size: u32,
    /// Where Shopify delivers webhooks to this server (`CONEA_PUBLIC_URL` +
    /// `/v1/webhooks/shopify`); `None` when `CONEA_PUBLIC_URL` is not set, and then Conea
    /// registers no webhooks.
    pub webhook_address: Option<String>,
    /// From the end of a shop's sync to its next (`SHOPIFY_SYNC_INTERVAL`); `None`: off.
    pub sync_interval: Option<std::time::Duration>,
    /// Between two reconciliations of a shop (`SHOPIFY_RECONCILE_INTERVAL`); `None`: off.
    pub reconcile_interval: Option<std::time::Duration>,
    /// A resource's first sync, and one that would read more objects than this, runs as a
    /// bulk operation (`SHOPIFY_BULK_THRESHOLD`); `None`: never.
    pub bulk_threshold: Option<u64>,
    /// Between two status checks of a running bulk operation.
    pub bulk_poll: std::time::Duration,
    /// How the wait between two status checks passes (tests: only when the test moves the
    /// clock, so a `bulk_operations/finish` webhook is seen to end it).
    pub bulk_sleeper: Arc<dyn Sleeper>,
    /// `bulk_operations/finish` deliveries, which end that wait early.
    pub bulk_finishes: Arc<super::bulk_finishes::BulkFinishes>,
    /// When deprecation notices are seen.
    pub clock: Arc<dyn Clock>,
    /// The deprecation notices this process wrote (so a sync writes one, not hundreds).
    pub deprecations: Arc<super::deprecations::Written>,
}

impl ApiOptions {
    /// Where a shop's Admin API and OAuth endpoints are: `https://{domain}`, or the base URL
    /// that replaces it (tests, proxies).
    pub fn shop_base(&self, domain: &str) -> String {
        self.base_url
            .clone()
            .unwrap_or_else(|| format!("https://{domain}"))
    }
}

/// The Conea Shopify app that shops install by OAuth (`SHOPIFY_API_KEY`, ...).
#[derive(Clone)]
pub struct OAuthApp {
    pub api_key: String,
    pub api_secret: String,
    pub scopes: Vec<String>,
    /// `CONEA_PUBLIC_URL` + `/v1/integrations/shopify/callback`.
    pub redirect_uri: String,
    /// `CONEA_PUBLIC_URL` + `/v1/integrations/shopify/install`: where signed install links
    /// point.
    pub install_uri: String,
    /// Signs install links (derived from `CONEA_SECRET_KEY`).
    pub link_key: crate::install_link::LinkKey,
}

/// Opens shops' Admin API clients for jobs.
#[derive(Clone)]
pub struct ShopAccess {
    store: Arc<dyn ShopifyStore>,
    secrets: SecretBox,
    options: ApiOptions,
}

impl ShopAccess {
    pub fn new(store: Arc<dyn ShopifyStore>, secrets: SecretBox, options: ApiOptions) -> Self {
        ShopAccess {
            store,
            secrets,
            options,
        }
    }

    pub fn store(&self) -> &Arc<dyn ShopifyStore> {
        &self.store
    }

    /// The active shop and a client with its token. A shop that is gone or not active is a
    /// permanent failure naming what to do.
    pub async fn open(&self, shop_id: &ShopId) -> Result<(ShopifyShop, ShopifyClient), JobError> {
        let Some((shop, sealed)) = self
            .store
            .credentials(shop_id)
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?
        else {
            return Err(JobError::permanent(format!(
                "shop {shop_id} is not connected (disconnected or deleted)"
            )));
        };
        if shop.status != ShopifyStatus::Active {
            return Err(JobError::permanent(format!(
                "{} is {}: connect it again first",
                shop.domain,
                shop.status.as_str()
            )));
        }
        let client = self.client(&shop, &sealed).map_err(JobError::permanent)?;
        Ok((shop, client))
    }

    /// The options this access was made with.
    pub fn options(&self) -> &ApiOptions {
        &self.options
    }

    /// A client of the shop with its decrypted token (whatever the shop's status).
    pub fn client(
        &self,
        shop: &ShopifyShop,
        sealed: &SealedCredentials,
    ) -> Result<ShopifyClient, String> {
        let token = self
            .secrets
            .decrypt(
                &secret_context("access_token", &shop.org_id, &shop.domain),
                &sealed.access_token,
            )
            .map_err(|e| e.to_string())?;
        let mut b = ShopifyClient::builder(
            shop.domain.clone(),
            token,
            shop.api_version.clone(),
            self.options.throttles.clone(),
        )
        .http_client(self.options.http.clone())
        .sleeper(self.options.sleeper.clone())
        .page_size(self.options.page_size)
        .deprecations(Arc::new(super::deprecations::Recorder {
            store: self.store.clone(),
            shop_id: shop.shop_id.clone(),
            clock: self.options.clock.clone(),
            written: self.options.deprecations.clone(),
        }));
        if let Some(base) = &self.options.base_url {
            b = b.base_url(base.clone());
        }
        b.build().map_err(|e| e.to_string())
    }

    /// The job's answer to an Admin API error: 401/403 marks the shop `unauthorized` and is
    /// permanent; anything else is retried.
    pub async fn failed(&self, shop: &ShopifyShop, e: ShopifyApiError, now: i64) -> JobError {
        if e.kind != ErrorKind::Unauthorized {
            return JobError::retryable(e.to_string());
        }
        let message = e.to_string();
        if let Err(se) = self
            .store
            .set_status(
                &shop.shop_id,
                ShopifyStatus::Unauthorized,
                Some(&message),
                now,
            )
            .await
        {
            tracing::warn!(error = %se, "could not mark the shop unauthorized");
        }
        JobError::permanent(format!(
            "Shopify refused the access token of {}: {message}. The shop is now `unauthorized`; connect it again with a valid token.",
            shop.domain
        ))
    }
}
