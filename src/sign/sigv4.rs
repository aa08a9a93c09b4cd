//! AWS Signature Version 4 (the `AWS4-HMAC-SHA256` scheme), pure: canonical request, string to
//! sign, signing key and the `Authorization` header, checked against AWS's published SigV4
//! test suite (tests/sigv4.rs) and against botocore's signer (tests/sigv4_botocore.rs).
//!
//! The canonical request follows botocore's `SigV4Auth` for services other than S3: the path is
//! normalised (empty and `.`/`..` segments removed) and every byte but the unreserved ones and
//! `/` is percent-encoded again (so a model id's `%3A` is signed as `%253A`); the query's
//! parameters are decoded, re-encoded and sorted; header names are lower-cased, values trimmed
//! with inner runs of whitespace folded to one space, repeated names joined with `,`.

use crate::crypto::{hex, hmac_sha256, sha256};

/// The credentials a request is signed with.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// Where the signature is valid: region and service (`bedrock` for the Bedrock runtime).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
}

/// The request as it will be sent: `path` with its query (`/model/x%3A0/invoke?a=b`), and every
/// header to sign (the `host` and `x-amz-date` ones included).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// A finished signature's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub canonical_request: String,
    pub string_to_sign: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// Signs `req` at `amz_date` (`YYYYMMDDTHHMMSSZ`), which must also be its `x-amz-date` header.
pub fn sign(keys: &Keys<'_>, scope: Scope<'_>, amz_date: &str, req: &Request<'_>) -> Signature {
    let (canonical_request, signed) = canonical_request(req);
    let day = amz_date.get(..8).unwrap_or(amz_date);
    let credential_scope = format!("{day}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{credential_scope}\n{}", hex(&sha256(canonical_request.as_bytes())));
    let mut key = hmac_sha256(format!("AWS4{}", keys.secret_access_key).as_bytes(), day.as_bytes());
    for part in [scope.region, scope.service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    let authorization = format!("AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed}, Signature={signature}", keys.access_key_id);
    Signature { canonical_request, string_to_sign, authorization }
}

/// The headers to send with a request signed by [`sign_request`]: `x-amz-date`, the session
/// token when there is one, and `authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub amz_date: String,
    pub security_token: Option<String>,
    pub authorization: String,
}

/// Signs a request to `host` at Unix time `now_secs` with the headers SigV4 needs and nothing
/// else the proxy might change: `host`, `x-amz-date` and (temporary credentials)
/// `x-amz-security-token`.
pub fn sign_request(keys: &Keys<'_>, scope: Scope<'_>, now_secs: u64, method: &str, host: &str, path: &str, body: &[u8]) -> SignedHeaders {
    let amz_date = amz_date(now_secs);
    let mut headers = vec![("host", host), ("x-amz-date", amz_date.as_str())];
    if let Some(t) = keys.session_token {
        headers.push(("x-amz-security-token", t));
    }
    let sig = sign(keys, scope, &amz_date, &Request { method, path, headers: &headers, body });
    SignedHeaders { security_token: keys.session_token.map(str::to_string), authorization: sig.authorization, amz_date }
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time.
pub fn amz_date(secs: u64) -> String {
    let (y, m, d) = crate::config::civil_from_days(secs / 86_400);
    let s = secs % 86_400;
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// The canonical request and its signed-headers list.
pub fn canonical_request(req: &Request<'_>) -> (String, String) {
    let (path, query) = req.path.split_once('?').unwrap_or((req.path, ""));
    let mut headers: Vec<(String, String)> = Vec::with_capacity(req.headers.len());
    for (name, value) in req.headers {
        let name = name.to_ascii_lowercase();
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value);
            }
            None => headers.push((name, value)),
        }
    }
    // The names are unique here, so this is by name; `sort` shares canonical_query's sort (docs/size.md).
    headers.sort();
    let signed = headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_path(path));
    out.push('\n');
    out.push_str(&canonical_query(query));
    out.push('\n');
    for (n, v) in &headers {
        out.push_str(n);
        out.push(':');
        out.push_str(v);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed);
    out.push('\n');
    out.push_str(&hex(&sha256(req.body)));
    (out, signed)
}

/// The normalised path, each byte but `/` and the unreserved ones percent-encoded.
fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&segments.iter().map(|s| uri_encode(s.as_bytes())).collect::<Vec<_>>().join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The query's parameters decoded (`+` is a space), re-encoded and sorted by name, then value.
fn canonical_query(query: &str) -> String {
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&decode(k)), uri_encode(&decode(v)))
        })
        .collect();
    params.sort();
    params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// RFC 3986 encoding: everything but `A-Za-z0-9-_.~` as `%XX` (upper-case hex).
pub fn uri_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Percent-decoding of a query component (`+` is a space; a bad escape stays as written).
fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                // Two hex digits: at most 255.
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const KEYS: Keys<'static> = Keys { access_key_id: "AKIDEXAMPLE", secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token: None };
    const SCOPE: Scope<'static> = Scope { region: "us-east-1", service: "service" };

    /// AWS's `get-vanilla` vector (the whole published suite runs in tests/sigv4.rs).
    #[test]
    fn get_vanilla() {
        let headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")];
        let s = sign(&KEYS, SCOPE, "20150830T123600Z", &Request { method: "GET", path: "/", headers: &headers, body: b"" });
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn dates_and_encoded_model_ids() {
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        let (creq, _) = canonical_request(&Request { method: "POST", path: "/model/anthropic.claude-v2%3A1/invoke", headers: &[], body: b"" });
        assert!(creq.starts_with("POST\n/model/anthropic.claude-v2%253A1/invoke\n\n"), "{creq}");
        assert_eq!(decode("%E1%88%B4+x%zz%4"), "ሴ x%zz%4".as_bytes());
    }

    #[test]
    fn the_session_token_is_signed() {
        let keys = Keys { session_token: Some("tok"), ..KEYS };
        let h = sign_request(&keys, SCOPE, 1_440_938_160, "POST", "h", "/", b"{}");
        assert_eq!(h.security_token.as_deref(), Some("tok"));
        assert!(h.authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"), "{}", h.authorization);
        assert_eq!(h.amz_date, "20150830T123600Z");
    }
}
