//! Google Cloud access tokens from the GCE/GKE metadata server (GKE Workload Identity
//! included), pure: the request to send, the answer's parsing, the shared-data record all
//! workers read, and when a token must be fetched.
//!
//! The metadata server answers `GET /computeMetadata/v1/instance/service-accounts/default/token`
//! (only with the header `Metadata-Flavor: Google`) with `{"access_token", "expires_in",
//! "token_type": "Bearer"}`. It caches a token until five minutes before it expires, so a token
//! is refreshed ahead of its expiry from [`REFRESH_BEFORE_SECS`] on (while it is still used),
//! and no longer used in its last [`EXPIRY_MARGIN_SECS`] (requests then wait for a new one).

use serde::Deserialize;

/// The metadata server's token path for the instance's default service account.
pub const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
/// The header (and value) the metadata server requires.
pub const FLAVOR_HEADER: (&str, &str) = ("metadata-flavor", "Google");
/// The `:authority` of the metadata server.
pub const AUTHORITY: &str = "metadata.google.internal";
/// A token with less time left than this is refreshed while it is still used.
pub const REFRESH_BEFORE_SECS: u64 = 240;
/// A token with less time left than this is not used at all.
pub const EXPIRY_MARGIN_SECS: u64 = 30;

/// A token and its expiry (Unix seconds). `Debug` never prints the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub access_token: String,
    pub expires_at: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(<redacted>, expires_at {})", self.expires_at)
    }
}

/// What a request does with the shared token at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use {
    /// Send with it.
    Fresh(Token),
    /// Send with it, and fetch the next one meanwhile.
    Refresh(Token),
    /// No usable token: wait for a fetch.
    Fetch,
}

impl Token {
    /// The shared-data record: `<expires_at> <token>`.
    pub fn encode(&self) -> Vec<u8> {
        format!("{} {}", self.expires_at, self.access_token).into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Option<Token> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (at, token) = text.split_once(' ')?;
        Some(Token { access_token: token.to_string(), expires_at: at.parse().ok()? }).filter(|t| !t.access_token.is_empty())
    }

    /// The `authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.access_token)
    }
}

/// How a request uses `shared` (the stored token, if any) at `now`.
pub fn decide(shared: Option<&Token>, now: u64) -> Use {
    match shared {
        Some(t) if t.expires_at > now + REFRESH_BEFORE_SECS => Use::Fresh(t.clone()),
        Some(t) if t.expires_at > now + EXPIRY_MARGIN_SECS => Use::Refresh(t.clone()),
        _ => Use::Fetch,
    }
}

#[derive(Deserialize)]
struct Answer {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    token_type: Option<String>,
}

/// The metadata server's answer (`status` 200) as a token received at `now`; `Err` says why not.
pub fn parse(status: Option<u16>, body: &[u8], now: u64) -> Result<Token, String> {
    match status {
        Some(200) => {}
        Some(s) => return Err(format!("the metadata server answered {s}")),
        None => return Err("the metadata server did not answer in time".into()),
    }
    let a: Answer = serde_json::from_slice(body).map_err(|_| "the metadata server's answer is not a token".to_string())?;
    if a.access_token.is_empty() || a.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
        return Err("the metadata server's answer is not a bearer token".into());
    }
    Ok(Token { access_token: a.access_token, expires_at: now.saturating_add(a.expires_in) })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn tokens_are_used_refreshed_ahead_and_fetched() {
        let t = parse(Some(200), br#"{"access_token":"ya29.a","expires_in":3599,"token_type":"Bearer"}"#, 1000).unwrap();
        assert_eq!(t.expires_at, 4599);
        assert_eq!(Token::decode(&t.encode()), Some(t.clone()));
        assert_eq!(decide(Some(&t), 1000), Use::Fresh(t.clone()));
        assert_eq!(decide(Some(&t), 4599 - 200), Use::Refresh(t.clone()));
        assert_eq!(decide(Some(&t), 4599 - 10), Use::Fetch);
        assert_eq!(decide(None, 0), Use::Fetch);
        assert!(!format!("{t:?}").contains("ya29"));
    }

    #[test]
    fn bad_answers() {
        assert!(parse(None, b"", 0).unwrap_err().contains("in time"));
        assert!(parse(Some(403), b"Missing Metadata-Flavor:Google header.", 0).unwrap_err().contains("403"));
        assert!(parse(Some(200), b"{}", 0).is_err());
        assert!(parse(Some(200), br#"{"access_token":"x","expires_in":5,"token_type":"mac"}"#, 0).is_err());
        assert_eq!(Token::decode(b"12 "), None);
        assert_eq!(Token::decode(b"x tok"), None);
    }
}
