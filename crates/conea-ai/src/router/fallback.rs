//! The one fallback loop behind `complete` and `stream`: for each target in order, ask its
//! breaker, call, classify the failure, retry on the same target with backoff while the
//! failure is retryable, then move on. A context-length failure moves on only to targets
//! with a larger window; an invalid request stops at once (every provider would refuse it).
//! A target whose provider cannot carry a parameter of the request is skipped with the
//! reason; when no target can, the request is refused naming the parameter.

use super::attempt::{Attempt, Outcome};
use super::error::GatewayError;
use super::Router;
use crate::breaker::Admission;
use crate::capabilities::Unsupported;
use crate::config::Target;
use crate::error::{ContextInfo, ErrorKind, UpstreamError};
use crate::providers::{CallOptions, Provider};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub(crate) struct Won<T> {
    pub value: T,
    pub target: Target,
    pub attempts: Vec<Attempt>,
}

/// What to do after a failed call.
enum Next {
    Retry(Duration),
    MoveOn,
    Stop,
}

/// The context-length failure that narrows the remaining targets.
struct TooLong {
    target: Target,
    context: ContextInfo,
    /// A target with a larger window was tried since (its failure is not about context).
    tried_larger: bool,
}

impl TooLong {
    /// The smallest window known not to be enough.
    fn threshold(&self) -> u64 {
        self.target
            .context_window
            .max(self.context.limit)
            .unwrap_or(0)
    }

    fn admits(&self, t: &Target) -> bool {
        let Some(window) = t.context_window else {
            return false;
        };
        window > self.threshold() && self.context.requested.is_none_or(|r| window >= r)
    }
}

impl Router {
    fn next_step(&self, e: &UpstreamError, retry: u32) -> Next {
        if e.kind == ErrorKind::InvalidRequest {
            return Next::Stop;
        }
        if !e.retryable() || retry >= self.config.retry.max_retries {
            return Next::MoveOn;
        }
        match self.config.retry.wait_jittered(retry, e.retry_after) {
            Some(wait) => Next::Retry(wait),
            None => Next::MoveOn, // the provider asks for longer than we may wait
        }
    }

    /// Tries `targets` in order; `admit` says whether a target's provider can carry the
    /// request at all.
    pub(crate) async fn fallback<T, A, F, Fut>(
        &self,
        targets: Vec<Target>,
        admit: A,
        call: F,
    ) -> Result<Won<T>, GatewayError>
    where
        A: Fn(&Target) -> Result<(), Unsupported>,
        F: Fn(Arc<dyn Provider>, Target, CallOptions) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let mut attempts = Vec::new();
        let mut too_long: Option<TooLong> = None;
        // The first parameter a configured target could not carry, and those providers.
        let mut unsupported: Option<(Unsupported, Vec<String>)> = None;
        let mut admitted_any = false;
        for target in targets {
            let name = target.provider.name();
            let (Some(provider), Some(breaker)) =
                (self.providers.get(name), self.breakers.get(name))
            else {
                attempts.push(Attempt::skipped(&target, Outcome::SkippedNotConfigured));
                continue;
            };
            if let Err(why) = admit(&target) {
                attempts.push(Attempt::unsupported(&target, &why));
                let (_, providers) = unsupported.get_or_insert_with(|| (why, Vec::new()));
                if !providers.iter().any(|p| p == name) {
                    providers.push(name.to_owned());
                }
                continue;
            }
            admitted_any = true;
            if let Some(t) = &mut too_long {
                if !t.admits(&target) {
                    attempts.push(Attempt::skipped(&target, Outcome::SkippedContextWindow));
                    continue;
                }
                t.tried_larger = true;
            }
            let opts = self.options(&target);
            let mut retry = 0;
            loop {
                let permit = match breaker.admit() {
                    Admission::Allowed(p) => p,
                    Admission::Open { .. } => {
                        attempts.push(Attempt::skipped(&target, Outcome::SkippedCircuitOpen));
                        break;
                    }
                    Admission::Misconfigured => {
                        attempts.push(Attempt::skipped(&target, Outcome::SkippedMisconfigured));
                        break;
                    }
                };
                let started = Instant::now();
                let result = call(Arc::clone(provider), target.clone(), opts).await;
                let latency = started.elapsed();
                let e = match result {
                    Ok(value) => {
                        permit.success();
                        attempts.push(Attempt::new(&target, Outcome::Success, None, latency));
                        return Ok(Won {
                            value,
                            target,
                            attempts,
                        });
                    }
                    Err(e) => e,
                };
                permit.failure(&e);
                tracing::warn!(
                    provider = name,
                    model = %target.model,
                    code = e.code().as_str(),
                    status = ?e.status,
                    retry,
                    "AI provider call failed: {}",
                    e.message
                );
                let next = match self.next_step(&e, retry) {
                    Next::Retry(_) if breaker.refuses() => Next::MoveOn, // it just opened
                    other => other,
                };
                match next {
                    Next::Retry(wait) => {
                        attempts.push(Attempt::new(&target, Outcome::Retried, Some(&e), latency));
                        self.sleeper.sleep(wait).await;
                        retry += 1;
                    }
                    Next::Stop => {
                        attempts.push(Attempt::new(&target, Outcome::Failed, Some(&e), latency));
                        return Err(GatewayError::InvalidRequest {
                            provider: name.to_owned(),
                            model: target.model.clone(),
                            message: e.message,
                            attempts,
                        });
                    }
                    Next::MoveOn => {
                        attempts.push(Attempt::new(&target, Outcome::Failed, Some(&e), latency));
                        if e.kind == ErrorKind::ContextLength {
                            too_long = Some(TooLong {
                                context: e.context.unwrap_or_default(),
                                target: target.clone(),
                                tried_larger: false,
                            });
                        }
                        break;
                    }
                }
            }
        }
        if let (false, Some((why, providers))) = (admitted_any, unsupported) {
            return Err(GatewayError::UnsupportedParameter {
                param: why.param,
                reason: why.reason,
                providers,
                attempts,
            });
        }
        Err(match too_long {
            Some(t) if !t.tried_larger => GatewayError::ContextLengthExceeded {
                provider: t.target.provider.name().to_owned(),
                model: t.target.model.clone(),
                context: ContextInfo {
                    limit: t.context.limit.or(t.target.context_window),
                    requested: t.context.requested,
                },
                attempts,
            },
            _ => GatewayError::AllProvidersFailed { attempts },
        })
    }
}
