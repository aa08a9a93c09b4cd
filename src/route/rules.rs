//! Conditional routes: ordered rules that pick a route's target list from what the request
//! says (its size, tools, images, the key's tenant or labels, a header), and the facts they read.

use super::Target;
use serde_json::Value;
use std::collections::BTreeMap;

/// One rule: when `when` holds, `targets` replace the route's own (its fallbacks stay).
#[derive(Debug, Clone)]
pub struct Rule {
    pub when: When,
    pub targets: Vec<Target>,
}

/// A rule's conditions; every one that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct When {
    /// Estimated prompt tokens plus `max_tokens` at least this.
    pub min_tokens: Option<u64>,
    pub tools: Option<bool>,
    pub images: Option<bool>,
    /// The key's tenant is one of these.
    pub tenants: Vec<String>,
    /// The key's labels include each of these.
    pub labels: Vec<(String, String)>,
    /// A request header (lower-case name) is present, or has this exact value.
    pub header: Option<(String, Option<String>)>,
}

impl When {
    /// Whether the rule reads the body (its size, tools or images).
    pub fn reads_body(&self) -> bool {
        self.min_tokens.is_some() || self.tools.is_some() || self.images.is_some()
    }

    pub fn matches(&self, facts: &Facts<'_>, header: &mut dyn FnMut(&str) -> Option<String>) -> bool {
        self.min_tokens.is_none_or(|n| facts.tokens >= n)
            && self.tools.is_none_or(|t| facts.tools == t)
            && self.images.is_none_or(|i| facts.images == i)
            && (self.tenants.is_empty() || facts.tenant.is_some_and(|t| self.tenants.iter().any(|x| x == t)))
            && self.labels.iter().all(|(k, v)| facts.labels.and_then(|l| l.get(k)) == Some(v))
            && self.header.as_ref().is_none_or(|(name, want)| match (header(name), want) {
                (Some(got), Some(want)) => got == *want,
                (got, None) => got.is_some(),
                (None, Some(_)) => false,
            })
    }
}

/// What conditional routes and context windows read from a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// Estimated prompt tokens plus the requested output tokens (0 when the body was not read).
    pub tokens: u64,
    pub tools: bool,
    pub images: bool,
    pub tenant: Option<&'a str>,
    pub labels: Option<&'a BTreeMap<String, String>>,
}

impl Facts<'_> {
    /// The body's facts: its estimated prompt tokens plus its output cap (`max_tokens`,
    /// `max_completion_tokens`, `max_output_tokens` or Gemini's `generationConfig.maxOutputTokens`),
    /// whether it offers tools, and whether any message carries an image.
    pub fn of_body(body: &Value) -> (u64, bool, bool) {
        let cap = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
            .iter()
            .find_map(|k| body.get(*k).and_then(Value::as_u64))
            .or_else(|| body.pointer("/generationConfig/maxOutputTokens").and_then(Value::as_u64))
            .unwrap_or(0);
        let tokens = crate::usage::estimate_prompt_tokens(body).saturating_add(cap);
        let tools = ["tools", "functions"].iter().any(|k| body.get(*k).and_then(Value::as_array).is_some_and(|a| !a.is_empty()));
        let images = ["messages", "input", "contents"].iter().any(|k| body.get(*k).is_some_and(has_image));
        (tokens, tools, images)
    }
}

/// An image part anywhere below `v`: OpenAI `image_url` / `input_image`, Anthropic `image`,
/// Gemini `inline_data` / `inlineData` / `file_data` with an image MIME type.
fn has_image(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.iter().any(has_image),
        Value::Object(o) => {
            if let Some(Value::String(t)) = o.get("type") {
                if matches!(t.as_str(), "image_url" | "image" | "input_image") {
                    return true;
                }
            }
            for k in ["inline_data", "inlineData", "file_data", "fileData"] {
                let mime = o.get(k).and_then(|d| d.get("mime_type").or_else(|| d.get("mimeType"))).and_then(Value::as_str);
                if mime.is_some_and(|m| m.starts_with("image/")) {
                    return true;
                }
            }
            ["content", "parts"].iter().any(|k| o.get(*k).is_some_and(has_image))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn body_facts() {
        let (tokens, tools, images) = Facts::of_body(&json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000}));
        assert!((1000..1020).contains(&tokens), "{tokens}");
        assert!(!tools && !images);
        let body = json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "what is it"}, {"type": "image_url", "image_url": {"url": "data:,"}}]}],
            "tools": [{"type": "function", "function": {"name": "f"}}]});
        let (_, tools, images) = Facts::of_body(&body);
        assert!(tools && images);
        let gemini = json!({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": ""}}]}], "generationConfig": {"maxOutputTokens": 50}});
        let (tokens, _, images) = Facts::of_body(&gemini);
        assert!(images && tokens >= 50);
        assert!(!Facts::of_body(&json!({"messages": [], "tools": []})).1);
    }

    #[test]
    fn conditions() {
        let labels: BTreeMap<String, String> = [("tier".to_string(), "gold".to_string())].into_iter().collect();
        let facts = Facts { tokens: 5000, tools: true, images: false, tenant: Some("acme"), labels: Some(&labels) };
        let mut hdr = |n: &str| (n == "x-route").then(|| "batch".to_string());
        assert!(When::default().matches(&facts, &mut hdr));
        assert!(When { min_tokens: Some(5000), tools: Some(true), images: Some(false), ..When::default() }.matches(&facts, &mut hdr));
        assert!(!When { min_tokens: Some(5001), ..When::default() }.matches(&facts, &mut hdr));
        assert!(When { tenants: vec!["x".into(), "acme".into()], labels: vec![("tier".into(), "gold".into())], ..When::default() }.matches(&facts, &mut hdr));
        assert!(!When { labels: vec![("tier".into(), "silver".into())], ..When::default() }.matches(&facts, &mut hdr));
        assert!(!When { tenants: vec!["x".into()], ..When::default() }.matches(&Facts::default(), &mut hdr));
        assert!(When { header: Some(("x-route".into(), Some("batch".into()))), ..When::default() }.matches(&facts, &mut hdr));
        assert!(When { header: Some(("x-route".into(), None)), ..When::default() }.matches(&facts, &mut hdr));
        assert!(!When { header: Some(("x-other".into(), None)), ..When::default() }.matches(&facts, &mut hdr));
        assert!(!When { header: Some(("x-route".into(), Some("live".into()))), ..When::default() }.matches(&facts, &mut hdr));
    }
}
