//! Shopify installed into a platform: its store, the Admin API access shared by the sync
//! and refresh jobs (the process's throttles, one HTTP client, waits on the clock), its three
//! job kinds (each marked as a shop-data write) and its service.

use super::access::{ApiOptions, OAuthApp, ShopAccess};
use super::lifecycle::{CALLBACK_PATH, INSTALL_PATH, WEBHOOK_PATH};
use super::signals::SignatureFailures;
use super::store::ShopifyStore;
use super::{ReconcileHandler, RefreshHandler, ShopifyService, SyncHandler, WebhookHandler};
use crate::client::{CONNECT_TIMEOUT, DEFAULT_TIMEOUT};
use crate::{FakeSleeper, Sleeper, Throttles, TokioSleeper};
use conea_core::config::Config;
use conea_core::secretbox::SecretBox;
use conea_core::sleep::ClockSleeper;
use conea_core::Clock;
use conea_jobs::service::JobService;
use conea_jobs::{JobHandler, JobKinds, Typed};
use conea_shopdata::ShopDataModule;
use std::sync::Arc;

/// The Shopify feature, as the platform wires it.
pub struct ShopifyModule {
    store: Arc<dyn ShopifyStore>,
    shop_data: ShopDataModule,
    access: ShopAccess,
    /// How the service reaches the Admin API (connecting checks the token with it).
    options: ApiOptions,
    secrets: SecretBox,
    api_version: String,
    throttles: Throttles,
    app: Option<OAuthApp>,
    /// Webhook signature failures: counted by the service at intake and by the webhook job
    /// (an uninstall Shopify does not confirm); the incident detector reads them.
    failures: Arc<SignatureFailures>,
}

impl ShopifyModule {
    /// Fails (naming the setting) without `CONEA_SECRET_KEY`, which seals the shops'
    /// credentials, or when the HTTP client cannot be built.
    pub fn new(
        config: &Config,
        store: Arc<dyn ShopifyStore>,
        shop_data: ShopDataModule,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let secret_key = config
            .secret_key
            .as_deref()
            .ok_or_else(|| "CONEA_SECRET_KEY is not set".to_string())?;
        let secrets = SecretBox::new(secret_key);
        let throttles = Throttles::new(clock.clone());
        let options = api_options(config, clock.clone(), throttles.clone())?;
        let access = ShopAccess::new(store.clone(), secrets.clone(), options.clone());
        let app = match (&config.shopify.app, &config.shopify.public_url) {
            (Some(app), Some(public)) => Some(OAuthApp {
                api_key: app.api_key.clone(),
                api_secret: app.api_secret.clone(),
                scopes: config.shopify.scopes.clone(),
                redirect_uri: format!("{public}{CALLBACK_PATH}"),
                install_uri: format!("{public}{INSTALL_PATH}"),
                link_key: crate::install_link::LinkKey::derive(secret_key),
            }),
            _ => None,
        };
        Ok(ShopifyModule {
            app,
            store,
            shop_data,
            access,
            options,
            secrets,
            api_version: config.shopify.api_version.clone(),
            throttles,
            failures: Arc::default(),
        })
    }

    /// Every shop's Admin API throttle state, shared by all tasks of the process.
    pub fn throttles(&self) -> &Throttles {
        &self.throttles
    }

    /// The service the routes and the CLI call (connect, webhooks, syncs).
    pub fn service(&self, jobs: Arc<JobService>, clock: Arc<dyn Clock>) -> Arc<ShopifyService> {
        Arc::new(
            ShopifyService::new(
                self.store.clone(),
                jobs,
                clock,
                self.secrets.clone(),
                self.api_version.clone(),
                self.options.clone(),
                self.app.clone(),
            )
            .with_signature_failures(self.failures.clone()),
        )
    }
}

impl JobKinds for ShopifyModule {
    fn job_kinds(&self) -> Vec<Arc<dyn JobHandler>> {
        let shop_store = self.shop_data.store();
        vec![
            self.shop_data.writes(Typed::handler(WebhookHandler::new(
                self.access.clone(),
                shop_store.clone(),
                self.failures.clone(),
            ))),
            self.shop_data.writes(Typed::handler(SyncHandler::new(
                self.access.clone(),
                shop_store.clone(),
            ))),
            self.shop_data.writes(Typed::handler(RefreshHandler::new(
                self.access.clone(),
                shop_store.clone(),
            ))),
            self.shop_data.writes(Typed::handler(ReconcileHandler::new(
                self.access.clone(),
                shop_store.clone(),
            ))),
        ]
    }
}

/// How the Admin API jobs reach Shopify: the process's throttles, one HTTP client, and waits
/// that move the clock when it is a fake one (tests) instead of sleeping.
fn api_options(
    config: &Config,
    clock: Arc<dyn Clock>,
    throttles: Throttles,
) -> Result<ApiOptions, String> {
    let (sleeper, bulk_sleeper): (Arc<dyn Sleeper>, Arc<dyn Sleeper>) = match clock.as_fake() {
        Some(fake) => (
            Arc::new(FakeSleeper::new(fake.clone())),
            Arc::new(ClockSleeper::new(fake.clone())),
        ),
        None => (Arc::new(TokioSleeper), Arc::new(TokioSleeper)),
    };
    let http = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(DEFAULT_TIMEOUT)
        .user_agent(concat!("conea/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("Shopify HTTP client: {e}"))?;
    Ok(ApiOptions {
        throttles,
        sleeper,
        http,
        base_url: config.shopify.base_url.clone(),
        page_size: config.shopify.page_size,
        webhook_address: config
            .shopify
            .public_url
            .as_ref()
            .map(|p| format!("{p}{WEBHOOK_PATH}")),
        sync_interval: config.shopify.sync_interval,
        reconcile_interval: config.shopify.reconcile_interval,
        bulk_threshold: config.shopify.bulk_threshold,
        bulk_poll: super::bulk_sync::POLL_INTERVAL,
        bulk_sleeper,
        bulk_finishes: Arc::default(),
        clock,
        deprecations: Arc::default(),
    })
}
