//! Self-test of the mock LLM provider and the test HTTP client (native, no Envoy): every
//! route, every `x-mock-*` behaviour, request recording, chunked request bodies and keep-alive.

#[path = "support/http_client.rs"]
mod http_client;
#[path = "support/mock_provider.rs"]
mod mock_provider;

use http_client::{chunked_body, get, parse_sse, post_json, raw, request, request_streamed, Conn};
use mock_provider::*;
use serde_json::{json, Value};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

fn chat_stream(model: &str, include_usage: bool) -> Value {
    let mut v = chat(model);
    v["stream"] = json!(true);
    if include_usage {
        v["stream_options"] = json!({"include_usage": true});
    }
    v
}

fn anthropic(stream: bool) -> Value {
    json!({"model": "claude-test-1", "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn gemini() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
}

#[test]
fn fixtures_agree_with_consts() {
    assert_eq!(STREAM_TEXT_PIECES.concat(), ASSISTANT_TEXT);
    assert_eq!(
        OPENAI_PROMPT_TOKENS + OPENAI_COMPLETION_TOKENS,
        OPENAI_TOTAL_TOKENS
    );
    assert_eq!(
        GEMINI_PROMPT_TOKENS + GEMINI_CANDIDATES_TOKENS + GEMINI_THOUGHTS_TOKENS,
        GEMINI_TOTAL_TOKENS
    );
}

#[test]
fn openai_chat_unary_and_recording() {
    let m = MockProvider::start();
    let r = post_json(
        m.port(),
        "/v1/chat/completions",
        &[("Authorization", "Bearer sk-test"), ("X-Custom", "a")],
        &chat("gpt-4o-mini"),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], OPENAI_PROMPT_TOKENS);
    assert_eq!(v["usage"]["completion_tokens"], OPENAI_COMPLETION_TOKENS);
    assert_eq!(v["usage"]["total_tokens"], OPENAI_TOTAL_TOKENS);
    assert_eq!(
        v["usage"]["prompt_tokens_details"]["cached_tokens"],
        OPENAI_CACHED_TOKENS
    );
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        OPENAI_REASONING_TOKENS
    );
    assert!(r.header("x-mock-served-by").is_none());

    let reqs = m.requests();
    assert_eq!(reqs.len(), 1);
    let q = &reqs[0];
    assert_eq!(q.method, "POST");
    assert_eq!(q.path, "/v1/chat/completions");
    assert_eq!(q.header("AUTHORIZATION"), Some("Bearer sk-test"));
    assert_eq!(q.header("x-custom"), Some("a"));
    // Names lowercased and in order as sent.
    let names: Vec<&str> = q.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "host",
            "authorization",
            "x-custom",
            "content-type",
            "content-length",
            "connection"
        ]
    );
    assert_eq!(q.json()["model"], "gpt-4o-mini");
    assert_eq!(m.request_count(), 1);
    m.clear();
    assert_eq!(m.request_count(), 0);
}

#[test]
fn openai_chat_any_prefix_and_query() {
    let m = MockProvider::start();
    for path in [
        "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21",
        "/api/v1/chat/completions",
        "/chat/completions",
    ] {
        let r = post_json(m.port(), path, &[], &chat("m1")).unwrap();
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.json()["model"], "m1");
    }
    let reqs = m.requests();
    assert_eq!(
        reqs[0].path,
        "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(
        reqs[0].path_only(),
        "/openai/deployments/my-gpt/chat/completions"
    );
    assert_eq!(reqs[0].query(), Some("api-version=2024-10-21"));
}

#[test]
fn openai_stream_with_include_usage() {
    let m = MockProvider::start();
    let body = chat_stream("gpt-4o-mini", true).to_string();
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1/chat/completions",
        &[],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(s.status, 200);
    assert!(s.complete);
    assert!(s
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(s.header("transfer-encoding"), Some("chunked"));
    let events = s.sse_events();
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json().unwrap())
        .collect();
    let mut text = String::new();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "gpt-4o-mini");
        if let Some(t) = c["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
    }
    assert_eq!(text, ASSISTANT_TEXT);
    // Every chunk but the last has "usage": null; the last has empty choices and usage.
    for c in &chunks[..chunks.len() - 1] {
        assert!(c["usage"].is_null() && c.get("usage").is_some());
    }
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], OPENAI_PROMPT_TOKENS);
    assert_eq!(last["usage"]["completion_tokens"], OPENAI_COMPLETION_TOKENS);
    assert_eq!(last["usage"]["total_tokens"], OPENAI_TOTAL_TOKENS);
    assert_eq!(
        last["usage"]["prompt_tokens_details"]["cached_tokens"],
        OPENAI_CACHED_TOKENS
    );
    // One HTTP chunk per SSE event.
    assert_eq!(s.chunks.len(), events.len());
    // Exact wire form: `data: {...}\n\n`.
    assert!(s.text().starts_with("data: {"));
    assert!(s.text().ends_with("\n\ndata: [DONE]\n\n"));
}

#[test]
fn openai_stream_without_include_usage_and_no_usage() {
    let m = MockProvider::start();
    for (body, hdrs) in [
        (chat_stream("x", false), vec![]),
        (chat_stream("x", true), vec![(H_NO_USAGE, "1")]),
    ] {
        let s = request_streamed(
            m.port(),
            "POST",
            "/v1/chat/completions",
            &hdrs,
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert!(s.complete);
        let events = s.sse_events();
        assert_eq!(events.last().unwrap().data, "[DONE]");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| e.json().unwrap())
            .collect();
        assert_eq!(chunks.len(), 7);
        for c in &chunks {
            assert!(c.get("usage").is_none(), "unexpected usage in {c}");
            assert_ne!(c["choices"], json!([]));
        }
        assert!(!s.text().contains("prompt_tokens"));
    }
    let r = post_json(
        m.port(),
        "/v1/chat/completions",
        &[(H_NO_USAGE, "true")],
        &chat("x"),
    )
    .unwrap();
    assert!(r.json().get("usage").is_none());
    assert_eq!(r.json()["choices"][0]["message"]["content"], ASSISTANT_TEXT);
}

#[test]
fn openai_embeddings() {
    let m = MockProvider::start();
    let one = post_json(
        m.port(),
        "/v1/embeddings",
        &[],
        &json!({"model": "text-embedding-3-small", "input": "hello"}),
    )
    .unwrap();
    let v = one.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "text-embedding-3-small");
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["object"], "embedding");
    assert_eq!(
        v["data"][0]["embedding"].as_array().unwrap().len(),
        EMBEDDING_DIMENSIONS
    );
    assert_eq!(v["usage"]["prompt_tokens"], EMBEDDING_TOKENS_PER_INPUT);
    assert_eq!(v["usage"]["total_tokens"], EMBEDDING_TOKENS_PER_INPUT);

    let three = post_json(
        m.port(),
        "/openai/deployments/emb/embeddings",
        &[],
        &json!({"model": "e", "input": ["a", "b", "c"]}),
    )
    .unwrap()
    .json();
    assert_eq!(three["data"].as_array().unwrap().len(), 3);
    assert_eq!(three["data"][2]["index"], 2);
    assert_eq!(
        three["usage"]["prompt_tokens"],
        3 * EMBEDDING_TOKENS_PER_INPUT
    );
    assert_eq!(
        three["usage"]["total_tokens"],
        3 * EMBEDDING_TOKENS_PER_INPUT
    );

    let tokens = post_json(
        m.port(),
        "/v1/embeddings",
        &[],
        &json!({"model": "e", "input": [1, 2, 3]}),
    )
    .unwrap()
    .json();
    assert_eq!(tokens["data"].as_array().unwrap().len(), 1);

    let no_usage = post_json(
        m.port(),
        "/v1/embeddings",
        &[(H_NO_USAGE, "1")],
        &json!({"model": "e", "input": "x"}),
    )
    .unwrap();
    assert!(no_usage.json().get("usage").is_none());

    let bad = post_json(m.port(), "/v1/embeddings", &[], &json!({"model": "e"})).unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["type"], "invalid_request_error");
}

#[test]
fn openai_models_and_not_found() {
    let m = MockProvider::start();
    let r = get(m.port(), "/v1/models").unwrap();
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["object"], "list");
    assert!(v["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["object"] == "model"));

    for (method, path) in [
        ("GET", "/v1/nope"),
        ("GET", "/v1/chat/completions"),
        ("POST", "/v1/models"),
        ("POST", "/"),
    ] {
        let r = request(m.port(), method, path, &[], b"{}").unwrap();
        assert_eq!(r.status, 404, "{method} {path}");
        let e = r.json();
        assert_eq!(e["error"]["type"], "invalid_request_error");
        assert_eq!(e["error"]["code"], "unknown_url");
        assert!(e["error"]["message"].as_str().unwrap().contains(path));
        assert!(e["error"].get("param").is_some());
    }
    assert_eq!(m.request_count(), 5);
}

#[test]
fn invalid_json_body_is_400_in_dialect() {
    let m = MockProvider::start();
    let r = request(m.port(), "POST", "/v1/messages", &[], b"{not json").unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["type"], "error");
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let r = request(
        m.port(),
        "POST",
        "/v1beta/models/g:generateContent",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["status"], "INVALID_ARGUMENT");
}

#[test]
fn anthropic_unary() {
    let m = MockProvider::start();
    let r = post_json(
        m.port(),
        "/v1/messages",
        &[("anthropic-version", "2023-06-01")],
        &anthropic(false),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-test-1");
    assert_eq!(v["content"][0]["type"], "text");
    assert_eq!(v["content"][0]["text"], ASSISTANT_TEXT);
    assert_eq!(v["stop_reason"], "end_turn");
    let u = &v["usage"];
    assert_eq!(u["input_tokens"], ANTHROPIC_INPUT_TOKENS);
    assert_eq!(u["output_tokens"], ANTHROPIC_OUTPUT_TOKENS);
    assert_eq!(
        u["cache_creation_input_tokens"],
        ANTHROPIC_CACHE_CREATION_INPUT_TOKENS
    );
    assert_eq!(
        u["cache_read_input_tokens"],
        ANTHROPIC_CACHE_READ_INPUT_TOKENS
    );
    assert_eq!(
        m.last_request().unwrap().header("anthropic-version"),
        Some("2023-06-01")
    );

    let r = post_json(
        m.port(),
        "/v1/messages",
        &[(H_NO_USAGE, "1")],
        &anthropic(false),
    )
    .unwrap();
    assert!(r.json().get("usage").is_none());
}

#[test]
fn anthropic_stream() {
    let m = MockProvider::start();
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1/messages",
        &[],
        anthropic(true).to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(s.status, 200);
    assert!(s.complete);
    assert!(s
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let events = s.sse_events();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let data: Vec<Value> = events.iter().map(|e| e.json().unwrap()).collect();
    for (e, d) in events.iter().zip(&data) {
        assert_eq!(d["type"], e.event.as_deref().unwrap());
    }
    let start = &data[0]["message"];
    assert_eq!(start["model"], "claude-test-1");
    assert_eq!(start["usage"]["input_tokens"], ANTHROPIC_INPUT_TOKENS);
    assert_eq!(
        start["usage"]["cache_creation_input_tokens"],
        ANTHROPIC_CACHE_CREATION_INPUT_TOKENS
    );
    assert_eq!(
        start["usage"]["cache_read_input_tokens"],
        ANTHROPIC_CACHE_READ_INPUT_TOKENS
    );
    assert_eq!(
        start["usage"]["output_tokens"],
        ANTHROPIC_STREAM_START_OUTPUT_TOKENS
    );
    let text: String = data
        .iter()
        .filter_map(|d| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, ASSISTANT_TEXT);
    let delta = &data[9];
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], ANTHROPIC_OUTPUT_TOKENS);
    assert!(s.text().starts_with("event: message_start\ndata: {"));

    let s = request_streamed(
        m.port(),
        "POST",
        "/v1/messages",
        &[(H_NO_USAGE, "1")],
        anthropic(true).to_string().as_bytes(),
    )
    .unwrap();
    assert!(!s.text().contains("usage"));
}

#[test]
fn gemini_generate() {
    let m = MockProvider::start();
    let r = post_json(
        m.port(),
        "/v1beta/models/gemini-2.5-flash:generateContent?key=abc",
        &[],
        &gemini(),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["modelVersion"], "gemini-2.5-flash");
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        ASSISTANT_TEXT
    );
    assert_eq!(v["candidates"][0]["content"]["role"], "model");
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    let u = &v["usageMetadata"];
    assert_eq!(u["promptTokenCount"], GEMINI_PROMPT_TOKENS);
    assert_eq!(u["candidatesTokenCount"], GEMINI_CANDIDATES_TOKENS);
    assert_eq!(u["thoughtsTokenCount"], GEMINI_THOUGHTS_TOKENS);
    assert_eq!(u["cachedContentTokenCount"], GEMINI_CACHED_TOKENS);
    assert_eq!(u["totalTokenCount"], GEMINI_TOTAL_TOKENS);
    // Vertex-style path (which, as Vertex, wants a credential) and an encoded colon route too.
    let vertex = "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent";
    assert_eq!(
        post_json(m.port(), vertex, &[("authorization", "Bearer ya29.selftest")], &gemini()).unwrap().json()["modelVersion"],
        "gemini-2.0-flash"
    );
    assert_eq!(post_json(m.port(), vertex, &[], &gemini()).unwrap().status, 401);
    let enc = post_json(
        m.port(),
        "/v1beta/models/g1%3AgenerateContent",
        &[],
        &gemini(),
    )
    .unwrap();
    assert_eq!(enc.json()["modelVersion"], "g1");
    let nu = post_json(
        m.port(),
        "/v1beta/models/g:generateContent",
        &[(H_NO_USAGE, "1")],
        &gemini(),
    )
    .unwrap();
    assert!(nu.json().get("usageMetadata").is_none());
    let unknown = post_json(m.port(), "/v1beta/models/g:countTokens", &[], &gemini()).unwrap();
    assert_eq!(unknown.status, 404);
}

#[test]
fn gemini_stream_sse() {
    let m = MockProvider::start();
    let body = gemini().to_string();
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        &[],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(s.status, 200);
    assert!(s.complete);
    assert!(s
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    // Google separates events with CRLF CRLF.
    assert!(s.text().starts_with("data: {"));
    assert!(s.text().ends_with("}\r\n\r\n"));
    let events = s.sse_events();
    assert_eq!(events.len(), 5);
    let data: Vec<Value> = events.iter().map(|e| e.json().unwrap()).collect();
    let text: String = data
        .iter()
        .map(|d| {
            d["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(text, ASSISTANT_TEXT);
    assert!(data.iter().all(|d| d["modelVersion"] == "gemini-2.5-pro"));
    let last = &data[4];
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    let u = &last["usageMetadata"];
    assert_eq!(u["promptTokenCount"], GEMINI_PROMPT_TOKENS);
    assert_eq!(u["candidatesTokenCount"], GEMINI_CANDIDATES_TOKENS);
    assert_eq!(u["thoughtsTokenCount"], GEMINI_THOUGHTS_TOKENS);
    assert_eq!(u["cachedContentTokenCount"], GEMINI_CACHED_TOKENS);
    assert_eq!(u["totalTokenCount"], GEMINI_TOTAL_TOKENS);
    // Earlier chunks carry cumulative (smaller) usage.
    assert!(
        data[0]["usageMetadata"]["candidatesTokenCount"]
            .as_u64()
            .unwrap()
            < GEMINI_CANDIDATES_TOKENS
    );
}

#[test]
fn gemini_stream_json_array() {
    let m = MockProvider::start();
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1beta/models/g:streamGenerateContent",
        &[],
        gemini().to_string().as_bytes(),
    )
    .unwrap();
    assert!(s.complete);
    assert!(s
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(s.chunks.len(), 5);
    let v: Value = serde_json::from_slice(&s.body()).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 5);
    assert_eq!(
        arr[4]["usageMetadata"]["totalTokenCount"],
        GEMINI_TOTAL_TOKENS
    );
    assert_eq!(arr[0]["modelVersion"], "g");
}

#[test]
fn status_header_gives_dialect_errors_and_retry_after() {
    let m = MockProvider::start();
    let h = [(H_STATUS, "503"), (H_RETRY_AFTER, "2")];
    let o = post_json(
        m.port(),
        "/v1/chat/completions",
        &h,
        &chat_stream("x", true),
    )
    .unwrap();
    assert_eq!(o.status, 503);
    assert_eq!(o.header("retry-after"), Some("2"));
    assert_eq!(o.header("content-type"), Some("application/json"));
    let e = &o.json()["error"];
    assert!(e["message"].is_string() && e["type"].is_string());
    assert!(e.get("param").is_some() && e.get("code").is_some());

    let a = post_json(m.port(), "/v1/messages", &h, &anthropic(true)).unwrap();
    assert_eq!(a.status, 503);
    assert_eq!(a.header("retry-after"), Some("2"));
    assert_eq!(a.json()["type"], "error");
    assert_eq!(a.json()["error"]["type"], "overloaded_error");
    assert!(a.json()["error"]["message"].is_string());

    let g = post_json(
        m.port(),
        "/v1beta/models/g:streamGenerateContent?alt=sse",
        &h,
        &gemini(),
    )
    .unwrap();
    assert_eq!(g.status, 503);
    assert_eq!(g.json()["error"]["code"], 503);
    assert_eq!(g.json()["error"]["status"], "UNAVAILABLE");
    assert!(g.json()["error"]["message"].is_string());

    let r = post_json(
        m.port(),
        "/v1/chat/completions",
        &[(H_STATUS, "429")],
        &chat("x"),
    )
    .unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["code"], "rate_limit_exceeded");
    assert!(r.header("retry-after").is_none());
    let r = post_json(
        m.port(),
        "/v1/messages",
        &[(H_STATUS, "429")],
        &anthropic(false),
    )
    .unwrap();
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    let r = post_json(
        m.port(),
        "/v1beta/models/g:generateContent",
        &[(H_STATUS, "400")],
        &gemini(),
    )
    .unwrap();
    assert_eq!(r.json()["error"]["status"], "INVALID_ARGUMENT");

    // A status below 400 keeps the normal body.
    let r = post_json(
        m.port(),
        "/v1/chat/completions",
        &[(H_STATUS, "201")],
        &chat("x"),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["choices"][0]["message"]["content"], ASSISTANT_TEXT);
}

#[test]
fn server_default_behavior_header_override_and_name() {
    let down = MockProvider::start_with(Behavior {
        name: Some("primary".into()),
        status: Some(500),
        retry_after: Some(7),
        ..Behavior::default()
    });
    let up = MockProvider::start_with(Behavior::named("fallback"));
    let r = post_json(down.port(), "/v1/chat/completions", &[], &chat("x")).unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(r.header(H_SERVED_BY), Some("primary"));
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.json()["error"]["type"], "server_error");
    let r = post_json(up.port(), "/v1/chat/completions", &[], &chat("x")).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header(H_SERVED_BY), Some("fallback"));
    // The header overrides the default.
    let r = post_json(
        down.port(),
        "/v1/chat/completions",
        &[(H_STATUS, "200")],
        &chat("x"),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("retry-after").is_none());
    // set_behavior changes the default at run time.
    down.set_behavior(Behavior::named("primary"));
    assert_eq!(
        post_json(down.port(), "/v1/chat/completions", &[], &chat("x"))
            .unwrap()
            .status,
        200
    );
}

#[test]
fn fail_first_then_succeed() {
    let m = MockProvider::start_with(Behavior {
        status: Some(503),
        fail_first: Some(2),
        ..Behavior::default()
    });
    let statuses: Vec<u16> = (0..4)
        .map(|_| {
            post_json(m.port(), "/v1/chat/completions", &[], &chat("x"))
                .unwrap()
                .status
        })
        .collect();
    assert_eq!(statuses, [503, 503, 200, 200]);
    m.clear();
    assert_eq!(
        post_json(m.port(), "/v1/chat/completions", &[], &chat("x"))
            .unwrap()
            .status,
        503
    );
    // Per-request header form.
    let h = MockProvider::start();
    let hdrs = [(H_STATUS, "429"), (H_FAIL_FIRST, "1")];
    assert_eq!(
        post_json(h.port(), "/v1/messages", &hdrs, &anthropic(false))
            .unwrap()
            .status,
        429
    );
    assert_eq!(
        post_json(h.port(), "/v1/messages", &hdrs, &anthropic(false))
            .unwrap()
            .status,
        200
    );
}

#[test]
fn delay_before_headers() {
    let m = MockProvider::start();
    let t = Instant::now();
    let r = post_json(
        m.port(),
        "/v1/chat/completions",
        &[(H_DELAY_MS, "300")],
        &chat("x"),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let d = MockProvider::start_with(Behavior {
        delay_ms: 200,
        ..Behavior::default()
    });
    let t = Instant::now();
    post_json(d.port(), "/v1/chat/completions", &[], &chat("x")).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(200));
}

#[test]
fn chunk_delay_is_observable_when_streaming() {
    let m = MockProvider::start();
    let body = chat_stream("x", true).to_string();
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1/chat/completions",
        &[(H_CHUNK_DELAY_MS, "100")],
        body.as_bytes(),
    )
    .unwrap();
    assert!(s.complete);
    let n = s.chunks.len();
    assert_eq!(n, 9); // 8 chunks + [DONE]
    let first = s.first_chunk_after().unwrap();
    let last = s.last_chunk_after().unwrap();
    assert!(
        first < Duration::from_millis(100),
        "first event took {first:?}"
    );
    assert!(
        last >= Duration::from_millis(100 * (n as u64 - 1)),
        "last event at {last:?}"
    );
    // Each event arrived on its own, spaced out.
    for w in s.chunks.windows(2) {
        assert!(w[1].0.duration_since(w[0].0) >= Duration::from_millis(80));
    }
    let events = parse_sse(&s.text());
    assert_eq!(events.len(), 9);
}

#[test]
fn cut_after_events() {
    let m = MockProvider::start();
    let body = chat_stream("x", true).to_string();
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1/chat/completions",
        &[(H_CUT_AFTER_EVENTS, "3")],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(s.status, 200);
    assert!(!s.complete);
    let text = s.text();
    assert_eq!(text.matches("\n\n").count(), 3, "{text}");
    assert!(!text.ends_with("\n\n"), "the 4th event must be partial");
    assert!(text.split("\n\n").last().unwrap().starts_with("data: {"));
    assert_eq!(s.chunks.len(), 4);

    // Cut beyond the end: all events, but no terminating chunk.
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1/messages",
        &[(H_CUT_AFTER_EVENTS, "100")],
        anthropic(true).to_string().as_bytes(),
    )
    .unwrap();
    assert!(!s.complete);
    assert_eq!(s.sse_events().len(), 11);

    // Gemini SSE, cut after the first event.
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1beta/models/g:streamGenerateContent?alt=sse",
        &[(H_CUT_AFTER_EVENTS, "1")],
        gemini().to_string().as_bytes(),
    )
    .unwrap();
    assert!(!s.complete);
    assert_eq!(s.chunks.len(), 2);

    // A unary response is cut mid-body: the full client errors, the streamed one reports it.
    let h = [(H_CUT_AFTER_EVENTS, "0")];
    assert!(post_json(m.port(), "/v1/chat/completions", &h, &chat("x")).is_err());
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1/chat/completions",
        &h,
        chat("x").to_string().as_bytes(),
    )
    .unwrap();
    assert!(!s.complete);
    let len: usize = s.header("content-length").unwrap().parse().unwrap();
    assert_eq!(s.body().len(), len / 2);
}

#[test]
fn reset_closes_without_response_but_records() {
    let m = MockProvider::start();
    let h = [(H_RESET, "1")];
    assert!(post_json(m.port(), "/v1/chat/completions", &h, &chat("x")).is_err());
    assert!(request_streamed(
        m.port(),
        "POST",
        "/v1/messages",
        &h,
        anthropic(true).to_string().as_bytes()
    )
    .is_err());
    let req = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-mock-reset: 1\r\ncontent-length: 2\r\n\r\n{}";
    assert!(raw(m.port(), req, Duration::from_secs(5))
        .unwrap()
        .is_empty());
    assert_eq!(m.request_count(), 3);
    assert_eq!(m.requests()[0].json()["model"], "x");
    // Server default form.
    let r = MockProvider::start_with(Behavior {
        reset: true,
        ..Behavior::default()
    });
    assert!(get(r.port(), "/v1/models").is_err());
    assert_eq!(r.request_count(), 1);
}

#[test]
fn chunked_request_body_is_dechunked() {
    let m = MockProvider::start();
    let json_text = chat("chunky").to_string();
    let (a, b) = json_text.as_bytes().split_at(10);
    let body = chunked_body(&[a, b]);
    let r = request(
        m.port(),
        "POST",
        "/v1/chat/completions",
        &[
            ("content-type", "application/json"),
            ("transfer-encoding", "chunked"),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["model"], "chunky");
    let q = m.last_request().unwrap();
    assert_eq!(q.body, json_text.as_bytes());
    assert_eq!(q.header("transfer-encoding"), Some("chunked"));
    assert!(q.header("content-length").is_none());

    // Chunk extensions and trailers are tolerated.
    let raw_req = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x};ext=1\r\n{}\r\n0\r\nx-trailer: t\r\n\r\n",
        json_text.len(),
        json_text
    );
    let out = raw(m.port(), raw_req.as_bytes(), Duration::from_secs(5)).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(m.last_request().unwrap().body, json_text.as_bytes());
}

#[test]
fn keep_alive_reuses_one_connection() {
    let m = MockProvider::start();
    let mut c = Conn::open(m.port()).unwrap();
    let r1 = c
        .post_json("/v1/chat/completions", &[], &chat("one"))
        .unwrap();
    // A streamed (chunked) response in the middle must leave the connection usable too.
    let r2 = c.post_json("/v1/messages", &[], &anthropic(true)).unwrap();
    let r3 = c
        .post_json("/v1beta/models/g:generateContent", &[], &gemini())
        .unwrap();
    assert_eq!((r1.status, r2.status, r3.status), (200, 200, 200));
    assert_eq!(r1.json()["model"], "one");
    assert_eq!(parse_sse(&r2.text()).len(), 11);
    assert!(r1.header("connection").is_none());
    assert_eq!(m.request_count(), 3);
    assert_eq!(m.connection_count(), 1);

    // Two pipelined requests in one write get two responses in order.
    let b1 = chat("p1").to_string();
    let b2 = chat("p2").to_string();
    let pipelined = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{b1}\r\nPOST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{b2}",
        b1.len(),
        b2.len()
    );
    let out =
        String::from_utf8(raw(m.port(), pipelined.as_bytes(), Duration::from_secs(5)).unwrap())
            .unwrap();
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(out.find("\"p1\"").unwrap() < out.find("\"p2\"").unwrap());
    assert_eq!(m.connection_count(), 2);
}

#[test]
fn expect_continue_and_malformed_requests() {
    let m = MockProvider::start();
    let body = chat("x").to_string();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let out =
        String::from_utf8(raw(m.port(), req.as_bytes(), Duration::from_secs(5)).unwrap()).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{out}"
    );
    // The client skips the interim 100.
    let r = request(
        m.port(),
        "POST",
        "/v1/chat/completions",
        &[("expect", "100-continue")],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200);

    let out = raw(m.port(), b"garbage\r\n\r\n", Duration::from_secs(5)).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let out = raw(
        m.port(),
        b"POST /v1/messages HTTP/1.1\r\ncontent-length: nope\r\n\r\n",
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(out.starts_with(b"HTTP/1.1 400 "));
    // Truncated request: no response, and nothing recorded.
    let before = m.request_count();
    let out = raw(
        m.port(),
        b"POST /v1/messages HTTP/1.1\r\ncontent-length: 100\r\n\r\n{",
        Duration::from_millis(300),
    )
    .unwrap();
    assert!(out.is_empty());
    assert_eq!(m.request_count(), before);
}

#[test]
fn drop_stops_listening_and_does_not_hang() {
    let m = MockProvider::start();
    let port = m.port();
    let mut idle = Conn::open(port).unwrap();
    idle.post_json("/v1/chat/completions", &[], &chat("x"))
        .unwrap();
    let t = Instant::now();
    drop(m);
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "listener still open"
    );
    // The idle keep-alive connection was shut down too.
    assert!(idle
        .post_json("/v1/chat/completions", &[], &chat("x"))
        .is_err());
}

#[test]
fn raw_client_reads_until_eof() {
    let m = MockProvider::start();
    let out = raw(
        m.port(),
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(text.contains("connection: close\r\n"));
    assert!(text.trim_end().ends_with('}'));
}

#[test]
fn model_echo_is_json_escaped_and_fixture_bytes_are_kept() {
    let m = MockProvider::start();
    let odd = "my \"quoted\" model\\v1";
    let r = post_json(m.port(), "/v1/chat/completions", &[], &chat(odd)).unwrap();
    assert_eq!(r.json()["model"], odd);
    // Served verbatim from the (pretty-printed) fixture, key order intact.
    assert!(
        r.text().starts_with("{\n  \"id\": \"chatcmpl-"),
        "{}",
        r.text()
    );
    let a = post_json(
        m.port(),
        "/v1/messages",
        &[],
        &json!({"model": odd, "messages": []}),
    )
    .unwrap();
    assert_eq!(a.json()["model"], odd);
    let s = request_streamed(
        m.port(),
        "POST",
        "/v1/chat/completions",
        &[],
        chat_stream(odd, false).to_string().as_bytes(),
    )
    .unwrap();
    let first = &s.sse_events()[0];
    assert!(first.data.starts_with("{\"id\":\"chatcmpl-"));
    assert_eq!(first.json().unwrap()["model"], odd);
}
