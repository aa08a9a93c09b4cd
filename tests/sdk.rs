//! The official SDKs, unchanged but for the base URL, through tollgate in real Envoy: the OpenAI
//! Python SDK's Responses client against OpenAI-kind (native), chat-completions-only,
//! Anthropic-kind and Gemini-kind mock providers, and the Anthropic Python SDK, as current agents
//! use it, against OpenAI-kind and Gemini-kind ones. The scripts in `tests/sdk/` assert what
//! the SDKs parsed; these tests assert what the providers received. The SDK versions are
//! pinned in the Makefile (`PY_TOOLS`).

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::envoy::{Envoy, Gateway};
use support::mock_provider::MockProvider;

struct Mocks {
    openai: MockProvider,
    chat_only: MockProvider,
    anthropic: MockProvider,
    gemini: MockProvider,
}

fn gateway(m: &Mocks) -> Envoy {
    let exact = |prefix: &str, provider: &str| {
        format!(r#"{{"name": "{prefix}-model", "targets": [{{"provider": "{provider}"}}]}}, {{"name": "{prefix}-tool-caller", "targets": [{{"provider": "{provider}"}}]}}"#)
    };
    let config = format!(
        r#"{{"providers": [{{"name": "openai", "kind": "openai", "cluster": "openai"}},
                           {{"name": "vllm", "kind": "openai", "cluster": "vllm", "responses_api": false}},
                           {{"name": "anthropic", "kind": "anthropic", "cluster": "anthropic"}},
                           {{"name": "gemini", "kind": "gemini", "cluster": "gemini"}}],
             "models": [{}, {}, {}, {}],
             "auth": {{"mode": "none"}}}}"#,
        exact("oa", "openai"),
        exact("vl", "vllm"),
        exact("an", "anthropic"),
        exact("ge", "gemini")
    );
    let clusters = [("openai", m.openai.port()), ("vllm", m.chat_only.port()), ("anthropic", m.anthropic.port()), ("gemini", m.gemini.port())];
    Envoy::start(&Gateway { config: &config, clusters: &clusters, pre_filters: "", env_keys: &[] }.yaml())
}

fn mocks() -> Mocks {
    Mocks { openai: MockProvider::start(), chat_only: MockProvider::start(), anthropic: MockProvider::start(), gemini: MockProvider::start() }
}

/// Runs `tests/sdk/{script}` with the project's Python, asserting it passed every scenario.
fn run_sdk(script: &str, args: &[&str]) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join(".venv/bin/python")).arg(root.join("tests/sdk").join(script)).args(args).output().expect("the project's .venv (make py-tools)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{script} {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn openai_sdk_responses_against_every_provider_kind() {
    let m = mocks();
    let envoy = gateway(&m);
    let base = format!("http://127.0.0.1:{}/v1", envoy.port);
    for prefix in ["oa", "vl", "an", "ge"] {
        let out = run_sdk("openai_responses.py", &[&base, &format!("{prefix}-model"), &format!("{prefix}-tool-caller")]);
        for scenario in ["plain", "stream", "stream helper", "tools", "structured"] {
            assert!(out.contains(&format!("ok {scenario}\n")), "{prefix}: {out}");
        }
    }
    // OpenAI-kind: the Responses API natively, body as sent.
    let native = m.openai.requests();
    assert!(native.iter().all(|r| r.path == "/v1/responses"), "{:?}", native.iter().map(|r| &r.path).collect::<Vec<_>>());
    assert_eq!(native[0].json()["instructions"], "Be brief.");
    // Chat-only server: translated to chat completions, streams asking for usage.
    let chat = m.chat_only.requests();
    assert!(chat.iter().all(|r| r.path == "/v1/chat/completions"));
    assert_eq!(chat[0].json()["messages"][0], serde_json::json!({"role": "system", "content": "Be brief."}));
    assert!(chat.iter().any(|r| r.json()["stream_options"]["include_usage"] == true));
    // Anthropic: Messages, the tool result returned as a tool_result block, the schema as output_config.
    let messages = m.anthropic.requests();
    assert!(messages.iter().all(|r| r.path == "/v1/messages"));
    assert_eq!(messages[0].json()["system"], "Be brief.");
    let round_trip = messages.iter().map(|r| r.json()).find(|v| v.to_string().contains("tool_result")).expect("the tool result reached Anthropic");
    assert_eq!(round_trip["messages"][1]["content"][0]["name"], "get_weather");
    assert!(messages.iter().any(|r| r.json()["output_config"]["format"]["type"] == "json_schema"));
    // Gemini: generateContent with the schema as responseJsonSchema.
    let gemini = m.gemini.requests();
    assert!(gemini.iter().all(|r| r.path.contains(":generateContent") || r.path.contains(":streamGenerateContent?alt=sse")));
    assert!(gemini.iter().any(|r| r.json()["generationConfig"]["responseJsonSchema"]["required"] == serde_json::json!(["name", "age"])));
}

#[test]
fn anthropic_sdk_as_an_agent_against_openai_and_gemini_kinds() {
    let m = mocks();
    let envoy = gateway(&m);
    let base = format!("http://127.0.0.1:{}", envoy.port);
    for model in ["oa-model", "ge-model"] {
        let out = run_sdk("anthropic_messages.py", &[&base, model]);
        for scenario in ["create", "stream", "beta", "count_tokens", "models"] {
            assert!(out.contains(&format!("ok {scenario}\n")), "{model}: {out}");
        }
    }
    // What the OpenAI-kind provider received: thinking as reasoning_effort, the system-role
    // entry as a system message, metadata.user_id as user, every tool; no count_tokens call.
    let seen = m.openai.requests();
    assert!(seen.iter().all(|r| r.path == "/v1/chat/completions"), "{:?}", seen.iter().map(|r| &r.path).collect::<Vec<_>>());
    let first = seen[0].json();
    assert_eq!((first["reasoning_effort"].as_str(), first["user"].as_str()), (Some("high"), Some("user-42")));
    assert_eq!(first["messages"][1], serde_json::json!({"role": "system", "content": "Follow the repository's style."}));
    assert_eq!(first["tools"].as_array().map(Vec::len), Some(24));
    assert_eq!((&first["max_completion_tokens"], &seen[1].json()["max_completion_tokens"]), (&serde_json::json!(16000), &serde_json::json!(32000)));
    assert!(seen[1].json()["stream_options"]["include_usage"] == true);
    let gemini = m.gemini.requests();
    assert_eq!(gemini[0].json()["generationConfig"]["thinkingConfig"]["thinkingBudget"], 24576);
}
