//! `RateLimitStore` on SQL.

use crate::query::q;
use crate::SqlStore;
use async_trait::async_trait;
use conea_core::ids::OrgId;
use conea_core::store::{LimitOverride, LimitScope, RateLimitStore, StoreError, StoreResult};

const SUBJECT: &str = "rate limit";

#[derive(sqlx::FromRow)]
struct OverrideRow {
    scope: String,
    subject_id: String,
    organization_id: String,
    per_minute: i64,
    burst: Option<i64>,
    updated_at: i64,
}

impl OverrideRow {
    fn into_model(self) -> StoreResult<LimitOverride> {
        let bad =
            |what: &str| StoreError::Other(format!("corrupt rate_limit_overrides row: {what}"));
        Ok(LimitOverride {
            scope: LimitScope::parse(&self.scope).ok_or_else(|| bad("scope"))?,
            subject_id: self.subject_id,
            org_id: OrgId::parse(&self.organization_id).map_err(|_| bad("organization_id"))?,
            per_minute: u32::try_from(self.per_minute).map_err(|_| bad("per_minute"))?,
            burst: self
                .burst
                .map(u32::try_from)
                .transpose()
                .map_err(|_| bad("burst"))?,
            updated_at: self.updated_at,
        })
    }
}

#[async_trait]
impl RateLimitStore for SqlStore {
    async fn get_override(
        &self,
        scope: LimitScope,
        subject: &str,
    ) -> StoreResult<Option<LimitOverride>> {
        const SQL: &str =
            "SELECT scope, subject_id, organization_id, per_minute, burst, updated_at \
             FROM rate_limit_overrides WHERE scope = $1 AND subject_id = $2";
        q("get_override", SQL)
            .bind(scope.as_str())
            .bind(subject)
            .fetch_optional::<OverrideRow>(&self.primary(SUBJECT))
            .await?
            .map(OverrideRow::into_model)
            .transpose()
    }

    async fn set_override(&self, o: &LimitOverride) -> StoreResult<()> {
        const SQL: &str = "INSERT INTO rate_limit_overrides (scope, subject_id, organization_id, per_minute, burst, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (scope, subject_id) DO UPDATE SET per_minute = EXCLUDED.per_minute, \
             burst = EXCLUDED.burst, updated_at = EXCLUDED.updated_at";
        q("set_override", SQL)
            .bind(o.scope.as_str())
            .bind(&o.subject_id)
            .bind(o.org_id.as_str())
            .bind(i64::from(o.per_minute))
            .bind(o.burst.map(i64::from))
            .bind(o.updated_at)
            .execute(&self.primary(SUBJECT))
            .await
            .map(drop)
    }

    async fn list_overrides(&self) -> StoreResult<Vec<LimitOverride>> {
        const SQL: &str =
            "SELECT scope, subject_id, organization_id, per_minute, burst, updated_at \
             FROM rate_limit_overrides ORDER BY organization_id, scope, subject_id";
        q("list_overrides", SQL)
            .fetch_all::<OverrideRow>(&self.primary(SUBJECT))
            .await?
            .into_iter()
            .map(OverrideRow::into_model)
            .collect()
    }
}
