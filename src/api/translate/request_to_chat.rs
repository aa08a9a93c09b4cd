//! Anthropic Messages request → the chat hub (an OpenAI Chat Completions request).
//!
//! `system` becomes a leading system message, and `system`-role entries inside `messages` (as
//! current clients send them) system messages in place; `tool_result` blocks become `tool`
//! messages placed before the rest of their user turn; `thinking` blocks of earlier assistant
//! turns are dropped (OpenAI cannot take them back) and `cache_control` hints are ignored.
//! Enabled or adaptive `thinking` and `output_config.effort` become `reasoning_effort` (a budget
//! up to 2,048 tokens is `low`, up to 8,192 `medium`, more `high`); `output_config.format`
//! becomes `response_format`; `top_k` stays in the hub for the providers that take it;
//! `metadata.user_id` becomes `user`. A streaming request also asks for
//! `stream_options.include_usage`, so the stream translator can report usage.
//! Server tools, `document` blocks, images in tool results, `container` and `mcp_servers`
//! follow the [`Lenience`] policy (dropped and named, or refused).
//! Lost: `is_error` on tool results (the content is passed on as is).

use super::{Lenience, TranslateError};
use crate::api::openai::{arguments_string, image_url};
use serde_json::{json, Map, Value};

/// Translates an Anthropic Messages request into an OpenAI chat request for `model`.
pub fn messages_to_chat(req: &Value, model: &str, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let obj = req.as_object().ok_or_else(|| TranslateError::new("messages", "The request body must be a JSON object."))?;
    let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
    for param in ["container", "mcp_servers"] {
        if get(param).is_some() {
            lenience.refuse(TranslateError::new(if param == "container" { "container" } else { "mcp_servers" }, format!("`{param}` is not supported for this model.")))?;
        }
    }
    let mut messages = Vec::new();
    match get("system") {
        None => {}
        Some(system) => {
            let text = block_text(system, "system", lenience)?;
            if !text.is_empty() {
                messages.push(super::obj(&mut [("role", Value::from("system")), ("content", Value::from(text))]));
            }
        }
    }
    let list = get("messages").and_then(Value::as_array).ok_or_else(|| TranslateError::new("messages", "`messages` must be an array."))?;
    for m in list {
        match m.get("role").and_then(Value::as_str) {
            Some("user") => user_messages(m.get("content"), &mut messages, lenience)?,
            Some("assistant") => messages.push(assistant_message(m.get("content"), lenience)?),
            Some("system") => {
                let text = block_text(m.get("content").unwrap_or(&Value::Null), "messages", lenience)?;
                messages.push(super::obj(&mut [("role", Value::from("system")), ("content", Value::from(text))]));
            }
            _ => return Err(TranslateError::new("messages", "Each message's `role` must be `user`, `assistant` or `system`.")),
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(messages));
    if let Some(max) = get("max_tokens") {
        out.insert("max_completion_tokens".into(), max.clone());
    }
    for key in ["temperature", "top_p", "top_k"] {
        if let Some(v) = get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(effort) = reasoning_effort(get("thinking"), get("output_config").and_then(|c| c.get("effort"))) {
        out.insert("reasoning_effort".into(), Value::from(effort));
    }
    if let Some(format) = get("output_config").and_then(|c| c.get("format")).filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema")) {
        let schema = super::obj(&mut [("name", Value::from("output")), ("schema", format.get("schema").cloned().unwrap_or_default()), ("strict", Value::Bool(true))]);
        out.insert("response_format".into(), super::obj(&mut [("type", Value::from("json_schema")), ("json_schema", schema)]));
    }
    if let Some(stop) = get("stop_sequences") {
        out.insert("stop".into(), stop.clone());
    }
    if get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), super::obj(&mut [("include_usage", Value::Bool(true))]));
    }
    if let Some(user) = get("metadata").and_then(|m| m.get("user_id")).and_then(Value::as_str) {
        out.insert("user".into(), json!(user));
    }
    if let Some(tools) = get("tools") {
        let tools = convert_tools(tools, lenience)?;
        if tools.as_array().is_some_and(|t| !t.is_empty()) {
            out.insert("tools".into(), tools);
        }
    }
    if let Some(choice) = get("tool_choice") {
        let kind = choice.get("type").and_then(Value::as_str);
        let converted = match kind {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => match choice.get("name").and_then(Value::as_str) {
                Some(name) => super::obj(&mut [("type", Value::from("function")), ("function", super::obj(&mut [("name", Value::from(name))]))]),
                None => return Err(TranslateError::new("tool_choice", "A `tool` choice needs a `name`.")),
            },
            _ => return Err(TranslateError::new("tool_choice", "`tool_choice.type` must be `auto`, `any`, `tool` or `none`.")),
        };
        out.insert("tool_choice".into(), converted);
        if choice.get("disable_parallel_tool_use").and_then(Value::as_bool) == Some(true) && kind != Some("none") {
            out.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    Ok(Value::Object(out))
}

/// The OpenAI `reasoning_effort` for Anthropic `thinking` and `output_config.effort`: a
/// budget up to 2,048 is `low`, up to 8,192 `medium`, more `high`; adaptive thinking takes
/// the effort (default `medium`); `max` is `high`. Disabled thinking asks for none.
fn reasoning_effort(thinking: Option<&Value>, effort: Option<&Value>) -> Option<&'static str> {
    let effort = effort.and_then(Value::as_str).map(|e| match e {
        "low" => "low",
        "medium" => "medium",
        _ => "high",
    });
    match thinking.and_then(|t| t.get("type")).and_then(Value::as_str) {
        Some("disabled") => None,
        Some("enabled") => match thinking.and_then(|t| t.get("budget_tokens")).and_then(Value::as_u64) {
            Some(b) if b <= 2048 => Some("low"),
            Some(b) if b <= 8192 => Some("medium"),
            Some(_) => Some("high"),
            None => effort.or(Some("medium")),
        },
        Some(_) => effort.or(Some("medium")),
        None => effort,
    }
}

/// The text of a string or a list of text blocks (joined with blank lines); other blocks
/// follow the policy (dropped, or refused).
fn block_text(content: &Value, param: &'static str, lenience: &mut Lenience) -> Result<String, TranslateError> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for b in blocks {
                match (b.get("type").and_then(Value::as_str), b.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(t)) => texts.push(t),
                    _ => lenience.refuse(TranslateError::new(param, "Only text blocks are supported here."))?,
                }
            }
            Ok(texts.join("\n\n"))
        }
        _ => Err(TranslateError::new(param, "Content must be a string or an array of blocks.")),
    }
}

/// One Anthropic user turn becomes its `tool` messages followed by a user message with the rest.
fn user_messages(content: Option<&Value>, out: &mut Vec<Value>, lenience: &mut Lenience) -> Result<(), TranslateError> {
    let bad = |m: &str| TranslateError::new("messages", m);
    let blocks = match content {
        Some(Value::String(s)) => {
            out.push(super::obj(&mut [("role", Value::from("user")), ("content", Value::from(s.as_str()))]));
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        _ => return Err(bad("Message `content` must be a string or an array of blocks.")),
    };
    let mut parts = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(super::obj(&mut [("type", Value::from("text")), ("text", b.get("text").cloned().unwrap_or_default())])),
            Some("image") => {
                let url = b.get("source").and_then(image_url).ok_or_else(|| bad("An image needs a `base64` or `url` source."))?;
                parts.push(super::obj(&mut [("type", Value::from("image_url")), ("image_url", super::obj(&mut [("url", Value::from(url))]))]));
            }
            Some("tool_result") => {
                let id = b.get("tool_use_id").and_then(Value::as_str).ok_or_else(|| bad("A `tool_result` needs a `tool_use_id`."))?;
                let text = match b.get("content").filter(|c| !c.is_null()) {
                    None => String::new(),
                    Some(c) => block_text(c, "messages", lenience)?,
                };
                out.push(super::obj(&mut [("role", Value::from("tool")), ("tool_call_id", Value::from(id)), ("content", Value::from(text))]));
            }
            other => lenience.refuse(bad(&format!("A `{}` block is not supported for this model.", other.unwrap_or("?"))))?,
        }
    }
    match parts.as_slice() {
        [] => {}
        [only] if only.get("type") == Some(&json!("text")) => out.push(super::obj(&mut [("role", Value::from("user")), ("content", Value::from(only.get("text").cloned()))])),
        _ => out.push(super::obj(&mut [("role", Value::from("user")), ("content", Value::from(parts))])),
    }
    Ok(())
}

fn assistant_message(content: Option<&Value>, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let blocks = match content {
        Some(Value::String(s)) => return Ok(super::obj(&mut [("role", Value::from("assistant")), ("content", Value::from(s.as_str()))])),
        Some(Value::Array(blocks)) => blocks,
        _ => return Err(TranslateError::new("messages", "Message `content` must be a string or an array of blocks.")),
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => {
                let field = |k: &str| b.get(k).and_then(Value::as_str);
                let (Some(id), Some(name)) = (field("id"), field("name")) else {
                    return Err(TranslateError::new("messages", "A `tool_use` block needs an `id` and a `name`."));
                };
                let args = arguments_string(b.get("input").unwrap_or(&super::obj(&mut [])));
                calls.push(super::obj(&mut [("id", Value::from(id)), ("type", Value::from("function")), ("function", super::obj(&mut [("name", Value::from(name)), ("arguments", Value::from(args))]))]));
            }
            Some("thinking" | "redacted_thinking") => {}
            other => lenience.refuse(TranslateError::new("messages", format!("A `{}` block is not supported for this model.", other.unwrap_or("?"))))?,
        }
    }
    let mut msg = super::obj(&mut [("role", Value::from("assistant")), ("content", (if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }))]);
    if let (false, Some(map)) = (calls.is_empty(), msg.as_object_mut()) {
        map.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(msg)
}

fn convert_tools(tools: &Value, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let bad = |m: &str| TranslateError::new("tools", m);
    let list = tools.as_array().ok_or_else(|| bad("`tools` must be an array."))?;
    let mut custom = Vec::with_capacity(list.len());
    for t in list {
        if t.get("type").and_then(Value::as_str).is_some_and(|k| k != "custom") {
            lenience.refuse(bad("Server tools are not supported for this model."))?;
            continue;
        }
        custom.push(t);
    }
    custom
        .into_iter()
        .map(|t| {
            let name = t.get("name").and_then(Value::as_str).ok_or_else(|| bad("A tool needs a `name`."))?;
            let mut function = super::obj(&mut [("name", Value::from(name)), ("parameters", t.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object"})))]);
            if let (Some(d), Some(map)) = (t.get("description").filter(|d| d.is_string()), function.as_object_mut()) {
                map.insert("description".into(), d.clone());
            }
            Ok(super::obj(&mut [("type", Value::from("function")), ("function", function)]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OPENAI: &str = include_str!("../../../tests/fixtures/translate/openai_tool_request.json");
    const ANTHROPIC: &str = include_str!("../../../tests/fixtures/translate/anthropic_tool_request.json");

    fn translate(v: Value) -> Result<Value, TranslateError> {
        messages_to_chat(&v, "claude-sonnet", &mut Lenience::new(true))
    }

    #[test]
    fn tool_conversation_fixture_round_trips() {
        let got = translate(serde_json::from_str(ANTHROPIC).unwrap()).unwrap();
        let want: Value = serde_json::from_str(OPENAI).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn system_blocks_images_and_streaming() {
        let got = translate(json!({"model": "m", "max_tokens": 10, "stream": true, "top_p": 0.9,
            "system": [{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "B"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "see"}, {"type": "image", "source": {"type": "url", "url": "https://x/i.png"}}]},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "tool_use", "id": "t1", "name": "f", "input": {"_raw_arguments": "bad"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "ok"}], "is_error": true}]}
            ],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true}}))
        .unwrap();
        assert_eq!(got["messages"][0], json!({"role": "system", "content": "A\n\nB"}));
        assert_eq!(got["messages"][1]["content"][1], json!({"type": "image_url", "image_url": {"url": "https://x/i.png"}}));
        assert_eq!(got["messages"][2], json!({"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "bad"}}]}));
        assert_eq!(got["messages"][3], json!({"role": "tool", "tool_call_id": "t1", "content": "ok"}));
        assert_eq!(got["messages"].as_array().map(Vec::len), Some(4));
        assert_eq!((got["stream"].clone(), got["stream_options"].clone()), (json!(true), json!({"include_usage": true})));
        assert_eq!((got["tool_choice"].clone(), got["parallel_tool_calls"].clone()), (json!("required"), json!(false)));
        assert_eq!((got["max_completion_tokens"].clone(), got["top_p"].clone()), (json!(10), json!(0.9)));
    }

    #[test]
    fn unsupported_features_are_refused() {
        let base = |extra: Value| {
            let mut req = json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
            if let (Some(r), Some(e)) = (req.as_object_mut(), extra.as_object()) {
                r.extend(e.clone());
            }
            translate(req)
        };
        // Mapped into the hub: `top_k` (for the providers that take it), thinking as effort.
        assert_eq!(base(json!({"top_k": 5})).unwrap()["top_k"], 5);
        assert_eq!(base(json!({"thinking": {"type": "enabled", "budget_tokens": 1024}})).unwrap()["reasoning_effort"], "low");
        assert_eq!(base(json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}})).unwrap()["reasoning_effort"], "high");
        assert!(base(json!({"thinking": {"type": "disabled"}, "output_config": {"effort": "low"}})).unwrap().get("reasoning_effort").is_none());
        let schema = base(json!({"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}})).unwrap();
        assert_eq!(schema["response_format"]["json_schema"]["schema"], json!({"type": "object"}));
        assert_eq!(base(json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]})).unwrap_err().param, "tools");
        let doc = json!({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]});
        assert_eq!(base(doc).unwrap_err().param, "messages");
        let img = json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image", "source": {}}]}]}]});
        assert_eq!(base(img).unwrap_err().param, "messages");
        assert_eq!(base(json!({"messages": [{"role": "system", "content": "x"}]})).unwrap()["messages"][0], json!({"role": "system", "content": "x"}));
        assert_eq!(base(json!({"messages": [{"role": "tool", "content": "x"}]})).unwrap_err().param, "messages");
        // Lenient: the unsupported parts are dropped and named.
        let mut l = Lenience::default();
        let req = json!({"max_tokens": 5, "container": "c", "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "messages": [{"role": "user", "content": [{"type": "document", "source": {}}, {"type": "text", "text": "x"}]}]});
        let v = messages_to_chat(&req, "m", &mut l).unwrap();
        assert_eq!((v["messages"][0]["content"].as_str(), v.get("tools")), (Some("x"), None));
        assert_eq!(l.dropped, vec!["container", "messages", "tools"]);
    }
}
