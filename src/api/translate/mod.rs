//! Dialect translation between OpenAI Chat Completions, OpenAI Responses, Anthropic Messages,
//! Gemini and Bedrock Converse: requests, responses, streams and error bodies, as pure functions and state machines
//! over JSON, all through one hub (the chat shape; see the `hub` module).

mod converse;
mod converse_stream;
mod error;
mod gemini;
mod gemini_stream;
mod guard;
mod hub;
mod lenience;
mod plain_gemini;
mod plain_request;
mod plain_response;
mod request;
mod request_to_chat;
mod response;
mod responses_request;
mod responses_response;
mod responses_stream;
mod session;
mod stream;
mod stream_to_anthropic;
mod text_frame;

pub use converse::{chat_to_converse, converse_to_completion};
pub use converse_stream::ConverseToOpenAiStream;
pub use error::{error_body, incomplete_stream_frame, TranslateError};
pub use gemini::{chat_to_gemini, gemini_to_completion};
pub use gemini_stream::GeminiToOpenAiStream;
pub use guard::StreamGuard;
pub use hub::{Translation, Wire};
pub use lenience::Lenience;
pub use plain_gemini::{plain_chat_to_gemini, plain_gemini_to_completion};
pub use plain_request::plain_chat_to_messages;
pub use plain_response::plain_message_to_completion;
pub use request::chat_to_messages;
pub use request_to_chat::messages_to_chat;
pub use response::{completion_to_message, message_to_completion};
pub use responses_request::responses_to_chat;
pub use responses_response::completion_to_response;
pub use responses_stream::ChatToResponsesStream;
pub use session::ResponseTranslator;
pub use stream::AnthropicToOpenAiStream;
pub use stream_to_anthropic::OpenAiToAnthropicStream;

use serde_json::Value;

/// A JSON object of `pairs`, built out of line: the translators make many small objects, and
/// `json!` builds each one inline at its call site.
#[inline(never)]
fn obj(pairs: &mut [(&str, Value)]) -> Value {
    // By insertion, not `collect`: no vector to sort, and no sort compiled for this iterator.
    let mut map = serde_json::Map::new();
    for (k, v) in pairs.iter_mut() {
        map.insert((*k).to_string(), v.take());
    }
    Value::Object(map)
}
