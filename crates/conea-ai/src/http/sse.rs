//! A Server-Sent Events parser (WHATWG HTML §9.2.6) over arbitrary byte chunks: `event:` and
//! `data:` fields, multi-line data, `:` comments, LF, CRLF and lone CR line ends, and events
//! or lines (even a CRLF pair, even a UTF-8 character) split across chunks.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when there was one (the spec's default type is "message").
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line being read (not yet terminated).
    line: Vec<u8>,
    /// The previous chunk ended with CR: a LF at the start of the next one belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events completed by them.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut out),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out);
                }
                _ => self.line.push(b),
            }
        }
        out
    }

    /// End of the body: a last line without terminator still counts, and an event whose
    /// blank line never came is dispatched (servers that omit the final blank line exist).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut out);
        }
        self.dispatch(&mut out);
        out
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        let text = String::from_utf8_lossy(&line);
        if text.starts_with(':') {
            return; // comment (keep-alive)
        }
        let (field, value) = match text.find(':') {
            Some(i) => {
                let v = &text[i + 1..];
                (&text[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {} // id, retry and unknown fields are not used
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        out.push(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.push(c));
        }
        out.extend(p.finish());
        out
    }

    #[test]
    fn event_and_data_lines() {
        let got = all(&[b"event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n"]);
        assert_eq!(
            got,
            vec![
                ev(Some("message_start"), "{\"a\":1}"),
                ev(Some("ping"), "{}")
            ]
        );
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let got = all(&[b"data: first\ndata: second\ndata:third\n\n"]);
        assert_eq!(got, vec![ev(None, "first\nsecond\nthird")]);
    }

    #[test]
    fn comments_are_ignored_and_do_not_dispatch() {
        let got = all(&[b": keep-alive\n\n: OPENROUTER PROCESSING\ndata: x\n\n"]);
        assert_eq!(got, vec![ev(None, "x")]);
    }

    #[test]
    fn crlf_and_lone_cr_line_ends() {
        assert_eq!(
            all(&[b"data: a\r\n\r\ndata: b\r\rdata: c\n\n"]),
            vec![ev(None, "a"), ev(None, "b"), ev(None, "c")]
        );
    }

    #[test]
    fn events_split_across_chunks_anywhere() {
        let text = b"event: content_block_delta\r\ndata: {\"text\":\"h\xc3\xa9llo\"}\r\n\r\ndata: [DONE]\r\n\r\n";
        let expected = vec![
            ev(Some("content_block_delta"), "{\"text\":\"h\u{e9}llo\"}"),
            ev(None, "[DONE]"),
        ];
        // every split point, including inside CRLF and inside the two-byte é
        for i in 0..text.len() {
            assert_eq!(all(&[&text[..i], &text[i..]]), expected, "split at {i}");
        }
        // one byte at a time
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(all(&bytes), expected);
    }

    #[test]
    fn event_field_without_data_is_not_dispatched_and_does_not_leak() {
        assert_eq!(all(&[b"event: ping\n\ndata: x\n\n"]), vec![ev(None, "x")]);
    }

    #[test]
    fn a_last_event_without_blank_line_is_dispatched_at_the_end() {
        assert_eq!(all(&[b"data: tail"]), vec![ev(None, "tail")]);
    }

    #[test]
    fn value_keeps_everything_after_the_first_space() {
        assert_eq!(
            all(&[b"data:  two spaces: kept\n\n"]),
            vec![ev(None, " two spaces: kept")]
        );
    }
}
