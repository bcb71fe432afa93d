//! `AccountsStore` on SQL: organizations, users, memberships, grants, API keys.

use crate::query::{q, Target};
use crate::SqlStore;
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{KeyId, OrgId, UserId};
use conea_core::model::{ApiKey, ConsoleSession, Membership, NewKeyRecord, Organization, User};
use conea_core::permissions::{Permission, PermissionSet, Role};
use conea_core::store::{AccountsStore, StoreError, StoreResult};

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: String,
    slug: String,
    name: String,
    created_at: i64,
}

impl OrgRow {
    fn into_model(self) -> StoreResult<Organization> {
        Ok(Organization {
            id: parse_id(OrgId::parse(&self.id))?,
            slug: self.slug,
            name: self.name,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    email: String,
    name: Option<String>,
    password_hash: Option<String>,
    created_at: i64,
}

impl UserRow {
    fn into_model(self) -> StoreResult<User> {
        Ok(User {
            id: parse_id(UserId::parse(&self.id))?,
            email: self.email,
            name: self.name,
            password_hash: self.password_hash,
            created_at: self.created_at,
        })
    }
}

/// One row per (member, grant); folded into memberships.
#[derive(sqlx::FromRow)]
struct MemberRow {
    organization_id: String,
    user_id: String,
    email: String,
    role: String,
    created_at: i64,
    permission: Option<String>,
}

/// One row per (key, permission); folded into keys.
#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    organization_id: String,
    name: String,
    prefix: String,
    created_by: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    permission: Option<String>,
}

fn parse_id<T, E: std::fmt::Display>(r: Result<T, E>) -> StoreResult<T> {
    r.map_err(|e| StoreError::Other(format!("corrupt id in database: {e}")))
}

fn add_permission(set: &mut PermissionSet, name: Option<&str>) {
    // Unknown names (from a newer version) are ignored rather than failing the lookup.
    if let Some(p) = name.and_then(Permission::parse) {
        set.insert(p);
    }
}

fn fold_members(rows: Vec<MemberRow>) -> StoreResult<Vec<Membership>> {
    let mut out: Vec<Membership> = Vec::new();
    for r in rows {
        let same = out.last().is_some_and(|m| {
            m.user_id.as_str() == r.user_id && m.org_id.as_str() == r.organization_id
        });
        if !same {
            out.push(Membership {
                org_id: parse_id(OrgId::parse(&r.organization_id))?,
                user_id: parse_id(UserId::parse(&r.user_id))?,
                email: r.email,
                role: Role::parse(&r.role)
                    .ok_or_else(|| StoreError::Other(format!("unknown role {}", r.role)))?,
                grants: PermissionSet::EMPTY,
                created_at: r.created_at,
            });
        }
        if let Some(m) = out.last_mut() {
            add_permission(&mut m.grants, r.permission.as_deref());
        }
    }
    Ok(out)
}

fn fold_keys(rows: Vec<KeyRow>) -> StoreResult<Vec<ApiKey>> {
    let mut out: Vec<ApiKey> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|k| k.id.as_str() != r.id) {
            out.push(ApiKey {
                id: parse_id(KeyId::parse(&r.id))?,
                org_id: parse_id(OrgId::parse(&r.organization_id))?,
                name: r.name,
                prefix: r.prefix,
                permissions: PermissionSet::EMPTY,
                created_by: r.created_by,
                created_at: r.created_at,
                expires_at: r.expires_at,
                revoked_at: r.revoked_at,
                last_used_at: r.last_used_at,
            });
        }
        if let Some(k) = out.last_mut() {
            add_permission(&mut k.permissions, r.permission.as_deref());
        }
    }
    Ok(out)
}

impl SqlStore {
    async fn org_where(
        &self,
        name: &'static str,
        sql: &'static str,
        value: &str,
    ) -> StoreResult<Option<Organization>> {
        q(name, sql)
            .bind(value)
            .fetch_optional::<OrgRow>(&self.primary("organization"))
            .await?
            .map(OrgRow::into_model)
            .transpose()
    }

    async fn user_where(
        &self,
        name: &'static str,
        sql: &'static str,
        value: &str,
    ) -> StoreResult<Option<User>> {
        q(name, sql)
            .bind(value)
            .fetch_optional::<UserRow>(&self.primary("user"))
            .await?
            .map(UserRow::into_model)
            .transpose()
    }
}

async fn members_where(
    db: Target<'_>,
    name: &'static str,
    sql: &'static str,
    binds: &[&str],
) -> StoreResult<Vec<Membership>> {
    let rows = binds
        .iter()
        .fold(q(name, sql), |q, b| q.bind(*b))
        .fetch_all::<MemberRow>(&db)
        .await?;
    fold_members(rows)
}

async fn keys_where(
    db: Target<'_>,
    name: &'static str,
    sql: &'static str,
    value: &str,
) -> StoreResult<Vec<ApiKey>> {
    fold_keys(q(name, sql).bind(value).fetch_all::<KeyRow>(&db).await?)
}

#[async_trait]
impl AccountsStore for SqlStore {
    async fn count_orgs(&self) -> StoreResult<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM organizations";
        q("count_orgs", SQL)
            .fetch_one::<(i64,)>(&self.primary("organization"))
            .await
            .map(|(n,)| n)
    }

    async fn insert_org(&self, org: &Organization) -> StoreResult<()> {
        const SQL: &str =
            "INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)";
        q("insert_org", SQL)
            .bind(org.id.as_str())
            .bind(&org.slug)
            .bind(&org.name)
            .bind(org.created_at)
            .execute(&self.primary("organization"))
            .await
            .map(drop)
    }

    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Organization>> {
        self.org_where(
            "get_org",
            "SELECT id, slug, name, created_at FROM organizations WHERE id = $1",
            id.as_str(),
        )
        .await
    }

    async fn get_org_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        self.org_where(
            "get_org_by_slug",
            "SELECT id, slug, name, created_at FROM organizations WHERE slug = $1",
            slug,
        )
        .await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        const SQL: &str =
            "SELECT id, slug, name, created_at FROM organizations ORDER BY created_at, id";
        let rows = q("list_orgs", SQL)
            .fetch_all::<OrgRow>(&self.routed("organization"))
            .await?;
        rows.into_iter().map(OrgRow::into_model).collect()
    }

    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        const SQL: &str = "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
        q("insert_user", SQL)
            .bind(user.id.as_str())
            .bind(&user.email)
            .bind(user.name.as_deref())
            .bind(user.password_hash.as_deref())
            .bind(user.created_at)
            .execute(&self.primary("user"))
            .await
            .map(drop)
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        self.user_where(
            "get_user",
            "SELECT id, email, name, password_hash, created_at FROM users WHERE id = $1",
            id.as_str(),
        )
        .await
    }

    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.user_where(
            "get_user_by_email",
            "SELECT id, email, name, password_hash, created_at FROM users WHERE email = $1",
            email,
        )
        .await
    }

    async fn upsert_member(
        &self,
        org: &OrgId,
        user: &UserId,
        role: Role,
        at: EpochMs,
    ) -> StoreResult<bool> {
        let existed = self.get_member(org, user).await?.is_some();
        const SQL: &str = "INSERT INTO organization_members (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role";
        q("upsert_member", SQL)
            .bind(org.as_str())
            .bind(user.as_str())
            .bind(role.as_str())
            .bind(at)
            .execute(&self.primary("member"))
            .await?;
        Ok(existed)
    }

    async fn remove_member(&self, org: &OrgId, user: &UserId) -> StoreResult<bool> {
        const SQL: &str =
            "DELETE FROM organization_members WHERE organization_id = $1 AND user_id = $2";
        let n = q("remove_member", SQL)
            .bind(org.as_str())
            .bind(user.as_str())
            .execute(&self.primary("member"))
            .await?;
        Ok(n > 0)
    }

    async fn get_member(&self, org: &OrgId, user: &UserId) -> StoreResult<Option<Membership>> {
        const SQL: &str = "SELECT m.organization_id, m.user_id, u.email, m.role, m.created_at, g.permission \
             FROM organization_members m JOIN users u ON u.id = m.user_id \
             LEFT JOIN user_permissions g ON g.organization_id = m.organization_id AND g.user_id = m.user_id \
             WHERE m.organization_id = $1 AND m.user_id = $2";
        Ok(members_where(
            self.primary("member"),
            "get_member",
            SQL,
            &[org.as_str(), user.as_str()],
        )
        .await?
        .into_iter()
        .next())
    }

    async fn list_members(&self, org: &OrgId) -> StoreResult<Vec<Membership>> {
        const SQL: &str = "SELECT m.organization_id, m.user_id, u.email, m.role, m.created_at, g.permission \
             FROM organization_members m JOIN users u ON u.id = m.user_id \
             LEFT JOIN user_permissions g ON g.organization_id = m.organization_id AND g.user_id = m.user_id \
             WHERE m.organization_id = $1 ORDER BY m.created_at, m.user_id";
        members_where(self.routed("member"), "list_members", SQL, &[org.as_str()]).await
    }

    async fn first_membership(&self, user: &UserId) -> StoreResult<Option<Membership>> {
        const SQL: &str = "SELECT m.organization_id, m.user_id, u.email, m.role, m.created_at, g.permission \
             FROM organization_members m JOIN users u ON u.id = m.user_id \
             LEFT JOIN user_permissions g ON g.organization_id = m.organization_id AND g.user_id = m.user_id \
             WHERE m.user_id = $1 ORDER BY m.created_at, m.organization_id";
        Ok(members_where(
            self.primary("member"),
            "first_membership",
            SQL,
            &[user.as_str()],
        )
        .await?
        .into_iter()
        .next())
    }

    async fn grant_user_permission(
        &self,
        org: &OrgId,
        user: &UserId,
        permission: Permission,
        at: EpochMs,
    ) -> StoreResult<()> {
        const SQL: &str = "INSERT INTO user_permissions (organization_id, user_id, permission, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organization_id, user_id, permission) DO NOTHING";
        q("grant_user_permission", SQL)
            .bind(org.as_str())
            .bind(user.as_str())
            .bind(permission.as_str())
            .bind(at)
            .execute(&self.primary("grant"))
            .await
            .map(drop)
    }

    async fn insert_key(&self, rec: &NewKeyRecord) -> StoreResult<()> {
        const KEY_SQL: &str = "INSERT INTO api_keys (id, organization_id, name, prefix, key_digest, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        const PERM_SQL: &str =
            "INSERT INTO api_key_permissions (api_key_id, permission) VALUES ($1, $2)";
        let k = &rec.key;
        let db = self.primary("api key");
        db.timed("insert_key", KEY_SQL, async {
            let mut tx = db.begin().await?;
            q("insert_key", KEY_SQL)
                .bind(k.id.as_str())
                .bind(k.org_id.as_str())
                .bind(&k.name)
                .bind(&k.prefix)
                .bind(&rec.digest)
                .bind(k.created_by.as_deref())
                .bind(k.created_at)
                .bind(k.expires_at)
                .execute_in(&mut tx)
                .await?;
            for perm in k.permissions.iter() {
                q("insert_key", PERM_SQL)
                    .bind(k.id.as_str())
                    .bind(perm.as_str())
                    .execute_in(&mut tx)
                    .await?;
            }
            tx.commit().await
        })
        .await
    }

    async fn get_key(&self, id: &KeyId) -> StoreResult<Option<ApiKey>> {
        const SQL: &str = "SELECT k.id, k.organization_id, k.name, k.prefix, k.created_by, k.created_at, \
             k.expires_at, k.revoked_at, k.last_used_at, p.permission \
             FROM api_keys k LEFT JOIN api_key_permissions p ON p.api_key_id = k.id WHERE k.id = $1";
        Ok(
            keys_where(self.primary("api key"), "get_key", SQL, id.as_str())
                .await?
                .into_iter()
                .next(),
        )
    }

    async fn get_key_by_digest(&self, digest: &str) -> StoreResult<Option<ApiKey>> {
        const SQL: &str = "SELECT k.id, k.organization_id, k.name, k.prefix, k.created_by, k.created_at, \
             k.expires_at, k.revoked_at, k.last_used_at, p.permission \
             FROM api_keys k LEFT JOIN api_key_permissions p ON p.api_key_id = k.id WHERE k.key_digest = $1";
        Ok(
            keys_where(self.primary("api key"), "get_key_by_digest", SQL, digest)
                .await?
                .into_iter()
                .next(),
        )
    }

    async fn list_keys(&self, org: &OrgId) -> StoreResult<Vec<ApiKey>> {
        const SQL: &str =
            "SELECT k.id, k.organization_id, k.name, k.prefix, k.created_by, k.created_at, \
             k.expires_at, k.revoked_at, k.last_used_at, p.permission \
             FROM api_keys k LEFT JOIN api_key_permissions p ON p.api_key_id = k.id \
             WHERE k.organization_id = $1 ORDER BY k.created_at, k.id";
        keys_where(self.routed("api key"), "list_keys", SQL, org.as_str()).await
    }

    async fn revoke_key(&self, id: &KeyId, at: EpochMs) -> StoreResult<bool> {
        const SQL: &str =
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
        let n = q("revoke_key", SQL)
            .bind(id.as_str())
            .bind(at)
            .execute(&self.primary("api key"))
            .await?;
        Ok(n > 0)
    }

    async fn grant_key_permission(&self, id: &KeyId, permission: Permission) -> StoreResult<()> {
        const SQL: &str =
            "INSERT INTO api_key_permissions (api_key_id, permission) VALUES ($1, $2) \
             ON CONFLICT (api_key_id, permission) DO NOTHING";
        q("grant_key_permission", SQL)
            .bind(id.as_str())
            .bind(permission.as_str())
            .execute(&self.primary("grant"))
            .await
            .map(drop)
    }

    async fn touch_key(&self, id: &KeyId, at: EpochMs) -> StoreResult<()> {
        const SQL: &str = "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";
        q("touch_key", SQL)
            .bind(id.as_str())
            .bind(at)
            .execute(&self.primary("api key"))
            .await
            .map(drop)
    }

    async fn auth_epoch(&self) -> StoreResult<i64> {
        const SQL: &str = "SELECT epoch FROM auth_epoch WHERE id = 1";
        q("auth_epoch", SQL)
            .fetch_one::<(i64,)>(&self.primary("auth epoch"))
            .await
            .map(|(n,)| n)
    }

    async fn bump_auth_epoch(&self) -> StoreResult<()> {
        const SQL: &str = "UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1";
        q("bump_auth_epoch", SQL)
            .execute(&self.primary("auth epoch"))
            .await
            .map(drop)
    }

    async fn set_password_hash(&self, user: &UserId, hash: &str) -> StoreResult<bool> {
        const SQL: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";
        let n = q("set_password_hash", SQL)
            .bind(user.as_str())
            .bind(hash)
            .execute(&self.primary("user"))
            .await?;
        Ok(n > 0)
    }

    async fn insert_session(&self, s: &ConsoleSession) -> StoreResult<()> {
        const SQL: &str = "INSERT INTO console_sessions (id_digest, organization_id, user_id, credential_stamp, \
             created_at, last_seen_at, idle_expires_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        q("insert_session", SQL)
            .bind(s.id_digest.as_str())
            .bind(s.org_id.as_str())
            .bind(s.user_id.as_str())
            .bind(s.credential_stamp.as_str())
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .bind(s.idle_expires_at)
            .bind(s.expires_at)
            .execute(&self.primary("console session"))
            .await
            .map(drop)
    }

    async fn get_session(
        &self,
        digest: &str,
    ) -> StoreResult<Option<(ConsoleSession, Option<String>)>> {
        const SQL: &str =
            "SELECT s.id_digest, s.organization_id, s.user_id, s.credential_stamp, s.created_at, \
             s.last_seen_at, s.idle_expires_at, s.expires_at, u.password_hash \
             FROM console_sessions s JOIN users u ON u.id = s.user_id WHERE s.id_digest = $1";
        let row = q("get_session", SQL)
            .bind(digest)
            .fetch_optional::<SessionRow>(&self.primary("console session"))
            .await?;
        row.map(SessionRow::into_model).transpose()
    }

    async fn touch_session(
        &self,
        digest: &str,
        last_seen_at: EpochMs,
        idle_expires_at: EpochMs,
    ) -> StoreResult<()> {
        const SQL: &str = "UPDATE console_sessions SET last_seen_at = $2, idle_expires_at = $3 \
             WHERE id_digest = $1 AND last_seen_at < $2";
        q("touch_session", SQL)
            .bind(digest)
            .bind(last_seen_at)
            .bind(idle_expires_at)
            .execute(&self.primary("console session"))
            .await
            .map(drop)
    }

    async fn delete_session(&self, digest: &str) -> StoreResult<bool> {
        const SQL: &str = "DELETE FROM console_sessions WHERE id_digest = $1";
        let n = q("delete_session", SQL)
            .bind(digest)
            .execute(&self.primary("console session"))
            .await?;
        Ok(n > 0)
    }

    async fn delete_user_sessions(&self, user: &UserId, org: Option<&OrgId>) -> StoreResult<u64> {
        const ALL: &str = "DELETE FROM console_sessions WHERE user_id = $1";
        const IN_ORG: &str =
            "DELETE FROM console_sessions WHERE user_id = $1 AND organization_id = $2";
        let db = self.primary("console session");
        match org {
            None => {
                q("delete_user_sessions", ALL)
                    .bind(user.as_str())
                    .execute(&db)
                    .await
            }
            Some(o) => {
                q("delete_user_sessions", IN_ORG)
                    .bind(user.as_str())
                    .bind(o.as_str())
                    .execute(&db)
                    .await
            }
        }
    }

    async fn prune_sessions(&self, now: EpochMs) -> StoreResult<u64> {
        const SQL: &str =
            "DELETE FROM console_sessions WHERE idle_expires_at <= $1 OR expires_at <= $1";
        q("prune_sessions", SQL)
            .bind(now)
            .execute(&self.primary("console session"))
            .await
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_digest: String,
    organization_id: String,
    user_id: String,
    credential_stamp: String,
    created_at: i64,
    last_seen_at: i64,
    idle_expires_at: i64,
    expires_at: i64,
    password_hash: Option<String>,
}

impl SessionRow {
    fn into_model(self) -> StoreResult<(ConsoleSession, Option<String>)> {
        Ok((
            ConsoleSession {
                id_digest: self.id_digest,
                org_id: parse_id(OrgId::parse(&self.organization_id))?,
                user_id: parse_id(UserId::parse(&self.user_id))?,
                credential_stamp: self.credential_stamp,
                created_at: self.created_at,
                last_seen_at: self.last_seen_at,
                idle_expires_at: self.idle_expires_at,
                expires_at: self.expires_at,
            },
            self.password_hash,
        ))
    }
}
