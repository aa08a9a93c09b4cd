//! OpenAI Chat Completions ↔ Google Gemini `generateContent`: request and JSON response.
//!
//! System and developer messages become `systemInstruction`; assistant turns become `model`
//! turns (tool calls as `functionCall` parts); tool messages become `functionResponse` parts in a
//! user turn, named by looking up their `tool_call_id` among earlier assistant tool calls.
//! Consecutive turns of one role are merged. Gemini function calls carry no id, so responses
//! name them `call_<hash of responseId>_<index>`, unique across the turns of a conversation.
//! The model is not part of the body (it goes in the URL).
//!
//! Thought signatures: Gemini 3 refuses a history whose function calls lack the
//! `thoughtSignature` it gave them. An answer's signature goes to the client in the tool call's
//! `extra_content.google.thought_signature` (the slot Gemini's own OpenAI-compatible API uses,
//! which the OpenAI SDKs keep when the message is sent back), and comes back from there. A model
//! turn whose first call has none (a client that rebuilt its history, or a history from another
//! model or dialect) gets Google's documented placeholder, [`SKIP_SIGNATURE`].
//! `reasoning_effort` becomes `thinkingConfig.thinkingBudget` (low 1,024, medium 8,192, high
//! 24,576), a `json_schema` `response_format` becomes `responseJsonSchema` with a JSON MIME
//! type, and the hub's `top_k` becomes `topK`. Fields Gemini cannot honour (`n > 1`,
//! `logprobs`, audio, ...) follow the [`Lenience`] policy: dropped and named, or refused.

use super::request::{refuse_common, unsupported};
use super::{Lenience, TranslateError};
use crate::api::anthropic::tool_input;
use crate::api::openai::arguments_string;
use serde_json::{json, Map, Value};

/// The `thoughtSignature` Google documents for function calls whose real signature is not at
/// hand (histories from another model, or rebuilt by the client): it passes Gemini 3's check.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Translates an OpenAI chat request into a Gemini `generateContent` request body.
pub fn chat_to_gemini(req: &Value, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let obj = req.as_object().ok_or_else(|| TranslateError::new("messages", "The request body must be a JSON object."))?;
    let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
    refuse_unsupported(&get, lenience)?;
    let mut out = Map::new();
    let (system, contents) = convert_messages(get("messages"))?;
    out.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        let parts: Vec<Value> = system.iter().map(|t| super::obj(&mut [("text", Value::from(t.as_str()))])).collect();
        out.insert("systemInstruction".into(), super::obj(&mut [("parts", Value::from(parts))]));
    }
    let mut config = Map::new();
    if let Some(v) = get("max_completion_tokens").or_else(|| get("max_tokens")) {
        let n = v.as_u64().filter(|n| *n > 0).ok_or_else(|| TranslateError::new("max_tokens", "`max_tokens` must be a positive integer."))?;
        config.insert("maxOutputTokens".into(), json!(n));
    }
    for (key, param, to) in [("temperature", "temperature", "temperature"), ("top_p", "top_p", "topP"), ("presence_penalty", "presence_penalty", "presencePenalty"), ("frequency_penalty", "frequency_penalty", "frequencyPenalty"), ("seed", "seed", "seed")] {
        if let Some(v) = get(key) {
            if !v.is_number() {
                return Err(TranslateError::new(param, format!("`{key}` must be a number.")));
            }
            config.insert(to.into(), v.clone());
        }
    }
    match get("stop") {
        None => {}
        Some(Value::String(s)) => {
            config.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            config.insert("stopSequences".into(), Value::Array(a.clone()));
        }
        Some(_) => return Err(TranslateError::new("stop", "`stop` must be a string or an array of strings.")),
    }
    match get("response_format").and_then(|f| f.get("type")).and_then(Value::as_str) {
        Some("json_object") => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        Some("json_schema") => {
            config.insert("responseMimeType".into(), json!("application/json"));
            if let Some(schema) = get("response_format").and_then(|f| f.pointer("/json_schema/schema")) {
                config.insert("responseJsonSchema".into(), schema.clone());
            }
        }
        _ => {}
    }
    if let Some(k) = get("top_k") {
        config.insert("topK".into(), k.clone());
    }
    match get("reasoning_effort").and_then(Value::as_str) {
        None => {}
        Some(effort) => {
            let budget: u64 = match effort {
                "minimal" | "none" => 0,
                "low" => 1024,
                "medium" => 8192,
                _ => 24576,
            };
            config.insert("thinkingConfig".into(), super::obj(&mut [("thinkingBudget", Value::from(budget))]));
        }
    }
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    if let Some(tools) = get("tools") {
        out.insert("tools".into(), json!([{"functionDeclarations": convert_tools(tools, lenience)?}]));
    }
    if let Some(choice) = get("tool_choice") {
        out.insert("toolConfig".into(), super::obj(&mut [("functionCallingConfig", convert_tool_choice(choice)?)]));
    }
    Ok(Value::Object(out))
}

fn refuse_unsupported<'a>(get: &impl Fn(&str) -> Option<&'a Value>, lenience: &mut Lenience) -> Result<(), TranslateError> {
    refuse_common(get, lenience)?;
    if get("response_format").and_then(|f| f.get("type")).and_then(Value::as_str).is_some_and(|t| !matches!(t, "text" | "json_object" | "json_schema")) {
        lenience.refuse(unsupported("response_format", "`response_format` other than text, json_object or json_schema"))?;
    }
    Ok(())
}

/// Splits OpenAI messages into system texts and Gemini `contents`.
fn convert_messages(messages: Option<&Value>) -> Result<(Vec<String>, Vec<Value>), TranslateError> {
    let bad = |m: &str| TranslateError::new("messages", m);
    let list = messages.and_then(Value::as_array).ok_or_else(|| bad("`messages` must be an array."))?;
    let mut system = Vec::new();
    let mut call_names: Vec<(String, String)> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in list {
        let role = m.get("role").and_then(Value::as_str).ok_or_else(|| bad("Each message needs a `role`."))?;
        let content = m.get("content").filter(|c| !c.is_null());
        let (turn_role, parts) = match role {
            "system" | "developer" => {
                let text = plain_text(content)?;
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            "user" => ("user", user_parts(content)?),
            "assistant" => ("model", assistant_parts(m, content, &mut call_names)?),
            "tool" => {
                let id = m.get("tool_call_id").and_then(Value::as_str).ok_or_else(|| bad("A `tool` message needs a `tool_call_id`."))?;
                // The latest call with that id: ids may repeat across turns (`call_0` from
                // gateways that number calls per answer).
                let name = call_names.iter().rev().find(|(i, _)| i == id).map(|(_, n)| n.clone());
                let name = name.ok_or_else(|| bad(&format!("No earlier assistant tool call has the id `{id}`.")))?;
                let text = plain_text(content)?;
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(map)) => Value::Object(map),
                    _ => super::obj(&mut [("output", Value::from(text))]),
                };
                ("user", vec![super::obj(&mut [("functionResponse", super::obj(&mut [("name", Value::from(name)), ("response", response)]))])])
            }
            other => return Err(bad(&format!("The message role `{other}` is not supported for this model."))),
        };
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((r, existing)) if *r == turn_role => existing.extend(parts),
            _ => turns.push((turn_role, parts)),
        }
    }
    Ok((system, turns.into_iter().map(|(role, parts)| super::obj(&mut [("role", Value::from(role)), ("parts", Value::from(parts))])).collect()))
}

/// Text of a string or text-part content (parts are joined with newlines).
fn plain_text(content: Option<&Value>) -> Result<String, TranslateError> {
    match content {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => Ok(text_parts(parts)?.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")),
        Some(_) => Err(TranslateError::new("messages", "Message `content` must be a string or an array of parts.")),
    }
}

/// Gemini text parts for OpenAI text (or refusal) parts; other parts are refused.
fn text_parts(parts: &[Value]) -> Result<Vec<Value>, TranslateError> {
    parts
        .iter()
        .filter_map(|p| match p.get("type").and_then(Value::as_str) {
            Some("text") => p.get("text").and_then(Value::as_str).map(Ok),
            Some("refusal") => p.get("refusal").and_then(Value::as_str).map(Ok),
            other => Some(Err(TranslateError::new("messages", format!("A content part of type `{}` is not supported here.", other.unwrap_or("?"))))),
        })
        .filter(|t| t.as_ref().map_or(true, |t| !t.is_empty()))
        .map(|t| t.map(|t| super::obj(&mut [("text", Value::from(t))])))
        .collect()
}

fn user_parts(content: Option<&Value>) -> Result<Vec<Value>, TranslateError> {
    let Some(Value::Array(parts)) = content else {
        let text = plain_text(content)?;
        return Ok(if text.is_empty() { vec![] } else { vec![super::obj(&mut [("text", Value::from(text))])] });
    };
    let mut out = Vec::new();
    for part in parts {
        if part.get("type").and_then(Value::as_str) == Some("image_url") {
            let url = part.get("image_url").and_then(|i| i.get("url").or(Some(i))).and_then(Value::as_str);
            let url = url.ok_or_else(|| TranslateError::new("messages", "An `image_url` part needs a `url`."))?;
            out.push(image_part(url));
        } else {
            out.extend(text_parts(std::slice::from_ref(part))?);
        }
    }
    Ok(out)
}

/// `data:<type>;base64,<data>` URLs become `inlineData`; other URLs become `fileData`.
fn image_part(url: &str) -> Value {
    let inline = url.strip_prefix("data:").and_then(|rest| rest.split_once(',')).and_then(|(meta, data)| meta.strip_suffix(";base64").map(|m| (m, data)));
    match inline {
        Some((mime, data)) => super::obj(&mut [("inlineData", super::obj(&mut [("mimeType", Value::from(mime)), ("data", Value::from(data))]))]),
        None => super::obj(&mut [("fileData", super::obj(&mut [("fileUri", Value::from(url))]))]),
    }
}

fn assistant_parts(message: &Value, content: Option<&Value>, call_names: &mut Vec<(String, String)>) -> Result<Vec<Value>, TranslateError> {
    if message.get("function_call").is_some_and(|f| !f.is_null()) {
        return Err(TranslateError::new("messages", "Assistant `function_call` is not supported; use `tool_calls`."));
    }
    let mut parts = match content {
        Some(Value::Array(p)) => text_parts(p)?,
        _ => {
            let text = plain_text(content)?;
            if text.is_empty() { vec![] } else { vec![super::obj(&mut [("text", Value::from(text))])] }
        }
    };
    for (i, call) in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let id = call.get("id").and_then(Value::as_str);
        let name = call.pointer("/function/name").and_then(Value::as_str);
        let (Some(id), Some(name)) = (id, name) else {
            return Err(TranslateError::new("messages", "Each tool call needs an `id` and a `function.name`."));
        };
        call_names.push((id.to_string(), name.to_string()));
        let args = tool_input(call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default());
        let mut part = super::obj(&mut [("functionCall", super::obj(&mut [("name", Value::from(name)), ("args", args)]))]);
        // Gemini signs the first call of a step; the others of a parallel step carry none.
        let signature = call.pointer("/extra_content/google/thought_signature").and_then(Value::as_str).filter(|s| !s.is_empty());
        if let (Some(sig), Some(map)) = (signature.or((i == 0).then_some(SKIP_SIGNATURE)), part.as_object_mut()) {
            map.insert("thoughtSignature".into(), Value::from(sig));
        }
        parts.push(part);
    }
    Ok(parts)
}

/// Gemini function declarations; `parameters` loses the JSON Schema keys Gemini refuses.
fn convert_tools(tools: &Value, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let bad = |m: &str| TranslateError::new("tools", m);
    super::request::function_tools(tools, lenience)?
        .into_iter()
        .map(|t| {
            let f = t.get("function").ok_or_else(|| bad("A tool needs a `function`."))?;
            let name = f.get("name").and_then(Value::as_str).ok_or_else(|| bad("A tool function needs a `name`."))?;
            let mut out = Map::new();
            out.insert("name".into(), json!(name));
            if let Some(d) = f.get("description").filter(|d| d.is_string()) {
                out.insert("description".into(), d.clone());
            }
            let params = f.get("parameters").filter(|p| !p.is_null()).map(clean_schema);
            let empty = params.as_ref().is_some_and(|p| p.get("properties").and_then(Value::as_object).is_none_or(Map::is_empty) && p.get("type") == Some(&json!("object")));
            if let (Some(p), false) = (params, empty) {
                out.insert("parameters".into(), p);
            }
            Ok(Value::Object(out))
        })
        .collect()
}

/// Drops `$schema`, `additionalProperties` and `strict` at every level (Gemini's Schema lacks them).
fn clean_schema(schema: &Value) -> Value {
    match schema {
        // Maps built by insertion: a `collect` into one compiles a copy of the sort for each
        // iterator type (docs/size.md).
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter().filter(|(k, _)| !matches!(k.as_str(), "$schema" | "additionalProperties" | "strict")) {
                let cleaned = match v.as_object() {
                    Some(properties) if k == "properties" => {
                        let mut cleaned = Map::new();
                        for (name, s) in properties {
                            cleaned.insert(name.clone(), clean_schema(s));
                        }
                        Value::Object(cleaned)
                    }
                    _ if k == "properties" => v.clone(),
                    _ => clean_schema(v),
                };
                out.insert(k.clone(), cleaned);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(clean_schema).collect()),
        other => other.clone(),
    }
}

fn convert_tool_choice(choice: &Value) -> Result<Value, TranslateError> {
    let name = choice.pointer("/function/name").and_then(Value::as_str);
    match (choice.as_str(), name) {
        (Some("auto"), _) => Ok(super::obj(&mut [("mode", Value::from("AUTO"))])),
        (Some("required"), _) => Ok(super::obj(&mut [("mode", Value::from("ANY"))])),
        (Some("none"), _) => Ok(super::obj(&mut [("mode", Value::from("NONE"))])),
        (None, Some(name)) => Ok(super::obj(&mut [("mode", Value::from("ANY")), ("allowedFunctionNames", Value::Array(vec![Value::from(name)]))])),
        _ => Err(TranslateError::new("tool_choice", "`tool_choice` must be `auto`, `required`, `none` or a function.")),
    }
}

/// Maps a Gemini `finishReason` to an OpenAI `finish_reason` (tool calls are decided by the caller).
pub(crate) fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => "content_filter",
        _ => "stop",
    }
}

/// OpenAI `usage` from Gemini `usageMetadata`: completion tokens include thinking tokens.
pub(crate) fn usage(meta: &Value) -> Value {
    let count = |key: &str| meta.get(key).and_then(Value::as_u64).unwrap_or(0);
    let prompt = count("promptTokenCount");
    let thoughts = count("thoughtsTokenCount");
    let completion = count("candidatesTokenCount").saturating_add(thoughts);
    super::obj(&mut [("prompt_tokens", Value::from(prompt)), ("completion_tokens", Value::from(completion)), ("total_tokens", Value::from(prompt.saturating_add(completion))), ("prompt_tokens_details", super::obj(&mut [("cached_tokens", Value::from(count("cachedContentTokenCount")))])), ("completion_tokens_details", super::obj(&mut [("reasoning_tokens", Value::from(thoughts))]))])
}

/// An OpenAI tool call for the Gemini part holding a `functionCall`, the `index`-th call of the
/// answer `response_id`. Its id is the call's own `id` when Gemini gave one, else
/// `call_<8 hex digits of the response id>_<index>` (`call_<index>` without a response id); the
/// part's `thoughtSignature` goes in `extra_content.google.thought_signature`.
pub(crate) fn tool_call(part: &Value, index: usize, response_id: Option<&str>) -> Value {
    let call = part.get("functionCall").unwrap_or(&Value::Null);
    let args = arguments_string(call.get("args").unwrap_or(&super::obj(&mut [])));
    let id = match (call.get("id").and_then(Value::as_str).filter(|i| !i.is_empty()), response_id) {
        (Some(own), _) => own.to_string(),
        (None, Some(r)) => format!("call_{:08x}_{index}", fnv32(r)),
        (None, None) => format!("call_{index}"),
    };
    let mut out = super::obj(&mut [("id", Value::from(id)), ("type", Value::from("function")), ("function", super::obj(&mut [("name", call.get("name").cloned().unwrap_or(Value::Null)), ("arguments", Value::from(args))]))]);
    if let (Some(sig), Some(map)) = (part.get("thoughtSignature").and_then(Value::as_str), out.as_object_mut()) {
        map.insert("extra_content".into(), json!({"google": {"thought_signature": sig}}));
    }
    out
}

/// FNV-1a, 32 bits: a short, stable tag of a response id for its tool-call ids.
fn fnv32(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// Translates a Gemini `GenerateContentResponse` (its first candidate) into an OpenAI
/// `chat.completion` for `model`; `created` is the Unix time to report.
pub fn gemini_to_completion(resp: &Value, model: &str, created: u64) -> Result<Value, TranslateError> {
    if !resp.is_object() || resp.get("error").is_some() {
        return Err(TranslateError::new("response", "The provider's response is not a Gemini GenerateContentResponse."));
    }
    let candidate = resp.get("candidates").and_then(Value::as_array).and_then(|c| c.first());
    let mut text = String::new();
    let mut calls = Vec::new();
    let response_id = resp.get("responseId").and_then(Value::as_str);
    for part in candidate.and_then(|c| c.pointer("/content/parts")).and_then(Value::as_array).into_iter().flatten() {
        if part.get("functionCall").is_some() {
            calls.push(tool_call(part, calls.len(), response_id));
        } else if part.get("thought").and_then(Value::as_bool) != Some(true) {
            text.push_str(part.get("text").and_then(Value::as_str).unwrap_or_default());
        }
    }
    let finish = match (calls.is_empty(), candidate.and_then(|c| c.get("finishReason")).and_then(Value::as_str)) {
        (false, _) => Some("tool_calls"),
        (true, Some(r)) => Some(finish_reason(r)),
        (true, None) if resp.pointer("/promptFeedback/blockReason").is_some() => Some("content_filter"),
        (true, None) => None,
    };
    let content = if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) };
    let mut message = super::obj(&mut [("role", Value::from("assistant")), ("content", content), ("refusal", Value::Null)]);
    if let (false, Some(map)) = (calls.is_empty(), message.as_object_mut()) {
        map.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(super::obj(&mut [("id", Value::from(resp.get("responseId").and_then(Value::as_str).unwrap_or("chatcmpl-tollgate"))), ("object", Value::from("chat.completion")), ("created", Value::from(created)), ("model", Value::from(model)), ("choices", Value::Array(vec![super::obj(&mut [("index", Value::from(0u64)), ("message", message), ("logprobs", Value::Null), ("finish_reason", Value::from(finish))])])), ("usage", usage(resp.get("usageMetadata").unwrap_or(&Value::Null)))]))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const RESPONSE: &str = include_str!("../../../tests/fixtures/gemini_generate.json");

    #[test]
    fn tool_conversation_request() {
        let got = chat_to_gemini(&json!({"model": "gemini-2.5-flash", "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "user", "content": "Thanks"}
        ], "max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "stop": "END", "stream": true,
           "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d", "parameters": {"type": "object", "additionalProperties": false, "properties": {"city": {"type": "string"}}}}},
                     {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}],
           "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}), &mut Lenience::new(true))
        .unwrap();
        assert!(got.get("model").is_none() && got.get("stream").is_none());
        assert_eq!(got["systemInstruction"], json!({"parts": [{"text": "Be terse."}]}));
        assert_eq!(got["generationConfig"], json!({"maxOutputTokens": 50, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]}));
        assert_eq!(got["contents"], json!([
            {"role": "user", "parts": [{"text": "Weather?"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SKIP_SIGNATURE}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}}, {"text": "Thanks"}]}
        ]));
        assert_eq!(got["tools"], json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "d", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "now"}
        ]}]));
        assert_eq!(got["toolConfig"], json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}));
        let bare = chat_to_gemini(&json!({"messages": [{"role": "user", "content": "x"}]}), &mut Lenience::new(true)).unwrap();
        assert_eq!(bare, json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}));
    }

    #[test]
    fn thought_signatures_round_trip_and_repeated_ids_name_the_latest_call() {
        let answer = json!({"responseId": "r9", "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2lnLTE="}, {"functionCall": {"name": "g", "args": {}}}]}, "finishReason": "STOP"}]});
        let got = gemini_to_completion(&answer, "m", 0).unwrap();
        let calls = got["choices"][0]["message"]["tool_calls"].as_array().unwrap().clone();
        let tag = format!("{:08x}", fnv32("r9"));
        assert_eq!(calls[0], json!({"id": format!("call_{tag}_0"), "type": "function", "function": {"name": "f", "arguments": "{}"}, "extra_content": {"google": {"thought_signature": "c2lnLTE="}}}));
        assert_eq!((calls[1]["id"].as_str(), calls[1].get("extra_content")), (Some(format!("call_{tag}_1").as_str()), None));
        // A call with Gemini's own id keeps it.
        assert_eq!(tool_call(&json!({"functionCall": {"id": "own", "name": "f"}}), 3, Some("r9"))["id"], "own");

        // Sent back as the OpenAI SDK sends the message it got: the signature returns to its call;
        // a rebuilt history (no `extra_content`) gets the placeholder on each step's first call.
        // Ids repeated across turns (`call_0`) name the latest call.
        let req = json!({"messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "first", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": "1"},
            got["choices"][0]["message"].clone(),
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "2"},
            {"role": "tool", "tool_call_id": calls[1]["id"], "content": "3"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "second", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": "4"}
        ]});
        let out = chat_to_gemini(&req, &mut Lenience::new(true)).unwrap();
        let c = &out["contents"];
        assert_eq!(c[1]["parts"][0]["thoughtSignature"], SKIP_SIGNATURE);
        assert_eq!(c[2]["parts"][0]["functionResponse"]["name"], "first");
        assert_eq!(c[3]["parts"][0]["thoughtSignature"], "c2lnLTE=");
        assert!(c[3]["parts"][1].get("thoughtSignature").is_none(), "{}", c[3]);
        assert_eq!(c[4]["parts"].as_array().map(Vec::len), Some(2));
        assert_eq!(c[5]["parts"][0]["thoughtSignature"], SKIP_SIGNATURE);
        assert_eq!(c[6]["parts"][0]["functionResponse"]["name"], "second");
    }

    #[test]
    fn refusals() {
        for (extra, param) in [(json!({"n": 2}), "n"), (json!({"logprobs": true}), "logprobs"), (json!({"audio": {}}), "audio"), (json!({"stop": 3}), "stop"), (json!({"response_format": {"type": "xml"}}), "response_format")] {
            let mut req = json!({"messages": [{"role": "user", "content": "x"}]});
            if let (Some(r), Some(e)) = (req.as_object_mut(), extra.as_object()) {
                r.extend(e.clone());
            }
            assert_eq!(chat_to_gemini(&req, &mut Lenience::new(true)).unwrap_err().param, param, "{extra}");
        }
        let orphan = json!({"messages": [{"role": "tool", "tool_call_id": "zz", "content": "x"}]});
        assert_eq!(chat_to_gemini(&orphan, &mut Lenience::new(true)).unwrap_err().param, "messages");
    }

    #[test]
    fn response_fixture_and_tool_calls() {
        let got = gemini_to_completion(&serde_json::from_str(RESPONSE).unwrap(), "gemini-2.5-flash", 7).unwrap();
        assert_eq!(got["id"], "mOckGeMiNiReSpOnSe0001");
        assert_eq!(got["choices"][0]["message"]["content"], "Hello! I am the tollgate mock provider. This reply is deterministic.");
        assert_eq!(got["choices"][0]["finish_reason"], "stop");
        assert_eq!(got["usage"], json!({"prompt_tokens": 27, "completion_tokens": 20, "total_tokens": 47, "prompt_tokens_details": {"cached_tokens": 10}, "completion_tokens_details": {"reasoning_tokens": 6}}));
        let calls = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "hm", "thought": true}, {"functionCall": {"name": "f", "args": {"a": 1}}}, {"functionCall": {"name": "g", "args": {}}}]}, "finishReason": "STOP"}]});
        let got = gemini_to_completion(&calls, "m", 0).unwrap();
        assert_eq!(got["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(got["choices"][0]["message"]["tool_calls"][1], json!({"id": "call_1", "type": "function", "function": {"name": "g", "arguments": "{}"}}));
        assert_eq!(got["choices"][0]["finish_reason"], "tool_calls");
        let blocked = gemini_to_completion(&json!({"promptFeedback": {"blockReason": "SAFETY"}}), "m", 0).unwrap();
        assert_eq!(blocked["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(finish_reason("MAX_TOKENS"), "length");
        assert!(gemini_to_completion(&json!([1]), "m", 0).is_err());
    }
}
