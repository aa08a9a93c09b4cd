//! `Decision`: what the gateway decided for one request, as the tool and the Envoy test observe it.

use serde_json::Value;

/// The observable outcome of one request at the gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The local reply's status, or 200 when forwarded.
    pub status: u16,
    /// Sent upstream (`true`) or answered by the gateway (`false`).
    pub forwarded: bool,
    /// Local reply: OpenAI `error.code`, else Anthropic `error.type`.
    pub code: Option<String>,
    /// Local reply: `error.message`.
    pub message: Option<String>,
    /// Local reply: `error.param`.
    pub param: Option<String>,
    /// Forwarded: the provider, cluster, upstream model and `:path` chosen.
    pub provider: Option<String>,
    pub cluster: Option<String>,
    pub upstream_model: Option<String>,
    pub path: Option<String>,
    /// Forwarded: the body sent upstream; local reply: the reply body.
    pub body: String,
}

impl Decision {
    /// A local reply, with the error fields read from its OpenAI- or Anthropic-shaped body.
    pub fn reply(status: u16, body: &[u8]) -> Decision {
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        let err = &v["error"];
        let text = |k: &str| err.get(k).and_then(Value::as_str).map(str::to_string);
        Decision {
            status,
            forwarded: false,
            code: text("code").or_else(|| text("type")),
            message: text("message"),
            param: text("param"),
            body: String::from_utf8_lossy(body).into_owned(),
            ..Decision::default()
        }
    }

    /// One line for the report: `forwarded to openai (cluster openai, model gpt-4o-mini)` or
    /// `403 model_not_allowed`.
    pub fn summary(&self) -> String {
        if self.forwarded {
            let d = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
            format!("forwarded to {} (cluster {}, model {}, path {})", d(&self.provider), d(&self.cluster), d(&self.upstream_model), d(&self.path))
        } else {
            match &self.code {
                Some(c) => format!("{} {c}", self.status),
                None => format!("{} answered by the gateway", self.status),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_both_error_shapes() {
        let d = Decision::reply(403, br#"{"error":{"message":"no","type":"permission_error","param":null,"code":"model_not_allowed"}}"#);
        assert_eq!((d.code.as_deref(), d.param.as_deref()), (Some("model_not_allowed"), None));
        let d = Decision::reply(401, br#"{"type":"error","error":{"type":"authentication_error","message":"bad key"}}"#);
        assert_eq!((d.code.as_deref(), d.message.as_deref()), (Some("authentication_error"), Some("bad key")));
        assert_eq!(d.summary(), "401 authentication_error");
    }
}
