//! Compiles the `redaction` section into a [`Redactor`]: names, actions and patterns are checked
//! and regexes built here, once, never per request.

use super::redact_dto::RedactionDto;
use super::ConfigError;
use crate::redact::context;
use crate::redact::custom::{DenyList, Pattern};
use crate::redact::{Action, Builtin, Detector, OnError, Redactor, Rule};

fn action(field: String, s: &str) -> Result<Action, ConfigError> {
    Action::parse(s).ok_or_else(|| ConfigError::new(field, format!("unknown action `{s}` (expected mask, pseudonymize, block or audit)")))
}

/// `None` when redaction is disabled.
pub fn redaction(dto: RedactionDto) -> Result<Option<Redactor>, ConfigError> {
    if !dto.enabled {
        return Ok(None);
    }
    for name in dto.detectors.keys() {
        if Builtin::parse(name).is_none() {
            let known: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
            return Err(ConfigError::new(format!("redaction.detectors.{name}"), format!("unknown detector (expected one of {})", known.join(", "))));
        }
    }
    if let Some(name) = dto.context.keys().find(|n| n.as_str() != Builtin::Phone.name()) {
        return Err(ConfigError::new(format!("redaction.context.{name}"), "only the phone detector takes context words"));
    }
    let mut rules = Vec::new();
    for b in Builtin::ALL {
        let act = match dto.detectors.get(b.name()).map(String::as_str) {
            None => b.default_action(),
            Some("off") => continue,
            Some(s) => action(format!("redaction.detectors.{}", b.name()), s)?,
        };
        let detector = match dto.context.get(b.name()) {
            Some(words) => {
                let context = context::compile(words).map_err(|i| ConfigError::new(format!("redaction.context.{}[{i}]", b.name()), "must not be blank"))?;
                Detector::Phone { context }
            }
            None => Detector::Builtin(b),
        };
        rules.push(Rule { detector, action: act });
    }
    for (i, c) in dto.custom.into_iter().enumerate() {
        let at = |f: &str| format!("redaction.custom[{i}].{f}");
        let valid = !c.name.is_empty() && c.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid || Builtin::parse(&c.name).is_some() || c.name == "deny_list" || rules.iter().any(|r| r.name() == c.name) {
            return Err(ConfigError::new(at("name"), "must be a unique `[a-z0-9_]+` name, not a built-in detector's"));
        }
        let pattern = Pattern::new(&c.pattern).map_err(|e| ConfigError::new(at("pattern"), e))?;
        let act = action(at("action"), &c.action)?;
        rules.push(Rule { detector: Detector::Custom { label: c.name.to_ascii_uppercase(), name: c.name, pattern }, action: act });
    }
    if let Some(d) = dto.deny_list {
        let list = DenyList::new(&d.terms).map_err(|i| ConfigError::new(format!("redaction.deny_list.terms[{i}]"), "must not be blank"))?;
        rules.push(Rule { detector: Detector::DenyList(list), action: action("redaction.deny_list.action".into(), &d.action)? });
    }
    let on_error = match dto.on_error.as_str() {
        "refuse" => OnError::Refuse,
        "forward" => OnError::Forward,
        s => return Err(ConfigError::new("redaction.on_error", format!("unknown value `{s}` (expected refuse or forward)"))),
    };
    if dto.max_bytes == 0 {
        return Err(ConfigError::new("redaction.max_bytes", "must be greater than 0"));
    }
    Ok(Some(Redactor::new(rules, dto.tools, dto.max_bytes, on_error)))
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn err(redaction: &str) -> String {
        parse(format!(r#"{{"redaction": {redaction}}}"#).as_bytes(), &|_| None).unwrap_err().field
    }

    #[test]
    fn compiles_and_names_bad_fields() {
        let c = parse(br#"{"redaction": {"enabled": true, "detectors": {"email": "block", "ipv6": "off"},
                          "custom": [{"name": "employee_id", "pattern": "EMP-\\d{6}", "action": "pseudonymize"}],
                          "deny_list": {"terms": ["Project Falcon"]}}}"#, &|_| None).unwrap();
        let r = c.redaction.unwrap();
        assert!(r.rules.iter().any(|x| x.name() == "email" && x.action == crate::redact::Action::Block));
        assert!(!r.rules.iter().any(|x| x.name() == "ipv6"));
        assert!(r.rules.iter().any(|x| x.name() == "employee_id") && r.rules.iter().any(|x| x.name() == "deny_list"));
        assert!(parse(br#"{"redaction": {"detectors": {"bogus": "mask"}}}"#, &|_| None).unwrap().redaction.is_none(), "disabled: not compiled");
        assert_eq!(err(r#"{"enabled": true, "detectors": {"bogus": "mask"}}"#), "redaction.detectors.bogus");
        assert_eq!(err(r#"{"enabled": true, "detectors": {"email": "drop"}}"#), "redaction.detectors.email");
        assert_eq!(err(r#"{"enabled": true, "custom": [{"name": "x", "pattern": "("}]}"#), "redaction.custom[0].pattern");
        assert_eq!(err(r#"{"enabled": true, "custom": [{"name": "email", "pattern": "x"}]}"#), "redaction.custom[0].name");
        assert_eq!(err(r#"{"enabled": true, "deny_list": {"terms": [" "]}}"#), "redaction.deny_list.terms[0]");
        assert_eq!(err(r#"{"enabled": true, "on_error": "ignore"}"#), "redaction.on_error");
        assert_eq!(err(r#"{"enabled": true, "surprise": 1}"#), "redaction.surprise");
    }

    #[test]
    fn phone_context_words() {
        let c = parse(br#"{"redaction": {"enabled": true, "context": {"phone": ["Direct line"]}}}"#, &|_| None).unwrap();
        let r = c.redaction.unwrap();
        assert!(r.rules.iter().any(|x| matches!(&x.detector, crate::redact::Detector::Phone { context } if context.list.len() == 1) && x.action == crate::redact::Action::Pseudonymize));
        assert_eq!(err(r#"{"enabled": true, "context": {"email": ["mail"]}}"#), "redaction.context.email");
        assert_eq!(err(r#"{"enabled": true, "context": {"phone": [" "]}}"#), "redaction.context.phone[0]");
    }
}
