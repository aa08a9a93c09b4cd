//! AWS Bedrock through a real Envoy: chat and Messages clients, JSON and streams, to Bedrock
//! Converse and to Anthropic models on Bedrock (InvokeModel), signed in the filter with SigV4
//! from the proxy's environment (or a Bedrock API key), against the mock provider's Bedrock
//! endpoints, which verify each signature over the request as it arrives. The mock's
//! event-stream frames are checked with botocore's own parser.

mod support;

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use support::envoy::{Envoy, Gateway};
use support::http_client::{post_json, request_streamed};
use support::mock_provider::cloud::*;
use support::mock_provider::*;

const CONFIG: &str = r#"{"auth": {"mode": "none"},
  "providers": [{"name": "bedrock", "kind": "bedrock", "cluster": "bedrock", "region": "us-east-1"}],
  "models": [{"name": "nova", "targets": [{"provider": "bedrock", "model": "amazon.nova-pro-v1:0"}]},
             {"name": "claude", "targets": [{"provider": "bedrock", "model": "anthropic.claude-3-5-haiku-20241022-v1:0"}]}]}"#;

fn gateway(config: &str, mock: &MockProvider, env: &[(&str, &str)]) -> Envoy {
    let keys: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
    let yaml = Gateway { config, clusters: &[("bedrock", mock.port())], pre_filters: "", env_keys: &keys }.yaml();
    Envoy::start_with_env(&yaml, env)
}

fn aws_env(secret: &'static str) -> [(&'static str, &'static str); 2] {
    [("AWS_ACCESS_KEY_ID", MOCK_AWS_ACCESS_KEY_ID), ("AWS_SECRET_ACCESS_KEY", secret)]
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "stream_options": {"include_usage": true}, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]})
}

fn messages(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "Say hello."}]})
}

#[test]
fn chat_and_messages_reach_bedrock_converse_and_anthropic_signed() {
    let mock = MockProvider::start();
    let envoy = gateway(CONFIG, &mock, &aws_env(MOCK_AWS_SECRET_ACCESS_KEY));
    let port = envoy.port;

    // Chat → Converse, JSON.
    let r = post_json(port, "/v1/chat/completions", &[], &chat("nova", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    assert_eq!(v["usage"]["prompt_tokens"], BEDROCK_INPUT_TOKENS + BEDROCK_CACHE_READ_TOKENS + BEDROCK_CACHE_WRITE_TOKENS);
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, "/model/amazon.nova-pro-v1%3A0/converse");
    assert!(seen.header("authorization").unwrap().starts_with("AWS4-HMAC-SHA256 Credential=AKIDTOLLGATEMOCK/"));
    assert_eq!(seen.header("host"), Some("bedrock-runtime.us-east-1.amazonaws.com"));
    assert_eq!(seen.json()["system"], json!([{"text": "Be brief."}]));

    // Chat → Converse, stream (event-stream frames → chat chunks).
    let r = request_streamed(port, "POST", "/v1/chat/completions", &[("content-type", "application/json")], chat("nova", true).to_string().as_bytes()).unwrap();
    assert_eq!((r.status, r.header("content-type")), (200, Some("text/event-stream")));
    let text: String = r.sse_events().iter().filter_map(|e| e.json()).filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string)).collect();
    assert_eq!(text, ASSISTANT_TEXT);
    assert!(r.text().ends_with("data: [DONE]\n\n"), "{}", r.text());
    assert_eq!(mock.last_request().unwrap().path, "/model/amazon.nova-pro-v1%3A0/converse-stream");

    // Messages → Bedrock Anthropic (InvokeModel), JSON: the body fitted, the answer native.
    let r = post_json(port, "/v1/messages", &[], &messages("claude", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["content"][0]["text"], ASSISTANT_TEXT);
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke");
    assert_eq!(seen.json()["anthropic_version"], "bedrock-2023-05-31");

    // Messages → InvokeModelWithResponseStream: Anthropic SSE out of the frames.
    let r = request_streamed(port, "POST", "/v1/messages", &[("content-type", "application/json")], messages("claude", true).to_string().as_bytes()).unwrap();
    assert_eq!((r.status, r.header("content-type")), (200, Some("text/event-stream")));
    let events = r.sse_events();
    assert_eq!(events.first().and_then(|e| e.event.clone()).as_deref(), Some("message_start"));
    assert_eq!(events.last().and_then(|e| e.event.clone()).as_deref(), Some("message_stop"));

    // Chat → Bedrock Anthropic, JSON and stream.
    let r = post_json(port, "/v1/chat/completions", &[], &chat("claude", false)).unwrap();
    assert_eq!((r.status, r.json()["choices"][0]["message"]["content"].as_str()), (200, Some(ASSISTANT_TEXT)));
    let r = request_streamed(port, "POST", "/v1/chat/completions", &[("content-type", "application/json")], chat("claude", true).to_string().as_bytes()).unwrap();
    let text: String = r.sse_events().iter().filter_map(|e| e.json()).filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string)).collect();
    assert_eq!(text, ASSISTANT_TEXT);

    // Messages → Converse stream: through the hub both ways.
    let r = request_streamed(port, "POST", "/v1/messages", &[("content-type", "application/json")], messages("nova", true).to_string().as_bytes()).unwrap();
    let text: String = r.sse_events().iter().filter_map(|e| e.json()).filter_map(|e| e["delta"]["text"].as_str().map(str::to_string)).collect();
    assert_eq!(text, ASSISTANT_TEXT);

    // Usage reached accounting: the Converse stream's `metadata` and InvokeModel's events.
    let log = envoy.wait_access_log(7);
    assert_eq!(log[1]["prompt_tokens"], (BEDROCK_INPUT_TOKENS + BEDROCK_CACHE_READ_TOKENS + BEDROCK_CACHE_WRITE_TOKENS).to_string(), "{log:?}");
    assert_eq!(log[1]["completion_tokens"], BEDROCK_OUTPUT_TOKENS.to_string());
    assert_eq!(log[3]["completion_tokens"], ANTHROPIC_OUTPUT_TOKENS.to_string());
    assert!(mock.requests().iter().all(|r| r.header("x-amz-date").is_some()));
}

#[test]
fn a_wrong_signature_is_refused_and_api_keys_work() {
    let mock = MockProvider::start();
    let envoy = gateway(CONFIG, &mock, &aws_env("not-the-secret"));
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &chat("nova", false)).unwrap();
    assert_eq!(r.status, 403, "the mock checks the signature: {}", r.text());
    assert!(r.text().contains("signature"), "{}", r.text());
    drop(envoy);
    let config = CONFIG.replace(r#""region": "us-east-1"}"#, r#""region": "us-east-1", "credentials": "api_key"}"#);
    let envoy = gateway(&config, &mock, &[("AWS_BEARER_TOKEN_BEDROCK", MOCK_BEDROCK_API_KEY)]);
    let r = post_json(envoy.port, "/v1/messages", &[], &messages("claude", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.last_request().unwrap().header("authorization"), Some(format!("Bearer {MOCK_BEDROCK_API_KEY}").as_str()));
}

#[test]
fn a_throttled_stream_reaches_the_client_as_its_error() {
    let mock = MockProvider::start();
    let envoy = gateway(CONFIG, &mock, &aws_env(MOCK_AWS_SECRET_ACCESS_KEY));
    let r = post_json(envoy.port, "/v1/chat/completions", &[(H_STATUS, "429")], &chat("nova", false)).unwrap();
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains("Too many requests")), "{}", r.text());
}

/// The mock's frames, as sent, decode with botocore's EventStreamBuffer (which checks both
/// CRCs) into exactly the messages tollgate's decoder reads.
#[test]
fn mock_event_streams_decode_with_botocore() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for (name, frames) in [("converse", converse_stream_frames(false)), ("invoke", invoke_stream_frames())] {
        let bytes: Vec<u8> = frames.concat();
        let file = std::env::temp_dir().join(format!("tollgate-eventstream-{name}-{}.bin", std::process::id()));
        std::fs::write(&file, &bytes).unwrap();
        let out = Command::new(root.join(".venv/bin/python")).arg(root.join("scripts/eventstream_botocore.py")).arg(&file).output().expect("the project's .venv (make py-tools)");
        let _ = std::fs::remove_file(&file);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let botocore: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        let mut ours = Vec::new();
        tollgate::eventstream::Decoder::new().feed(&bytes, &mut ours).unwrap();
        assert_eq!(botocore.len(), ours.len(), "{name}");
        assert_eq!(botocore.len(), frames.len(), "{name}");
        for (b, o) in botocore.iter().zip(&ours) {
            assert_eq!(b["payload"].as_str(), Some(String::from_utf8_lossy(&o.payload).as_ref()));
            for (k, v) in &o.headers {
                assert_eq!(b["headers"][k].as_str(), Some(v.as_str()), "{name}: header {k}");
            }
        }
    }
}

/// `envoy/cross-cloud-failover.yaml`: Claude on Bedrock, then Anthropic direct, then Claude on
/// Vertex; every attempt translated and signed for the provider it reaches (a bad signature
/// would be a 403, which Envoy does not retry).
#[test]
fn cross_cloud_failover_bedrock_anthropic_vertex() {
    use support::envoy::repo;
    use support::gce_metadata::Metadata;
    let failing = || Behavior { status: Some(503), ..Behavior::default() };
    let start = |bedrock: Behavior, anthropic: Behavior| {
        let (b, a, v) = (MockProvider::start_with(bedrock), MockProvider::start_with(anthropic), MockProvider::start());
        let metadata = Metadata::start(3599);
        let yaml = std::fs::read_to_string(repo().join("envoy/cross-cloud-failover.yaml"))
            .unwrap()
            .replace("port_value: 10000", "port_value: 0")
            .replace("port_value: 9901", "port_value: 0")
            .replace("port_value: 18081", &format!("port_value: {}", b.port()))
            .replace("port_value: 18082", &format!("port_value: {}", a.port()))
            .replace("port_value: 18083", &format!("port_value: {}", v.port()))
            .replace("port_value: 18084", &format!("port_value: {}", metadata.port));
        let env = [("AWS_ACCESS_KEY_ID", MOCK_AWS_ACCESS_KEY_ID), ("AWS_SECRET_ACCESS_KEY", MOCK_AWS_SECRET_ACCESS_KEY), ("ANTHROPIC_API_KEY", "sk-ant-mock")];
        (Envoy::start_with_env(&yaml, &env), b, a, v, metadata)
    };
    let body = json!({"model": "claude", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello."}]});

    // Bedrock and Anthropic fail: Vertex answers, with the token fetched before the first attempt.
    let (envoy, bedrock, anthropic, vertex, metadata) = start(failing(), failing());
    let r = post_json(envoy.port, "/v1/messages", &[], &body).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["content"][0]["text"], ASSISTANT_TEXT);
    assert_eq!(r.header("x-tollgate-provider"), Some("vertex"));
    let b = bedrock.last_request().unwrap();
    assert_eq!(b.path, "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke");
    assert!(b.header("authorization").unwrap().starts_with("AWS4-HMAC-SHA256"), "signed (the mock checked it before its 503)");
    assert_eq!(b.json()["anthropic_version"], "bedrock-2023-05-31");
    let a = anthropic.last_request().unwrap();
    assert_eq!((a.path.as_str(), a.header("x-api-key"), a.header("x-amz-date")), ("/v1/messages", Some("sk-ant-mock"), None));
    assert_eq!(a.header("authorization"), None, "Bedrock's signature is not sent to Anthropic");
    assert_eq!(a.json()["model"], "claude-sonnet-4-5");
    let v = vertex.last_request().unwrap();
    assert_eq!(v.path, "/v1/projects/acme-ai/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5%4020250929:rawPredict");
    assert_eq!((v.header("authorization"), v.header("x-api-key"), v.header("x-amz-date")), (Some("Bearer ya29.mock-1"), None, None));
    assert_eq!(v.json()["anthropic_version"], "vertex-2023-10-16");
    assert_eq!(metadata.issued(), 1);
    drop(envoy);

    // A healthy Bedrock answers a chat client's stream itself.
    let (envoy, bedrock, anthropic, vertex, _metadata) = start(Behavior::default(), Behavior::default());
    let chat = json!({"model": "claude", "stream": true, "messages": [{"role": "user", "content": "Say hello."}]});
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("content-type", "application/json")], chat.to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let text: String = r.sse_events().iter().filter_map(|e| e.json()).filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string)).collect();
    assert_eq!(text, ASSISTANT_TEXT);
    assert_eq!(bedrock.last_request().unwrap().path, "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream");
    assert_eq!((anthropic.request_count(), vertex.request_count()), (0, 0));
}

/// `envoy/bedrock-envoy-signing.yaml`: tollgate with `credentials: envoy` sends no signature,
/// and Envoy's `aws_request_signing` filter on the Bedrock cluster signs the request, over the
/// body tollgate translated, with the keys from Envoy's own credential chain (here its
/// environment; the VM is given none). The mock verifies the signature.
#[test]
fn envoy_aws_request_signing_signs_the_body_tollgate_wrote() {
    use support::envoy::shipped_yaml;
    let mock = MockProvider::start();
    let yaml = shipped_yaml("envoy/bedrock-envoy-signing.yaml", mock.port());
    let envoy = Envoy::start_with_env(&yaml, &aws_env(MOCK_AWS_SECRET_ACCESS_KEY));
    let r = post_json(envoy.port, "/v1/chat/completions", &[], &chat("claude", false)).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], ASSISTANT_TEXT);
    let seen = mock.last_request().unwrap();
    let body = seen.json();
    assert_eq!((body["anthropic_version"].as_str(), body["system"].as_str()), (Some("bedrock-2023-05-31"), Some("Be brief.")), "tollgate's body");
    let sha = tollgate::crypto::hex(&tollgate::crypto::sha256(&seen.body));
    assert_eq!(seen.header("x-amz-content-sha256"), Some(sha.as_str()), "Envoy hashed the body as it arrived");
    assert!(seen.header("authorization").unwrap().starts_with("AWS4-HMAC-SHA256 Credential=AKIDTOLLGATEMOCK/"));
    // A Converse stream too.
    let r = request_streamed(envoy.port, "POST", "/v1/chat/completions", &[("content-type", "application/json")], chat("nova", true).to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().ends_with("data: [DONE]\n\n"));
}
