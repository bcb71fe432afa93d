//! Durable background jobs: the model, the store trait, the handler trait and the worker
//! runtime. PostgreSQL (or SQLite) is the engine: a job is a row; claiming is an atomic
//! update that takes a lease; a worker that dies loses its lease and the job is rescued.
//!
//! Exactly-once rules: a job's *completion* (its result and its row in the completion ledger
//! `job_runs`, unique per job) is written in one transaction fenced by the lease owner, so it
//! happens once. A handler's own writes happen at least once (a worker can die between them
//! and the completion) and must therefore be idempotent — the import upserts by source id,
//! the reports only produce their result.

pub mod backoff;
pub mod handler;
pub mod kind;
pub mod model;
pub mod noop;
pub mod service;
pub mod worker;

pub use handler::{JobContext, JobError, JobHandler, JobKinds, Registry};
pub use kind::{JobKind, Typed};
pub use model::*;
pub use worker::{JobObserver, Worker, WorkerConfig};
