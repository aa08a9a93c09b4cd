//! The translation hub. Every client dialect translates to and from one internal shape, the
//! OpenAI Chat Completions request, answer and chunk stream; every provider wire does too. A
//! translated request goes client → hub → provider and its answer provider → hub → client, so
//! a new dialect or provider adds two translators, not one per existing dialect. The direct
//! byte-level fast paths (`plain_*`) stay beside the hub where they pay.

use super::{chat_to_converse, chat_to_gemini, chat_to_messages, messages_to_chat, responses_to_chat, Lenience, TranslateError};
use crate::api::Dialect;
use serde_json::Value;
use std::borrow::Cow;

/// The dialect a provider speaks on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI Chat Completions (OpenAI, Azure, OpenAI-compatible servers): the hub itself.
    Chat,
    /// Anthropic Messages.
    Messages,
    /// Google Gemini `generateContent`.
    Gemini,
    /// AWS Bedrock Converse (its streams arrive as AWS event-stream frames).
    Converse,
}

/// Which way a request is translated: from the client's dialect, through the hub, to the
/// provider's wire (the answer goes the other way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    pub client: Dialect,
    pub provider: Wire,
}

impl Translation {
    /// OpenAI chat client, Anthropic provider.
    pub const CHAT_TO_ANTHROPIC: Translation = Translation { client: Dialect::OpenAiChat, provider: Wire::Messages };
    /// Anthropic Messages client, OpenAI-compatible provider.
    pub const MESSAGES_TO_OPENAI: Translation = Translation { client: Dialect::Anthropic, provider: Wire::Chat };
    /// OpenAI chat client, Gemini provider.
    pub const CHAT_TO_GEMINI: Translation = Translation { client: Dialect::OpenAiChat, provider: Wire::Gemini };
    /// Anthropic Messages client, Gemini provider.
    pub const MESSAGES_TO_GEMINI: Translation = Translation { client: Dialect::Anthropic, provider: Wire::Gemini };

    /// Translates a client request for the provider's `model`, noting dropped fields in `lenience`.
    pub fn request(self, req: &Value, model: &str, lenience: &mut Lenience) -> Result<Value, TranslateError> {
        let hub = match self.client {
            Dialect::OpenAiChat => Cow::Borrowed(req),
            Dialect::Anthropic => Cow::Owned(messages_to_chat(req, model, lenience)?),
            Dialect::OpenAiResponses => Cow::Owned(responses_to_chat(req, model, lenience)?),
            Dialect::OpenAiEmbeddings => return Err(TranslateError::new("model", "Embeddings are not translated.")),
        };
        match self.provider {
            Wire::Messages => chat_to_messages(&hub, model, lenience),
            Wire::Gemini => chat_to_gemini(&hub, lenience),
            Wire::Converse => chat_to_converse(&hub, model, lenience),
            Wire::Chat => Ok(chat_for_openai(hub.into_owned(), model, lenience)),
        }
    }
}

/// The hub request as an OpenAI-compatible server takes it: the provider's model, and without
/// the hub's own `top_k` (OpenAI refuses it).
fn chat_for_openai(mut hub: Value, model: &str, lenience: &mut Lenience) -> Value {
    if let Some(map) = hub.as_object_mut() {
        map.insert("model".into(), Value::from(model));
        if map.remove("top_k").is_some() {
            lenience.drop_field("top_k");
        }
    }
    hub
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_modern_anthropic_client_reaches_every_provider() {
        let req = json!({"model": "x", "max_tokens": 32000, "stream": true, "top_k": 5,
            "thinking": {"type": "enabled", "budget_tokens": 10000}, "output_config": {"effort": "high"},
            "metadata": {"user_id": "u1"},
            "system": [{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "system", "content": "Extra rule."}, {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
            "tools": [{"name": "bash", "input_schema": {"type": "object"}}, {"type": "web_search_20250305", "name": "web_search"}]});
        let mut l = Lenience::default();
        let openai = Translation::MESSAGES_TO_OPENAI.request(&req, "gpt-5", &mut l).unwrap();
        assert_eq!((openai["model"].as_str(), openai["reasoning_effort"].as_str(), openai["user"].as_str()), (Some("gpt-5"), Some("high"), Some("u1")));
        assert_eq!(openai["messages"][1], json!({"role": "system", "content": "Extra rule."}));
        assert!(openai.get("top_k").is_none());
        assert_eq!(openai["tools"].as_array().map(Vec::len), Some(1));
        assert_eq!(l.header().as_deref(), Some("tools,top_k"));
        let mut l = Lenience::default();
        let gemini = Translation::MESSAGES_TO_GEMINI.request(&req, "gemini", &mut l).unwrap();
        assert_eq!(gemini["generationConfig"]["topK"], 5);
        assert_eq!(gemini["generationConfig"]["thinkingConfig"]["thinkingBudget"], 24576);
        assert!(Translation::MESSAGES_TO_OPENAI.request(&req, "gpt-5", &mut Lenience::new(true)).is_err());
    }

    #[test]
    fn reasoning_and_schemas_reach_anthropic() {
        let req = json!({"model": "x", "input": "hi", "max_output_tokens": 8000, "reasoning": {"effort": "medium"}, "temperature": 0.5,
            "text": {"format": {"type": "json_schema", "name": "p", "schema": {"type": "object"}}}});
        let mut l = Lenience::default();
        let t = Translation { client: Dialect::OpenAiResponses, provider: Wire::Messages };
        let out = t.request(&req, "claude", &mut l).unwrap();
        assert_eq!(out["thinking"], json!({"type": "enabled", "budget_tokens": 2048}));
        assert_eq!(out["output_config"], json!({"format": {"type": "json_schema", "schema": {"type": "object"}}}));
        assert!(out.get("temperature").is_none());
        assert_eq!(l.dropped, vec!["temperature"]);
    }
}
