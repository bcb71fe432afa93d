//! `AiUsageStore` on SQL.

use crate::query::{q, q_built};
use crate::SqlStore;
use async_trait::async_trait;
use conea_ai::usage::{day, AiUsageStore, UsageDelta, UsageGroup, UsageRow};
use conea_core::clock::EpochMs;
use conea_core::ids::OrgId;
use conea_core::store::StoreResult;

#[derive(sqlx::FromRow)]
struct Row {
    grp: String,
    requests: i64,
    input_tokens: i64,
    output_tokens: i64,
}

#[async_trait]
impl AiUsageStore for SqlStore {
    async fn add_usage(&self, deltas: &[UsageDelta]) -> StoreResult<()> {
        const SQL: &str = "INSERT INTO ai_usage (organization_id, api_key_id, provider, model, day, day_start, requests, input_tokens, output_tokens) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (organization_id, day, api_key_id, provider, model) DO UPDATE SET \
             requests = ai_usage.requests + EXCLUDED.requests, input_tokens = ai_usage.input_tokens + EXCLUDED.input_tokens, \
             output_tokens = ai_usage.output_tokens + EXCLUDED.output_tokens";
        if deltas.is_empty() {
            return Ok(());
        }
        // Rows in one order, so that two replicas' batches never wait on each other's locks
        // in opposite orders (a deadlock on PostgreSQL).
        let mut sorted: Vec<&UsageDelta> = deltas.iter().collect();
        fn row(d: &UsageDelta) -> (&str, EpochMs, &str, &str, &str) {
            (
                d.org.as_str(),
                d.day_start,
                &d.api_key,
                &d.provider,
                &d.model,
            )
        }
        sorted.sort_by(|a, b| row(a).cmp(&row(b)));
        let db = self.primary("ai usage");
        db.timed("add_usage", SQL, async {
            let mut tx = db.begin().await?;
            for d in &sorted {
                q("add_usage", SQL)
                    .bind(d.org.as_str())
                    .bind(&d.api_key)
                    .bind(&d.provider)
                    .bind(&d.model)
                    .bind(day(d.day_start))
                    .bind(d.day_start)
                    .bind(d.requests)
                    .bind(d.input_tokens)
                    .bind(d.output_tokens)
                    .execute_in(&mut tx)
                    .await?;
            }
            tx.commit().await
        })
        .await
    }

    async fn tokens_since(&self, org: &OrgId, from: EpochMs) -> StoreResult<i64> {
        const SQL: &str =
            "SELECT CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT) FROM ai_usage \
             WHERE organization_id = $1 AND day_start >= $2";
        q("tokens_since", SQL)
            .bind(org.as_str())
            .bind(from)
            .fetch_one::<(i64,)>(&self.primary("ai usage"))
            .await
            .map(|(n,)| n)
    }

    async fn usage_report(
        &self,
        org: &OrgId,
        from: EpochMs,
        to: EpochMs,
        group: UsageGroup,
    ) -> StoreResult<Vec<UsageRow>> {
        let column = match group {
            UsageGroup::Provider => "provider",
            UsageGroup::Model => "provider || '/' || model",
            UsageGroup::ApiKey => "api_key_id",
            UsageGroup::Day => "day",
        };
        let sql = format!(
            "SELECT {column} AS grp, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, \
             CAST(SUM(output_tokens) AS BIGINT) AS output_tokens FROM ai_usage \
             WHERE organization_id = $1 AND day_start >= $2 AND day_start < $3 GROUP BY 1 ORDER BY 1"
        );
        let rows = q_built("usage_report", "SELECT … FROM ai_usage … GROUP BY 1", sql)
            .bind(org.as_str())
            .bind(from)
            .bind(to)
            .fetch_all::<Row>(&self.primary("ai usage"))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| UsageRow {
                group: r.grp,
                requests: r.requests,
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
            })
            .collect())
    }

    async fn set_budget(
        &self,
        org: &OrgId,
        monthly_tokens: Option<i64>,
        at: EpochMs,
    ) -> StoreResult<()> {
        const SQL: &str = "INSERT INTO ai_budgets (organization_id, monthly_tokens, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (organization_id) DO UPDATE SET monthly_tokens = EXCLUDED.monthly_tokens, updated_at = EXCLUDED.updated_at";
        q("set_budget", SQL)
            .bind(org.as_str())
            .bind(monthly_tokens)
            .bind(at)
            .execute(&self.primary("ai budget"))
            .await
            .map(drop)
    }

    async fn budget(&self, org: &OrgId) -> StoreResult<Option<i64>> {
        const SQL: &str = "SELECT monthly_tokens FROM ai_budgets WHERE organization_id = $1";
        let v = q("budget", SQL)
            .bind(org.as_str())
            .fetch_optional::<(Option<i64>,)>(&self.primary("ai budget"))
            .await?;
        Ok(v.and_then(|(v,)| v))
    }
}
