//! The translation policy for request fields a provider has no equivalent for: refuse the
//! request (`strict`), or drop the field and say so (the default). What was dropped goes back
//! to the client as `x-tollgate-dropped`, to a counter, and to a debug log that names fields only.

use super::TranslateError;

/// Collects the fields dropped while translating one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lenience {
    /// Refuse instead of dropping (`translation.strict`).
    pub strict: bool,
    /// The dropped fields, in order, each once.
    pub dropped: Vec<&'static str>,
}

impl Lenience {
    /// A policy that drops (`strict == false`) or refuses.
    pub fn new(strict: bool) -> Lenience {
        Lenience { strict, dropped: Vec::new() }
    }

    /// A field the provider cannot take: the refusal in strict mode, else noted as dropped.
    pub fn refuse(&mut self, e: TranslateError) -> Result<(), TranslateError> {
        if self.strict {
            return Err(e);
        }
        self.drop_field(e.param);
        Ok(())
    }

    /// Notes `param` as dropped (whatever the mode: for hints that never change the answer's
    /// meaning, such as a tool the model is never asked to call).
    pub fn drop_field(&mut self, param: &'static str) {
        if !self.dropped.contains(&param) {
            self.dropped.push(param);
        }
    }

    /// The `x-tollgate-dropped` header value (`thinking,top_k`), when anything was dropped.
    pub fn header(&self) -> Option<String> {
        (!self.dropped.is_empty()).then(|| self.dropped.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn strict_refuses_and_lenient_notes_once() {
        let e = || TranslateError::new("top_k", "no");
        assert_eq!(Lenience::new(true).refuse(e()).unwrap_err().param, "top_k");
        let mut l = Lenience::new(false);
        assert!(l.refuse(e()).is_ok() && l.refuse(e()).is_ok());
        l.drop_field("thinking");
        assert_eq!(l.header().as_deref(), Some("top_k,thinking"));
        assert_eq!(Lenience::default().header(), None);
    }
}
