//! OpenAI Responses request → the chat hub (an OpenAI Chat Completions request).
//!
//! `instructions` and `system`/`developer` items become system messages; `input` (a string or
//! an item list) becomes the turns: `message` items with `input_text`/`output_text`/
//! `input_image` parts, `function_call` items as assistant `tool_calls` (consecutive calls share
//! one assistant turn), `function_call_output` items as `tool` messages. `reasoning` items are
//! dropped (a provider cannot take another's reasoning back). `reasoning.effort` becomes
//! `reasoning_effort`; `text.format` becomes `response_format`; `max_output_tokens` becomes
//! `max_completion_tokens`; a stream asks for its usage.
//!
//! Tools the chat shape has no equivalent for (`web_search`, `file_search`, `mcp`, …) and hints
//! (`store`, `metadata`, `include`, `truncation`, …) are dropped through the [`Lenience`]
//! policy. `previous_response_id`, `conversation` and `background` need OpenAI's own storage:
//! they are refused by name, whatever the policy.

use super::{Lenience, TranslateError};
use serde_json::{Map, Value};

/// Fields that only a provider with OpenAI's response storage can honour.
const STORED: [&str; 3] = ["previous_response_id", "conversation", "background"];

/// Hints with no effect on the answer that another provider cannot take.
const HINTS: [&str; 10] = ["store", "metadata", "include", "truncation", "service_tier", "prompt_cache_key", "safety_identifier", "stream_options", "prompt", "top_logprobs"];

/// Translates a Responses request into a chat request for `model`.
pub fn responses_to_chat(req: &Value, model: &str, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let obj = req.as_object().ok_or_else(|| TranslateError::new("input", "The request body must be a JSON object."))?;
    let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
    for (param, v) in STORED.iter().filter_map(|k| get(k).map(|v| (*k, v))) {
        if v != &Value::Bool(false) {
            return Err(TranslateError::new(stored_param(param), format!("`{param}` needs OpenAI's stored responses; this model is served by another provider. Send the whole conversation in `input`.")));
        }
    }
    let mut messages = Vec::new();
    if let Some(i) = get("instructions") {
        let text = i.as_str().ok_or_else(|| TranslateError::new("instructions", "`instructions` must be a string."))?;
        messages.push(message("system", Value::from(text)));
    }
    match get("input") {
        None => {}
        Some(Value::String(s)) => messages.push(message("user", Value::from(s.as_str()))),
        Some(Value::Array(items)) => {
            for item in items {
                input_item(item, &mut messages, lenience)?;
            }
        }
        Some(_) => return Err(TranslateError::new("input", "`input` must be a string or an array of items.")),
    }
    let mut out = Map::new();
    out.insert("model".into(), Value::from(model));
    out.insert("messages".into(), Value::Array(messages));
    if let Some(max) = get("max_output_tokens") {
        out.insert("max_completion_tokens".into(), max.clone());
    }
    for key in ["temperature", "top_p", "parallel_tool_calls", "user"] {
        if let Some(v) = get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(effort) = get("reasoning").and_then(|r| r.get("effort")).filter(|e| !e.is_null()) {
        out.insert("reasoning_effort".into(), effort.clone());
    }
    if let Some(format) = get("text").and_then(|t| t.get("format")).filter(|f| !f.is_null()) {
        if let Some(f) = response_format(format)? {
            out.insert("response_format".into(), f);
        }
    }
    if get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), Value::Bool(true));
        out.insert("stream_options".into(), super::obj(&mut [("include_usage", Value::Bool(true))]));
    }
    let mut functions = Vec::new();
    for t in get("tools").and_then(Value::as_array).into_iter().flatten() {
        match t.get("type").and_then(Value::as_str) {
            Some("function") => functions.push(function_tool(t)?),
            _ => lenience.refuse(TranslateError::new("tools", "Only `function` tools are supported for this model."))?,
        }
    }
    if get("tools").is_some_and(|t| !t.is_array()) {
        return Err(TranslateError::new("tools", "`tools` must be an array."));
    }
    if let Some(choice) = get("tool_choice") {
        match tool_choice(choice) {
            Some(c) if !functions.is_empty() || c == "none" => {
                out.insert("tool_choice".into(), c);
            }
            Some(_) => {}
            None => lenience.refuse(TranslateError::new("tool_choice", "This `tool_choice` is not supported for this model."))?,
        }
    }
    if !functions.is_empty() {
        out.insert("tools".into(), Value::Array(functions));
    }
    for hint in HINTS {
        if get(hint).is_some() {
            lenience.drop_field(hint);
        }
    }
    Ok(Value::Object(out))
}

fn stored_param(param: &str) -> &'static str {
    STORED.into_iter().find(|p| *p == param).unwrap_or("previous_response_id")
}

fn message(role: &str, content: Value) -> Value {
    super::obj(&mut [("role", Value::from(role)), ("content", content)])
}

/// One `input` item appended to the chat messages.
fn input_item(item: &Value, out: &mut Vec<Value>, lenience: &mut Lenience) -> Result<(), TranslateError> {
    let bad = |m: &str| TranslateError::new("input", m);
    let field = |k: &str| item.get(k).and_then(Value::as_str);
    match field("type") {
        // An easy input message has no `type`.
        None | Some("message") => {
            let role = match field("role") {
                Some("developer" | "system") => "system",
                Some("user") => "user",
                Some("assistant") => "assistant",
                _ => return Err(bad("Each message's `role` must be `user`, `assistant`, `system` or `developer`.")),
            };
            let content = content(item.get("content"), role == "assistant", lenience)?;
            out.push(message(role, content));
        }
        Some("function_call") => {
            let (Some(call_id), Some(name)) = (field("call_id"), field("name")) else {
                return Err(bad("A `function_call` item needs a `call_id` and a `name`."));
            };
            let call = super::obj(&mut [
                ("id", Value::from(call_id)),
                ("type", Value::from("function")),
                ("function", super::obj(&mut [("name", Value::from(name)), ("arguments", Value::from(field("arguments").unwrap_or("{}")))])),
            ]);
            // Consecutive calls (and the assistant text just before them) make one turn.
            let open = out.last_mut().filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant")).and_then(Value::as_object_mut);
            match open {
                Some(turn) => match turn.get_mut("tool_calls").and_then(Value::as_array_mut) {
                    Some(calls) => calls.push(call),
                    None => {
                        turn.insert("tool_calls".into(), Value::Array(vec![call]));
                    }
                },
                None => {
                    let mut turn = message("assistant", Value::Null);
                    if let Some(map) = turn.as_object_mut() {
                        map.insert("tool_calls".into(), Value::Array(vec![call]));
                    }
                    out.push(turn);
                }
            }
        }
        Some("function_call_output") => {
            let call_id = field("call_id").ok_or_else(|| bad("A `function_call_output` item needs a `call_id`."))?;
            let output = match item.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n\n"),
                _ => String::new(),
            };
            out.push(super::obj(&mut [("role", Value::from("tool")), ("tool_call_id", Value::from(call_id)), ("content", Value::from(output))]));
        }
        // Another provider's reasoning cannot be given back; it was for that model only.
        Some("reasoning") => {}
        Some(_) => lenience.refuse(bad("This `input` item type is not supported for this model."))?,
    }
    Ok(())
}

/// A message's content: a string, or parts as chat content parts (one text part collapses to a string).
fn content(content: Option<&Value>, assistant: bool, lenience: &mut Lenience) -> Result<Value, TranslateError> {
    let parts = match content {
        Some(Value::String(s)) => return Ok(Value::from(s.as_str())),
        Some(Value::Array(parts)) => parts,
        _ => return Err(TranslateError::new("input", "A message's `content` must be a string or an array of parts.")),
    };
    let mut out = Vec::new();
    for p in parts {
        match p.get("type").and_then(Value::as_str) {
            Some("input_text" | "output_text" | "text") => {
                let text = p.get("text").and_then(Value::as_str).unwrap_or_default();
                out.push(super::obj(&mut [("type", Value::from("text")), ("text", Value::from(text))]));
            }
            Some("refusal") => {
                let text = p.get("refusal").and_then(Value::as_str).unwrap_or_default();
                out.push(super::obj(&mut [("type", Value::from("text")), ("text", Value::from(text))]));
            }
            Some("input_image") if !assistant => match p.get("image_url").and_then(Value::as_str) {
                Some(url) => {
                    let mut image = super::obj(&mut [("url", Value::from(url))]);
                    if let (Some(d), Some(map)) = (p.get("detail").filter(|d| d.is_string()), image.as_object_mut()) {
                        map.insert("detail".into(), d.clone());
                    }
                    out.push(super::obj(&mut [("type", Value::from("image_url")), ("image_url", image)]));
                }
                None => lenience.refuse(TranslateError::new("input", "An `input_image` needs an `image_url` (file ids are not supported for this model)."))?,
            },
            _ => lenience.refuse(TranslateError::new("input", "This content part type is not supported for this model."))?,
        }
    }
    if assistant || matches!(out.as_slice(), [only] if only.get("type").and_then(Value::as_str) == Some("text")) {
        let text: Vec<&str> = out.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect();
        return Ok(Value::from(text.concat()));
    }
    Ok(Value::Array(out))
}

/// A Responses function tool (`{type, name, description, parameters, strict}`) as a chat tool.
fn function_tool(t: &Value) -> Result<Value, TranslateError> {
    let name = t.get("name").and_then(Value::as_str).ok_or_else(|| TranslateError::new("tools", "A function tool needs a `name`."))?;
    let mut function = Map::new();
    function.insert("name".into(), Value::from(name));
    for key in ["description", "parameters", "strict"] {
        if let Some(v) = t.get(key).filter(|v| !v.is_null()) {
            function.insert(key.into(), v.clone());
        }
    }
    Ok(super::obj(&mut [("type", Value::from("function")), ("function", Value::Object(function))]))
}

/// `tool_choice` in the chat shape; `None` for a choice with no chat equivalent (a hosted tool).
fn tool_choice(choice: &Value) -> Option<Value> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => Some(choice.clone()),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let name = o.get("name").and_then(Value::as_str)?;
            Some(super::obj(&mut [("type", Value::from("function")), ("function", super::obj(&mut [("name", Value::from(name))]))]))
        }
        _ => None,
    }
}

/// `text.format` as a chat `response_format`: `json_schema` (its name, schema, strict and
/// description move under `json_schema`), `json_object`, or nothing for `text`.
fn response_format(format: &Value) -> Result<Option<Value>, TranslateError> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(super::obj(&mut [("type", Value::from("json_object"))]))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(key).filter(|v| !v.is_null()) {
                    schema.insert(key.into(), v.clone());
                }
            }
            if !schema.contains_key("schema") {
                return Err(TranslateError::new("text", "A `json_schema` format needs a `schema`."));
            }
            Ok(Some(super::obj(&mut [("type", Value::from("json_schema")), ("json_schema", Value::Object(schema))])))
        }
        _ => Err(TranslateError::new("text", "`text.format.type` must be `text`, `json_object` or `json_schema`.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn chat(req: Value) -> (Value, Vec<&'static str>) {
        let mut l = Lenience::default();
        let v = responses_to_chat(&req, "m", &mut l).unwrap();
        (v, l.dropped)
    }

    #[test]
    fn a_string_input_with_instructions() {
        let (v, dropped) = chat(json!({"model": "x", "instructions": "Be brief.", "input": "Hi", "max_output_tokens": 50, "store": false, "stream": true}));
        assert_eq!(v["messages"], json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]));
        assert_eq!((v["model"].as_str(), v["max_completion_tokens"].as_u64()), (Some("m"), Some(50)));
        assert_eq!(v["stream_options"], json!({"include_usage": true}));
        assert_eq!(dropped, vec!["store"]);
    }

    #[test]
    fn a_function_round_trip_and_items() {
        let (v, dropped) = chat(json!({"model": "x", "input": [
            {"role": "developer", "content": "Use tools."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}, {"type": "input_image", "image_url": "https://x/i.png", "detail": "low"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
            {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
            {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": "{\"city\":\"Rome\"}"},
            {"type": "function_call_output", "call_id": "c1", "output": "cold"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "warm"}]}
        ], "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}, "strict": true}, {"type": "web_search"}],
           "tool_choice": "auto", "reasoning": {"effort": "low", "summary": "auto"}}));
        let m = &v["messages"];
        assert_eq!(m[0], json!({"role": "system", "content": "Use tools."}));
        assert_eq!(m[1]["content"][1], json!({"type": "image_url", "image_url": {"url": "https://x/i.png", "detail": "low"}}));
        assert_eq!(m[2]["content"], "Checking.");
        assert_eq!(m[2]["tool_calls"].as_array().map(Vec::len), Some(2));
        assert_eq!(m[3], json!({"role": "tool", "tool_call_id": "c1", "content": "cold"}));
        assert_eq!(m[4]["content"], "warm");
        assert_eq!(v["tools"], json!([{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}, "strict": true}}]));
        assert_eq!((v["tool_choice"].as_str(), v["reasoning_effort"].as_str()), (Some("auto"), Some("low")));
        assert_eq!(dropped, vec!["tools"]);
    }

    #[test]
    fn text_format_becomes_response_format() {
        let (v, _) = chat(json!({"input": "x", "text": {"format": {"type": "json_schema", "name": "p", "schema": {"type": "object"}, "strict": true}}}));
        assert_eq!(v["response_format"], json!({"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}, "strict": true}}));
        let (v, _) = chat(json!({"input": "x", "text": {"format": {"type": "text"}}}));
        assert!(v.get("response_format").is_none());
    }

    #[test]
    fn stored_state_and_bad_shapes_are_refused() {
        let mut l = Lenience::default();
        let e = responses_to_chat(&json!({"input": "x", "previous_response_id": "resp_1"}), "m", &mut l).unwrap_err();
        assert_eq!(e.param, "previous_response_id");
        assert!(responses_to_chat(&json!({"input": "x", "background": false}), "m", &mut l).is_ok());
        for (bad, param) in [(json!({"input": 3}), "input"), (json!({"input": [{"role": "tool", "content": "x"}]}), "input"), (json!({"input": "x", "text": {"format": {"type": "yaml"}}}), "text"), (json!({"instructions": 1}), "instructions")] {
            assert_eq!(responses_to_chat(&bad, "m", &mut l).unwrap_err().param, param, "{bad}");
        }
        let mut strict = Lenience::new(true);
        assert_eq!(responses_to_chat(&json!({"input": "x", "tools": [{"type": "web_search"}]}), "m", &mut strict).unwrap_err().param, "tools");
    }
}
