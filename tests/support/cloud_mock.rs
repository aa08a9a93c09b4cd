//! The mock provider's cloud endpoints (a child module of `mock_provider`, which hands it every
//! request first): AWS Bedrock and Google Vertex AI, answering as the real services do and
//! refusing what they would refuse.
//!
//! Bedrock (`/model/{id}/…`, the model id percent-encoded):
//! - `invoke` / `invoke-with-response-stream`: Anthropic Messages; the body must carry
//!   `anthropic_version: bedrock-2023-05-31` and neither `model` nor `stream` (Bedrock's
//!   "extraneous key" 400). The stream is AWS event-stream frames, `:event-type: chunk` with the
//!   Anthropic event base64 in `bytes` (the Anthropic fixture's events).
//! - `converse` / `converse-stream`: Converse JSON, or frames `messageStart`,
//!   `contentBlockDelta` (one per [`STREAM_TEXT_PIECES`]), `contentBlockStop`, `messageStop`,
//!   `metadata` (usage [`BEDROCK_INPUT_TOKENS`] …).
//! - Authentication, checked before anything else, 403 in Bedrock's shape
//!   (`{"message"}` + `x-amzn-errortype`) when wrong: a SigV4 `authorization` must verify against
//!   [`MOCK_AWS_SECRET_ACCESS_KEY`] over the request exactly as received (method, path, the
//!   signed headers, body) with an `x-amz-date` within 5 minutes, as AWS requires; or a bearer
//!   [`MOCK_BEDROCK_API_KEY`] (a Bedrock API key).
//! - `x-mock-status` ≥ 400 answers with Bedrock's error shape (`ThrottlingException` for 429).
//!
//! Vertex AI (`…/publishers/{google,anthropic}/models/{m}:{action}`):
//! - Gemini's `generateContent` / `streamGenerateContent` are the mock's Gemini routes;
//! - Anthropic's `rawPredict` / `streamRawPredict` are its Messages route, once the body carries
//!   `anthropic_version: vertex-2023-10-16` and no `model` (400 otherwise, as Vertex answers);
//! - a request needs `authorization: Bearer ya29.…` (an OAuth access token, as the metadata
//!   server hands out) or `x-goog-api-key:` [`MOCK_VERTEX_API_KEY`] (express mode); otherwise
//!   401 `UNAUTHENTICATED` in Google's error shape.
//!
//! The SigV4 check canonicalises with tollgate's own `sign::sigv4`, which is itself checked
//! against AWS's published vectors and botocore (tests/sigv4*.rs); what this adds is that the
//! signature still holds for the request as it arrives, after Envoy.

use super::{route, write_full, write_stream, Behavior, RecordedRequest, Route, ANTHROPIC_STREAM, ASSISTANT_TEXT, STREAM_TEXT_PIECES};
use serde_json::{json, Value};
use std::io;
use std::net::TcpStream;
use tollgate::eventstream::decoder::encode;
use tollgate::sign::sigv4::{sign, Keys, Request, Scope};

/// The AWS credentials the mock accepts SigV4 signatures from.
pub const MOCK_AWS_ACCESS_KEY_ID: &str = "AKIDTOLLGATEMOCK";
pub const MOCK_AWS_SECRET_ACCESS_KEY: &str = "tollgate/mock+Secret/Key";
/// The Bedrock API key (bearer token) the mock accepts.
pub const MOCK_BEDROCK_API_KEY: &str = "ABSKbW9jay1iZWRyb2NrLWtleQ==";

/// Bedrock Converse usage (`inputTokens` excludes the cache reads and writes).
pub const BEDROCK_INPUT_TOKENS: u64 = 21;
pub const BEDROCK_OUTPUT_TOKENS: u64 = 17;
pub const BEDROCK_CACHE_READ_TOKENS: u64 = 8;
pub const BEDROCK_CACHE_WRITE_TOKENS: u64 = 4;

const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// The Vertex API key (express mode) the mock accepts.
pub const MOCK_VERTEX_API_KEY: &str = "AQ.mock-vertex-express-key";

/// What the caller does with a cloud request.
pub(super) enum Cloud {
    /// Answered here; whether the connection may serve another request.
    Done(io::Result<bool>),
    /// Authenticated and checked: answer it as this route.
    As(Route),
}

/// Answers (or routes) a cloud request; `None` for any other path.
pub(super) fn respond(req: &RecordedRequest, b: &Behavior, w: &mut TcpStream, extra: &[(&str, String)], keep_alive: bool) -> Option<Cloud> {
    let path = req.path_only();
    if let Some(rest) = path.strip_prefix("/model/") {
        let (model, action) = rest.rsplit_once('/')?;
        return Some(Cloud::Done(bedrock(req, b, w, extra, keep_alive, model, action)));
    }
    if !path.contains("/publishers/") {
        return None;
    }
    let google_error = |w: &mut TcpStream, status: u16, grpc: &str, message: &str| -> Cloud {
        let body = json!({"error": {"code": status, "message": message, "status": grpc}}).to_string();
        Cloud::Done(write_full(w, status, "application/json", body.as_bytes(), extra, keep_alive, None).map(|()| keep_alive))
    };
    let bearer = req.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    if !(bearer.is_some_and(|t| t.starts_with("ya29.")) || req.header("x-goog-api-key") == Some(MOCK_VERTEX_API_KEY)) {
        return Some(google_error(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."));
    }
    let (_, action) = path.rsplit_once(':')?;
    if !matches!(action, "rawPredict" | "streamRawPredict") {
        return Some(Cloud::As(route(&req.method, path)));
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    if body.get("model").is_some() || body.get("anthropic_version").and_then(Value::as_str) != Some("vertex-2023-10-16") {
        return Some(google_error(w, 400, "INVALID_ARGUMENT", "anthropic_version: vertex-2023-10-16 is required and `model` is not permitted in the body."));
    }
    if (action == "streamRawPredict") != (body.get("stream") == Some(&Value::Bool(true))) {
        return Some(google_error(w, 400, "INVALID_ARGUMENT", "streamRawPredict takes `stream: true`; rawPredict does not."));
    }
    Some(Cloud::As(Route::AnthropicMessages))
}

fn bedrock(req: &RecordedRequest, b: &Behavior, w: &mut TcpStream, extra: &[(&str, String)], keep_alive: bool, model: &str, action: &str) -> io::Result<bool> {
    let fail = |w: &mut TcpStream, status: u16, kind: &str, message: &str| -> io::Result<bool> {
        let mut h = extra.to_vec();
        h.push(("x-amzn-errortype", format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/")));
        write_full(w, status, "application/json", json!({"message": message}).to_string().as_bytes(), &h, keep_alive, None)?;
        Ok(keep_alive)
    };
    if let Err(why) = authenticate(req) {
        return fail(w, 403, "UnrecognizedClientException", &why);
    }
    if let Some(status) = b.status.filter(|s| *s >= 400) {
        let (kind, msg) = match status {
            429 => ("ThrottlingException", "Too many requests, please wait before trying again."),
            400 => ("ValidationException", "Invalid request."),
            _ => ("ServiceUnavailableException", "The service is unavailable. Please try again later."),
        };
        return fail(w, status, kind, msg);
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => return fail(w, 400, "ValidationException", "Malformed input request, please reformat your input and try again."),
    };
    let anthropic = matches!(action, "invoke" | "invoke-with-response-stream");
    if anthropic {
        for key in ["model", "stream"] {
            if body.get(key).is_some() {
                return fail(w, 400, "ValidationException", &format!("Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your input and try again."));
            }
        }
        if body.get("anthropic_version").and_then(Value::as_str) != Some("bedrock-2023-05-31") {
            return fail(w, 400, "ValidationException", "Malformed input request: #: required key [anthropic_version] not found");
        }
    } else if !body.get("messages").is_some_and(Value::is_array) || body.get("model").is_some() {
        return fail(w, 400, "ValidationException", "The request's messages are missing, or it names a model in the body.");
    }
    match action {
        "invoke" => {
            let mut m: Value = serde_json::from_str(super::ANTHROPIC_MESSAGES).unwrap_or(Value::Null);
            m["model"] = json!(model);
            write_full(w, 200, "application/json", m.to_string().as_bytes(), extra, keep_alive, b.cut_after_events)?;
            Ok(keep_alive && b.cut_after_events.is_none())
        }
        "converse" => {
            write_full(w, 200, "application/json", converse_json(b.no_usage).to_string().as_bytes(), extra, keep_alive, b.cut_after_events)?;
            Ok(keep_alive && b.cut_after_events.is_none())
        }
        "invoke-with-response-stream" => {
            let frames = invoke_stream_frames();
            let complete = write_stream(w, 200, EVENT_STREAM, &frames, extra, keep_alive, b)?;
            Ok(keep_alive && complete)
        }
        "converse-stream" => {
            let frames = converse_stream_frames(b.no_usage);
            let complete = write_stream(w, 200, EVENT_STREAM, &frames, extra, keep_alive, b)?;
            Ok(keep_alive && complete)
        }
        _ => fail(w, 404, "UnknownOperationException", "Unknown operation."),
    }
}

/// A Converse answer with [`ASSISTANT_TEXT`].
pub fn converse_json(no_usage: bool) -> Value {
    let mut v = json!({
        "output": {"message": {"role": "assistant", "content": [{"text": ASSISTANT_TEXT}]}},
        "stopReason": "end_turn",
        "metrics": {"latencyMs": 321}
    });
    if !no_usage {
        v["usage"] = usage();
    }
    v
}

fn usage() -> Value {
    json!({"inputTokens": BEDROCK_INPUT_TOKENS, "outputTokens": BEDROCK_OUTPUT_TOKENS,
        "totalTokens": BEDROCK_INPUT_TOKENS + BEDROCK_OUTPUT_TOKENS + BEDROCK_CACHE_READ_TOKENS + BEDROCK_CACHE_WRITE_TOKENS,
        "cacheReadInputTokens": BEDROCK_CACHE_READ_TOKENS, "cacheWriteInputTokens": BEDROCK_CACHE_WRITE_TOKENS})
}

fn event(kind: &str, payload: &Value) -> Vec<u8> {
    encode(&[(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")], payload.to_string().as_bytes())
}

/// ConverseStream's frames, one per event.
pub fn converse_stream_frames(no_usage: bool) -> Vec<Vec<u8>> {
    let mut frames = vec![event("messageStart", &json!({"role": "assistant"}))];
    for piece in STREAM_TEXT_PIECES {
        frames.push(event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"text": piece}})));
    }
    frames.push(event("contentBlockStop", &json!({"contentBlockIndex": 0})));
    frames.push(event("messageStop", &json!({"stopReason": "end_turn"})));
    if !no_usage {
        frames.push(event("metadata", &json!({"usage": usage(), "metrics": {"latencyMs": 321}})));
    }
    frames
}

/// InvokeModelWithResponseStream's frames: each Anthropic fixture event base64 in `bytes`.
pub fn invoke_stream_frames() -> Vec<Vec<u8>> {
    super::sse_fixture(ANTHROPIC_STREAM)
        .into_iter()
        .map(|(_, data)| {
            let b64 = tollgate::crypto::base64(data.as_bytes());
            event("chunk", &json!({"bytes": b64, "p": "abcdefghijklmnop"}))
        })
        .collect()
}

/// Checks the request's credential as Bedrock would; the error says what is wrong.
fn authenticate(req: &RecordedRequest) -> Result<(), String> {
    let auth = req.header("authorization").ok_or("Missing Authentication Token")?;
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return if token == MOCK_BEDROCK_API_KEY { Ok(()) } else { Err("Invalid API Key format: Must start with pre-defined prefix".into()) };
    }
    let fields = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders'.")?;
    let field = |name: &str| fields.split(", ").find_map(|f| f.strip_prefix(name)).map(str::to_string);
    let credential = field("Credential=").ok_or("no Credential")?;
    let signed = field("SignedHeaders=").ok_or("no SignedHeaders")?;
    let mut parts = credential.split('/');
    let (Some(key_id), Some(day), Some(region), Some(service)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("malformed Credential".into());
    };
    if key_id != MOCK_AWS_ACCESS_KEY_ID {
        return Err("The security token included in the request is invalid.".into());
    }
    let date = req.header("x-amz-date").ok_or("no x-amz-date")?;
    if !date.starts_with(day) || service != "bedrock" {
        return Err("Credential should be scoped to a valid date and to the bedrock service.".into());
    }
    if skew_seconds(date).is_none_or(|s| s > 300) {
        return Err(format!("Signature expired or not yet current: {date}"));
    }
    let headers: Vec<(&str, &str)> = signed.split(';').filter_map(|n| req.header(n).map(|v| (n, v))).collect();
    if headers.len() != signed.split(';').count() {
        return Err("A signed header is missing from the request.".into());
    }
    let keys = Keys { access_key_id: key_id, secret_access_key: MOCK_AWS_SECRET_ACCESS_KEY, session_token: None };
    let want = sign(&keys, Scope { region, service }, date, &Request { method: &req.method, path: &req.path, headers: &headers, body: &req.body });
    if want.authorization != auth {
        return Err("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.".into());
    }
    Ok(())
}

/// How far `YYYYMMDDTHHMMSSZ` is from now, in seconds.
fn skew_seconds(date: &str) -> Option<u64> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    let d = |a: usize, b: usize| date.get(a..b);
    let rfc3339 = format!("{}-{}-{}T{}:{}:{}Z", d(0, 4)?, d(4, 6)?, d(6, 8)?, d(9, 11)?, d(11, 13)?, d(13, 15)?);
    let then = u64::try_from(tollgate::config::parse_rfc3339(&rfc3339)?).ok()?;
    Some(then.abs_diff(now))
}
