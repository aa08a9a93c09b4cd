//! The view of a JSON document the request walkers need, so one walker serves both the owned
//! `serde_json::Value` (which is rewritten) and the borrowed [`super::doc::Doc`] (which is only read).

use serde_json::Value;

/// The kind of a JSON node, as far as the walkers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Null,
    Str,
    Array,
    Object,
    /// A number or a boolean.
    Scalar,
}

/// A JSON node the walkers can read and whose strings they can replace.
pub trait Node: Sized {
    fn shape(&self) -> Shape;
    fn as_text(&self) -> Option<&str>;
    fn as_bool(&self) -> Option<bool>;
    /// The member `key` of an object (`None` for anything else).
    fn member(&self, key: &str) -> Option<&Self>;
    fn member_mut(&mut self, key: &str) -> Option<&mut Self>;
    /// The elements of an array (empty for anything else).
    fn elements_mut(&mut self) -> &mut [Self];
    /// Calls `f` on each member value of an object.
    fn each_member_mut(&mut self, f: &mut dyn FnMut(&mut Self));
    fn set_text(&mut self, text: String);
}

impl Node for Value {
    fn shape(&self) -> Shape {
        match self {
            Value::Null => Shape::Null,
            Value::String(_) => Shape::Str,
            Value::Array(_) => Shape::Array,
            Value::Object(_) => Shape::Object,
            Value::Bool(_) | Value::Number(_) => Shape::Scalar,
        }
    }

    fn as_text(&self) -> Option<&str> {
        self.as_str()
    }

    fn as_bool(&self) -> Option<bool> {
        Value::as_bool(self)
    }

    fn member(&self, key: &str) -> Option<&Self> {
        self.get(key)
    }

    fn member_mut(&mut self, key: &str) -> Option<&mut Self> {
        self.get_mut(key)
    }

    fn elements_mut(&mut self) -> &mut [Self] {
        match self {
            Value::Array(a) => a,
            _ => &mut [],
        }
    }

    fn each_member_mut(&mut self, f: &mut dyn FnMut(&mut Self)) {
        if let Value::Object(o) = self {
            o.values_mut().for_each(f);
        }
    }

    fn set_text(&mut self, text: String) {
        *self = Value::String(text);
    }
}
