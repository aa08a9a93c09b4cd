//! Front-door detection: the request path (and method) pick the dialect the client speaks.

/// The API family a client speaks, which fixes the shape of our error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI chat completions (also the default for errors on unknown paths).
    OpenAiChat,
    /// OpenAI embeddings.
    OpenAiEmbeddings,
    /// Anthropic Messages (and its `count_tokens`).
    Anthropic,
    /// OpenAI Responses (`/v1/responses`): typed SSE events, OpenAI-shaped errors.
    OpenAiResponses,
}

/// An endpoint the gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`
    ChatCompletions,
    /// `POST /v1/embeddings`
    Embeddings,
    /// `POST /v1/messages`
    Messages,
    /// `GET /v1/models`, answered by the filter itself.
    Models,
    /// `POST /v1/responses`
    Responses,
    /// `POST /v1/messages/count_tokens`
    CountTokens,
    /// `POST /v1/completions` (legacy text completions; OpenAI-kind providers only).
    Completions,
}

impl Endpoint {
    /// Classifies a request path, ignoring the query string and one trailing slash.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        let path = bare(path);
        match path {
            "/v1/chat/completions" | "/chat/completions" => Some(Endpoint::ChatCompletions),
            "/v1/embeddings" | "/embeddings" => Some(Endpoint::Embeddings),
            "/v1/messages" => Some(Endpoint::Messages),
            "/v1/models" | "/models" => Some(Endpoint::Models),
            "/v1/responses" | "/responses" => Some(Endpoint::Responses),
            "/v1/messages/count_tokens" => Some(Endpoint::CountTokens),
            "/v1/completions" | "/completions" => Some(Endpoint::Completions),
            _ => None,
        }
    }

    /// The endpoint a request on a guarded route goes to, by the end of its path: the guard
    /// sits in front of a provider's own paths (`/v1/chat/completions`, Azure's
    /// `/openai/deployments/{d}/chat/completions`, `/v1/messages`, `/v1/responses`, …).
    /// `/models` is not inspected (there is no prompt in it).
    pub fn from_guarded_path(path: &str) -> Option<Endpoint> {
        let path = bare(path);
        [Endpoint::ChatCompletions, Endpoint::Embeddings, Endpoint::Messages, Endpoint::Responses].into_iter().find(|e| path.ends_with(e.provider_suffix()))
    }

    /// The dialect a client of this endpoint speaks.
    pub fn dialect(self) -> Dialect {
        match self {
            Endpoint::Messages | Endpoint::CountTokens => Dialect::Anthropic,
            Endpoint::Embeddings => Dialect::OpenAiEmbeddings,
            Endpoint::Responses => Dialect::OpenAiResponses,
            Endpoint::ChatCompletions | Endpoint::Models | Endpoint::Completions => Dialect::OpenAiChat,
        }
    }

    /// The HTTP method this endpoint accepts.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Models => "GET",
            _ => "POST",
        }
    }

    /// The path suffix under a provider's base path (`/v1` + this).
    pub fn provider_suffix(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/chat/completions",
            Endpoint::Embeddings => "/embeddings",
            Endpoint::Messages => "/messages",
            Endpoint::Models => "/models",
            Endpoint::Responses => "/responses",
            Endpoint::CountTokens => "/messages/count_tokens",
            Endpoint::Completions => "/completions",
        }
    }
}

/// The path without its query string or fragment, and without one trailing slash. A byte search:
/// `split` with a set of chars runs a generic matcher over every byte.
fn bare(path: &str) -> &str {
    let end = path.bytes().position(|b| b == b'?' || b == b'#').unwrap_or(path.len());
    let path = path.get(..end).unwrap_or(path);
    path.strip_suffix('/').unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn paths() {
        assert_eq!(Endpoint::from_path("/v1/chat/completions"), Some(Endpoint::ChatCompletions));
        assert_eq!(Endpoint::from_path("/v1/chat/completions?x=1"), Some(Endpoint::ChatCompletions));
        assert_eq!(Endpoint::from_path("/v1/messages/"), Some(Endpoint::Messages));
        assert_eq!(Endpoint::from_path("/v1/models"), Some(Endpoint::Models));
        assert_eq!(Endpoint::from_path("/v1/embeddings"), Some(Endpoint::Embeddings));
        assert_eq!(Endpoint::from_path("/v1/responses"), Some(Endpoint::Responses));
        assert_eq!(Endpoint::from_path("/v1/messages/count_tokens?beta=true"), Some(Endpoint::CountTokens));
        assert_eq!(Endpoint::from_path("/v1/messages?beta=true"), Some(Endpoint::Messages));
        assert_eq!(Endpoint::from_path("/v1/completions"), Some(Endpoint::Completions));
        assert_eq!(Endpoint::from_path("/v2/foo"), None);
        assert_eq!(Endpoint::from_path(""), None);
    }

    #[test]
    fn guarded_paths() {
        for (path, e) in [
            ("/v1/chat/completions", Some(Endpoint::ChatCompletions)),
            ("/openai/deployments/gpt4/chat/completions?api-version=2024-10-21", Some(Endpoint::ChatCompletions)),
            ("/api/v1/embeddings/", Some(Endpoint::Embeddings)),
            ("/v1/messages", Some(Endpoint::Messages)),
            ("/v1/messages/count_tokens", None),
            ("/v1/models", None),
            ("/v1/chat/completionsx", None),
            ("/v1/responses", Some(Endpoint::Responses)),
            ("/openai/responses?api-version=2025-04-01-preview", Some(Endpoint::Responses)),
            ("/v1/responses/resp_1/cancel", None),
            ("", None),
        ] {
            assert_eq!(Endpoint::from_guarded_path(path), e, "{path}");
        }
    }

    #[test]
    fn dialects() {
        assert_eq!(Endpoint::Messages.dialect(), Dialect::Anthropic);
        assert_eq!(Endpoint::ChatCompletions.dialect(), Dialect::OpenAiChat);
    }
}
