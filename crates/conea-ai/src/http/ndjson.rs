//! Newline-delimited JSON (Ollama's streaming format): one value per line, over arbitrary
//! byte chunks. Empty lines are skipped and CRLF is accepted.

#[derive(Debug, Default)]
pub struct NdjsonParser {
    line: Vec<u8>,
}

impl NdjsonParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the complete non-empty lines (without their line end).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in chunk {
            if b == b'\n' {
                self.end_line(&mut out);
            } else {
                self.line.push(b);
            }
        }
        out
    }

    /// End of the body: a last line without `\n` still counts.
    pub fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        self.end_line(&mut out);
        out
    }

    fn end_line(&mut self, out: &mut Vec<String>) {
        let line = std::mem::take(&mut self.line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if !text.is_empty() {
            out.push(text.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<String> {
        let mut p = NdjsonParser::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.push(c));
        }
        out.extend(p.finish());
        out
    }

    #[test]
    fn lines_split_across_chunks() {
        let text = b"{\"a\":1}\n{\"b\":\"\xc3\xa9\"}\r\n\n{\"c\":3}";
        let expected = vec!["{\"a\":1}", "{\"b\":\"\u{e9}\"}", "{\"c\":3}"];
        for i in 0..text.len() {
            assert_eq!(all(&[&text[..i], &text[i..]]), expected, "split at {i}");
        }
    }

    #[test]
    fn blank_lines_are_skipped() {
        assert_eq!(all(&[b"\n\n  \n{}\n\n"]), vec!["{}"]);
    }
}
