//! `IdempotencyStore` on SQL.

use crate::query::q;
use crate::SqlStore;
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::OrgId;
use conea_core::store::{IdempotencyBegin, IdempotencyStore, StoreResult, StoredResponse};

const SUBJECT: &str = "idempotency key";

#[derive(sqlx::FromRow)]
struct KeyRow {
    request_hash: String,
    state: String,
    status: Option<i32>,
    response: Option<String>,
    headers: Option<String>,
    created_at: i64,
    expires_at: i64,
}

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn begin(
        &self,
        org: &OrgId,
        key: &str,
        hash: &str,
        now: EpochMs,
        expires_at: EpochMs,
        stale_before: EpochMs,
    ) -> StoreResult<IdempotencyBegin> {
        const INSERT: &str = "INSERT INTO idempotency_keys (organization_id, key, request_hash, state, created_at, expires_at) \
             VALUES ($1, $2, $3, 'in_progress', $4, $5) ON CONFLICT (organization_id, key) DO NOTHING";
        const SELECT: &str =
            "SELECT request_hash, state, status, response, headers, created_at, expires_at \
             FROM idempotency_keys WHERE organization_id = $1 AND key = $2";
        const TAKE_OVER: &str =
            "UPDATE idempotency_keys SET request_hash = $3, state = 'in_progress', status = NULL, \
             response = NULL, headers = NULL, created_at = $4, expires_at = $5 \
             WHERE organization_id = $1 AND key = $2 AND created_at = $6";
        let db = self.primary(SUBJECT);
        let inserted = q("idempotency_begin", INSERT)
            .bind(org.as_str())
            .bind(key)
            .bind(hash)
            .bind(now)
            .bind(expires_at)
            .execute(&db)
            .await?;
        if inserted == 1 {
            return Ok(IdempotencyBegin::Started);
        }
        let row = q("idempotency_read", SELECT)
            .bind(org.as_str())
            .bind(key)
            .fetch_optional::<KeyRow>(&db)
            .await?;
        let Some(row) = row else {
            // Deleted in between (abandoned): claim it again.
            return Box::pin(self.begin(org, key, hash, now, expires_at, stale_before)).await;
        };
        let stale = row.state == "in_progress" && row.created_at < stale_before;
        if row.expires_at <= now || stale {
            let taken = q("idempotency_take_over", TAKE_OVER)
                .bind(org.as_str())
                .bind(key)
                .bind(hash)
                .bind(now)
                .bind(expires_at)
                .bind(row.created_at)
                .execute(&db)
                .await?;
            return Ok(if taken == 1 {
                IdempotencyBegin::Started
            } else {
                IdempotencyBegin::InProgress
            });
        }
        if row.request_hash != hash {
            return Ok(IdempotencyBegin::Mismatch);
        }
        match (row.state.as_str(), row.status, row.response) {
            ("done", Some(status), Some(body)) => Ok(IdempotencyBegin::Done(StoredResponse {
                status: status as u16,
                body,
                headers: row
                    .headers
                    .and_then(|h| serde_json::from_str(&h).ok())
                    .unwrap_or_default(),
            })),
            _ => Ok(IdempotencyBegin::InProgress),
        }
    }

    async fn complete(&self, org: &OrgId, key: &str, response: &StoredResponse) -> StoreResult<()> {
        const SQL: &str =
            "UPDATE idempotency_keys SET state = 'done', status = $3, response = $4, headers = $5 \
             WHERE organization_id = $1 AND key = $2";
        let headers = serde_json::to_string(&response.headers).unwrap_or_else(|_| "[]".into());
        q("idempotency_complete", SQL)
            .bind(org.as_str())
            .bind(key)
            .bind(i32::from(response.status))
            .bind(&response.body)
            .bind(&headers)
            .execute(&self.primary(SUBJECT))
            .await
            .map(drop)
    }

    async fn abandon(&self, org: &OrgId, key: &str) -> StoreResult<()> {
        const SQL: &str = "DELETE FROM idempotency_keys WHERE organization_id = $1 AND key = $2 AND state = 'in_progress'";
        q("idempotency_abandon", SQL)
            .bind(org.as_str())
            .bind(key)
            .execute(&self.primary(SUBJECT))
            .await
            .map(drop)
    }
}
