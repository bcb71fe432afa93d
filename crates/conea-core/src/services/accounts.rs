//! Organizations, users, memberships and API keys: every management operation, with its
//! permission check and its validation, for the HTTP API and the CLI alike.

use super::authn::Authenticator;
use super::login_throttle::{LoginThrottle, SharedCounters};
use crate::auth::{api_key, jwt, password, AuthFailure};
use crate::clock::{Clock, EpochMs};
use crate::error::ErrorCode;
use crate::error::{CoreError, CoreResult};
use crate::ids::{KeyId, OrgId, UserId};
use crate::model::{self, ApiKey, Membership, NewKeyRecord, Organization, User};
use crate::permissions::{Permission, PermissionSet, Role};
use crate::principal::Principal;
use crate::store::{AccountsStore, StoreError};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_ORG_SLUG: &str = "default";

pub struct AccountsService {
    store: Arc<dyn AccountsStore>,
    clock: Arc<dyn Clock>,
    authn: Arc<Authenticator>,
    throttle: LoginThrottle,
}

/// What the first start created: shown once, never stored in clear.
pub struct Bootstrap {
    pub org: Organization,
    pub key: ApiKey,
    pub secret: String,
    /// The operator supplied the secret (`CONEA_BOOTSTRAP_KEY`): it is not shown again.
    pub supplied: bool,
}

/// A key just created: the secret is returned this once.
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

pub struct LoginToken {
    pub token: String,
    pub expires_in: i64,
}

pub struct NewUser {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
    pub role: Role,
}

impl AccountsService {
    /// `shared`: failed-login counters every replica shares (Redis), if configured.
    pub fn new(
        store: Arc<dyn AccountsStore>,
        clock: Arc<dyn Clock>,
        authn: Arc<Authenticator>,
        shared: Option<Arc<dyn SharedCounters>>,
    ) -> Self {
        let mut throttle = LoginThrottle::new(clock.clone(), 100_000);
        if let Some(shared) = shared {
            throttle = throttle.with_shared(shared);
        }
        Self {
            store,
            clock,
            authn,
            throttle,
        }
    }

    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.authn
    }

    /// On an empty database, creates the `default` organization and an owner key with every
    /// permission. Returns `None` when any organization exists (also when another replica
    /// won the race).
    pub async fn bootstrap(&self, given_secret: Option<String>) -> CoreResult<Option<Bootstrap>> {
        if self.store.count_orgs().await? > 0 {
            return Ok(None);
        }
        let now = self.clock.now_ms();
        let org = Organization {
            id: OrgId::generate(),
            slug: DEFAULT_ORG_SLUG.into(),
            name: "Default organization".into(),
            created_at: now,
        };
        match self.store.insert_org(&org).await {
            Err(StoreError::Duplicate(_)) => return Ok(None),
            other => other?,
        }
        let supplied = given_secret.is_some();
        let generated = match given_secret {
            Some(s) => api_key::from_secret(s),
            None => api_key::generate(),
        };
        let key = self
            .insert_key(
                &org.id,
                "bootstrap owner key",
                PermissionSet::all(),
                None,
                None,
                generated.clone(),
                now,
            )
            .await?;
        Ok(Some(Bootstrap {
            org,
            key,
            secret: generated.secret,
            supplied,
        }))
    }

    // ----- organizations -----

    pub async fn create_org(
        &self,
        by: Option<&Principal>,
        slug: &str,
        name: Option<&str>,
    ) -> CoreResult<Organization> {
        if let Some(p) = by {
            p.require(Permission::Admin)?;
        }
        model::validate_slug(slug)
            .map_err(|m| CoreError::unprocessable(ErrorCode::InvalidSlug, "slug", m))?;
        let org = Organization {
            id: OrgId::generate(),
            slug: slug.to_owned(),
            name: name.map(str::to_owned).unwrap_or_else(|| slug.to_owned()),
            created_at: self.clock.now_ms(),
        };
        self.store.insert_org(&org).await.map_err(|e| match e {
            StoreError::Duplicate(_) => CoreError::Conflict {
                code: ErrorCode::SlugTaken,
                message: format!(
                    "An organization with the slug `{slug}` already exists. Choose another slug."
                ),
            },
            other => other.into(),
        })?;
        Ok(org)
    }

    pub async fn get_org(&self, by: &Principal, id: &str) -> CoreResult<Organization> {
        let org_id = self.visible_org(by, id)?;
        self.store
            .get_org(&org_id)
            .await?
            .ok_or_else(|| CoreError::not_found("organization", id))
    }

    pub async fn org_by_slug(&self, slug: &str) -> CoreResult<Organization> {
        self.store
            .get_org_by_slug(slug)
            .await?
            .ok_or_else(|| CoreError::not_found("organization", slug))
    }

    pub async fn list_orgs(&self) -> CoreResult<Vec<Organization>> {
        Ok(self.store.list_orgs().await?)
    }

    /// Parses an organization id the caller may see; others answer 404, never 403.
    fn visible_org(&self, by: &Principal, id: &str) -> CoreResult<OrgId> {
        let org_id = OrgId::parse(id).map_err(|_| CoreError::not_found("organization", id))?;
        if by.can_see_org(&org_id) {
            Ok(org_id)
        } else {
            Err(CoreError::not_found("organization", id))
        }
    }

    // ----- members and users -----

    /// The members with their e-mails, roles and permissions [members:read].
    pub async fn list_members(&self, by: &Principal, org: &str) -> CoreResult<Vec<Membership>> {
        let org_id = self.visible_org(by, org)?;
        by.require(Permission::MembersRead)?;
        self.ensure_org(&org_id, org).await?;
        Ok(self.store.list_members(&org_id).await?)
    }

    pub async fn set_member_role(
        &self,
        by: Option<&Principal>,
        org: &str,
        user: &str,
        role: Role,
    ) -> CoreResult<Membership> {
        let org_id = match by {
            Some(p) => {
                let id = self.visible_org(p, org)?;
                p.require(Permission::MembersManage)?;
                self.ensure_can_confer(p, role.permissions())?;
                id
            }
            None => OrgId::parse(org).map_err(|_| CoreError::not_found("organization", org))?,
        };
        let user_id = UserId::parse(user).map_err(|_| CoreError::not_found("user", user))?;
        if self.store.get_member(&org_id, &user_id).await?.is_none() {
            return Err(CoreError::not_found("member", user));
        }
        self.store
            .upsert_member(&org_id, &user_id, role, self.clock.now_ms())
            .await?;
        self.authn.credentials_changed().await?;
        self.store
            .get_member(&org_id, &user_id)
            .await?
            .ok_or_else(|| CoreError::not_found("member", user))
    }

    pub async fn remove_member(&self, by: &Principal, org: &str, user: &str) -> CoreResult<()> {
        let org_id = self.visible_org(by, org)?;
        by.require(Permission::MembersManage)?;
        let user_id = UserId::parse(user).map_err(|_| CoreError::not_found("member", user))?;
        if !self.store.remove_member(&org_id, &user_id).await? {
            return Err(CoreError::not_found("member", user));
        }
        // The member's console sessions in this organization end with the membership.
        self.store
            .delete_user_sessions(&user_id, Some(&org_id))
            .await?;
        self.authn.credentials_changed().await
    }

    /// Creates a user and makes them a member of `org` (the caller's own organization when
    /// called through the API).
    pub async fn create_user(
        &self,
        by: Option<&Principal>,
        org: &OrgId,
        new: NewUser,
    ) -> CoreResult<(User, Membership)> {
        if let Some(p) = by {
            p.require(Permission::MembersManage)?;
            self.ensure_can_confer(p, new.role.permissions())?;
        }
        let email = model::validate_email(&new.email)
            .map_err(|m| CoreError::unprocessable(ErrorCode::InvalidEmail, "email", m))?;
        if new.password.chars().count() < password::MIN_PASSWORD_LEN {
            return Err(CoreError::unprocessable(
                ErrorCode::WeakPassword,
                "password",
                format!(
                    "The password must have at least {} characters.",
                    password::MIN_PASSWORD_LEN
                ),
            ));
        }
        let pw = new.password;
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(CoreError::internal)?
            .map_err(CoreError::internal)?;
        let now = self.clock.now_ms();
        let user = User {
            id: UserId::generate(),
            email: email.clone(),
            name: new.name,
            password_hash: Some(hash),
            created_at: now,
        };
        self.store.insert_user(&user).await.map_err(|e| match e {
            StoreError::Duplicate(_) => CoreError::Conflict {
                code: ErrorCode::EmailTaken,
                message: format!("A user with the email `{email}` already exists."),
            },
            other => other.into(),
        })?;
        self.store
            .upsert_member(org, &user.id, new.role, now)
            .await?;
        let member = self
            .store
            .get_member(org, &user.id)
            .await?
            .ok_or_else(|| CoreError::internal("membership vanished after insert"))?;
        Ok((user, member))
    }

    pub async fn user_by_email(&self, email: &str) -> CoreResult<User> {
        let e = model::validate_email(email).map_err(|m| CoreError::invalid("email", m))?;
        self.store
            .get_user_by_email(&e)
            .await?
            .ok_or_else(|| CoreError::not_found("user", email))
    }

    /// The organization a user acts in by default (their oldest membership).
    pub async fn default_org_of(&self, user: &UserId) -> CoreResult<OrgId> {
        self.store
            .first_membership(user)
            .await?
            .map(|m| m.org_id)
            .ok_or_else(|| CoreError::not_found("membership of user", user.as_str()))
    }

    /// Grants a permission directly to a user in an organization (CLI).
    pub async fn grant_user_permission(
        &self,
        org: &OrgId,
        user: &UserId,
        permission: Permission,
    ) -> CoreResult<()> {
        if self.store.get_member(org, user).await?.is_none() {
            return Err(CoreError::not_found("member", user.as_str()));
        }
        self.store
            .grant_user_permission(org, user, permission, self.clock.now_ms())
            .await?;
        self.authn.credentials_changed().await
    }

    /// Grants a permission to an API key (CLI).
    pub async fn grant_key_permission(&self, key: &str, permission: Permission) -> CoreResult<()> {
        let id = KeyId::parse(key).map_err(|_| CoreError::not_found("api key", key))?;
        if self.store.get_key(&id).await?.is_none() {
            return Err(CoreError::not_found("api key", key));
        }
        self.store.grant_key_permission(&id, permission).await?;
        self.authn.credentials_changed().await
    }

    /// Email and password to a JWT for the user's organization (the oldest membership).
    pub async fn login(&self, email: &str, pw: &str, client: &str) -> CoreResult<LoginToken> {
        let (user, member) = self.check_password(email, pw, client).await?;
        self.issue_token(&user.id, &member.org_id, None)
    }

    /// Checks an e-mail and password under the login throttle (the API's login and the
    /// console's sign-in alike): the user and their oldest membership, or
    /// `invalid_credentials` (429 `too_many_login_attempts` when throttled).
    pub async fn check_password(
        &self,
        email: &str,
        pw: &str,
        client: &str,
    ) -> CoreResult<(User, Membership)> {
        let email = email.trim().to_ascii_lowercase();
        self.throttle.check(&email, client).await?;
        let user = self.store.get_user_by_email(&email).await?;
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let pw = pw.to_owned();
        let ok = tokio::task::spawn_blocking(move || match hash {
            Some(h) => password::verify(&pw, &h),
            None => {
                // Same work for unknown users, so timing does not reveal which emails exist.
                let _ = password::hash(&pw);
                false
            }
        })
        .await
        .map_err(CoreError::internal)?;
        let member = match (&user, ok) {
            (Some(u), true) => self.store.first_membership(&u.id).await?,
            _ => None,
        };
        let (Some(user), Some(member)) = (user, member) else {
            self.throttle.record_failure(&email, client).await;
            return Err(CoreError::Unauthenticated(AuthFailure::InvalidCredentials));
        };
        self.throttle.record_success(&email, client).await;
        Ok((user, member))
    }

    /// Sets a user's password (CLI); every console session of the user ends.
    pub async fn set_password(&self, user: &UserId, new_password: &str) -> CoreResult<()> {
        if new_password.chars().count() < password::MIN_PASSWORD_LEN {
            return Err(CoreError::unprocessable(
                ErrorCode::WeakPassword,
                "password",
                format!(
                    "The password must have at least {} characters.",
                    password::MIN_PASSWORD_LEN
                ),
            ));
        }
        let pw = new_password.to_owned();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(CoreError::internal)?
            .map_err(CoreError::internal)?;
        if !self.store.set_password_hash(user, &hash).await? {
            return Err(CoreError::not_found("user", user.as_str()));
        }
        self.store.delete_user_sessions(user, None).await?;
        Ok(())
    }

    pub fn issue_token(
        &self,
        user: &UserId,
        org: &OrgId,
        ttl: Option<Duration>,
    ) -> CoreResult<LoginToken> {
        let settings = self.authn.jwt_settings();
        let issued = jwt::issue(
            settings,
            user.as_str(),
            org.as_str(),
            self.clock.now_ms(),
            ttl,
        )
        .map_err(CoreError::internal)?;
        Ok(LoginToken {
            token: issued.token,
            expires_in: issued.claims.exp - issued.claims.iat,
        })
    }

    // ----- API keys -----

    pub async fn create_key(
        &self,
        by: Option<&Principal>,
        org: &OrgId,
        name: &str,
        permissions: PermissionSet,
        expires_at: Option<EpochMs>,
    ) -> CoreResult<CreatedKey> {
        if let Some(p) = by {
            p.require(Permission::KeysManage)?;
            self.ensure_can_confer(p, permissions)?;
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(CoreError::unprocessable(
                ErrorCode::InvalidName,
                "name",
                "The key name must have 1 to 200 characters.",
            ));
        }
        let now = self.clock.now_ms();
        if expires_at.is_some_and(|e| e <= now) {
            return Err(CoreError::unprocessable(
                ErrorCode::InvalidExpiry,
                "expires_at",
                "expires_at must be in the future.",
            ));
        }
        let generated = api_key::generate();
        let key = self
            .insert_key(
                org,
                name,
                permissions,
                by.map(|p| p.subject.clone()),
                expires_at,
                generated.clone(),
                now,
            )
            .await?;
        Ok(CreatedKey {
            key,
            secret: generated.secret,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_key(
        &self,
        org: &OrgId,
        name: &str,
        permissions: PermissionSet,
        created_by: Option<String>,
        expires_at: Option<EpochMs>,
        generated: api_key::NewApiKey,
        now: EpochMs,
    ) -> CoreResult<ApiKey> {
        let key = ApiKey {
            id: KeyId::generate(),
            org_id: org.clone(),
            name: name.to_owned(),
            prefix: generated.prefix,
            permissions,
            created_by,
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        self.store
            .insert_key(&NewKeyRecord {
                key: key.clone(),
                digest: generated.digest,
            })
            .await?;
        Ok(key)
    }

    pub async fn list_keys(&self, by: &Principal) -> CoreResult<Vec<ApiKey>> {
        by.require(Permission::KeysManage)?;
        Ok(self.store.list_keys(&by.org_id).await?)
    }

    pub async fn list_keys_of(&self, org: &OrgId) -> CoreResult<Vec<ApiKey>> {
        Ok(self.store.list_keys(org).await?)
    }

    /// Revokes a key; effective at once here and within one epoch poll on other replicas.
    pub async fn revoke_key(&self, by: Option<&Principal>, id: &str) -> CoreResult<ApiKey> {
        let key_id = KeyId::parse(id).map_err(|_| CoreError::not_found("api key", id))?;
        let key = self
            .store
            .get_key(&key_id)
            .await?
            .ok_or_else(|| CoreError::not_found("api key", id))?;
        if let Some(p) = by {
            if !p.can_see_org(&key.org_id) {
                return Err(CoreError::not_found("api key", id));
            }
            p.require(Permission::KeysManage)?;
            // A key reaches only keys no stronger than itself (`keys:manage` must not
            // revoke the owner's key).
            self.ensure_can_confer(p, key.permissions)?;
        }
        self.store.revoke_key(&key_id, self.clock.now_ms()).await?;
        self.authn.credentials_changed().await?;
        self.store
            .get_key(&key_id)
            .await?
            .ok_or_else(|| CoreError::not_found("api key", id))
    }

    async fn ensure_org(&self, id: &OrgId, text: &str) -> CoreResult<()> {
        match self.store.get_org(id).await? {
            Some(_) => Ok(()),
            None => Err(CoreError::not_found("organization", text)),
        }
    }

    /// Nobody hands out permissions they do not hold themselves, nor acts on a key that
    /// holds more than they do.
    fn ensure_can_confer(&self, by: &Principal, wanted: PermissionSet) -> CoreResult<()> {
        by.require_all(wanted)
    }
}
