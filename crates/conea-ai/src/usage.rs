//! Token usage of the AI gateway, per organization, API key, provider, model and day, and
//! the monthly token budgets enforced before any provider is called.

use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::OrgId;
use conea_core::store::StoreResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGroup {
    Provider,
    Model,
    ApiKey,
    Day,
}

impl UsageGroup {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "provider" => Some(UsageGroup::Provider),
            "model" => Some(UsageGroup::Model),
            "api_key" => Some(UsageGroup::ApiKey),
            "day" => Some(UsageGroup::Day),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub group: String,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// Usage added to one (organization, API key, provider, model, day) row: the sum of one or
/// more successful calls. The gateway merges calls in memory and writes these in batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub org: OrgId,
    /// The key's id, or "" for users.
    pub api_key: String,
    pub provider: String,
    pub model: String,
    /// Epoch ms of the day's first instant (UTC; the row's `YYYY-MM-DD` is [`day`] of it).
    pub day_start: EpochMs,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

#[async_trait]
pub trait AiUsageStore: Send + Sync + 'static {
    /// Adds each delta to its (organization, key, provider, model, day) row, all in one
    /// transaction: either every delta is counted or none is.
    async fn add_usage(&self, deltas: &[UsageDelta]) -> StoreResult<()>;
    /// Tokens (input + output) used by the organization since `from` (a day boundary).
    async fn tokens_since(&self, org: &OrgId, from: EpochMs) -> StoreResult<i64>;
    async fn usage_report(
        &self,
        org: &OrgId,
        from: EpochMs,
        to: EpochMs,
        group: UsageGroup,
    ) -> StoreResult<Vec<UsageRow>>;
    async fn set_budget(
        &self,
        org: &OrgId,
        monthly_tokens: Option<i64>,
        at: EpochMs,
    ) -> StoreResult<()>;
    async fn budget(&self, org: &OrgId) -> StoreResult<Option<i64>>;
}

/// `YYYY-MM-DD` (UTC) of a time.
pub fn day(at: EpochMs) -> String {
    let t = conea_core::clock::from_ms(at);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// Epoch ms of the first instant of the UTC day containing `at`.
pub fn day_start(at: EpochMs) -> EpochMs {
    at - at.rem_euclid(86_400_000)
}

/// Epoch ms of the first instant of the UTC month containing `at`.
pub fn month_start(at: EpochMs) -> EpochMs {
    let t = conea_core::clock::from_ms(at);
    let first = t
        .replace_day(1)
        .and_then(|d| {
            d.replace_time(time::Time::MIDNIGHT)
                .replace_offset(time::UtcOffset::UTC)
                .replace_day(1)
        })
        .unwrap_or(t);
    (first.unix_timestamp_nanos() / 1_000_000) as EpochMs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_month_starts_are_utc() {
        let t = conea_core::clock::parse_rfc3339("2026-11-28T23:59:59Z").unwrap();
        assert_eq!(day(t), "2026-11-28");
        assert_eq!(
            conea_core::clock::rfc3339(month_start(t)),
            "2026-11-01T00:00:00Z"
        );
    }
}
