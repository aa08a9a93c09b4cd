//! What a response body is, by its `content-type`: a Server-Sent Events stream, JSON, or
//! something else. Every reader of an answer (the meter, the translator, the cache, the restore,
//! the provider-fault check) decides the same way, without copying the header to lowercase it.

/// A body's media type, as the gateway reads answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `text/event-stream`.
    Sse,
    /// `application/json`.
    Json,
    Other,
}

/// The media type of `content_type` (leading whitespace skipped, case ignored, parameters such
/// as `; charset=utf-8` allowed).
pub fn of(content_type: &str) -> Media {
    if starts_with(content_type, "text/event-stream") {
        Media::Sse
    } else if starts_with(content_type, "application/json") {
        Media::Json
    } else {
        Media::Other
    }
}

/// Whether `content_type`, leading whitespace skipped, starts with `prefix` in any case.
pub fn starts_with(content_type: &str, prefix: &str) -> bool {
    let ct = content_type.trim_start().as_bytes();
    ct.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn case_whitespace_and_parameters() {
        assert_eq!(of("text/event-stream"), Media::Sse);
        assert_eq!(of(" Text/Event-Stream; charset=utf-8"), Media::Sse);
        assert_eq!(of("application/json"), Media::Json);
        assert_eq!(of("\tAPPLICATION/JSON;charset=UTF-8"), Media::Json);
        assert_eq!(of("application/problem+json"), Media::Other);
        assert_eq!(of("text/html"), Media::Other);
        assert_eq!(of(""), Media::Other);
        assert_eq!(of("application/js"), Media::Other);
        assert!(starts_with(" Application/vnd.x+json", "application/"));
    }
}
