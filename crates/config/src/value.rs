//! Converted option values.

use std::collections::BTreeMap;
use std::fmt;

use crate::pyfmt::{py_float_repr, py_repr};

/// A converted option value.
///
/// `List` items are `Str` or `Int` (the list's item type); multi-valued
/// string options are a `List` of `Str`. `None` means "no value" (also what
/// oslo yields for an empty integer/float).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Value>),
    Dict(BTreeMap<String, String>),
}

impl Value {
    /// Python `repr()` — used inside list/dict renderings.
    fn py_repr(&self) -> String {
        match self {
            Value::Str(s) => py_repr(s),
            other => other.py_str(),
        }
    }

    /// Python `str()` of the value, as oslo shows it in `$var`
    /// substitution and in `changed from [..] to [..]` log lines.
    pub fn py_str(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => py_float_repr(*f),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::List(items) => {
                let inner: Vec<String> = items.iter().map(Value::py_repr).collect();
                format!("[{}]", inner.join(", "))
            }
            Value::Dict(map) => {
                let inner: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{}: {}", py_repr(k), py_repr(v)))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.py_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_str_rendering() {
        assert_eq!(Value::Bool(true).py_str(), "True");
        assert_eq!(Value::Float(2.0).py_str(), "2.0");
        assert_eq!(
            Value::List(vec![Value::Str("a".into()), Value::Int(1)]).py_str(),
            "['a', 1]"
        );
        let mut d = BTreeMap::new();
        d.insert("k".to_string(), "v".to_string());
        assert_eq!(Value::Dict(d).py_str(), "{'k': 'v'}");
        assert_eq!(Value::None.py_str(), "None");
    }
}
