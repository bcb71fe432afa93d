//! The one streaming driver: bytes → frames (SSE or NDJSON) → the provider's decoder →
//! [`StreamEvent`]s. Providers only write a [`StreamDecoder`]; the driver guarantees the
//! stream contract:
//! - a successful stream ends with exactly one `Usage` and then `Finish`;
//! - any failure (an error frame, a broken body, a stall, a body that ends before the
//!   provider's end marker) ends it with exactly one `Error`;
//! - nothing follows a terminal event, and the body is dropped right after it.

use super::frames::{Frame, Framer, Framing};
use crate::error::{ErrorKind, UpstreamError};
use crate::types::{FinishReason, StreamEvent, Usage};
use bytes::Bytes;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use std::collections::VecDeque;

/// Whether the provider's end-of-message marker was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Continue,
    Done,
}

/// What a decoder gathers while reading frames.
#[derive(Debug, Default)]
pub struct StreamState {
    events: VecDeque<StreamEvent>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    finish: Option<FinishReason>,
}

impl StreamState {
    /// A piece of the answer (empty pieces are dropped).
    pub fn delta(&mut self, text: &str) {
        if !text.is_empty() {
            self.events.push_back(StreamEvent::Delta(text.to_owned()));
        }
    }

    /// A complete tool call.
    pub fn tool_call(&mut self, call: crate::types::ToolCall) {
        self.events.push_back(StreamEvent::ToolCall(call));
    }

    /// Token counts as the provider reports them; later reports replace earlier ones
    /// (providers send cumulative counts).
    pub fn usage(&mut self, input: Option<u64>, output: Option<u64>) {
        if input.is_some() {
            self.input_tokens = input;
        }
        if output.is_some() {
            self.output_tokens = output;
        }
    }

    pub fn finish(&mut self, reason: FinishReason) {
        self.finish = Some(reason);
    }

    fn complete(&mut self) {
        self.events.push_back(StreamEvent::Usage(Usage {
            input_tokens: self.input_tokens.unwrap_or(0),
            output_tokens: self.output_tokens.unwrap_or(0),
        }));
        self.events.push_back(StreamEvent::Finish(
            self.finish.unwrap_or(FinishReason::Stop),
        ));
    }
}

/// A provider's stream format: reads one frame at a time.
pub trait StreamDecoder: Send {
    /// Reads a frame; `Err` is an error the provider reported inside the stream.
    fn frame(&mut self, frame: &Frame, state: &mut StreamState) -> Result<Step, UpstreamError>;

    /// The body ended. Formats with an explicit end marker (most) keep the default: ending
    /// without it is a truncation. Formats that simply end (Gemini) answer `Done` when the
    /// message was complete.
    fn end(&mut self, _state: &mut StreamState) -> Result<Step, UpstreamError> {
        Ok(Step::Continue)
    }
}

struct Driver {
    provider: String,
    body: Option<BoxStream<'static, Result<Bytes, UpstreamError>>>,
    framer: Framer,
    decoder: Box<dyn StreamDecoder>,
    state: StreamState,
}

impl Driver {
    /// Feeds frames to the decoder; true when the stream reached a terminal event.
    fn feed(&mut self, frames: Vec<Frame>) -> bool {
        for frame in frames {
            let step = self.decoder.frame(&frame, &mut self.state);
            if self.step(step) {
                return true;
            }
        }
        false
    }

    /// Applies a decoder step; true when terminal.
    fn step(&mut self, step: Result<Step, UpstreamError>) -> bool {
        match step {
            Ok(Step::Continue) => false,
            Ok(Step::Done) => {
                self.state.complete();
                true
            }
            Err(e) => {
                self.state.events.push_back(StreamEvent::Error(e));
                true
            }
        }
    }

    fn end(&mut self) {
        self.body = None; // drop the response: closes the connection
    }
}

/// Decodes a streaming body into events.
pub fn events<S>(
    provider: &str,
    body: S,
    framing: Framing,
    decoder: Box<dyn StreamDecoder>,
) -> impl Stream<Item = StreamEvent> + Send + 'static
where
    S: Stream<Item = Result<Bytes, UpstreamError>> + Send + 'static,
{
    let driver = Driver {
        provider: provider.to_owned(),
        body: Some(body.boxed()),
        framer: Framer::new(framing),
        decoder,
        state: StreamState::default(),
    };
    stream::unfold(driver, |mut d| async move {
        loop {
            if let Some(ev) = d.state.events.pop_front() {
                return Some((ev, d));
            }
            let body = d.body.as_mut()?;
            let terminal = match body.next().await {
                Some(Ok(chunk)) => {
                    let frames = d.framer.push(&chunk);
                    d.feed(frames)
                }
                Some(Err(e)) => {
                    d.state.events.push_back(StreamEvent::Error(e));
                    true
                }
                None => {
                    let frames = d.framer.finish();
                    let ended = d.feed(frames) || {
                        let step = d.decoder.end(&mut d.state);
                        d.step(step)
                    };
                    if !ended {
                        d.state
                            .events
                            .push_back(StreamEvent::Error(UpstreamError::new(
                                &d.provider,
                                ErrorKind::Connection,
                                "the stream ended before the provider finished the message",
                            )));
                    }
                    true
                }
            };
            if terminal {
                d.end();
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines: `d:TEXT` delta, `u:IN,OUT` usage, `end` done, `err` error.
    struct Toy;
    impl StreamDecoder for Toy {
        fn frame(&mut self, f: &Frame, st: &mut StreamState) -> Result<Step, UpstreamError> {
            let t = f.data();
            if let Some(x) = t.strip_prefix("d:") {
                st.delta(x);
            } else if let Some(x) = t.strip_prefix("u:") {
                let (a, b) = x.split_once(',').unwrap();
                st.usage(a.parse().ok(), b.parse().ok());
            } else if t == "end" {
                st.finish(FinishReason::Length);
                return Ok(Step::Done);
            } else if t == "err" {
                return Err(UpstreamError::new("toy", ErrorKind::Overloaded, "busy"));
            }
            Ok(Step::Continue)
        }
    }

    async fn run(chunks: Vec<&'static [u8]>) -> Vec<StreamEvent> {
        let body = stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c))));
        events("toy", body, Framing::Ndjson, Box::new(Toy))
            .collect()
            .await
    }

    #[tokio::test]
    async fn success_ends_with_one_usage_then_finish() {
        let got = run(vec![
            b"d:he",
            b"llo\nd:!\nu:3,",
            b"1\nu:3,2\nend\nd:ignored\n",
        ])
        .await;
        assert_eq!(
            got,
            vec![
                StreamEvent::Delta("hello".into()),
                StreamEvent::Delta("!".into()),
                StreamEvent::Usage(Usage {
                    input_tokens: 3,
                    output_tokens: 2
                }),
                StreamEvent::Finish(FinishReason::Length),
            ]
        );
    }

    #[tokio::test]
    async fn an_error_frame_ends_the_stream_with_error() {
        let got = run(vec![b"d:a\nerr\nd:b\nend\n"]).await;
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], StreamEvent::Error(e) if e.kind == ErrorKind::Overloaded));
    }

    #[tokio::test]
    async fn a_body_ending_without_end_marker_is_an_error_not_a_finish() {
        let got = run(vec![b"d:a\n"]).await;
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], StreamEvent::Error(e) if e.kind == ErrorKind::Connection));
    }

    #[tokio::test]
    async fn a_broken_body_is_an_error() {
        let body = stream::iter(vec![
            Ok(Bytes::from_static(b"d:a\n")),
            Err(UpstreamError::new("toy", ErrorKind::Connection, "reset")),
        ]);
        let got: Vec<_> = events("toy", body, Framing::Ndjson, Box::new(Toy))
            .collect()
            .await;
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], StreamEvent::Error(e) if e.message == "reset"));
    }
}
