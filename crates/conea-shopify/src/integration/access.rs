//! How the Admin API jobs (`shopify.sync`, `shopify.refresh`) reach a shop: its connection
//! and decrypted token opened into a throttled [`ShopifyClient`], and the one answer to a
//! refused token (the shop becomes `unauthorized`, the job is discarded with a message that
//! says what to do).

use crate::client::ShopifyClient;
use crate::error::{ErrorKind, ShopifyApiError};
use crate::integration::store::{secret_context, ShopifyShop, ShopifyStatus, ShopifyStore};
use crate::sleep::Sleeper;
use crate::throttle::Throttles;
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
        let token = self
            .secrets
            .decrypt(
                &secret_context("access_token", &shop.org_id, &shop.domain),
                &sealed.access_token,
            )
            .map_err(|e| JobError::permanent(e.to_string()))?;
        let mut b = ShopifyClient::builder(
            shop.domain.clone(),
            token,
            shop.api_version.clone(),
            self.options.throttles.clone(),
        )
        .http_client(self.options.http.clone())
        .sleeper(self.options.sleeper.clone())
        .page_size(self.options.page_size);
        if let Some(base) = &self.options.base_url {
            b = b.base_url(base.clone());
        }
        let client = b.build().map_err(|e| JobError::permanent(e.to_string()))?;
        Ok((shop, client))
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
