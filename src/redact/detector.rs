//! The built-in detectors by name, and the actions a rule can take on a match.

use super::scan::{Sieve, Span};
use super::{contact, context, financial, network, phone, secrets};

/// A built-in detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Builtin {
    // Secrets first: when matches overlap at the same start, the earlier rule wins.
    PrivateKey,
    Jwt,
    CloudKey,
    LlmKey,
    GithubToken,
    SlackToken,
    Email,
    CreditCard,
    Iban,
    UsSsn,
    Phone,
    Ipv4,
    Ipv6,
}

impl Builtin {
    pub const ALL: [Builtin; 13] = [
        Builtin::PrivateKey,
        Builtin::Jwt,
        Builtin::CloudKey,
        Builtin::LlmKey,
        Builtin::GithubToken,
        Builtin::SlackToken,
        Builtin::Email,
        Builtin::CreditCard,
        Builtin::Iban,
        Builtin::UsSsn,
        Builtin::Phone,
        Builtin::Ipv4,
        Builtin::Ipv6,
    ];

    /// The config and metrics name.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::PrivateKey => "private_key",
            Builtin::Jwt => "jwt",
            Builtin::CloudKey => "cloud_key",
            Builtin::LlmKey => "llm_api_key",
            Builtin::GithubToken => "github_token",
            Builtin::SlackToken => "slack_token",
            Builtin::Email => "email",
            Builtin::CreditCard => "credit_card",
            Builtin::Iban => "iban",
            Builtin::UsSsn => "us_ssn",
            Builtin::Phone => "phone",
            Builtin::Ipv4 => "ipv4",
            Builtin::Ipv6 => "ipv6",
        }
    }

    pub fn parse(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The action when the operator does not name one: secrets are masked, personal data is
    /// pseudonymized so the answer can be made readable again.
    pub fn default_action(self) -> Action {
        match self {
            Builtin::Email | Builtin::Phone | Builtin::Ipv4 | Builtin::Ipv6 => Action::Pseudonymize,
            _ => Action::Mask,
        }
    }

    /// Appends this detector's matches in `text`.
    pub fn scan(self, text: &str, out: &mut Vec<Span>) {
        self.scan_sieved(text, &Sieve::new(text.as_bytes()), out);
    }

    /// [`Builtin::scan`] with the text's [`Sieve`], built once for all the rules.
    pub fn scan_sieved(self, text: &str, sieve: &Sieve, out: &mut Vec<Span>) {
        let t = text.as_bytes();
        match self {
            Builtin::PrivateKey => secrets::private_key(t, sieve, out),
            Builtin::Jwt => secrets::jwt(t, sieve, out),
            Builtin::CloudKey => secrets::cloud_key(t, sieve, out),
            Builtin::LlmKey => secrets::llm_key(t, sieve, out),
            Builtin::GithubToken => secrets::github_token(t, sieve, out),
            Builtin::SlackToken => secrets::slack_token(t, sieve, out),
            // Every match of these has its mark byte.
            Builtin::Email if !sieve.has(b'@') => {}
            Builtin::Ipv6 if !sieve.has(b':') => {}
            Builtin::Email => contact::email(t, out),
            // Every match of these has a digit.
            Builtin::CreditCard | Builtin::Iban | Builtin::UsSsn | Builtin::Phone | Builtin::Ipv4 if !sieve.digits() => {}
            Builtin::CreditCard => financial::credit_card(t, out),
            Builtin::Iban => financial::iban(t, out),
            Builtin::UsSsn => financial::us_ssn(t, out),
            Builtin::Phone => phone::phone(t, context::DEFAULT_WORDS, &context::DEFAULT_BLOOM, out),
            Builtin::Ipv4 => network::ipv4(t, out),
            Builtin::Ipv6 => network::ipv6(t, out),
        }
    }
}

/// What a rule does with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Replace with `[LABEL]`.
    Mask,
    /// Replace with `[LABEL_n]`, stable within the request, restored in the response.
    Pseudonymize,
    /// Refuse the request (400), naming the detector.
    Block,
    /// Count only.
    Audit,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "mask" => Some(Action::Mask),
            "pseudonymize" => Some(Action::Pseudonymize),
            "block" => Some(Action::Block),
            "audit" => Some(Action::Audit),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Mask => "mask",
            Action::Pseudonymize => "pseudonymize",
            Action::Block => "block",
            Action::Audit => "audit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn names_round_trip() {
        for b in Builtin::ALL {
            assert_eq!(Builtin::parse(b.name()), Some(b));
        }
        assert_eq!(Action::parse("pseudonymize").map(Action::as_str), Some("pseudonymize"));
        assert_eq!(Action::parse("drop"), None);
    }
}
