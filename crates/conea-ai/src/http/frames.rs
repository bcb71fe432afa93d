//! Frames: the unit a provider's stream decoder reads, whatever the framing on the wire.

use super::ndjson::NdjsonParser;
use super::sse::{SseEvent, SseParser};

/// How a provider frames its streaming body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `text/event-stream` (OpenAI, Anthropic, Cohere, Gemini with `alt=sse`).
    Sse,
    /// One JSON value per line (Ollama).
    Ndjson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Sse(SseEvent),
    Line(String),
}

impl Frame {
    /// The JSON text of the frame (`data` of an SSE event, or the line).
    pub fn data(&self) -> &str {
        match self {
            Frame::Sse(e) => &e.data,
            Frame::Line(l) => l,
        }
    }

    /// The SSE `event:` name, if any.
    pub fn event(&self) -> Option<&str> {
        match self {
            Frame::Sse(e) => e.event.as_deref(),
            Frame::Line(_) => None,
        }
    }
}

/// Cuts a byte stream into frames.
#[derive(Debug)]
pub enum Framer {
    Sse(SseParser),
    Ndjson(NdjsonParser),
}

impl Framer {
    pub fn new(framing: Framing) -> Self {
        match framing {
            Framing::Sse => Framer::Sse(SseParser::new()),
            Framing::Ndjson => Framer::Ndjson(NdjsonParser::new()),
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Vec<Frame> {
        match self {
            Framer::Sse(p) => p.push(chunk).into_iter().map(Frame::Sse).collect(),
            Framer::Ndjson(p) => p.push(chunk).into_iter().map(Frame::Line).collect(),
        }
    }

    pub fn finish(&mut self) -> Vec<Frame> {
        match self {
            Framer::Sse(p) => p.finish().into_iter().map(Frame::Sse).collect(),
            Framer::Ndjson(p) => p.finish().into_iter().map(Frame::Line).collect(),
        }
    }
}
