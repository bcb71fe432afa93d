//! Splits a byte stream that arrives in arbitrary chunks into numbered lines, carrying a
//! partial line over to the next chunk. Memory stays bounded: a line longer than the limit
//! is reported as bad and skipped up to its end instead of being buffered.

/// One line of input, numbered from 1.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Text(u64, &'a str),
    Bad(u64, String),
}

pub struct LineSplitter {
    carry: Vec<u8>,
    /// Number of the line that `carry` starts.
    next_line: u64,
    max_line: usize,
    /// The current line passed `max_line`: drop bytes until its end.
    skipping: bool,
}

impl LineSplitter {
    pub fn new(max_line: usize) -> Self {
        LineSplitter {
            carry: Vec::new(),
            next_line: 1,
            max_line,
            skipping: false,
        }
    }

    /// Feeds a chunk; `emit` gets every line the chunk completes (blank lines are skipped,
    /// a trailing `\r` is dropped).
    pub fn push(&mut self, chunk: &[u8], mut emit: impl FnMut(Line<'_>)) {
        let mut rest = chunk;
        while let Some(pos) = memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(pos);
            rest = &tail[1..];
            let line_no = self.next_line;
            self.next_line += 1;
            if self.skipping {
                self.skipping = false;
                continue;
            }
            if self.carry.is_empty() {
                emit_line(line_no, head, self.max_line, &mut emit);
            } else {
                self.carry.extend_from_slice(head);
                let whole = std::mem::take(&mut self.carry);
                emit_line(line_no, &whole, self.max_line, &mut emit);
                self.carry = whole;
                self.carry.clear();
            }
        }
        if self.skipping {
            return;
        }
        if self.carry.len() + rest.len() > self.max_line {
            emit(Line::Bad(self.next_line, too_long(self.max_line)));
            self.carry.clear();
            self.skipping = true;
        } else {
            self.carry.extend_from_slice(rest);
        }
    }

    /// Ends the input: the last line may lack its newline.
    pub fn finish(&mut self, mut emit: impl FnMut(Line<'_>)) {
        if !self.skipping && !self.carry.is_empty() {
            let whole = std::mem::take(&mut self.carry);
            emit_line(self.next_line, &whole, self.max_line, &mut emit);
        }
        self.skipping = false;
    }
}

fn too_long(max: usize) -> String {
    format!("line is longer than {max} bytes")
}

fn emit_line(line_no: u64, bytes: &[u8], max: usize, emit: &mut impl FnMut(Line<'_>)) {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if bytes.len() > max {
        emit(Line::Bad(line_no, too_long(max)));
        return;
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => emit(Line::Text(line_no, text)),
        Err(e) => emit(Line::Bad(
            line_no,
            format!("not valid UTF-8 (byte {})", e.valid_up_to() + 1),
        )),
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| *b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        let mut record = |l: Line<'_>| {
            out.push(match l {
                Line::Text(n, t) => format!("{n}:{t}"),
                Line::Bad(n, r) => format!("{n}!{r}"),
            })
        };
        for c in chunks {
            s.push(c, &mut record);
        }
        s.finish(&mut record);
        out
    }

    #[test]
    fn lines_split_across_chunks_are_joined_and_numbered() {
        let out = split(&[b"ab", b"c\r\nd", b"e\n\nf\n", b"gh"], 100);
        assert_eq!(out, ["1:abc", "2:de", "4:f", "5:gh"]);
    }

    #[test]
    fn overlong_and_non_utf8_lines_are_reported_and_skipped() {
        let out = split(&[b"ok\n0123456789", b"0123456789\nfine\n\xff\xfe\n"], 8);
        assert_eq!(
            out,
            [
                "1:ok",
                "2!line is longer than 8 bytes",
                "3:fine",
                "4!not valid UTF-8 (byte 1)"
            ]
        );
    }
}
