//! [`ShopifyService`]: connecting shops (credentials sealed at rest), listing and
//! disconnecting them, starting syncs, and accepting webhook deliveries (HMAC verified over
//! the raw body; stored and enqueued in one transaction).

use super::access::{ApiOptions, OAuthApp};
use super::signals::{Delivered, SignatureFailures, WebhookAccepted, WebhookOutcome};
use super::{
    ReconcileArgs, ReconcileHandler, RefreshArgs, RefreshHandler, SyncArgs, SyncHandler,
    WebhookArgs, WebhookHandler,
};
use crate::client::ShopifyClient;
use crate::error::ErrorKind;
use crate::integration::store::{
    secret_context, NewConnection, NewDelivery, SealedCredentials, ShopifyShop, ShopifyStatus,
    ShopifyStore,
};
use crate::shop::{is_valid_api_version, is_valid_shop_domain};
use crate::topics::{TopicMismatch, TopicPayload};
use crate::webhook::{verify, WebhookHeaders};
use conea_core::auth::AuthFailure;
use conea_core::clock::Clock;
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::ShopId;
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_core::secretbox::SecretBox;
use conea_core::ErrorCode;
use conea_jobs::service::JobService;
use conea_jobs::{Job, NewJob};
use conea_shopdata::RecordKind;
use std::sync::Arc;

/// `POST /v1/integrations/shopify/shops`.
#[derive(Clone, serde::Deserialize)]
pub struct ConnectRequest {
    pub shop_domain: String,
    pub access_token: String,
    pub api_secret: String,
    pub previous_api_secret: Option<String>,
    pub api_version: Option<String>,
    /// The shop's own interval between scheduled syncs (`15m`); `None`: the server's
    /// `SHOPIFY_SYNC_INTERVAL` (a shop connected again keeps the one it had).
    pub sync_interval: Option<String>,
}

/// `PATCH /v1/integrations/shopify/shops/{id}`: what changes (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct ShopUpdate {
    /// The Admin API version the shop's calls use (`YYYY-MM` or `unstable`).
    pub api_version: Option<String>,
    /// `Some(None)`: back to the server's `SHOPIFY_SYNC_INTERVAL`.
    pub sync_interval: Option<Option<String>>,
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("shop_domain", &self.shop_domain)
            .field("api_version", &self.api_version)
            .field("sync_interval", &self.sync_interval)
            .finish_non_exhaustive()
    }
}

/// What [`ShopifyService::receive_webhook`] answers: the outcome (the metric label) and the
/// result (the HTTP answer).
#[derive(Debug)]
pub struct Received {
    pub outcome: WebhookOutcome,
    pub result: CoreResult<Delivered>,
}

/// How long a replica keeps a connection it read for a webhook: a disconnect or a new
/// secret made on another replica applies here within this (on this one, at once).
pub const CONNECTION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
/// Most connections the webhook path keeps (by domain).
pub const CONNECTION_CACHE_SIZE: u64 = 10_000;

/// Every live connection of a domain (one per organization that connected it).
type CachedConnections = Arc<Vec<(ShopifyShop, SealedCredentials)>>;

pub struct ShopifyService {
    pub(super) store: Arc<dyn ShopifyStore>,
    jobs: Arc<JobService>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) secrets: SecretBox,
    pub(super) default_api_version: String,
    /// How connecting reaches the Admin API to check the token.
    pub(super) api: ApiOptions,
    /// The Conea Shopify app shops install by OAuth, when configured.
    pub(super) app: Option<OAuthApp>,
    /// Connections (still sealed) by domain, so a delivery costs no extra lookup.
    pub(super) connections: moka::future::Cache<String, CachedConnections>,
    /// Recent signature failures (the incident detector reads them).
    failures: Arc<SignatureFailures>,
}

impl ShopifyService {
    pub fn new(
        store: Arc<dyn ShopifyStore>,
        jobs: Arc<JobService>,
        clock: Arc<dyn Clock>,
        secrets: SecretBox,
        default_api_version: String,
        api: ApiOptions,
        app: Option<OAuthApp>,
    ) -> Self {
        ShopifyService {
            store,
            jobs,
            clock,
            secrets,
            default_api_version,
            api,
            app,
            connections: moka::future::Cache::builder()
                .max_capacity(CONNECTION_CACHE_SIZE)
                .time_to_live(CONNECTION_CACHE_TTL)
                .build(),
            failures: Arc::default(),
        }
    }

    /// Records signature failures into `failures` (shared with the webhook job, which
    /// rejects an uninstall Shopify does not confirm).
    pub fn with_signature_failures(mut self, failures: Arc<SignatureFailures>) -> Self {
        self.failures = failures;
        self
    }

    /// Recent webhook signature failures (the `webhooks` incident detector's signal).
    pub fn signature_failures(&self) -> &Arc<SignatureFailures> {
        &self.failures
    }

    /// Connections held by the webhook path's cache (exported in `/metrics`).
    pub fn cached_connections(&self) -> u64 {
        self.connections.entry_count()
    }

    /// The connections of a domain for a webhook: cached, else read (unknown domains are
    /// not cached, so a shop connected on another replica is found at once).
    async fn connections(&self, domain: &str) -> CoreResult<CachedConnections> {
        if let Some(c) = self.connections.get(domain).await {
            return Ok(c);
        }
        let found = Arc::new(self.store.credentials_by_domain(domain).await?);
        if !found.is_empty() {
            self.connections
                .insert(domain.to_owned(), found.clone())
                .await;
        }
        Ok(found)
    }

    pub fn store(&self) -> &Arc<dyn ShopifyStore> {
        &self.store
    }

    /// Connects a shop [integrations:manage] once Shopify accepts its token
    /// ([`Self::verify_token`]); a shop of the organization that was disconnected or
    /// uninstalled is re-activated with the new credentials. Another organization may
    /// connect the same shop, with its own valid token, as its own connection.
    pub async fn connect(&self, by: &Principal, req: ConnectRequest) -> CoreResult<ShopifyShop> {
        by.require(Permission::IntegrationsManage)?;
        let domain = req.shop_domain.trim().to_ascii_lowercase();
        if !is_valid_shop_domain(&domain) {
            return Err(CoreError::invalid(
                "shop_domain",
                format!(
                    "`{}` is not a shop's permanent domain: use `name.myshopify.com`.",
                    req.shop_domain
                ),
            ));
        }
        let api_version = api_version(
            req.api_version
                .as_deref()
                .map(str::trim)
                .unwrap_or(&self.default_api_version),
        )?;
        let sync_interval_ms = req
            .sync_interval
            .as_deref()
            .map(|t| super::interval::parse("sync_interval", t))
            .transpose()?;
        for (field, value) in [
            ("access_token", Some(&req.access_token)),
            ("api_secret", Some(&req.api_secret)),
            ("previous_api_secret", req.previous_api_secret.as_ref()),
        ] {
            if let Some(v) = value {
                if v.trim().is_empty()
                    || v.chars().count() > 1024
                    || v.chars().any(char::is_control)
                {
                    return Err(CoreError::invalid(
                        field,
                        format!("`{field}` must be 1 to 1024 printable characters."),
                    ));
                }
            }
        }
        let connected = self.store.credentials_by_domain(&domain).await?;
        if connected
            .iter()
            .any(|(s, _)| s.org_id == by.org_id && s.status == ShopifyStatus::Active)
        {
            return Err(CoreError::Conflict {
                code: ErrorCode::ShopAlreadyConnected,
                message: format!("{domain} is already connected. Disconnect it (DELETE /v1/integrations/shopify/shops/{{id}}) before connecting it again."),
            });
        }
        // Claiming a domain takes a token the shop accepts: nothing is stored otherwise.
        // Another organization's connection of the domain stays its own.
        self.verify_token(&domain, &api_version, req.access_token.trim())
            .await?;
        let seal = |field: &str, v: &str| {
            self.secrets
                .encrypt(&secret_context(field, &by.org_id, &domain), v.trim())
        };
        let conn = NewConnection {
            new_shop_id: ShopId::generate(),
            org_id: by.org_id.clone(),
            domain: domain.clone(),
            api_version,
            credentials: SealedCredentials {
                access_token: seal("access_token", &req.access_token),
                api_secret: seal("api_secret", &req.api_secret),
                previous_api_secret: req
                    .previous_api_secret
                    .as_deref()
                    .map(|s| seal("previous_api_secret", s)),
            },
            sync_interval_ms,
        };
        let shop = self.store.connect(&conn, self.clock.now_ms()).await?;
        self.connections.invalidate(&domain).await;
        self.after_connect(&shop).await;
        Ok(shop)
    }

    pub async fn list(&self, by: &Principal) -> CoreResult<Vec<ShopifyShop>> {
        by.require(Permission::IntegrationsManage)?;
        Ok(self.store.list_shopify_shops(&by.org_id).await?)
    }

    pub async fn get(&self, by: &Principal, id: &str) -> CoreResult<ShopifyShop> {
        by.require(Permission::IntegrationsManage)?;
        let shop_id = ShopId::parse(id).map_err(|_| CoreError::not_found("shop", id))?;
        self.store
            .get_shopify_shop(&by.org_id, &shop_id)
            .await?
            .ok_or_else(|| CoreError::not_found("shop", id))
    }

    /// Changes a shop's API version or sync interval [integrations:manage]. A new interval
    /// applies from the last sync (a shop that never synced is scheduled after its first);
    /// a new version clears nothing by itself: a deprecation notice shows only while the shop
    /// uses the version it was given for.
    pub async fn update(
        &self,
        by: &Principal,
        id: &str,
        change: ShopUpdate,
    ) -> CoreResult<ShopifyShop> {
        let shop = self.get(by, id).await?;
        let version = match change.api_version.as_deref() {
            Some(v) => api_version(v.trim())?,
            None => shop.api_version.clone(),
        };
        let interval = match &change.sync_interval {
            Some(Some(t)) => Some(super::interval::parse("sync_interval", t)?),
            Some(None) => None,
            None => shop.sync_interval_ms,
        };
        let effective = interval.or_else(|| self.default_interval_ms());
        let next = shop.last_sync_at.zip(effective).map(|(at, i)| at + i);
        self.store
            .update_settings(&shop.shop_id, &version, interval, next, self.clock.now_ms())
            .await?;
        self.connections.invalidate(&shop.domain).await;
        self.get(by, id).await
    }

    /// `SHOPIFY_SYNC_INTERVAL` in milliseconds; `None`: off.
    fn default_interval_ms(&self) -> Option<i64> {
        self.api.sync_interval.map(duration_ms)
    }

    /// The interval between the shop's scheduled syncs: its own, else the server's.
    pub fn sync_interval_ms(&self, shop: &ShopifyShop) -> Option<i64> {
        shop.sync_interval_ms.or_else(|| self.default_interval_ms())
    }

    /// Removes Conea's webhook subscriptions at the shop (when no other organization's
    /// connection of it is active), then erases the credentials; the shop's data stays.
    /// Webhooks for it answer 401 after.
    pub async fn disconnect(&self, by: &Principal, id: &str) -> CoreResult<()> {
        let shop = self.get(by, id).await?;
        self.before_disconnect(&shop).await;
        self.store
            .disconnect(&by.org_id, &shop.shop_id, self.clock.now_ms())
            .await?;
        self.connections.invalidate(&shop.domain).await;
        Ok(())
    }

    /// Enqueues `shopify.sync` for the shop (one live sync per shop: a second request while
    /// one is pending or running gets the same job).
    pub async fn sync(&self, by: &Principal, id: &str) -> CoreResult<Job> {
        let shop = self.get(by, id).await?;
        self.enqueue_sync(&shop).await
    }

    /// Starts the scheduled syncs that are due (every replica calls it every few seconds):
    /// each due active shop's `next_sync_at` is moved on from the value read — so one
    /// replica starts it — and its sync enqueued (a live one is the answer: one per shop).
    /// Shops that are not active (uninstalled, unauthorized, disconnected) are never picked.
    /// Returns how many syncs were started.
    pub async fn tick_syncs(&self) -> CoreResult<usize> {
        let now = self.clock.now_ms();
        let mut started = 0;
        for (shop, read) in self.store.due_syncs(now, 100).await? {
            // A due shop was scheduled by an interval (its own or the server's, which may
            // have been turned off since: then it is not started).
            let Some(interval) = self.sync_interval_ms(&shop) else {
                continue;
            };
            // Until the sync finishes and sets it from its end, retry after one interval.
            let next = now + interval;
            if !self.store.claim_sync(&shop.shop_id, read, next).await? {
                continue;
            }
            match self.enqueue_sync(&shop).await {
                Ok(_) => started += 1,
                Err(e) => {
                    tracing::warn!(shop = %shop.domain, error = %e, "could not start a scheduled sync")
                }
            }
        }
        Ok(started)
    }

    /// Enqueues `shopify.reconcile` for the shop [integrations:manage] (one live per shop: a
    /// second request while one is pending or running gets the same job).
    pub async fn reconcile(&self, by: &Principal, id: &str) -> CoreResult<Job> {
        let shop = self.get(by, id).await?;
        self.enqueue_reconcile(&shop).await
    }

    /// Enqueues the shop's reconciliation (the unique key makes a live one the answer).
    pub async fn enqueue_reconcile(&self, shop: &ShopifyShop) -> CoreResult<Job> {
        require_active(shop, "reconciling")?;
        let args = ReconcileArgs {
            shop_id: shop.shop_id.clone(),
        };
        let mut job = NewJob::of::<ReconcileHandler>(shop.org_id.clone(), &args)
            .map_err(CoreError::internal)?;
        job.unique_key = Some(format!("shopify.reconcile:{}", shop.shop_id));
        Ok(self.jobs.enqueue(job).await?.job)
    }

    /// Starts the reconciliations that are due (`SHOPIFY_RECONCILE_INTERVAL` after the last,
    /// or after the first sync), each once across replicas; returns how many started.
    pub async fn tick_reconciles(&self) -> CoreResult<usize> {
        let Some(interval) = self.api.reconcile_interval.map(duration_ms) else {
            return Ok(0);
        };
        let now = self.clock.now_ms();
        let mut started = 0;
        for (shop, read) in self.store.due_reconciles(now, interval, 100).await? {
            // Until the job finishes and sets it from its end, retry after one interval.
            if !self
                .store
                .claim_reconcile(&shop.shop_id, read, now + interval)
                .await?
            {
                continue;
            }
            match self.enqueue_reconcile(&shop).await {
                Ok(_) => started += 1,
                Err(e) => {
                    tracing::warn!(shop = %shop.domain, error = %e, "could not start a scheduled reconciliation")
                }
            }
        }
        Ok(started)
    }

    /// Operator access (CLI): a shop of any organization by id (`shop_…`) or domain.
    pub async fn find_any(&self, id_or_domain: &str) -> CoreResult<ShopifyShop> {
        let key = id_or_domain.trim();
        let found = match ShopId::parse(key) {
            Ok(id) => self.store.credentials(&id).await?,
            Err(_) => self
                .store
                .credentials_by_domain(&key.to_ascii_lowercase())
                .await?
                .into_iter()
                .next(),
        };
        found
            .map(|(shop, _)| shop)
            .ok_or_else(|| CoreError::not_found("connected Shopify shop", key))
    }

    /// Enqueues the shop's sync (the unique key makes a live one the answer).
    pub async fn enqueue_sync(&self, shop: &ShopifyShop) -> CoreResult<Job> {
        require_active(shop, "syncing")?;
        let args = SyncArgs {
            shop_id: shop.shop_id.clone(),
        };
        let mut job =
            NewJob::of::<SyncHandler>(shop.org_id.clone(), &args).map_err(CoreError::internal)?;
        job.unique_key = Some(format!("shopify.sync:{}", shop.shop_id));
        Ok(self.jobs.enqueue(job).await?.job)
    }

    /// Enqueues `shopify.refresh` of one object (`id` is its Shopify id): read again from
    /// the Admin API, upserted when found, deleted here when Shopify answers 404. One live
    /// refresh per object.
    pub async fn refresh(
        &self,
        by: &Principal,
        id: &str,
        resource: RecordKind,
        object_id: i64,
    ) -> CoreResult<Job> {
        let shop = self.get(by, id).await?;
        self.enqueue_refresh(&shop, resource, object_id).await
    }

    /// Enqueues the refresh of one object of `shop` (operator access: the CLI).
    pub async fn enqueue_refresh(
        &self,
        shop: &ShopifyShop,
        resource: RecordKind,
        object_id: i64,
    ) -> CoreResult<Job> {
        if object_id <= 0 {
            return Err(CoreError::invalid(
                "id",
                "The Shopify id of the object must be a positive integer.",
            ));
        }
        require_active(shop, "refreshing objects")?;
        let args = RefreshArgs {
            shop_id: shop.shop_id.clone(),
            resource,
            id: object_id,
        };
        let mut job = NewJob::of::<RefreshHandler>(shop.org_id.clone(), &args)
            .map_err(CoreError::internal)?;
        job.unique_key = Some(format!(
            "shopify.refresh:{}:{}:{object_id}",
            shop.shop_id,
            resource.as_str()
        ));
        Ok(self.jobs.enqueue(job).await?.job)
    }

    /// Verifies a delivery and stores it with its job in one transaction. Unknown shop or
    /// a signature that matches neither secret: 401 (the rejection is counted on the shop,
    /// a signature failure also in [`SignatureFailures`]); refusals are logged with shop,
    /// topic and ids (never a secret). The outcome says which, for the caller's metrics.
    pub async fn receive_webhook(&self, headers: &WebhookHeaders, body: &[u8]) -> Received {
        let result = self.accept_webhook(headers, body).await;
        let outcome = WebhookOutcome::of(&result);
        if outcome.is_signature_failure() {
            self.failures.record(self.clock.now_ms());
        }
        if outcome.is_refusal() {
            let reason = match &result {
                Ok(Delivered::Rejected { mismatch, .. }) => mismatch.reason.as_str(),
                _ => "-",
            };
            tracing::warn!(
                shop = %headers.shop_domain,
                topic = %headers.topic,
                webhook_id = headers.webhook_id.as_deref().unwrap_or("-"),
                event_id = headers.event_id.as_deref().unwrap_or("-"),
                outcome = outcome.as_str(),
                reason,
                "refused a Shopify webhook"
            );
        }
        Received { outcome, result }
    }

    async fn accept_webhook(&self, headers: &WebhookHeaders, body: &[u8]) -> CoreResult<Delivered> {
        let connections = self.connections(&headers.shop_domain).await?;
        if connections.is_empty() {
            return Err(CoreError::Unauthenticated(AuthFailure::UnknownWebhookShop));
        }
        // Each organization that connected the domain keeps the deliveries its own secret
        // verifies.
        let mut verified = Vec::new();
        for (shop, sealed) in connections.iter() {
            if self.signed_for(shop, sealed, &headers.hmac, body)? {
                verified.push(shop);
            }
        }
        if verified.is_empty() {
            let now = self.clock.now_ms();
            for (shop, _) in connections.iter() {
                if let Err(e) = self.store.count_rejected_webhook(&shop.shop_id, now).await {
                    tracing::warn!(error = %e, "could not count a rejected webhook");
                }
            }
            return Err(CoreError::Unauthenticated(
                AuthFailure::InvalidWebhookSignature,
            ));
        }
        let payload = std::str::from_utf8(body)
            .map_err(|_| CoreError::invalid("body", "The webhook body is not UTF-8 JSON."))?;
        let mut answer: Option<Delivered> = None;
        for shop in verified {
            let delivered = self.accept_for(shop, headers, payload).await?;
            if answer
                .as_ref()
                .is_none_or(|a| matches!(a, Delivered::Rejected { .. }))
            {
                answer = Some(delivered);
            }
        }
        answer.ok_or_else(|| CoreError::internal("no verified connection answered"))
    }

    /// Whether the body is signed with the connection's current or previous secret.
    fn signed_for(
        &self,
        shop: &ShopifyShop,
        sealed: &SealedCredentials,
        hmac: &str,
        body: &[u8],
    ) -> CoreResult<bool> {
        let open = |field: &str, v: &str| {
            self.secrets
                .decrypt(&secret_context(field, &shop.org_id, &shop.domain), v)
                .map_err(CoreError::internal)
        };
        let current = open("api_secret", &sealed.api_secret)?;
        let previous = match &sealed.previous_api_secret {
            Some(p) => Some(open("previous_api_secret", p)?),
            None => None,
        };
        let mut secrets = vec![current.as_str()];
        secrets.extend(previous.as_deref());
        Ok(verify(body, hmac, &secrets))
    }

    /// A verified delivery for one connection: checked against its topic, then stored with
    /// its job in one transaction.
    async fn accept_for(
        &self,
        shop: &ShopifyShop,
        headers: &WebhookHeaders,
        payload: &str,
    ) -> CoreResult<Delivered> {
        // The HMAC covers the body, not the topic: the body must be the topic's payload,
        // and a shop is erased only once uninstalled (Shopify sends `shop/redact` 48 hours
        // after `app/uninstalled`).
        let mut checked = TopicPayload::parse(&headers.topic, &shop.domain, payload);
        if let Ok(TopicPayload::ShopRedact) = checked {
            // The status as stored now (the cached connection may predate the uninstall).
            let status = self
                .store
                .credentials(&shop.shop_id)
                .await?
                .map(|(s, _)| s.status);
            if status != Some(ShopifyStatus::Uninstalled) {
                checked = Err(TopicMismatch {
                    topic: headers.topic.clone(),
                    reason: format!(
                        "the shop is {}, not uninstalled",
                        status.map_or("not connected", ShopifyStatus::as_str)
                    ),
                });
            }
        }
        if let Ok(TopicPayload::BulkFinished(f)) = &checked {
            // Wake the sync waiting for it now (polling stays the fallback).
            self.api.bulk_finishes.signal(&f.id);
        }
        if let Err(mismatch) = checked {
            let now = self.clock.now_ms();
            if let Err(e) = self.store.count_rejected_webhook(&shop.shop_id, now).await {
                tracing::warn!(error = %e, "could not count a rejected webhook");
            }
            return Ok(Delivered::Rejected {
                shop_id: shop.shop_id.clone(),
                mismatch,
            });
        }
        let dedup_key = headers.dedup_key();
        let args = WebhookArgs {
            shop_id: shop.shop_id.clone(),
            dedup_key: dedup_key.clone(),
            topic: headers.topic.clone(),
        };
        let job = self.jobs.prepare(
            NewJob::of::<WebhookHandler>(shop.org_id.clone(), &args)
                .map_err(CoreError::internal)?,
        );
        let delivery = NewDelivery {
            shop_id: shop.shop_id.clone(),
            org_id: shop.org_id.clone(),
            dedup_key,
            topic: headers.topic.clone(),
            webhook_id: headers.webhook_id.clone(),
            event_id: headers.event_id.clone(),
            api_version: headers.api_version.clone(),
            triggered_at: headers.triggered_at,
            payload: payload.to_owned(),
        };
        let stored = self
            .store
            .store_delivery(&delivery, &job, self.clock.now_ms())
            .await?;
        Ok(Delivered::Stored(WebhookAccepted {
            shop_id: shop.shop_id.clone(),
            job_id: stored.job_id,
            created: stored.created,
        }))
    }

    /// Checks the access token against the shop before it is stored: `GET shop.json` must
    /// answer, with the shop of `domain`. A refused token (401/403), an unknown shop (404)
    /// or another shop's token is 422 `shop_token_refused`; Shopify unreachable is 502
    /// `shopify_unavailable`. Either way nothing is stored.
    async fn verify_token(&self, domain: &str, api_version: &str, token: &str) -> CoreResult<()> {
        let mut b = ShopifyClient::builder(
            domain.to_owned(),
            token.to_owned(),
            api_version.to_owned(),
            self.api.throttles.clone(),
        )
        .http_client(self.api.http.clone())
        .sleeper(self.api.sleeper.clone());
        if let Some(base) = &self.api.base_url {
            b = b.base_url(base.clone());
        }
        let client = b.build().map_err(|e| {
            CoreError::invalid("shop_domain", format!("{domain} cannot be reached: {e}"))
        })?;
        let refused = |message: String| {
            CoreError::unprocessable(ErrorCode::ShopTokenRefused, "access_token", message)
        };
        match client.shop().await {
            Ok(shop) => {
                let opened = shop
                    .get("myshopify_domain")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default();
                if opened.eq_ignore_ascii_case(domain) {
                    Ok(())
                } else {
                    Err(refused(format!(
                        "The access token opens the shop `{opened}`, not {domain}. Use a token of {domain}."
                    )))
                }
            }
            Err(e) if e.kind == ErrorKind::Unauthorized || e.kind == ErrorKind::NotFound => {
                Err(refused(format!(
                    "Shopify refused the access token for {domain} ({e}). Use a valid Admin API token of the shop; nothing was stored."
                )))
            }
            Err(e) => Err(CoreError::Upstream {
                code: ErrorCode::ShopifyUnavailable,
                message: format!(
                    "Shopify could not be asked whether the token opens {domain} ({e}); nothing was stored. Retry shortly."
                ),
                details: serde_json::json!({ "kind": e.kind.as_str() }),
            }),
        }
    }
}

/// A duration in milliseconds (saturating).
pub(super) fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

/// A valid Admin API version, or 400 naming `api_version`.
fn api_version(v: &str) -> CoreResult<String> {
    if !is_valid_api_version(v) {
        return Err(CoreError::invalid(
            "api_version",
            format!(
                "`{v}` is not an Admin API version: use `YYYY-MM` (such as 2025-07) or `unstable`."
            ),
        ));
    }
    Ok(v.to_owned())
}

/// Admin API work needs an active shop: anything else is a 409 that says what to do.
pub(super) fn require_active(shop: &ShopifyShop, doing: &str) -> CoreResult<()> {
    if shop.status == ShopifyStatus::Active {
        return Ok(());
    }
    Err(CoreError::Conflict {
        code: ErrorCode::ShopNotActive,
        message: format!(
            "{} is {}{}; connect it again with valid credentials before {doing}.",
            shop.domain,
            shop.status.as_str(),
            shop.status_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
    })
}
