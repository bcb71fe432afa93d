//! A shop's life with the Conea Shopify app: installing it by OAuth ([`ShopifyService::
//! begin_install`] and [`ShopifyService::complete_install`]), and the webhooks Conea
//! registers at the shop (after connecting, repaired on each sync, removed on disconnect).

use super::access::{OAuthApp, ShopAccess};
use super::registration::{self, Registration};
use super::service::ShopifyService;
use super::store::{
    secret_context, InstallState, NewConnection, SealedCredentials, ShopifyShop, ShopifyStatus,
    TakenState,
};
use crate::error::{ErrorKind, ShopifyApiError};
use crate::oauth;
use crate::shop::is_valid_shop_domain;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::{OrgId, ShopId};
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_core::ErrorCode;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long an install's `state` is accepted.
pub const INSTALL_STATE_TTL_MS: i64 = 10 * 60 * 1000;

/// The install's route, under `CONEA_PUBLIC_URL` (signed install links point at it).
pub const INSTALL_PATH: &str = "/v1/integrations/shopify/install";
/// How long an install link is valid when its maker does not say.
pub const INSTALL_LINK_DEFAULT_TTL_MS: i64 = 24 * 3600 * 1000;
/// The longest an install link may be valid.
pub const INSTALL_LINK_MAX_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// The shortest an install link may be valid.
pub const INSTALL_LINK_MIN_TTL_MS: i64 = 60 * 1000;

/// A signed install link, as its maker receives it.
#[derive(Debug, Clone)]
pub struct InstallLink {
    /// `CONEA_PUBLIC_URL/v1/integrations/shopify/install?shop=…&link=…`.
    pub url: String,
    pub shop: String,
    pub expires_at: conea_core::clock::EpochMs,
}

/// The key under which a link's single use is recorded in the install states: never the
/// SHA-256 (hex) of any `state` a callback could present.
fn link_marker(nonce: &str) -> String {
    format!("link:{}", state_hash(nonce))
}

/// The install callback's route, under `CONEA_PUBLIC_URL`.
pub const CALLBACK_PATH: &str = "/v1/integrations/shopify/callback";
/// The webhook receiver's route, under `CONEA_PUBLIC_URL`.
pub const WEBHOOK_PATH: &str = "/v1/webhooks/shopify";

/// The stored form of a `state`: its SHA-256, hex.
fn state_hash(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A shop domain as written by a merchant or Shopify, lowercased; `None` when it is not
/// `name.myshopify.com`.
fn shop_domain(text: &str) -> Option<String> {
    let d = text.trim().to_ascii_lowercase();
    is_valid_shop_domain(&d).then_some(d)
}

/// The shop a caller asked for, as a permanent domain (400 naming `shop` otherwise).
fn requested_domain(shop: &str) -> CoreResult<String> {
    shop_domain(shop).ok_or_else(|| {
        CoreError::invalid(
            "shop",
            format!("`{shop}` is not a shop's permanent domain: use `name.myshopify.com`."),
        )
    })
}

fn refused(code: ErrorCode, param: &str, message: String) -> CoreError {
    CoreError::unprocessable(code, param, message)
}

impl ShopifyService {
    fn app(&self) -> CoreResult<&OAuthApp> {
        self.app.as_ref().ok_or_else(|| CoreError::Unavailable {
            code: ErrorCode::ShopifyAppNotConfigured,
            message: "Installing Shopify shops by OAuth is not configured on this server: set SHOPIFY_API_KEY, SHOPIFY_API_SECRET and CONEA_PUBLIC_URL. Shops can still be connected with an Admin API token (POST /v1/integrations/shopify/shops).".into(),
        })
    }

    fn access(&self) -> ShopAccess {
        ShopAccess::new(self.store.clone(), self.secrets.clone(), self.api.clone())
    }

    /// Starts installing the Conea app in `shop` for the caller's organization
    /// [integrations:manage]: stores a single-use `state` (hashed, 10 minutes) and answers
    /// the URL of Shopify's consent page.
    pub async fn begin_install(&self, by: &Principal, shop: &str) -> CoreResult<String> {
        by.require(Permission::IntegrationsManage)?;
        let app = self.app()?;
        let domain = requested_domain(shop)?;
        self.consent_url(app, &by.org_id, &domain).await
    }

    /// Stores a fresh single-use `state` for `org` and `domain` and answers Shopify's
    /// consent page for it.
    async fn consent_url(&self, app: &OAuthApp, org: &OrgId, domain: &str) -> CoreResult<String> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let state = URL_SAFE_NO_PAD.encode(bytes);
        let now = self.clock.now_ms();
        self.store
            .save_install_state(
                &state_hash(&state),
                &InstallState {
                    org_id: org.clone(),
                    domain: domain.to_owned(),
                    created_at: now,
                    expires_at: now + INSTALL_STATE_TTL_MS,
                },
            )
            .await?;
        Ok(oauth::authorize_url(
            &self.api.shop_base(domain),
            &app.api_key,
            &app.scopes,
            &app.redirect_uri,
            &state,
        ))
    }

    /// A signed install link for `shop` [integrations:manage]: whoever opens it, without a
    /// Conea credential, starts the install for the caller's organization. `expires_in_ms`
    /// defaults to 24 hours (1 minute to 7 days). The link works once.
    pub async fn create_install_link(
        &self,
        by: &Principal,
        shop: &str,
        expires_in_ms: Option<i64>,
    ) -> CoreResult<InstallLink> {
        by.require(Permission::IntegrationsManage)?;
        self.install_link_for(&by.org_id, shop, expires_in_ms).await
    }

    /// [`create_install_link`](Self::create_install_link) for `org` without a caller
    /// (operator access: the CLI).
    pub async fn install_link_for(
        &self,
        org: &OrgId,
        shop: &str,
        expires_in_ms: Option<i64>,
    ) -> CoreResult<InstallLink> {
        let app = self.app()?;
        let domain = requested_domain(shop)?;
        let ttl = expires_in_ms.unwrap_or(INSTALL_LINK_DEFAULT_TTL_MS);
        if !(INSTALL_LINK_MIN_TTL_MS..=INSTALL_LINK_MAX_TTL_MS).contains(&ttl) {
            return Err(CoreError::invalid(
                "expires_in",
                format!(
                    "An install link is valid for {} to {} seconds.",
                    INSTALL_LINK_MIN_TTL_MS / 1000,
                    INSTALL_LINK_MAX_TTL_MS / 1000
                ),
            ));
        }
        let now = self.clock.now_ms();
        let expires_at = now + ttl;
        let (token, claims) = app.link_key.issue(org.as_str(), &domain, expires_at);
        // Recorded unused now; opening the link takes it once.
        self.store
            .save_install_state(
                &link_marker(&claims.nonce),
                &InstallState {
                    org_id: org.clone(),
                    domain: domain.clone(),
                    created_at: now,
                    expires_at,
                },
            )
            .await?;
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("shop", &domain).append_pair("link", &token);
        Ok(InstallLink {
            url: format!("{}?{}", app.install_uri, q.finish()),
            shop: domain,
            expires_at,
        })
    }

    /// Opens a signed install link (no Conea credential: the link names the organization):
    /// checks, in order, its signature, its expiry, that `shop` is the link's shop, and that
    /// it was not opened before (it is used up now); then answers Shopify's consent page
    /// with a fresh single-use `state` for the link's organization, as
    /// [`begin_install`](Self::begin_install) does. A refusal stores nothing.
    pub async fn open_install_link(&self, shop: &str, link: &str) -> CoreResult<String> {
        let app = self.app()?;
        let invalid = |why: &str| {
            CoreError::Rejected {
            code: ErrorCode::InvalidInstallLink,
            message: format!("This install link is not valid ({why}). Nothing was stored; ask whoever sent it for a new one."),
            details: serde_json::json!({ "param": "link" }),
        }
        };
        let claims = app
            .link_key
            .verify(link)
            .map_err(|e| invalid(&e.to_string()))?;
        let org = OrgId::parse(&claims.org).map_err(|_| invalid("it names no organization"))?;
        let now = self.clock.now_ms();
        if now > claims.exp {
            return Err(refused(
                ErrorCode::InstallLinkExpired,
                "link",
                format!(
                    "This install link expired at {}. Nothing was stored; ask whoever sent it for a new one.",
                    conea_core::clock::rfc3339(claims.exp)
                ),
            ));
        }
        let domain = shop_domain(shop);
        if domain.as_deref() != Some(claims.shop.as_str()) {
            return Err(refused(
                ErrorCode::InstallShopMismatch,
                "shop",
                format!(
                    "This install link is for {}, not {shop}. Nothing was stored; open it for {} or ask for a link for your shop.",
                    claims.shop, claims.shop
                ),
            ));
        }
        match self
            .store
            .take_install_state(&link_marker(&claims.nonce), now)
            .await?
        {
            TakenState::Taken(s) if s.org_id == org && s.domain == claims.shop => {}
            TakenState::Used(_) => {
                return Err(CoreError::Conflict {
                    code: ErrorCode::InstallLinkUsed,
                    message: "This install link was already opened (each works once). Nothing was stored; ask whoever sent it for a new one.".into(),
                })
            }
            _ => return Err(invalid("this server holds no record of it")),
        }
        self.consent_url(app, &org, &claims.shop).await
    }

    /// Shopify's redirect after the merchant approved the install (no API key: the `state`
    /// names the organization). Checks, in order, the query's `hmac` under the app's
    /// secret, the shop domain's shape, the `state` (issued here, unused — it is used up
    /// now —, unexpired, for this shop); then exchanges the `code` for the offline token,
    /// stores it sealed and connects the shop to the state's organization (re-activating
    /// its earlier connection of the shop), registers the webhooks and starts the first
    /// sync. Any refusal stores no connection.
    pub async fn complete_install(&self, params: &[(String, String)]) -> CoreResult<ShopifyShop> {
        let app = self.app()?;
        if !oauth::verify_query(params, &app.api_secret) {
            return Err(CoreError::Rejected {
                code: ErrorCode::InvalidInstallSignature,
                message: "The install callback's `hmac` does not verify: the link was altered or did not come from Shopify. Nothing was stored; start the install again from Conea.".into(),
                details: serde_json::Value::Null,
            });
        }
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    CoreError::invalid(name, format!("The install callback has no `{name}`."))
                })
        };
        let (shop, state, code) = (param("shop")?, param("state")?, param("code")?);
        let domain = shop_domain(shop).ok_or_else(|| {
            refused(
                ErrorCode::InstallShopMismatch,
                "shop",
                format!("`{shop}` is not a shop's permanent domain (`name.myshopify.com`); nothing was stored."),
            )
        })?;
        let now = self.clock.now_ms();
        let issued = match self.store.take_install_state(&state_hash(state), now).await? {
            TakenState::Taken(s) => s,
            TakenState::Used(_) => {
                return Err(CoreError::Conflict {
                    code: ErrorCode::InstallStateUsed,
                    message: "This install link was already used (each works once). Nothing was stored; start the install again from Conea.".into(),
                })
            }
            TakenState::Unknown => {
                return Err(refused(
                    ErrorCode::InstallStateUnknown,
                    "state",
                    "The install's `state` was not issued by this server. Nothing was stored; start the install again from Conea.".into(),
                ))
            }
        };
        if now > issued.expires_at {
            return Err(refused(
                ErrorCode::InstallStateExpired,
                "state",
                format!(
                    "The install was started more than {} minutes ago. Nothing was stored; start it again from Conea.",
                    INSTALL_STATE_TTL_MS / 60_000
                ),
            ));
        }
        if issued.domain != domain {
            return Err(refused(
                ErrorCode::InstallShopMismatch,
                "shop",
                format!(
                    "The install was started for {}, not {domain}. Nothing was stored; start the install for {domain} from Conea.",
                    issued.domain
                ),
            ));
        }
        let token = oauth::exchange_code(
            &self.api.http,
            &self.api.shop_base(&domain),
            &app.api_key,
            &app.api_secret,
            code,
        )
        .await
        .map_err(|e| match e.kind {
            ErrorKind::Rejected | ErrorKind::Unauthorized | ErrorKind::NotFound => refused(
                ErrorCode::InstallCodeRefused,
                "code",
                format!("Shopify refused the authorization code of {domain} ({e}). Nothing was stored; start the install again from Conea."),
            ),
            _ => CoreError::Upstream {
                code: ErrorCode::ShopifyUnavailable,
                message: format!("Shopify could not exchange the authorization code of {domain} ({e}); nothing was stored. Start the install again shortly."),
                details: serde_json::json!({ "kind": e.kind.as_str() }),
            },
        })?;
        let org = &issued.org_id;
        let seal = |field: &str, v: &str| {
            self.secrets
                .encrypt(&secret_context(field, org, &domain), v)
        };
        let conn = NewConnection {
            new_shop_id: ShopId::generate(),
            org_id: org.clone(),
            domain: domain.clone(),
            api_version: self.default_api_version.clone(),
            credentials: SealedCredentials {
                access_token: seal("access_token", &token.access_token),
                // Shopify signs an app's webhooks with the app's client secret.
                api_secret: seal("api_secret", &app.api_secret),
                previous_api_secret: None,
            },
            // A shop installed again keeps the interval it had.
            sync_interval_ms: None,
        };
        let shop = self.store.connect(&conn, now).await?;
        self.connections.invalidate(&domain).await;
        tracing::info!(shop = %domain, org = %org, scope = %token.scope, "Shopify app installed");
        self.after_connect(&shop).await;
        if let Err(e) = self.enqueue_sync(&shop).await {
            tracing::warn!(shop = %domain, error = %e, "could not start the first sync");
        }
        Ok(shop)
    }

    /// After a connection (either way): registers Conea's webhooks when `CONEA_PUBLIC_URL`
    /// is set. A failure is logged; each sync repairs the subscriptions again.
    pub(super) async fn after_connect(&self, shop: &ShopifyShop) {
        if self.api.webhook_address.is_none() {
            return;
        }
        match self.registration(shop, true).await {
            Ok(r) => {
                tracing::info!(shop = %shop.domain, created = r.created.len(), missing = r.missing.len(), "registered Shopify webhooks")
            }
            Err(e) => {
                tracing::warn!(shop = %shop.domain, error = %e, "could not register Shopify webhooks; the next sync tries again")
            }
        }
    }

    /// Before a disconnect erases the token: deletes Conea's webhook subscriptions, unless
    /// another organization's live connection of the shop still receives them. Failures
    /// are logged (the disconnect goes on; Shopify's deliveries then answer 401).
    pub(super) async fn before_disconnect(&self, shop: &ShopifyShop) {
        let Some(address) = self.api.webhook_address.clone() else {
            return;
        };
        if shop.status != ShopifyStatus::Active {
            return;
        }
        let others = match self.store.credentials_by_domain(&shop.domain).await {
            Ok(c) => c
                .iter()
                .any(|(s, _)| s.shop_id != shop.shop_id && s.status == ShopifyStatus::Active),
            Err(e) => {
                tracing::warn!(shop = %shop.domain, error = %e, "could not read the shop's connections");
                return;
            }
        };
        if others {
            return;
        }
        let removed = async {
            let Some((s, sealed)) = self.store.credentials(&shop.shop_id).await.ok().flatten()
            else {
                return Err("the connection has no credentials".to_owned());
            };
            let client = self.access().client(&s, &sealed)?;
            registration::remove(&client, &address)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match removed {
            Ok(n) => tracing::info!(shop = %shop.domain, removed = n, "removed Shopify webhooks"),
            Err(e) => {
                tracing::warn!(shop = %shop.domain, error = %e, "could not remove Shopify webhooks")
            }
        }
    }

    /// The shop's webhook subscriptions [integrations:manage], repaired first when `repair`.
    pub async fn webhooks(
        &self,
        by: &Principal,
        id: &str,
        repair: bool,
    ) -> CoreResult<Registration> {
        let shop = self.get(by, id).await?;
        self.registration(&shop, repair).await
    }

    /// The shop's subscriptions (operator access: the CLI), repaired first when `repair`.
    /// Needs an active shop and `CONEA_PUBLIC_URL`; a token Shopify refuses marks the shop
    /// `unauthorized`, as the jobs do.
    pub async fn registration(&self, shop: &ShopifyShop, repair: bool) -> CoreResult<Registration> {
        let address = self.api.webhook_address.clone().ok_or_else(|| CoreError::Unavailable {
            code: ErrorCode::PublicUrlNotConfigured,
            message: "Conea registers Shopify webhooks at CONEA_PUBLIC_URL + /v1/webhooks/shopify: set CONEA_PUBLIC_URL to the https address Shopify reaches this server at.".into(),
        })?;
        super::service::require_active(shop, "managing its webhooks")?;
        let (shop, sealed) = self
            .store
            .credentials(&shop.shop_id)
            .await?
            .ok_or_else(|| CoreError::not_found("shop", shop.shop_id.to_string()))?;
        let client = self
            .access()
            .client(&shop, &sealed)
            .map_err(CoreError::internal)?;
        let answer = if repair {
            registration::repair(&client, &address).await
        } else {
            registration::inspect(&client, &address).await
        };
        match answer {
            Ok(r) => Ok(r),
            Err(e) => Err(self.shopify_failed(&shop, e).await),
        }
    }

    /// An Admin API failure outside a job: a refused token marks the shop `unauthorized`
    /// (409 `shop_not_active`); anything else is 502 `shopify_unavailable`.
    async fn shopify_failed(&self, shop: &ShopifyShop, e: ShopifyApiError) -> CoreError {
        if e.kind == ErrorKind::Unauthorized {
            let message = e.to_string();
            if let Err(se) = self
                .store
                .set_status(
                    &shop.shop_id,
                    ShopifyStatus::Unauthorized,
                    Some(&message),
                    self.clock.now_ms(),
                )
                .await
            {
                tracing::warn!(error = %se, "could not mark the shop unauthorized");
            }
            return CoreError::Conflict {
                code: ErrorCode::ShopNotActive,
                message: format!(
                    "Shopify refused the access token of {} ({e}); the shop is now `unauthorized`. Install the app again or connect it with a valid token.",
                    shop.domain
                ),
            };
        }
        CoreError::Upstream {
            code: ErrorCode::ShopifyUnavailable,
            message: format!("Shopify's webhook subscriptions of {} could not be read or changed ({e}). Retry shortly.", shop.domain),
            details: serde_json::json!({ "kind": e.kind.as_str() }),
        }
    }
}
