//! Job kinds with typed arguments: a [`JobKind`] names its kind once and reads its arguments
//! from one struct, which its producers also use to build the job ([`NewJob::of`]), so the
//! stored JSON and the handler cannot drift apart. [`Typed`] adapts a kind to [`JobHandler`].

use super::handler::{JobContext, JobError, JobHandler};
use super::model::NewJob;
use conea_core::ids::OrgId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

#[async_trait::async_trait]
pub trait JobKind: Send + Sync + 'static {
    /// The stable kind name stored with each job, e.g. `data.import`.
    const KIND: &'static str;
    /// The arguments; their JSON is what the job row stores.
    type Args: Serialize + DeserializeOwned + Send + Sync;

    /// Longest a run may take before it counts as a failed attempt.
    fn timeout(&self) -> Duration {
        Duration::from_secs(600)
    }

    fn max_attempts(&self) -> u32 {
        5
    }

    async fn run(&self, args: Self::Args, ctx: &JobContext) -> Result<Value, JobError>;
}

/// A [`JobKind`] registered as a [`JobHandler`]: parses the arguments once; arguments that do
/// not parse are a permanent failure (no retry can fix them).
pub struct Typed<K>(pub K);

impl<K: JobKind> Typed<K> {
    /// The kind as a handler for the registry.
    pub fn handler(kind: K) -> Arc<dyn JobHandler> {
        Arc::new(Typed(kind))
    }
}

#[async_trait::async_trait]
impl<K: JobKind> JobHandler for Typed<K> {
    fn kind(&self) -> &'static str {
        K::KIND
    }

    fn timeout(&self) -> Duration {
        self.0.timeout()
    }

    fn max_attempts(&self) -> u32 {
        self.0.max_attempts()
    }

    fn check_args(&self, args: &Value) -> Result<(), String> {
        parse_args::<K>(args).map(drop)
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let args = parse_args::<K>(&ctx.job.args).map_err(JobError::permanent)?;
        self.0.run(args, ctx).await
    }
}

fn parse_args<K: JobKind>(args: &Value) -> Result<K::Args, String> {
    K::Args::deserialize(args).map_err(|e| format!("bad {} arguments: {e}", K::KIND))
}

impl NewJob {
    /// A job of kind `K` whose stored arguments are `args`' JSON.
    pub fn of<K: JobKind>(org_id: OrgId, args: &K::Args) -> Result<Self, serde_json::Error> {
        Ok(NewJob::new(K::KIND, org_id, serde_json::to_value(args)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct EchoArgs {
        text: String,
    }

    struct Echo;

    #[async_trait::async_trait]
    impl JobKind for Echo {
        const KIND: &'static str = "test.echo";
        type Args = EchoArgs;

        async fn run(&self, args: EchoArgs, _ctx: &JobContext) -> Result<Value, JobError> {
            Ok(Value::String(args.text))
        }
    }

    #[test]
    fn new_job_of_stores_the_args_json_under_the_kind() {
        let org = OrgId::generate();
        let job = NewJob::of::<Echo>(org, &EchoArgs { text: "hi".into() }).expect("serializes");
        assert_eq!(job.kind, "test.echo");
        assert_eq!(job.args, serde_json::json!({"text": "hi"}));
        assert_eq!(Typed::handler(Echo).kind(), "test.echo");
    }

    #[test]
    fn a_typed_kind_checks_arguments_by_parsing_them() {
        let echo = Typed::handler(Echo);
        assert_eq!(echo.check_args(&serde_json::json!({"text": "hi"})), Ok(()));
        let err = echo
            .check_args(&serde_json::json!({"txt": "hi"}))
            .expect_err("missing field");
        assert!(
            err.starts_with("bad test.echo arguments: missing field `text`"),
            "{err}"
        );
    }
}
