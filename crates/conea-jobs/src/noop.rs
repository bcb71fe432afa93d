//! The `noop` job kind: a diagnostic that stands in for work.

use super::handler::{JobContext, JobError};
use super::kind::JobKind;
use serde_json::Value;
use std::time::Duration;

/// `noop`: completes without doing anything, after `args.sleep_ms` (at most 60 s) when
/// given. A diagnostic kind: the benchmark and the crash tests use it (its completion ledger
/// row is the visible record of its one completion).
pub struct Noop;

/// The noop kind's arguments. Read leniently as it always was: any JSON is accepted, and a
/// `sleep_ms` that is missing or not a whole number means no sleep.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct NoopArgs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sleep_ms: Option<u64>,
}

impl<'de> serde::Deserialize<'de> for NoopArgs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(NoopArgs {
            sleep_ms: value.get("sleep_ms").and_then(Value::as_u64),
        })
    }
}

#[async_trait::async_trait]
impl JobKind for Noop {
    const KIND: &'static str = "noop";
    type Args = NoopArgs;

    #[allow(clippy::disallowed_methods)] // `sleep_ms`: the noop kind stands in for work (load tests)
    async fn run(&self, args: NoopArgs, _ctx: &JobContext) -> Result<Value, JobError> {
        if let Some(ms) = args.sleep_ms {
            tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
        }
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn noop_args_read_sleep_ms_leniently_and_keep_their_json() {
        let read = |v: Value| NoopArgs::deserialize(&v).expect("any JSON is accepted");
        assert_eq!(read(serde_json::json!({"sleep_ms": 5})).sleep_ms, Some(5));
        assert_eq!(read(serde_json::json!({"sleep_ms": "5"})).sleep_ms, None);
        assert_eq!(read(Value::Null).sleep_ms, None);
        assert_eq!(read(serde_json::json!({})), NoopArgs::default());
        let args = NoopArgs { sleep_ms: Some(7) };
        assert_eq!(
            serde_json::to_value(&args).ok(),
            Some(serde_json::json!({"sleep_ms": 7}))
        );
    }
}
