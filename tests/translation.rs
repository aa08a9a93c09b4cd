//! Real-Envoy tests of dialect translation: an OpenAI chat client answered by an Anthropic-shaped
//! provider and an Anthropic client answered by an OpenAI-shaped one, JSON and streaming, errors included.

mod support;

use std::time::Duration;
use support::envoy::{Envoy, Gateway};
use support::http_client::{post_json, request_streamed};
use support::mock_provider::*;

fn gateway(openai: &MockProvider, anthropic: &MockProvider) -> Envoy {
    let config = r#"{"providers": [{"name": "openai", "kind": "openai", "cluster": "openai"},
                                  {"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}],
                     "models": [{"name": "gpt-*", "targets": [{"provider": "openai"}]},
                                {"name": "claude-*", "targets": [{"provider": "anthropic"}]}],
                     "auth": {"mode": "none"}}"#;
    Envoy::start(&Gateway { config, clusters: &[("openai", openai.port()), ("anthropic", anthropic.port())], pre_filters: "", env_keys: &[] }.yaml())
}

/// `gemini-*` to a Gemini-kind provider (the mock), its key `gemini-test-secret`.
fn gemini_gateway(gemini: &MockProvider) -> Envoy {
    let config = r#"{"providers": [{"name": "google", "kind": "gemini", "cluster": "gemini", "host": "generativelanguage.googleapis.com", "api_key_env": "TEST_GEMINI_KEY"}],
                     "models": [{"name": "gemini-*", "targets": [{"provider": "google"}]}],
                     "auth": {"mode": "none"}}"#;
    let yaml = Gateway { config, clusters: &[("gemini", gemini.port())], pre_filters: "", env_keys: &["TEST_GEMINI_KEY"] }.yaml();
    Envoy::start_with_env(&yaml, &[("TEST_GEMINI_KEY", "gemini-test-secret")])
}

fn chat(model: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({"model": model, "stream": stream, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]})
}

fn messages(model: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({"model": model, "max_tokens": 100, "stream": stream, "system": "Be brief.", "messages": [{"role": "user", "content": "Hello"}]})
}

#[test]
fn openai_client_answered_by_anthropic_provider() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &chat("claude-sonnet-4-5", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(v["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    assert_eq!(v["usage"]["completion_tokens"], ANTHROPIC_OUTPUT_TOKENS);
    let seen = anthropic.last_request().unwrap();
    assert_eq!(seen.path, "/v1/messages");
    let body = seen.json();
    assert_eq!(body["system"], "Be brief.");
    assert!(body["max_tokens"].as_u64().is_some());
    assert_eq!(openai.request_count(), 0);
}

/// A plain-text request and answer take the direct path (no document); the same conversation
/// with one more field that changes nothing (`presence_penalty: 0`) takes the general
/// translation. The provider must receive the same request, and the client the same answer.
#[test]
fn direct_and_general_translation_agree_in_envoy() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let plain = serde_json::json!({"model": "claude-sonnet-4-5", "messages": [
        {"role": "system", "content": "Be \"brief\".\n"}, {"role": "user", "content": "Hello \u{e9}"},
        {"role": "user", "content": "again"}, {"role": "assistant", "content": "Hi"}, {"role": "developer", "content": "French."},
        {"role": "user", "content": "Bye"}], "temperature": 0.5, "stop": ["END"], "user": "u-7", "n": 1});
    let mut general = plain.clone();
    general["presence_penalty"] = serde_json::json!(0);
    let mut seen = Vec::new();
    let mut answers = Vec::new();
    for body in [&plain, &general] {
        let r = post_json(envoy.port, "/v1/chat/completions", &[], body).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let mut v = r.json();
        v["created"] = serde_json::Value::Null;
        answers.push(v);
        seen.push(anthropic.last_request().unwrap().json());
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(answers[0], answers[1]);
    assert_eq!(seen[0]["system"], serde_json::json!([{"type": "text", "text": "Be \"brief\".\n"}, {"type": "text", "text": "French."}]));
    assert_eq!(seen[0]["messages"][0]["content"], serde_json::json!([{"type": "text", "text": "Hello \u{e9}"}, {"type": "text", "text": "again"}]));
    assert_eq!((seen[0]["max_tokens"].as_u64(), &seen[0]["metadata"]["user_id"]), (Some(4096), &serde_json::json!("u-7")));
    assert_eq!(answers[0]["choices"][0]["message"]["content"], ASSISTANT_TEXT);
}

#[test]
fn openai_stream_from_anthropic_provider_is_translated_as_it_arrives() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let body = chat("claude-sonnet-4-5", true).to_string();
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("x-mock-chunk-delay-ms", "120")], body.as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.complete);
    let (first, last) = (r.first_chunk_after().unwrap(), r.last_chunk_after().unwrap());
    assert!(last - first >= Duration::from_millis(500), "first chunk {first:?}, last {last:?}: stream was buffered");
    let events = r.sse_events();
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, ASSISTANT_TEXT);
    assert!(events.iter().all(|e| !e.data.contains("\"usage\":{") || e.data.contains("\"choices\":[]") || !e.data.contains("prompt_tokens")), "no usage chunk unless asked");
    let log = envoy.wait_access_log(1);
    assert_eq!(log[0]["completion_tokens"], ANTHROPIC_OUTPUT_TOKENS.to_string(), "usage read from the provider's own stream");
}

#[test]
fn anthropic_client_answered_by_openai_provider() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let r = post_json(envoy.port, "/v1/messages", &[], &messages("gpt-4o-mini", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["content"][0]["text"], ASSISTANT_TEXT);
    let seen = openai.last_request().unwrap();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.json()["messages"][0]["role"], "system");

    let body = messages("gpt-4o-mini", true).to_string();
    let r = request_streamed(envoy.port, "POST", "/v1/messages", &[], body.as_bytes()).unwrap();
    let events = r.sse_events();
    let names: Vec<&str> = events.iter().filter_map(|e| e.event.as_deref()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, ASSISTANT_TEXT);
    assert_eq!(openai.last_request().unwrap().json()["stream_options"]["include_usage"], true);
}

#[test]
fn provider_errors_come_back_in_the_clients_shape() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let r = post_json(envoy.port, "/v1/chat/completions", &[("x-mock-status", "429")], &chat("claude-sonnet-4-5", false)).unwrap();
    assert_eq!(r.status, 429);
    assert!(r.json()["error"]["message"].is_string(), "{}", r.text());
    assert!(r.json()["error"].as_object().unwrap().contains_key("type"));
    let r = post_json(envoy.port, "/v1/messages", &[("x-mock-status", "503")], &messages("gpt-4o-mini", false)).unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["type"], "error");
}

#[test]
fn openai_client_answered_by_gemini_provider_json_and_stream() {
    let gemini = MockProvider::start();
    let envoy = gemini_gateway(&gemini);

    let r = post_json(envoy.port, "/v1/chat/completions", &[], &chat("gemini-2.5-flash", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gemini-2.5-flash");
    assert_eq!(v["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    assert_eq!(v["usage"]["prompt_tokens"], GEMINI_PROMPT_TOKENS);
    // A plain answer takes the direct path: the client gets what the general translation makes
    // of the provider's answer.
    let fixture: serde_json::Value = serde_json::from_str(include_str!("fixtures/gemini_generate.json")).unwrap();
    let mut general = tollgate::api::translate::gemini_to_completion(&fixture, "gemini-2.5-flash", 0).unwrap();
    general["created"] = v["created"].clone();
    assert_eq!(v, general);
    let seen = gemini.last_request().unwrap();
    assert_eq!(seen.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(seen.header("x-goog-api-key"), Some("gemini-test-secret"));
    assert_eq!(seen.json()["systemInstruction"]["parts"][0]["text"], "Be brief.");

    let mut body = chat("gemini-2.5-flash", true);
    body["stream_options"] = serde_json::json!({"include_usage": true});
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[], body.to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(gemini.last_request().unwrap().path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    let events = r.sse_events();
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, ASSISTANT_TEXT);
    let usage = events.iter().filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok()).find(|v| v["usage"].is_object()).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], GEMINI_CANDIDATES_TOKENS + GEMINI_THOUGHTS_TOKENS);
    let log = envoy.wait_access_log(2);
    assert!(log.iter().all(|l| l["prompt_tokens"].as_str().and_then(|t| t.parse().ok()) == Some(GEMINI_PROMPT_TOKENS)), "{log:?}");
    assert!(!envoy.log().contains("gemini-test-secret"));
}

#[test]
fn a_stream_the_provider_ends_early_ends_with_an_error_event() {
    let (openai, anthropic) = (MockProvider::start(), MockProvider::start());
    let envoy = gateway(&openai, &anthropic);
    let end_early = [("x-mock-end-after-events", "3")];
    // Same dialect, passed through: the guard adds the error event.
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &end_early, chat("gpt-4o-mini", true).to_string().as_bytes()).unwrap();
    assert!(r.complete, "the HTTP response itself ended cleanly");
    let last = r.sse_events().last().unwrap().data.clone();
    assert!(last.contains("\"stream_incomplete\""), "{last}");
    // Translated from Anthropic: the translator does.
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &end_early, chat("claude-sonnet-4-5", true).to_string().as_bytes()).unwrap();
    let events = r.sse_events();
    assert!(events.last().unwrap().data.contains("\"stream_incomplete\""), "{}", r.text());
    assert!(events.iter().all(|e| e.data != "[DONE]"), "never a clean-looking end");
    // Anthropic client, OpenAI provider.
    let r = request_streamed(envoy.port, "POST", "/v1/messages", &end_early, messages("gpt-4o-mini", true).to_string().as_bytes()).unwrap();
    let events = r.sse_events();
    assert_eq!(events.last().unwrap().event.as_deref(), Some("error"), "{}", r.text());
    assert!(events.iter().all(|e| e.event.as_deref() != Some("message_stop")));
}

#[test]
fn anthropic_client_answered_by_gemini_provider_json_and_stream() {
    let gemini = MockProvider::start();
    let config = r#"{"providers": [{"name": "google", "kind": "gemini", "cluster": "gemini"}],
                     "models": [{"name": "gemini-*", "targets": [{"provider": "google"}]}],
                     "auth": {"mode": "none"}}"#;
    let envoy = Envoy::start(&Gateway { config, clusters: &[("gemini", gemini.port())], pre_filters: "", env_keys: &[] }.yaml());
    let r = post_json(envoy.port, "/v1/messages", &[], &messages("gemini-2.5-flash", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!((v["type"].as_str(), v["model"].as_str()), (Some("message"), Some("gemini-2.5-flash")));
    assert_eq!(v["content"][0]["text"], ASSISTANT_TEXT);
    assert_eq!(v["usage"]["output_tokens"], GEMINI_CANDIDATES_TOKENS + GEMINI_THOUGHTS_TOKENS);
    let seen = gemini.last_request().unwrap();
    assert_eq!(seen.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(seen.json()["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(seen.json()["generationConfig"]["maxOutputTokens"], 100);

    let r = request_streamed(envoy.port, "POST", "/v1/messages", &[], messages("gemini-2.5-flash", true).to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let events = r.sse_events();
    assert_eq!(events.first().unwrap().event.as_deref(), Some("message_start"));
    assert_eq!(events.last().unwrap().event.as_deref(), Some("message_stop"), "{}", r.text());
    let text: String = events
        .iter()
        .filter(|e| e.event.as_deref() == Some("content_block_delta"))
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, ASSISTANT_TEXT);
    let log = envoy.wait_access_log(2);
    assert_eq!(log[1]["completion_tokens"], (GEMINI_CANDIDATES_TOKENS + GEMINI_THOUGHTS_TOKENS).to_string());
}

#[test]
fn gemini_thought_signatures_survive_tool_loops_in_every_dialect() {
    // The mock's Gemini signs its calls and, as Gemini 3 does, refuses a history whose calls
    // come back unsigned (tests/support/mock_provider.rs).
    let gemini = MockProvider::start();
    let envoy = gemini_gateway(&gemini);
    let tools = serde_json::json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let user = serde_json::json!({"role": "user", "content": "Weather in Paris?"});

    // OpenAI chat, JSON: the signature comes back in the tool call's `extra_content`, as Gemini's
    // own OpenAI-compatible API puts it; sent back with the message, it reaches Gemini again.
    let first = post_json(envoy.port, "/v1/chat/completions", &[], &serde_json::json!({"model": "gemini-3-tool-caller", "tools": tools, "messages": [user]})).unwrap();
    assert_eq!(first.status, 200, "{}", first.text());
    let message = first.json()["choices"][0]["message"].clone();
    let call = &message["tool_calls"][0];
    assert_eq!(call["extra_content"]["google"]["thought_signature"], MOCK_THOUGHT_SIGNATURE);
    let id = call["id"].as_str().unwrap().to_string();
    let tool = |id: &str, out: &str| serde_json::json!({"role": "tool", "tool_call_id": id, "content": out});
    let second = post_json(envoy.port, "/v1/chat/completions", &[], &serde_json::json!({"model": "gemini-3-tool-caller", "tools": tools, "messages": [user, message, tool(&id, "sunny")]})).unwrap();
    assert_eq!(second.status, 200, "{}", second.text());
    let seen = gemini.last_request().unwrap().json();
    assert_eq!(seen["contents"][1]["parts"][0]["thoughtSignature"], MOCK_THOUGHT_SIGNATURE);
    assert_eq!(seen["contents"][2]["parts"][0]["functionResponse"]["name"], "get_weather");

    // Streamed, the call carries it too, and each answer names its calls apart.
    let body = serde_json::json!({"model": "gemini-3-tool-caller", "stream": true, "tools": tools, "messages": [user]});
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[], body.to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let streamed = r.sse_events().iter().filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok()).find_map(|v| v["choices"][0]["delta"]["tool_calls"].get(0).cloned()).unwrap();
    assert_eq!(streamed["extra_content"]["google"]["thought_signature"], MOCK_THOUGHT_SIGNATURE);
    assert_ne!(streamed["id"], id.as_str());

    // A history rebuilt without the signature (or from another model) gets Google's documented
    // placeholder, and an id repeated across turns names the latest call's function.
    let rebuilt = |name: &str| serde_json::json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": name, "arguments": "{}"}}]});
    let msgs = serde_json::json!([user, rebuilt("get_weather"), tool("call_0", "sunny"), {"role": "user", "content": "And the time?"}, rebuilt("get_time"), tool("call_0", "noon")]);
    let third = post_json(envoy.port, "/v1/chat/completions", &[], &serde_json::json!({"model": "gemini-3-flash", "messages": msgs})).unwrap();
    assert_eq!(third.status, 200, "{}", third.text());
    let seen = gemini.last_request().unwrap().json();
    assert_eq!(seen["contents"][1]["parts"][0]["thoughtSignature"], "skip_thought_signature_validator");
    assert_eq!(seen["contents"][4]["parts"][0]["functionResponse"]["name"], "get_time");

    // An Anthropic client (a coding agent) loops through Gemini: its tool_use blocks have no
    // slot for the signature, so the placeholder carries the loop.
    let anthropic_tools = serde_json::json!([{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let ask = serde_json::json!({"role": "user", "content": "Weather in Paris?"});
    let first = post_json(envoy.port, "/v1/messages", &[], &serde_json::json!({"model": "gemini-3-tool-caller", "max_tokens": 100, "tools": anthropic_tools, "messages": [ask]})).unwrap();
    assert_eq!(first.status, 200, "{}", first.text());
    let content = first.json()["content"].clone();
    let tool_use = content.as_array().unwrap().iter().find(|b| b["type"] == "tool_use").unwrap().clone();
    let result = serde_json::json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "sunny"}]});
    let body = serde_json::json!({"model": "gemini-3-tool-caller", "max_tokens": 100, "tools": anthropic_tools, "messages": [ask, {"role": "assistant", "content": content}, result]});
    let second = post_json(envoy.port, "/v1/messages", &[], &body).unwrap();
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.json()["type"], "message");
    assert_eq!(gemini.last_request().unwrap().json()["contents"][1]["parts"][0]["thoughtSignature"], "skip_thought_signature_validator");

    // Without tollgate's placeholder, the mock refuses as Gemini 3 does: the check is real.
    let unsigned = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}, {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}]});
    let direct = post_json(gemini.port(), "/v1beta/models/gemini-3-flash:generateContent", &[], &unsigned).unwrap();
    assert_eq!(direct.status, 400, "{}", direct.text());
    assert_eq!(direct.json()["error"]["status"], "INVALID_ARGUMENT");
}
