//! Converted option values.

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
    Dict(Dict),
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
        let mut d = Dict::new();
        d.insert("k".to_string(), "v".to_string());
        assert_eq!(Value::Dict(d).py_str(), "{'k': 'v'}");
        // Configuration order is kept, like a Python dict.
        let d: Dict = [("b", "1"), ("a", "2"), ("b", "3")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(d.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(d.get("b").map(String::as_str), Some("3"));
        assert_eq!(Value::None.py_str(), "None");
    }
}

/// A `DictOpt` value: keys in the order the configuration wrote them, as a
/// Python dict keeps them (Glance lists `enabled_backends` in that order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dict(Vec<(String, String)>);

impl Dict {
    pub fn new() -> Self {
        Dict::default()
    }
    pub fn get(&self, key: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    /// Insert a new key or replace an existing one in place.
    pub fn insert(&mut self, key: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl FromIterator<(String, String)> for Dict {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut d = Dict::new();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

impl<'a> IntoIterator for &'a Dict {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}
