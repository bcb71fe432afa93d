//! The record of every call (or skip) the router made for one request.

use crate::config::Target;
use crate::error::UpstreamError;
use conea_core::ErrorCode;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// Failed and was tried again on the same target.
    Retried,
    /// Failed; the router moved on (or gave up).
    Failed,
    /// Not called: the provider's circuit is open.
    SkippedCircuitOpen,
    /// Not called: the provider rejected our credentials earlier.
    SkippedMisconfigured,
    /// Not called: the provider has no key or URL.
    SkippedNotConfigured,
    /// Not called: after a context-length failure, its window is not larger.
    SkippedContextWindow,
    /// Not called: its provider cannot carry a parameter of the request (`reason` says
    /// which and why).
    SkippedUnsupported,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub provider: String,
    pub model: String,
    pub outcome: Outcome,
    /// The upstream HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The [`ErrorKind`](crate::error::ErrorKind) code of a failure.
    pub error_code: Option<ErrorCode>,
    pub latency_ms: u64,
    /// Why a target was skipped, when the outcome alone does not say it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Attempt {
    pub fn new(
        target: &Target,
        outcome: Outcome,
        error: Option<&UpstreamError>,
        latency: Duration,
    ) -> Self {
        Self {
            provider: target.provider.name().to_owned(),
            model: target.model.clone(),
            outcome,
            status: error.and_then(|e| e.status),
            error_code: error.map(UpstreamError::code),
            latency_ms: latency.as_millis() as u64,
            reason: None,
        }
    }

    pub fn skipped(target: &Target, outcome: Outcome) -> Self {
        Self::new(target, outcome, None, Duration::ZERO)
    }

    /// Skipped because its provider cannot carry `param` of the request.
    pub fn unsupported(target: &Target, why: &crate::capabilities::Unsupported) -> Self {
        let mut a = Self::skipped(target, Outcome::SkippedUnsupported);
        a.reason = Some(format!("`{}`: {}", why.param, why.reason));
        a
    }
}
