//! Incremental Server-Sent Events framer (WHATWG HTML, "event stream interpretation").
//!
//! The grammar it follows:
//!
//! ```text
//! stream        = [ bom ] *event
//! event         = *( comment / field ) end-of-line
//! comment       = colon *any-char end-of-line
//! field         = 1*name-char [ colon [ space ] *any-char ] end-of-line
//! end-of-line   = ( cr lf / cr / lf )
//! ```
//!
//! The framer only parses: the filter forwards the bytes it was fed unchanged, so nothing here
//! copies the stream beyond the incomplete tail it must hold (the current line, bounded by
//! `max_buffer`). Choices where the spec leaves room or where we deviate:
//! - **End of stream.** Per the spec an event not closed by a blank line is discarded at EOF.
//!   [`SseFramer::finish`] does that and reports it as [`Finish::cut`].
//! - **Bounded tail.** When the bytes of the event being assembled (its consumed lines plus the
//!   incomplete line) exceed `max_buffer`, the partial event is dropped, [`SseFramer::overflows`]
//!   is incremented, and the framer skips everything up to the next blank line, then resyncs.
//! - **`id`.** [`SseEvent::id`] is the `id` field of that event only (the spec's "last event ID"
//!   persists across events; a client that needs it can carry it forward itself). `retry` and
//!   unknown fields are ignored.
//! - **Encoding.** Lines are decoded as UTF-8 lossily (invalid bytes become U+FFFD) once a line is
//!   complete, so a code point split across chunks decodes correctly. A leading BOM is stripped.

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the event had one (the spec's default type is `message`).
    pub event: Option<String>,
    /// The `data:` lines joined with `'\n'`.
    pub data: String,
    /// The `id:` field of this event, if any (values containing NUL are ignored, as in the spec).
    pub id: Option<String>,
}

/// What [`SseFramer::finish`] found at end of stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Finish {
    /// A partial event (any field line, or an unterminated line) was pending and got discarded.
    pub cut: bool,
    /// How many partial events were dropped over the stream's life for exceeding `max_buffer`.
    pub overflows: u64,
}

/// The incremental framer. Feed it the response body chunk by chunk.
#[derive(Debug, Clone)]
pub struct SseFramer {
    max_buffer: usize,
    /// Bytes of the incomplete current line (empty while skipping).
    line: Vec<u8>,
    /// Length of the current line while skipping (its bytes are not kept).
    skip_line_len: usize,
    /// The previous chunk ended in CR: a LF at the start of the next one belongs to it.
    after_cr: bool,
    /// No line has completed yet (a BOM may still be stripped).
    first_line: bool,
    /// Dropping an oversized event until the next blank line.
    skipping: bool,
    /// Bytes of completed lines in the pending event, one per terminator.
    pending: usize,
    /// Whether the pending event has any field or comment line.
    has_lines: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
    overflows: u64,
}

impl SseFramer {
    /// A framer holding at most `max_buffer` bytes of an incomplete event.
    pub fn new(max_buffer: usize) -> SseFramer {
        SseFramer {
            max_buffer,
            line: Vec::new(),
            skip_line_len: 0,
            after_cr: false,
            first_line: true,
            skipping: false,
            pending: 0,
            has_lines: false,
            event: None,
            data: String::new(),
            has_data: false,
            id: None,
            overflows: 0,
        }
    }

    /// Parses `chunk` and returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        self.feed_into(chunk, &mut out);
        out
    }

    /// Parses `chunk`, pushing the events it completed onto `out`.
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some((b'\n', tail)) = rest.split_first() {
                rest = tail;
            }
        }
        while !rest.is_empty() {
            match memchr::memchr2(b'\n', b'\r', rest) {
                None => {
                    self.take_partial(rest);
                    return;
                }
                Some(at) => {
                    let (head, tail) = rest.split_at(at);
                    // `tail` starts with the terminator.
                    let mut term_len = 1;
                    if tail.first() == Some(&b'\r') {
                        match tail.get(1) {
                            Some(b'\n') => term_len = 2,
                            Some(_) => {}
                            None => self.after_cr = true,
                        }
                    }
                    rest = tail.get(term_len..).unwrap_or_default();
                    let fits = self.pending.saturating_add(head.len()).saturating_add(1) <= self.max_buffer;
                    if !self.skipping && self.line.is_empty() && fits {
                        // The whole line is in this chunk: read it where it lies, uncopied.
                        let first = std::mem::replace(&mut self.first_line, false);
                        self.complete_line(head, first, out);
                    } else {
                        self.take_partial(head);
                        self.end_line(out);
                    }
                }
            }
        }
    }

    /// Ends the stream: discards any partial event (see [`Finish`]) and resets the framer.
    pub fn finish(&mut self) -> Finish {
        let cut = self.skipping || self.has_lines || !self.line.is_empty();
        let overflows = self.overflows;
        *self = SseFramer::new(self.max_buffer);
        Finish { cut, overflows }
    }

    /// Partial events dropped so far for exceeding `max_buffer`.
    pub fn overflows(&self) -> u64 {
        self.overflows
    }

    /// Bytes currently held for the incomplete line.
    pub fn buffered(&self) -> usize {
        self.line.len()
    }

    fn take_partial(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.skipping {
            self.skip_line_len = self.skip_line_len.saturating_add(bytes.len());
            return;
        }
        let total = self.pending.saturating_add(self.line.len()).saturating_add(bytes.len());
        if total > self.max_buffer {
            self.overflow();
            self.skip_line_len = bytes.len();
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn overflow(&mut self) {
        self.overflows = self.overflows.saturating_add(1);
        self.skipping = true;
        self.line = Vec::new();
        self.reset_event();
    }

    fn reset_event(&mut self) {
        self.pending = 0;
        self.has_lines = false;
        self.event = None;
        self.data.clear();
        self.has_data = false;
        self.id = None;
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let first = std::mem::replace(&mut self.first_line, false);
        if self.skipping {
            if self.skip_line_len == 0 {
                self.skipping = false;
            }
            self.skip_line_len = 0;
            return;
        }
        let line = std::mem::take(&mut self.line);
        self.complete_line(&line, first, out);
        if !self.skipping {
            // Keep the buffer's capacity for the next partial line.
            self.line = line;
            self.line.clear();
        }
    }

    /// A complete line (without its terminator); `first`: the stream's first line, which may
    /// start with a BOM.
    fn complete_line(&mut self, line: &[u8], first: bool, out: &mut Vec<SseEvent>) {
        let mut bytes = line;
        if first {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        if bytes.is_empty() {
            self.dispatch(out);
            return;
        }
        // A terminator counts one byte, CRLF too: a CRLF split across chunks must not change
        // where the bound falls.
        let used = self.pending.saturating_add(line.len()).saturating_add(1);
        if used > self.max_buffer {
            self.overflow();
            return;
        }
        self.pending = used;
        self.has_lines = true;
        self.field(bytes);
    }

    fn field(&mut self, bytes: &[u8]) {
        if bytes.first() == Some(&b':') {
            return; // comment
        }
        let (name, value) = match bytes.iter().position(|&b| b == b':') {
            Some(at) => {
                let (name, rest) = bytes.split_at(at);
                let value = rest.get(1..).unwrap_or_default();
                (name, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (bytes, &b""[..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" if !value.contains(&0) => self.id = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
                id: self.id.take(),
            });
        }
        self.reset_event();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ev(event: Option<&str>, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            id: id.map(str::to_owned),
        }
    }

    fn all(input: &[u8]) -> (Vec<SseEvent>, Finish) {
        let mut f = SseFramer::new(1 << 16);
        let evs = f.feed(input);
        (evs, f.finish())
    }

    #[test]
    fn fields_comments_and_joining() {
        let (evs, fin) = all(b": hi\nevent: a\ndata: x\ndata:y\ndata\nid: 7\nretry: 5\nfoo: bar\n\n");
        assert_eq!(evs, vec![ev(Some("a"), "x\ny\n", Some("7"))]);
        assert!(!fin.cut);
    }

    #[test]
    fn only_one_leading_space_is_stripped() {
        let (evs, _) = all(b"data:  two\n\ndata:none\n\n");
        assert_eq!(evs, vec![ev(None, " two", None), ev(None, "none", None)]);
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        let (evs, _) = all(b"event: ping\n\n: keepalive\n\ndata:\n\n");
        assert_eq!(evs, vec![ev(None, "", None)]);
    }

    #[test]
    fn line_endings_lf_crlf_cr() {
        for input in [
            &b"data: a\n\ndata: b\n\n"[..],
            b"data: a\r\n\r\ndata: b\r\n\r\n",
            b"data: a\r\rdata: b\r\r",
        ] {
            let (evs, fin) = all(input);
            assert_eq!(evs, vec![ev(None, "a", None), ev(None, "b", None)], "{input:?}");
            assert!(!fin.cut);
        }
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        let mut f = SseFramer::new(1024);
        assert!(f.feed(b"data: a\r").is_empty());
        assert!(f.feed(b"\ndata: b\r").is_empty());
        assert_eq!(f.feed(b"\n\r"), vec![ev(None, "a\nb", None)]);
        assert!(f.feed(b"\n").is_empty());
        assert!(!f.finish().cut);
    }

    #[test]
    fn bom_and_lossy_utf8() {
        let (evs, _) = all(b"\xEF\xBB\xBFdata: caf\xC3\xA9 \xFF\n\n");
        assert_eq!(evs, vec![ev(None, "caf\u{e9} \u{fffd}", None)]);
        // A code point split across chunks still decodes.
        let mut f = SseFramer::new(64);
        assert!(f.feed(b"data: \xC3").is_empty());
        assert_eq!(f.feed(b"\xA9\n\n"), vec![ev(None, "\u{e9}", None)]);
    }

    #[test]
    fn eof_discards_partial_event() {
        let (evs, fin) = all(b"data: a\n\ndata: b\n");
        assert_eq!(evs, vec![ev(None, "a", None)]);
        assert!(fin.cut);
        let (_, fin) = all(b"data: a\n\ndat");
        assert!(fin.cut);
        let (_, fin) = all(b"data: a\r\n\r");
        assert!(!fin.cut);
    }

    #[test]
    fn overflow_drops_event_and_resyncs() {
        let mut f = SseFramer::new(16);
        let mut out = Vec::new();
        f.feed_into(b"data: ok\n\ndata: 0123456789", &mut out);
        f.feed_into(b"abcdef\ndata: more\n\ndata: next\n\n", &mut out);
        assert_eq!(out, vec![ev(None, "ok", None), ev(None, "next", None)]);
        assert_eq!(f.overflows(), 1);
        assert!(f.buffered() <= 16);
        // Many short lines also count towards the bound.
        let mut f = SseFramer::new(16);
        let out = f.feed(b"data: a\ndata: b\ndata: c\n\ndata: d\n\n");
        assert_eq!(out, vec![ev(None, "d", None)]);
        let fin = f.finish();
        assert_eq!((fin.cut, fin.overflows), (false, 1));
        // Still skipping at EOF counts as cut.
        let mut f = SseFramer::new(4);
        assert!(f.feed(b"data: long").is_empty());
        assert_eq!(
            f.finish(),
            Finish {
                cut: true,
                overflows: 1
            }
        );
    }

    /// Lines read in place (whole in one chunk) and lines assembled across chunks must frame
    /// alike: random streams (CR, LF, CRLF, a BOM, comments, lines near the bound) fed whole,
    /// byte by byte and in random pieces give the same events, overflows and end.
    #[test]
    fn in_place_and_assembled_lines_frame_alike() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let parts: [&[u8]; 12] = [b"data: ", b"data:x", b"event: e", b"id: 7", b": c", b"abcdefghij", b"\n", b"\r", b"\r\n", b"\n\n", b"\xEF\xBB\xBF", b"\xC3\xA9"];
        for _ in 0..400 {
            let mut input = Vec::new();
            for _ in 0..next(40) {
                input.extend_from_slice(parts[next(parts.len())]);
            }
            let max = 8 + next(40);
            let run = |pieces: &mut dyn FnMut(&[u8]) -> Vec<usize>| {
                let mut f = SseFramer::new(max);
                let mut out = Vec::new();
                let mut at = 0;
                for len in pieces(&input) {
                    f.feed_into(&input[at..at + len], &mut out);
                    at += len;
                }
                (out, f.finish())
            };
            let whole = run(&mut |i| vec![i.len()]);
            let bytes = run(&mut |i| vec![1; i.len()]);
            let mut cuts = Vec::new();
            let mut left = input.len();
            while left > 0 {
                let n = 1 + next(left.min(12));
                cuts.push(n);
                left -= n;
            }
            let random = run(&mut |_| cuts.clone());
            assert_eq!(whole, bytes, "{:?} max {max}", String::from_utf8_lossy(&input));
            assert_eq!(whole, random, "{:?} max {max}", String::from_utf8_lossy(&input));
        }
    }
}
