//! Streaming through the router. Fallback is allowed until the first event reaches the
//! caller: the router reads the first event of each upstream stream itself, and an error
//! there (including an `event: error` right after a 200) counts as a failed attempt. After
//! that the stream is committed, and [`guard`] makes sure it ends either with
//! `Usage` + `Finish` (usage exactly once, recorded in the usage sink) or with one `Error`
//! (the breaker hears about it) — never a clean finish after a failure. Dropping the
//! stream drops the upstream response, which cancels the upstream request.

use super::attempt::Attempt;
use super::error::GatewayError;
use super::{Router, UsageSink};
use crate::breaker::Breaker;
use crate::error::{ErrorKind, UpstreamError};
use crate::http::EventStream;
use crate::types::{ChatRequest, FinishReason, StreamEvent, Usage};
use futures::stream::{self, StreamExt};
use std::sync::Arc;

/// A committed stream and how it was reached.
pub struct RoutedStream {
    pub provider: String,
    pub model: String,
    /// Every call and skip before this stream started, the successful one last.
    pub attempts: Vec<Attempt>,
    pub events: EventStream,
}

impl std::fmt::Debug for RoutedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutedStream")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// Starts a streamed answer from the first target that produces a first event.
    pub async fn stream(&self, req: &ChatRequest) -> Result<RoutedStream, GatewayError> {
        self.discover_if_unknown(&req.model).await;
        let targets = self.resolve_request(req)?;
        let won = self
            .fallback(
                targets,
                |t| crate::capabilities::check(t.provider, req),
                |provider, target, opts| async move {
                    let mut events = provider.stream(&target.model, req, &opts).await?;
                    match events.next().await {
                        Some(StreamEvent::Error(e)) => Err(e),
                        Some(first) => Ok((first, events)),
                        None => Err(UpstreamError::new(
                            provider.name(),
                            ErrorKind::Connection,
                            "the stream ended before any data",
                        )),
                    }
                },
            )
            .await?;
        let (first, rest) = won.value;
        let provider = won.target.provider.name().to_owned();
        let model = won.target.model.clone();
        let breaker = self.breakers.get(&provider).cloned();
        let events = guard(
            first,
            rest,
            Watch {
                provider: provider.clone(),
                model: model.clone(),
                breaker,
                usage: Arc::clone(&self.usage),
            },
        );
        Ok(RoutedStream {
            provider,
            model,
            attempts: won.attempts,
            events,
        })
    }
}

/// Who hears how a committed stream ended.
struct Watch {
    provider: String,
    model: String,
    breaker: Option<Arc<Breaker>>,
    usage: Arc<dyn UsageSink>,
}

struct Guard {
    first: Option<StreamEvent>,
    inner: Option<EventStream>,
    usage: Option<Usage>,
    watch: Watch,
}

impl Guard {
    /// The event to pass on for one from upstream (`None`: swallow it), ending the stream
    /// on a terminal event.
    fn pass(&mut self, ev: StreamEvent) -> Vec<StreamEvent> {
        match ev {
            StreamEvent::Delta(_) | StreamEvent::ToolCall(_) => vec![ev],
            StreamEvent::Usage(u) => {
                if self.usage.is_some() {
                    return vec![]; // usage is reported once
                }
                self.usage = Some(u);
                vec![ev]
            }
            StreamEvent::Finish(reason) => self.finish(reason),
            StreamEvent::Error(e) => self.fail(e),
        }
    }

    fn finish(&mut self, reason: FinishReason) -> Vec<StreamEvent> {
        self.inner = None;
        let mut out = Vec::new();
        let usage = match self.usage {
            Some(u) => u,
            None => {
                out.push(StreamEvent::Usage(Usage::default()));
                Usage::default()
            }
        };
        self.watch
            .usage
            .record(&self.watch.provider, &self.watch.model, usage);
        out.push(StreamEvent::Finish(reason));
        out
    }

    fn fail(&mut self, e: UpstreamError) -> Vec<StreamEvent> {
        self.inner = None;
        tracing::warn!(
            provider = %self.watch.provider,
            model = %self.watch.model,
            code = e.code().as_str(),
            "AI stream failed after it started: {}",
            e.message
        );
        if let Some(b) = &self.watch.breaker {
            b.record_failure(&e);
        }
        vec![StreamEvent::Error(e)]
    }
}

/// Enforces the stream contract on a committed stream (see the module doc).
fn guard(first: StreamEvent, rest: EventStream, watch: Watch) -> EventStream {
    let state = Guard {
        first: Some(first),
        inner: Some(rest),
        usage: None,
        watch,
    };
    stream::unfold(state, |mut g| async move {
        loop {
            let ev = match g.first.take() {
                Some(ev) => ev,
                None => {
                    let inner = g.inner.as_mut()?;
                    match inner.next().await {
                        Some(ev) => ev,
                        None => StreamEvent::Error(UpstreamError::new(
                            &g.watch.provider,
                            ErrorKind::Connection,
                            "the stream ended before the provider finished the message",
                        )),
                    }
                }
            };
            let out = g.pass(ev);
            if !out.is_empty() {
                return Some((out, g));
            }
        }
    })
    .flat_map(stream::iter)
    .boxed()
}
