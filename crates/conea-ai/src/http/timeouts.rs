//! Stall detection for streaming bodies: an inter-chunk (idle) timeout and a total deadline.
//! When either passes, the wrapper yields one `Timeout` error and drops the inner stream,
//! which closes the upstream connection.
//!
//! These are tokio timers, not the injected `Clock`: they bound how long we wait on a
//! socket, which a fake clock cannot make shorter. Tests use short limits and assert the
//! behaviour (the error), not the time.

use crate::error::UpstreamError;
use bytes::Bytes;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Longest wait for the next chunk of bytes.
    pub idle: Duration,
    /// Longest time the whole body may take, from the moment the stream starts.
    pub total: Duration,
}

struct State {
    inner: Option<BoxStream<'static, Result<Bytes, UpstreamError>>>,
    provider: String,
    limits: StreamLimits,
    deadline: Instant,
}

/// Wraps a byte stream with the idle and total limits.
pub fn with_limits<S>(
    inner: S,
    provider: &str,
    limits: StreamLimits,
) -> impl Stream<Item = Result<Bytes, UpstreamError>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, UpstreamError>> + Send + 'static,
{
    let state = State {
        inner: Some(inner.boxed()),
        provider: provider.to_owned(),
        limits,
        deadline: Instant::now() + limits.total,
    };
    stream::unfold(state, |mut st| async move {
        let inner = st.inner.as_mut()?;
        let now = Instant::now();
        let to_deadline = st.deadline.saturating_duration_since(now);
        let wait = st.limits.idle.min(to_deadline);
        match tokio::time::timeout(wait, inner.next()).await {
            Ok(Some(item)) => Some((item, st)),
            Ok(None) => None,
            Err(_) => {
                st.inner = None; // drop the body: closes the upstream connection
                let why = if wait < st.limits.idle {
                    format!(
                        "the stream took longer than its total timeout of {} ms",
                        st.limits.total.as_millis()
                    )
                } else {
                    format!(
                        "no data from the provider for {} ms (stream idle timeout)",
                        st.limits.idle.as_millis()
                    )
                };
                let err = UpstreamError::timeout(&st.provider, why);
                Some((Err(err), st))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use futures::channel::mpsc;
    use futures::SinkExt;

    fn limits(idle_ms: u64, total_ms: u64) -> StreamLimits {
        StreamLimits {
            idle: Duration::from_millis(idle_ms),
            total: Duration::from_millis(total_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_yields_one_timeout_error_and_ends() {
        let (mut tx, rx) = mpsc::channel::<Result<Bytes, UpstreamError>>(4);
        tx.send(Ok(Bytes::from_static(b"a"))).await.unwrap();
        let mut s = Box::pin(with_limits(rx, "p", limits(200, 60_000)));
        assert_eq!(s.next().await.unwrap().unwrap(), Bytes::from_static(b"a"));
        let err = s.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Timeout);
        assert!(err.message.contains("idle"), "{}", err.message);
        assert!(s.next().await.is_none());
        // the inner stream was dropped: the sender sees the receiver gone
        assert!(tx.send(Ok(Bytes::new())).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    #[allow(clippy::disallowed_methods)] // a drip on tokio's paused clock
    async fn a_slow_drip_hits_the_total_timeout() {
        let drip = stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((Ok(Bytes::from(n.to_string())), n + 1))
        });
        let s = with_limits(drip, "p", limits(200, 1_000));
        let items: Vec<_> = s.collect().await;
        let (last, before) = items.split_last().unwrap();
        assert!(before.iter().all(Result::is_ok));
        assert!(before.len() >= 8, "{}", before.len());
        let err = last.as_ref().unwrap_err();
        assert!(err.message.contains("total timeout"), "{}", err.message);
    }

    #[tokio::test(start_paused = true)]
    async fn a_finished_stream_ends_normally() {
        let s = with_limits(
            stream::iter(vec![Ok(Bytes::from_static(b"x"))]),
            "p",
            limits(200, 1_000),
        );
        let items: Vec<_> = s.collect().await;
        assert_eq!(items.len(), 1);
        assert!(items[0].is_ok());
    }
}
