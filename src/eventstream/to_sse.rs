//! Bedrock's event-stream frames as Server-Sent Events, so the stream translators, the usage
//! meter, the stream guard and the redaction restore read them as they read any SSE stream:
//!
//! - InvokeModelWithResponseStream (`:event-type: chunk`): the payload's `bytes` is a base64
//!   Anthropic event, written as `event: <its type>` with that JSON as data;
//! - ConverseStream (`messageStart`, `contentBlockDelta`, …, `metadata`): `event: <event type>`
//!   with the payload as data;
//! - an exception (`:message-type: exception` or `error`): an Anthropic-shaped `event: error`
//!   (`{"type":"error","error":{"type","message"}}`), which the translators turn into the
//!   client's error frame. A frame that fails its CRC ends the stream with such an error.

use super::decoder::{Decoder, Message};
use serde_json::Value;

/// One response's bridge from event-stream bytes to SSE bytes.
#[derive(Debug, Default)]
pub struct EventStreamToSse {
    decoder: Decoder,
    messages: Vec<Message>,
    /// The stream failed (bad frame); later bytes are dropped.
    broken: bool,
}

impl EventStreamToSse {
    pub fn new() -> EventStreamToSse {
        EventStreamToSse::default()
    }

    /// The SSE bytes for the frames `chunk` completes (`end`: the stream is over; a message
    /// left incomplete then is reported as an error event).
    pub fn feed(&mut self, chunk: &[u8], end: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if self.broken {
            return out;
        }
        if let Err(e) = self.decoder.feed(chunk, &mut self.messages) {
            self.broken = true;
            for m in self.messages.drain(..) {
                out.extend(sse(&m));
            }
            out.extend(error_event("api_error", &format!("The provider's stream is corrupt ({e}).")));
            return out;
        }
        for m in self.messages.drain(..) {
            out.extend(sse(&m));
        }
        if end && self.decoder.pending() > 0 {
            out.extend(error_event("api_error", "The provider's stream ended inside a frame."));
        }
        out
    }
}

/// One message as an SSE event (empty for a message with nothing to say).
fn sse(m: &Message) -> Vec<u8> {
    let payload = String::from_utf8_lossy(&m.payload);
    match m.header(":message-type").unwrap_or("event") {
        "event" => {}
        _ => {
            let kind = m.header(":exception-type").or_else(|| m.header(":error-code")).unwrap_or("internalServerException");
            let message = serde_json::from_str::<Value>(&payload)
                .ok()
                .and_then(|v| v.get("message").or_else(|| v.get("Message")).and_then(Value::as_str).map(str::to_string))
                .or_else(|| m.header(":error-message").map(str::to_string))
                .unwrap_or_else(|| kind.to_string());
            return error_event(anthropic_error_type(kind), &message);
        }
    }
    let event_type = m.header(":event-type").unwrap_or_default();
    if event_type == "chunk" {
        // InvokeModel's Anthropic event, base64 in `bytes`.
        let inner = serde_json::from_str::<Value>(&payload)
            .ok()
            .and_then(|v| v.get("bytes").and_then(Value::as_str).and_then(crate::crypto::base64_decode))
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        return match inner {
            Some(v) => {
                let name = v.get("type").and_then(Value::as_str).unwrap_or("message").to_string();
                frame(&name, &crate::api::json_bytes(&v))
            }
            None => error_event("api_error", "The provider sent a chunk that is not a base64 JSON event."),
        };
    }
    if event_type.is_empty() {
        return Vec::new();
    }
    frame(event_type, payload.as_bytes())
}

/// `event: <name>\ndata: <json on one line>\n\n`. JSON's raw line breaks are only whitespace
/// (inside strings they are escaped), so they become spaces.
fn frame(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + name.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend(data.iter().map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
    out.extend_from_slice(b"\n\n");
    out
}

fn error_event(kind: &str, message: &str) -> Vec<u8> {
    let v = serde_json::json!({"type": "error", "error": {"type": kind, "message": message}});
    frame("error", &crate::api::json_bytes(&v))
}

/// Bedrock's exception names in Anthropic's error types.
fn anthropic_error_type(exception: &str) -> &'static str {
    match exception {
        "throttlingException" => "rate_limit_error",
        "validationException" => "invalid_request_error",
        "serviceUnavailableException" => "overloaded_error",
        "accessDeniedException" => "permission_error",
        "resourceNotFoundException" => "not_found_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventstream::decoder::encode;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn chunk(event: &str) -> Vec<u8> {
        let payload = format!(r#"{{"bytes":"{}","p":"abc"}}"#, crate::crypto::base64(event.as_bytes()));
        encode(&[(":event-type", "chunk"), (":content-type", "application/json"), (":message-type", "event")], payload.as_bytes())
    }

    #[test]
    fn invoke_model_chunks_become_anthropic_events() {
        let mut s = chunk(r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3}}}"#);
        s.extend(chunk("{\"type\":\"content_block_delta\",\n\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\\nb\"}}"));
        let mut t = EventStreamToSse::new();
        let mut out = Vec::new();
        for b in s.chunks(7) {
            out.extend(t.feed(b, false));
        }
        out.extend(t.feed(b"", true));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "event: message_start\ndata: {\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":3}},\"type\":\"message_start\"}\n\n\
             event: content_block_delta\ndata: {\"delta\":{\"text\":\"a\\nb\",\"type\":\"text_delta\"},\"index\":0,\"type\":\"content_block_delta\"}\n\n"
        );
    }

    #[test]
    fn converse_events_exceptions_and_corruption() {
        let mut s = encode(&[(":event-type", "contentBlockDelta"), (":message-type", "event")], b"{\"delta\":\n{\"text\":\"hi\"}}");
        s.extend(encode(&[(":exception-type", "throttlingException"), (":message-type", "exception")], br#"{"message":"Too many requests"}"#));
        let text = String::from_utf8(EventStreamToSse::new().feed(&s, true)).unwrap();
        assert_eq!(
            text,
            "event: contentBlockDelta\ndata: {\"delta\": {\"text\":\"hi\"}}\n\n\
             event: error\ndata: {\"error\":{\"message\":\"Too many requests\",\"type\":\"rate_limit_error\"},\"type\":\"error\"}\n\n"
        );
        let mut bad = s.clone();
        bad[20] ^= 1;
        let mut t = EventStreamToSse::new();
        let text = String::from_utf8(t.feed(&bad, false)).unwrap();
        assert!(text.starts_with("event: error\n") && text.contains("CRC"), "{text}");
        assert!(t.feed(&s, true).is_empty(), "nothing after a corrupt frame");
        let cut = String::from_utf8(EventStreamToSse::new().feed(&s[..10], true)).unwrap();
        assert!(cut.contains("ended inside a frame"), "{cut}");
    }
}
