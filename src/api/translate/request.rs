//! The chat hub (an OpenAI Chat Completions request) → Anthropic Messages request.
//!
//! System and developer messages (wherever they appear) become the top-level `system`; tool
//! messages become `tool_result` blocks in a user turn; consecutive turns of one role are merged,
//! as Anthropic expects alternating roles. `reasoning_effort` becomes extended `thinking` with a
//! budget (low 1,024, medium 2,048, high 4,096 tokens, kept under `max_tokens`), a
//! `json_schema` `response_format` becomes `output_config.format`, and the hub's `top_k` goes
//! through. Fields with no Anthropic equivalent that change the output (`n > 1`, `logprobs`,
//! audio, `json_object`, penalties, ...) follow the [`Lenience`] policy: dropped and named, or
//! refused with a [`TranslateError`]; harmless hints (`seed`, `store`, `service_tier`,
//! `metadata`) are dropped silently. `temperature` is passed through unchanged (Anthropic
//! refuses values above 1), except beside thinking, which takes none.

use super::{Lenience, TranslateError};
use crate::api::anthropic::{image_source, tool_input, DEFAULT_MAX_TOKENS};
use serde_json::{json, Map, Value};

/// Translates an OpenAI chat request into an Anthropic Messages request for `model`.
/// Without `max_completion_tokens`/`max_tokens`, `max_tokens` is [`DEFAULT_MAX_TOKENS`].
pub fn chat_to_messages(req: &Value, model: &str, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let obj = req.as_object().ok_or_else(|| TranslateError::new("messages", "The request body must be a JSON object."))?;
    let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
    refuse_unsupported(&get, lenience)?;
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    let (system, messages) = convert_messages(get("messages"))?;
    match system.as_slice() {
        [] => {}
        [only] => {
            out.insert("system".into(), json!(only));
        }
        many => {
            out.insert("system".into(), many.iter().map(|t| super::obj(&mut [("type", Value::from("text")), ("text", Value::from(t.as_str()))])).collect());
        }
    }
    out.insert("messages".into(), Value::Array(messages));
    let max = match get("max_completion_tokens").or_else(|| get("max_tokens")) {
        None => DEFAULT_MAX_TOKENS,
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| TranslateError::new("max_tokens", "`max_tokens` must be a positive integer."))?,
    };
    out.insert("max_tokens".into(), json!(max));
    let thinking = get("reasoning_effort").and_then(Value::as_str).and_then(|e| thinking_budget(e, max));
    if let Some(budget) = thinking {
        out.insert("thinking".into(), super::obj(&mut [("type", Value::from("enabled")), ("budget_tokens", Value::from(budget))]));
    } else if get("reasoning_effort").is_some() {
        lenience.drop_field("reasoning_effort");
    }
    if let Some(schema) = get("response_format").filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema")).and_then(|f| f.pointer("/json_schema/schema")) {
        let format = super::obj(&mut [("type", Value::from("json_schema")), ("schema", schema.clone())]);
        out.insert("output_config".into(), super::obj(&mut [("format", format)]));
    }
    if let Some(k) = get("top_k").filter(|_| thinking.is_none()) {
        out.insert("top_k".into(), k.clone());
    }
    for key in ["temperature", "top_p"] {
        if thinking.is_some() && get(key).is_some() {
            // Extended thinking takes neither (Anthropic refuses them beside it).
            lenience.drop_field(if key == "top_p" { "top_p" } else { "temperature" });
            continue;
        }
        if let Some(v) = get(key) {
            if !v.is_number() {
                return Err(TranslateError::new(if key == "top_p" { "top_p" } else { "temperature" }, format!("`{key}` must be a number.")));
            }
            out.insert(key.into(), v.clone());
        }
    }
    match get("stop") {
        None => {}
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            out.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        Some(_) => return Err(TranslateError::new("stop", "`stop` must be a string or an array of strings.")),
    }
    if get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), json!(true));
    }
    if let Some(user) = get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), super::obj(&mut [("user_id", Value::from(user))]));
    }
    if let Some(tools) = get("tools") {
        out.insert("tools".into(), convert_tools(tools, lenience)?);
    }
    let parallel = get("parallel_tool_calls").and_then(Value::as_bool).unwrap_or(true);
    let mut choice = get("tool_choice").map(convert_tool_choice).transpose()?;
    if !parallel && get("tools").is_some() {
        let c = choice.get_or_insert_with(|| super::obj(&mut [("type", Value::from("auto"))]));
        if let Some(map) = c.as_object_mut().filter(|m| m.get("type") != Some(&json!("none"))) {
            map.insert("disable_parallel_tool_use".into(), json!(true));
        }
    }
    if let Some(c) = choice {
        out.insert("tool_choice".into(), c);
    }
    Ok(Value::Object(out))
}

/// Anthropic's thinking budget for an OpenAI `reasoning_effort`, kept under `max_tokens`
/// (Anthropic's least budget is 1,024); `None` for `minimal`/`none` or when it cannot fit.
fn thinking_budget(effort: &str, max_tokens: u64) -> Option<u64> {
    let want: u64 = match effort {
        "low" => 1024,
        "medium" => 2048,
        "high" | "xhigh" | "max" => 4096,
        _ => return None,
    };
    let budget = want.min(max_tokens.saturating_sub(1));
    (budget >= 1024).then_some(budget)
}

fn refuse_unsupported<'a>(get: &impl Fn(&str) -> Option<&'a Value>, lenience: &mut Lenience) -> Result<(), TranslateError> {
    refuse_common(get, lenience)?;
    if get("response_format").and_then(|f| f.get("type")).and_then(Value::as_str).is_some_and(|t| t != "text" && t != "json_schema") {
        lenience.refuse(unsupported("response_format", "`response_format` other than text or json_schema"))?;
    }
    for param in ["frequency_penalty", "presence_penalty"] {
        if get(param).and_then(Value::as_f64).is_some_and(|p| p != 0.0) {
            lenience.refuse(unsupported(if param == "frequency_penalty" { "frequency_penalty" } else { "presence_penalty" }, &format!("`{param}`")))?;
        }
    }
    Ok(())
}

/// The refusal for an OpenAI request field a non-OpenAI provider cannot express.
pub(super) fn unsupported(param: &'static str, what: &str) -> TranslateError {
    TranslateError::new(param, format!("{what} is not supported for this model."))
}

/// OpenAI chat fields that no translated provider supports (shared by every OpenAI → X translation).
pub(super) fn refuse_common<'a>(get: &impl Fn(&str) -> Option<&'a Value>, lenience: &mut Lenience) -> Result<(), TranslateError> {
    if get("n").and_then(Value::as_u64).is_some_and(|n| n != 1) {
        lenience.refuse(unsupported("n", "`n` other than 1"))?;
    }
    if get("logprobs").and_then(Value::as_bool) == Some(true) || get("top_logprobs").is_some() {
        lenience.refuse(unsupported("logprobs", "`logprobs`"))?;
    }
    if get("audio").is_some() {
        lenience.refuse(unsupported("audio", "Audio output"))?;
    }
    if get("modalities").and_then(Value::as_array).is_some_and(|m| m.iter().any(|x| x != "text")) {
        lenience.refuse(unsupported("modalities", "A modality other than text"))?;
    }
    for (param, what) in [("functions", "`functions` (use `tools`)"), ("function_call", "`function_call` (use `tool_choice`)"), ("prediction", "`prediction`"), ("web_search_options", "`web_search_options`")] {
        if get(param).is_some() {
            lenience.refuse(unsupported(param, what))?;
        }
    }
    if get("logit_bias").and_then(Value::as_object).is_some_and(|m| !m.is_empty()) {
        lenience.refuse(unsupported("logit_bias", "`logit_bias`"))?;
    }
    Ok(())
}

/// Splits OpenAI messages into system texts and Anthropic turns.
fn convert_messages(messages: Option<&Value>) -> Result<(Vec<String>, Vec<Value>), TranslateError> {
    let bad = |m: &str| TranslateError::new("messages", m);
    let list = messages.and_then(Value::as_array).ok_or_else(|| bad("`messages` must be an array."))?;
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in list {
        let role = m.get("role").and_then(Value::as_str).ok_or_else(|| bad("Each message needs a `role`."))?;
        let content = m.get("content").filter(|c| !c.is_null());
        let (turn_role, blocks) = match role {
            "system" | "developer" => {
                let text = plain_text(content)?;
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            "user" => ("user", user_blocks(content)?),
            "assistant" => ("assistant", assistant_blocks(m, content)?),
            "tool" => {
                let id = m.get("tool_call_id").and_then(Value::as_str).ok_or_else(|| bad("A `tool` message needs a `tool_call_id`."))?;
                let result = match content {
                    Some(Value::Array(parts)) => Value::Array(text_parts(parts)?),
                    _ => json!(plain_text(content)?),
                };
                ("user", vec![super::obj(&mut [("type", Value::from("tool_result")), ("tool_use_id", Value::from(id)), ("content", result)])])
            }
            other => return Err(bad(&format!("The message role `{other}` is not supported for this model."))),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((r, existing)) if *r == turn_role => existing.extend(blocks),
            _ => turns.push((turn_role, blocks)),
        }
    }
    let turns = turns.into_iter().map(|(role, blocks)| super::obj(&mut [("role", Value::from(role)), ("content", collapse(blocks))])).collect();
    Ok((system, turns))
}

/// A lone plain text block becomes a string; anything else stays a block list.
fn collapse(blocks: Vec<Value>) -> Value {
    if let [only] = blocks.as_slice() {
        if only.get("type") == Some(&json!("text")) && only.as_object().is_some_and(|m| m.len() == 2) {
            if let Some(text) = only.get("text") {
                return text.clone();
            }
        }
    }
    Value::Array(blocks)
}

/// Text of a string or text-part content (parts are joined with newlines).
fn plain_text(content: Option<&Value>) -> Result<String, TranslateError> {
    match content {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let texts: Vec<String> = text_parts(parts)?.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).map(str::to_string).collect();
            Ok(texts.join("\n"))
        }
        Some(_) => Err(TranslateError::new("messages", "Message `content` must be a string or an array of parts.")),
    }
}

/// Anthropic text blocks for OpenAI text (or refusal) parts; other parts are refused.
fn text_parts(parts: &[Value]) -> Result<Vec<Value>, TranslateError> {
    parts
        .iter()
        .filter_map(|p| match p.get("type").and_then(Value::as_str) {
            Some("text") => p.get("text").and_then(Value::as_str).map(|t| Ok(t.to_string())),
            Some("refusal") => p.get("refusal").and_then(Value::as_str).map(|t| Ok(t.to_string())),
            other => Some(Err(TranslateError::new("messages", format!("A content part of type `{}` is not supported here.", other.unwrap_or("?"))))),
        })
        .filter(|t| t.as_ref().map_or(true, |t| !t.is_empty()))
        .map(|t| t.map(|t| super::obj(&mut [("type", Value::from("text")), ("text", Value::from(t))])))
        .collect()
}

fn user_blocks(content: Option<&Value>) -> Result<Vec<Value>, TranslateError> {
    let Some(Value::Array(parts)) = content else {
        let text = plain_text(content)?;
        return Ok(if text.is_empty() { vec![] } else { vec![super::obj(&mut [("type", Value::from("text")), ("text", Value::from(text))])] });
    };
    let mut blocks = Vec::new();
    for part in parts {
        if part.get("type").and_then(Value::as_str) == Some("image_url") {
            let url = part.get("image_url").and_then(|i| i.get("url").or(Some(i))).and_then(Value::as_str);
            let url = url.ok_or_else(|| TranslateError::new("messages", "An `image_url` part needs a `url`."))?;
            blocks.push(super::obj(&mut [("type", Value::from("image")), ("source", image_source(url))]));
        } else {
            blocks.extend(text_parts(std::slice::from_ref(part))?);
        }
    }
    Ok(blocks)
}

fn assistant_blocks(message: &Value, content: Option<&Value>) -> Result<Vec<Value>, TranslateError> {
    if message.get("function_call").is_some_and(|f| !f.is_null()) {
        return Err(TranslateError::new("messages", "Assistant `function_call` is not supported; use `tool_calls`."));
    }
    let mut blocks = match content {
        Some(Value::Array(parts)) => text_parts(parts)?,
        _ => {
            let text = plain_text(content)?;
            if text.is_empty() { vec![] } else { vec![super::obj(&mut [("type", Value::from("text")), ("text", Value::from(text))])] }
        }
    };
    for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let id = call.get("id").and_then(Value::as_str);
        let name = call.pointer("/function/name").and_then(Value::as_str);
        let (Some(id), Some(name)) = (id, name) else {
            return Err(TranslateError::new("messages", "Each tool call needs an `id` and a `function.name`."));
        };
        let input = tool_input(call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default());
        blocks.push(super::obj(&mut [("type", Value::from("tool_use")), ("id", Value::from(id)), ("name", Value::from(name)), ("input", input)]));
    }
    Ok(blocks)
}

/// The chat hub's `function` tools; any other tool type follows the policy (dropped, or refused).
pub(super) fn function_tools<'a>(tools: &'a Value, lenience: &mut Lenience) -> Result<Vec<&'a Value>, TranslateError> {
    let bad = |m: &str| TranslateError::new("tools", m);
    let list = tools.as_array().ok_or_else(|| bad("`tools` must be an array."))?;
    let mut functions = Vec::with_capacity(list.len());
    for t in list {
        if t.get("type").and_then(Value::as_str) != Some("function") {
            lenience.refuse(bad("Only `function` tools are supported for this model."))?;
            continue;
        }
        functions.push(t);
    }
    Ok(functions)
}

fn convert_tools(tools: &Value, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let bad = |m: &str| TranslateError::new("tools", m);
    function_tools(tools, lenience)?
        .into_iter()
        .map(|t| {
            let f = t.get("function").ok_or_else(|| bad("A tool needs a `function`."))?;
            let name = f.get("name").and_then(Value::as_str).ok_or_else(|| bad("A tool function needs a `name`."))?;
            let schema = f.get("parameters").filter(|p| !p.is_null()).cloned().unwrap_or_else(|| super::obj(&mut [("type", Value::from("object")), ("properties", super::obj(&mut []))]));
            let mut out = super::obj(&mut [("name", Value::from(name)), ("input_schema", schema)]);
            if let (Some(d), Some(map)) = (f.get("description").filter(|d| d.is_string()), out.as_object_mut()) {
                map.insert("description".into(), d.clone());
            }
            Ok(out)
        })
        .collect()
}

fn convert_tool_choice(choice: &Value) -> Result<Value, TranslateError> {
    let name = choice.pointer("/function/name").and_then(Value::as_str);
    match (choice.as_str(), name) {
        (Some("auto"), _) => Ok(super::obj(&mut [("type", Value::from("auto"))])),
        (Some("required"), _) => Ok(super::obj(&mut [("type", Value::from("any"))])),
        (Some("none"), _) => Ok(super::obj(&mut [("type", Value::from("none"))])),
        (None, Some(name)) => Ok(super::obj(&mut [("type", Value::from("tool")), ("name", Value::from(name))])),
        _ => Err(TranslateError::new("tool_choice", "`tool_choice` must be `auto`, `required`, `none` or a function.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OPENAI: &str = include_str!("../../../tests/fixtures/translate/openai_tool_request.json");
    const ANTHROPIC: &str = include_str!("../../../tests/fixtures/translate/anthropic_tool_request.json");

    fn translate(v: Value) -> Result<Value, TranslateError> {
        chat_to_messages(&v, "claude-sonnet-4-5", &mut Lenience::new(true))
    }

    #[test]
    fn tool_conversation_fixture() {
        let got = translate(serde_json::from_str(OPENAI).unwrap()).unwrap();
        let want: Value = serde_json::from_str(ANTHROPIC).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn defaults_and_system_forms() {
        let got = translate(json!({"model": "m", "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be terse."}]},
            {"role": "system", "content": "Use French."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "oops"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "done"}]}
        ], "max_tokens": 50, "stop": "END", "stream": true, "stream_options": {"include_usage": true}}))
        .unwrap();
        assert_eq!(got["system"], json!([{"type": "text", "text": "Be terse."}, {"type": "text", "text": "Use French."}]));
        assert_eq!(got["max_tokens"], 50);
        assert_eq!(got["stop_sequences"], json!(["END"]));
        assert_eq!(got["stream"], true);
        assert!(got.get("stream_options").is_none());
        assert_eq!(got["messages"][0]["content"][1], json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}));
        assert_eq!(got["messages"][1]["content"], json!([{"type": "tool_use", "id": "c1", "name": "f", "input": {"_raw_arguments": "oops"}}]));
        assert_eq!(got["messages"][2]["content"][0]["content"], json!([{"type": "text", "text": "done"}]));
        let bare = translate(json!({"messages": [{"role": "user", "content": "x"}]})).unwrap();
        assert_eq!(bare["max_tokens"], DEFAULT_MAX_TOKENS);
        assert!(bare.get("system").is_none());
        assert_eq!(bare["messages"], json!([{"role": "user", "content": "x"}]));
    }

    #[test]
    fn tool_choice_forms() {
        let with = |choice: Value, parallel: Value| {
            translate(json!({"messages": [], "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": choice, "parallel_tool_calls": parallel})).unwrap()
        };
        assert_eq!(with(json!("required"), json!(null))["tool_choice"], json!({"type": "any"}));
        assert_eq!(with(json!("none"), json!(false))["tool_choice"], json!({"type": "none"}));
        assert_eq!(with(json!({"type": "function", "function": {"name": "f"}}), json!(null))["tool_choice"], json!({"type": "tool", "name": "f"}));
        assert_eq!(with(json!(null), json!(false))["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
        assert_eq!(with(json!(null), json!(null))["tools"], json!([{"name": "f", "input_schema": {"type": "object", "properties": {}}}]));
        let e = translate(json!({"messages": [], "tools": [{"type": "custom", "custom": {}}]})).unwrap_err();
        assert_eq!(e.param, "tools");
    }

    #[test]
    fn unsupported_features_are_refused() {
        for (extra, param) in [
            (json!({"n": 2}), "n"),
            (json!({"logprobs": true}), "logprobs"),
            (json!({"audio": {"voice": "alloy"}}), "audio"),
            (json!({"modalities": ["text", "audio"]}), "modalities"),
            (json!({"response_format": {"type": "json_object"}}), "response_format"),
            (json!({"functions": []}), "functions"),
            (json!({"presence_penalty": 0.5}), "presence_penalty"),
            (json!({"logit_bias": {"50256": -100}}), "logit_bias"),
            (json!({"stop": 3}), "stop"),
            (json!({"max_tokens": 0}), "max_tokens"),
        ] {
            let mut req = json!({"messages": [{"role": "user", "content": "x"}]});
            if let (Some(r), Some(e)) = (req.as_object_mut(), extra.as_object()) {
                r.extend(e.clone());
            }
            assert_eq!(translate(req).unwrap_err().param, param, "{extra}");
        }
        let ok = json!({"messages": [], "n": 1, "logprobs": false, "response_format": {"type": "text"}, "seed": 1, "frequency_penalty": 0});
        assert!(translate(ok).is_ok());
        assert_eq!(translate(json!({"messages": [{"role": "function", "content": "x"}]})).unwrap_err().param, "messages");
        assert_eq!(translate(json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]})).unwrap_err().param, "messages");
    }
}
