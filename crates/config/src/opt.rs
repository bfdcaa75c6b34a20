//! Option schema (`Opt` builder) and oslo's type converters.
//!
//! Conversion is text → `Value` with oslo's exact failure messages; the
//! caller wraps failures with the option name and value location.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::pyfmt::{py_float, py_g, py_int, py_repr, py_strip};
use crate::value::Value;

/// The option's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    Str,
    Int,
    Float,
    Bool,
    Port,
    /// Comma-separated list; items are strings or integers.
    List(ListItem),
    /// `k:v,k2:v2` with string values.
    Dict,
    /// Repeatable string; every occurrence in every file is kept.
    MultiStr,
    HostAddress,
    Hostname,
    IpAddress,
    Uri,
}

/// Item type of a list option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListItem {
    Str,
    Int,
}

/// An alternative (older) name and/or group an option used to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeprecatedName {
    pub group: Option<String>,
    pub name: Option<String>,
}

/// An option definition, built fluently:
/// `Opt::int("workers").min(0).help("...")`.
///
/// Defaults are textual and converted exactly like a value read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Opt {
    pub(crate) name: String,
    pub(crate) kind: OptKind,
    pub(crate) help: Option<String>,
    pub(crate) default: Option<String>,
    pub(crate) sample_default: Option<String>,
    pub(crate) deprecated: Vec<DeprecatedName>,
    pub(crate) deprecated_for_removal: bool,
    pub(crate) deprecated_reason: Option<String>,
    pub(crate) deprecated_since: Option<String>,
    pub(crate) required: bool,
    pub(crate) secret: bool,
    pub(crate) mutable: bool,
    pub(crate) cli: bool,
    pub(crate) short: Option<char>,
    pub(crate) metavar: Option<String>,
    pub(crate) choices: Option<Vec<(String, Option<String>)>>,
    pub(crate) regex: Option<String>,
    pub(crate) ignore_case: bool,
    pub(crate) max_length: Option<usize>,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) bounds: bool,
    pub(crate) ip_version: Option<u8>,
    pub(crate) schemes: Vec<String>,
}

macro_rules! ctor {
    ($($(#[$m:meta])* $f:ident => $k:expr;)*) => {
        $( $(#[$m])* pub fn $f(name: &str) -> Opt { Opt::new(name, $k) } )*
    };
}

impl Opt {
    /// An option of any kind; see the typed shortcuts below.
    pub fn new(name: &str, kind: OptKind) -> Opt {
        let (min, max) = if kind == OptKind::Port {
            (Some(0.0), Some(65535.0))
        } else {
            (None, None)
        };
        Opt {
            name: name.to_string(),
            kind,
            help: None,
            default: None,
            sample_default: None,
            deprecated: Vec::new(),
            deprecated_for_removal: false,
            deprecated_reason: None,
            deprecated_since: None,
            required: false,
            secret: false,
            mutable: false,
            cli: false,
            short: None,
            metavar: None,
            choices: None,
            regex: None,
            ignore_case: false,
            max_length: None,
            min,
            max,
            bounds: false,
            ip_version: None,
            schemes: Vec::new(),
        }
    }

    ctor! {
        /// String option.
        str => OptKind::Str;
        /// Integer option.
        int => OptKind::Int;
        /// Floating-point option.
        float => OptKind::Float;
        /// Boolean option (on the command line: `--name` / `--noname`).
        bool => OptKind::Bool;
        /// TCP/UDP port (0..=65535).
        port => OptKind::Port;
        /// List of strings.
        list => OptKind::List(ListItem::Str);
        /// List of integers.
        int_list => OptKind::List(ListItem::Int);
        /// Dict of strings.
        dict => OptKind::Dict;
        /// Multi-valued string.
        multi_str => OptKind::MultiStr;
        /// IP address or host name.
        host_address => OptKind::HostAddress;
        /// Host name.
        hostname => OptKind::Hostname;
        /// IP address (v4 or v6; see [`Opt::ip_version`]).
        ip => OptKind::IpAddress;
        /// Absolute URI with scheme and host.
        uri => OptKind::Uri;
    }

    pub fn help(mut self, text: &str) -> Self {
        self.help = Some(text.to_string());
        self
    }
    /// Textual default, converted (and `$var`-substituted) like a file value.
    pub fn default(mut self, text: &str) -> Self {
        self.default = Some(text.to_string());
        self
    }
    /// Default shown in [`crate::ConfigOpts::sample`] instead of the real one.
    pub fn sample_default(mut self, text: &str) -> Self {
        self.sample_default = Some(text.to_string());
        self
    }
    /// Adds an old group and/or name still honoured in files and on the CLI.
    pub fn deprecated(mut self, group: Option<&str>, name: Option<&str>) -> Self {
        let group = group.map(str::to_string);
        if let Some(n) = name.filter(|n| n.contains('-')) {
            // oslo also accepts the underscore spelling of dashed old names.
            self.deprecated.push(DeprecatedName {
                group: group.clone(),
                name: Some(n.to_string()),
            });
            self.deprecated.push(DeprecatedName {
                group,
                name: Some(n.replace('-', "_")),
            });
        } else {
            self.deprecated.push(DeprecatedName {
                group,
                name: name.map(str::to_string),
            });
        }
        self
    }
    pub fn deprecated_for_removal(mut self, reason: &str) -> Self {
        self.deprecated_for_removal = true;
        self.deprecated_reason = (!reason.is_empty()).then(|| reason.to_string());
        self
    }
    pub fn deprecated_since(mut self, release: &str) -> Self {
        self.deprecated_since = Some(release.to_string());
        self
    }
    /// A value must come from somewhere other than the opt default.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    pub fn mutable(mut self) -> Self {
        self.mutable = true;
        self
    }
    /// Also settable on the command line (`--name`).
    pub fn cli(mut self) -> Self {
        self.cli = true;
        self
    }
    /// Short command-line alias (`-d`); implies [`Opt::cli`].
    pub fn short(mut self, c: char) -> Self {
        self.short = Some(c);
        self.cli = true;
        self
    }
    pub fn metavar(mut self, m: &str) -> Self {
        self.metavar = Some(m.to_string());
        self
    }
    pub fn choices<I, S>(mut self, choices: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.choices = Some(
            choices
                .into_iter()
                .map(|c| (c.as_ref().to_string(), None))
                .collect(),
        );
        self
    }
    /// Choices with descriptions (shown in the sample file).
    pub fn choices_described(mut self, choices: &[(&str, &str)]) -> Self {
        self.choices = Some(
            choices
                .iter()
                .map(|(c, d)| (c.to_string(), Some(d.to_string())))
                .collect(),
        );
        self
    }
    /// Unanchored regular expression string values must match.
    pub fn regex(mut self, re: &str) -> Self {
        self.regex = Some(re.to_string());
        self
    }
    pub fn ignore_case(mut self) -> Self {
        self.ignore_case = true;
        self
    }
    pub fn max_length(mut self, n: usize) -> Self {
        self.max_length = Some(n);
        self
    }
    pub fn min(mut self, n: i64) -> Self {
        self.min = Some(n as f64);
        self
    }
    pub fn max(mut self, n: i64) -> Self {
        self.max = Some(n as f64);
        self
    }
    pub fn min_f(mut self, n: f64) -> Self {
        self.min = Some(n);
        self
    }
    pub fn max_f(mut self, n: f64) -> Self {
        self.max = Some(n);
        self
    }
    /// Lists/dicts must be wrapped in `[...]` / `{...}` (oslo `bounds=True`).
    pub fn bounds(mut self) -> Self {
        self.bounds = true;
        self
    }
    /// Restrict IP/host-address options to version 4 or 6.
    pub fn ip_version(mut self, v: u8) -> Self {
        self.ip_version = Some(v);
        self
    }
    /// Allowed URI schemes.
    pub fn schemes(mut self, schemes: &[&str]) -> Self {
        self.schemes = schemes.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Name as registered (may contain dashes, e.g. `log-file`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Attribute / file-key name: the name with dashes turned into underscores.
    pub fn dest(&self) -> String {
        self.name.replace('-', "_")
    }
    pub fn kind(&self) -> OptKind {
        self.kind
    }
    pub fn is_cli(&self) -> bool {
        self.cli
    }
    pub fn is_mutable(&self) -> bool {
        self.mutable
    }
    pub fn is_secret(&self) -> bool {
        self.secret
    }
    pub fn is_multi(&self) -> bool {
        self.kind == OptKind::MultiStr
    }

    /// Schema-level sanity checks done at registration time.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("option name must not be empty".into());
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && max < min
        {
            return Err("Max value is less than min value".into());
        }
        if self.kind == OptKind::Port {
            if self.min.is_some_and(|m| m < 0.0) {
                return Err("Min value cannot be less than 0".into());
            }
            if self.max.is_some_and(|m| m > 65535.0) {
                return Err("Max value cannot be more than 65535".into());
            }
        }
        if self.choices.is_some() && self.regex.is_some() {
            return Err("'choices' and 'regex' cannot both be specified".into());
        }
        if let Some(re) = &self.regex {
            compile_regex(re, self.ignore_case)?;
        }
        if let Some(choices) = &self.choices
            && matches!(self.kind, OptKind::Int | OptKind::Port)
        {
            for (c, _) in choices {
                py_int(c)?;
            }
        }
        if let Some(d) = &self.default
            && !default_is_ref(d)
        {
            self.convert(d).map_err(|_| {
                format!(
                    "Error processing default value {d} for Opt type of {}.",
                    self.type_repr()
                )
            })?;
        }
        Ok(())
    }

    /// oslo's `repr()` of the type, used in `argument --x: Invalid <repr> value`.
    pub fn type_repr(&self) -> String {
        let num_props = |this: &Opt| {
            let mut props = Vec::new();
            if let Some(choices) = &this.choices {
                let cs: Vec<&str> = choices.iter().map(|(c, _)| c.as_str()).collect();
                props.push(format!("choices=[{}]", cs.join(", ")));
            } else {
                if let Some(m) = this.min {
                    props.push(format!("min={}", py_g(m)));
                }
                if let Some(m) = this.max {
                    props.push(format!("max={}", py_g(m)));
                }
            }
            props
        };
        let with_props = |name: &str, props: Vec<String>| {
            if props.is_empty() {
                name.to_string()
            } else {
                format!("{name}({})", props.join(", "))
            }
        };
        match self.kind {
            OptKind::Str | OptKind::MultiStr => {
                let mut details = Vec::new();
                if let Some(choices) = &self.choices {
                    let cs: Vec<String> = choices.iter().map(|(c, _)| py_repr(c)).collect();
                    details.push(format!("choices=[{}]", cs.join(", ")));
                }
                if let Some(re) = &self.regex {
                    details.push(format!("regex={}", py_repr(re)));
                }
                if details.is_empty() {
                    "String".into()
                } else {
                    format!("String({})", details.join(","))
                }
            }
            OptKind::Int => with_props("Integer", num_props(self)),
            OptKind::Port => with_props("Port", num_props(self)),
            OptKind::Float => with_props("Float", num_props(self)),
            OptKind::Bool => "Boolean".into(),
            OptKind::List(ListItem::Str) => "List of String".into(),
            OptKind::List(ListItem::Int) => "List of Integer".into(),
            OptKind::Dict => "Dict of String".into(),
            OptKind::HostAddress => "HostAddress".into(),
            OptKind::Hostname => "Hostname".into(),
            OptKind::IpAddress => "IPAddress".into(),
            OptKind::Uri => "URI".into(),
        }
    }

    /// Type name used in sample files, e.g. `integer value`.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            OptKind::Str => "string value",
            OptKind::MultiStr => "multi valued",
            OptKind::Int => "integer value",
            OptKind::Float => "floating point value",
            OptKind::Bool => "boolean value",
            OptKind::Port => "port value",
            OptKind::List(_) => "list value",
            OptKind::Dict => "dict value",
            OptKind::HostAddress => "host address value",
            OptKind::Hostname => "hostname value",
            OptKind::IpAddress => "IP address value",
            OptKind::Uri => "uri value",
        }
    }

    /// Converts one textual value (already `$var`-substituted).
    /// For multi options this converts a single occurrence.
    pub fn convert(&self, s: &str) -> Result<Value, String> {
        match self.kind {
            OptKind::Str | OptKind::MultiStr => self.convert_str(s).map(Value::Str),
            OptKind::Int | OptKind::Port => self.convert_int(s),
            OptKind::Float => self.convert_float(s),
            OptKind::Bool => convert_bool(s).map(Value::Bool),
            OptKind::List(item) => self.convert_list(s, item),
            OptKind::Dict => self.convert_dict(s),
            OptKind::HostAddress => convert_host_address(s, self.ip_version).map(Value::Str),
            OptKind::Hostname => convert_hostname(s).map(Value::Str),
            OptKind::IpAddress => convert_ip(s, self.ip_version).map(Value::Str),
            OptKind::Uri => self.convert_uri(s).map(Value::Str),
        }
    }

    fn convert_str(&self, s: &str) -> Result<String, String> {
        if let Some(max) = self.max_length
            && max > 0
            && s.chars().count() > max
        {
            return Err(format!("Value {} exceeds maximum length {max}", py_repr(s)));
        }
        if let Some(re) = &self.regex {
            let compiled = compile_regex(re, self.ignore_case)?;
            if !compiled.is_match(s) {
                return Err(format!(
                    "Value {} doesn't match regex {}",
                    py_repr(s),
                    py_repr(re)
                ));
            }
        }
        if let Some(choices) = &self.choices {
            let found = if self.ignore_case {
                choices
                    .iter()
                    .any(|(c, _)| c.to_lowercase() == s.to_lowercase())
            } else {
                choices.iter().any(|(c, _)| c == s)
            };
            if !found {
                let cs: Vec<&str> = choices.iter().map(|(c, _)| c.as_str()).collect();
                return Err(format!(
                    "Valid values are [{}], but found {}",
                    cs.join(", "),
                    py_repr(s)
                ));
            }
        }
        Ok(s.to_string())
    }

    fn check_range(&self, v: f64) -> Result<(), String> {
        if let Some(min) = self.min
            && v < min
        {
            return Err(format!("Should be greater than or equal to {}", py_g(min)));
        }
        if let Some(max) = self.max
            && v > max
        {
            return Err(format!("Should be less than or equal to {}", py_g(max)));
        }
        Ok(())
    }

    fn convert_int(&self, s: &str) -> Result<Value, String> {
        if py_strip(s).is_empty() {
            return Ok(Value::None);
        }
        let v = py_int(s)?;
        match &self.choices {
            None => self.check_range(v as f64)?,
            Some(choices) => {
                let allowed: Vec<i64> =
                    choices.iter().filter_map(|(c, _)| py_int(c).ok()).collect();
                if !allowed.contains(&v) {
                    let shown: Vec<String> = choices
                        .iter()
                        .map(|(c, d)| {
                            format!(
                                "{}: {}",
                                py_int(c).unwrap_or_default(),
                                d.as_deref().map(py_repr).unwrap_or_else(|| "None".into())
                            )
                        })
                        .collect();
                    return Err(format!(
                        "Valid values are OrderedDict({{{}}}), but found {}",
                        shown.join(", "),
                        py_g(v as f64)
                    ));
                }
            }
        }
        Ok(Value::Int(v))
    }

    fn convert_float(&self, s: &str) -> Result<Value, String> {
        if py_strip(s).is_empty() {
            return Ok(Value::None);
        }
        let v = py_float(s)?;
        self.check_range(v)?;
        Ok(Value::Float(v))
    }

    fn convert_list(&self, s: &str, item: ListItem) -> Result<Value, String> {
        let mut t = py_strip(s).trim_end_matches(',');
        if self.bounds {
            if !t.starts_with('[') {
                return Err("Value should start with \"[\"".into());
            }
            if !t.ends_with(']') {
                return Err("Value should end with \"]\"".into());
            }
            t = if t.len() >= 2 { &t[1..t.len() - 1] } else { "" };
        }
        if t.is_empty() {
            return Ok(Value::List(Vec::new()));
        }
        let convert_item = |v: &str| -> Result<Value, String> {
            let v = py_strip(v);
            match item {
                ListItem::Str => Ok(Value::Str(v.to_string())),
                ListItem::Int => Ok(Value::Int(py_int(v)?)),
            }
        };
        // oslo re-joins a failing item with the next one before giving up,
        // so item types that contain commas still parse.
        let mut parts: std::collections::VecDeque<&str> = t.split(',').collect();
        let mut out = Vec::new();
        while let Some(first) = parts.pop_front() {
            let mut cur = first.to_string();
            loop {
                match convert_item(&cur) {
                    Ok(v) => {
                        out.push(v);
                        break;
                    }
                    Err(e) => match parts.pop_front() {
                        Some(next) => {
                            cur.push(',');
                            cur.push_str(next);
                        }
                        None => return Err(e),
                    },
                }
            }
        }
        Ok(Value::List(out))
    }

    fn convert_dict(&self, s: &str) -> Result<Value, String> {
        let mut t = py_strip(s);
        if self.bounds {
            if !t.starts_with('{') {
                return Err("Value should start with \"{\"".into());
            }
            if !t.ends_with('}') {
                return Err("Value should end with \"}\"".into());
            }
            t = if t.len() >= 2 { &t[1..t.len() - 1] } else { "" };
        }
        let mut out = crate::value::Dict::new();
        if t.is_empty() {
            return Ok(Value::Dict(out));
        }
        let mut parts: std::collections::VecDeque<&str> = t.split(',').collect();
        while let Some(first) = parts.pop_front() {
            let mut pair = first.to_string();
            let (key, value) = loop {
                match pair.split_once(':') {
                    Some((k, v)) => break (py_strip(k).to_string(), py_strip(v).to_string()),
                    None => match parts.pop_front() {
                        Some(next) => {
                            pair.push(',');
                            pair.push_str(next);
                        }
                        None => {
                            return Err(
                                "Value should be NAME:VALUE pairs separated by \",\"".into()
                            );
                        }
                    },
                }
            };
            if key.is_empty() {
                return Err("Key name should not be empty".into());
            }
            if out.contains_key(&key) {
                return Err(format!("Duplicate key {key}"));
            }
            out.insert(key, value);
        }
        Ok(Value::Dict(out))
    }

    fn convert_uri(&self, s: &str) -> Result<String, String> {
        check_uri(s, &self.schemes)?;
        if let Some(max) = self.max_length
            && s.chars().count() > max
        {
            return Err(format!("Value {} exceeds maximum length {max}", py_repr(s)));
        }
        Ok(s.to_string())
    }
}

/// oslo skips default validation when the default references `$other`.
fn default_is_ref(d: &str) -> bool {
    d.replace("\\$", "").replace("$$", "").contains('$')
}

fn compile_regex(re: &str, ignore_case: bool) -> Result<regex_lite::Regex, String> {
    let pattern = if ignore_case {
        format!("(?i){re}")
    } else {
        re.to_string()
    };
    regex_lite::Regex::new(&pattern).map_err(|e| format!("invalid regex {}: {e}", py_repr(re)))
}

/// oslo's Boolean type.
pub fn convert_bool(s: &str) -> Result<bool, String> {
    match s.to_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" => Ok(false),
        _ => Err(format!("Unexpected boolean value {}", py_repr(s))),
    }
}

fn convert_ip(s: &str, version: Option<u8>) -> Result<String, String> {
    if s.is_empty() {
        return Err("IP address cannot be an empty string".into());
    }
    let v4 = s.parse::<Ipv4Addr>().is_ok();
    let v6 = s.parse::<Ipv6Addr>().is_ok();
    match version {
        Some(4) if !v4 => Err(format!("{s} is not an IPv4 address")),
        Some(6) if !v6 => Err(format!("{s} is not an IPv6 address")),
        None if !(v4 || v6) => Err(format!("{s} is not IPv4 or IPv6 address")),
        _ => Ok(s.to_string()),
    }
}

fn label_ok(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// oslo's Hostname type (RFC 1123 labels; non-numeric TLD).
pub fn convert_hostname(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("Cannot have an empty hostname".into());
    }
    if s.chars().count() > 253 {
        return Err(format!("hostname is greater than 253 characters: {s}"));
    }
    let v = s.strip_suffix('.').unwrap_or(s);
    let tld = v.rsplit('.').next().unwrap_or("");
    if !tld.chars().any(|c| c.is_ascii_alphabetic() || c == '-') {
        return Err(format!(
            "{v} contains no non-numeric characters in the top-level domain part of the host name and is invalid"
        ));
    }
    if !v.split('.').all(label_ok) {
        return Err(format!("{v} is an invalid hostname"));
    }
    Ok(v.to_string())
}

/// oslo's HostAddress type: an IP address, else a valid host name.
pub fn convert_host_address(s: &str, version: Option<u8>) -> Result<String, String> {
    convert_ip(s, version)
        .or_else(|_| convert_hostname(s))
        .map_err(|_| format!("{s} is not a valid host address"))
}

/// A pragmatic RFC 3986 check: scheme and host are required and valid.
fn check_uri(s: &str, schemes: &[String]) -> Result<(), String> {
    let scheme = s.split_once(':').map(|(sc, _)| sc).filter(|sc| {
        sc.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && sc
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let host = scheme
        .and_then(|sc| s[sc.len() + 1..].strip_prefix("//"))
        .map(|rest| {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let hostport = authority
                .rsplit_once('@')
                .map(|(_, h)| h)
                .unwrap_or(authority);
            if hostport.starts_with('[') {
                hostport.split_once(']').map(|(h, _)| &h[1..]).unwrap_or("")
            } else {
                hostport.split(':').next().unwrap_or("")
            }
        });
    let mut missing = Vec::new();
    if host.is_none_or(str::is_empty) {
        missing.push("host");
    }
    if scheme.is_none() {
        missing.push("scheme");
    }
    if !missing.is_empty() {
        let verb = if missing.len() == 1 { "was" } else { "were" };
        return Err(format!(
            "{} {verb} required but missing",
            missing.join(", ")
        ));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{} is not a valid URI", py_repr(s)));
    }
    if let Some(sc) = scheme
        && !schemes.is_empty()
        && !schemes.iter().any(|a| a.eq_ignore_ascii_case(sc))
    {
        return Err(format!(
            "scheme was required to be one of {schemes:?} but was {}",
            py_repr(sc)
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(o: &Opt, s: &str) -> String {
        o.convert(s).unwrap_err()
    }

    #[test]
    fn int_messages() {
        let o = Opt::int("workers").min(0);
        assert_eq!(err(&o, "-1"), "Should be greater than or equal to 0");
        assert_eq!(
            err(&o, "abc"),
            "invalid literal for int() with base 10: 'abc'"
        );
        assert_eq!(o.convert(" 7 ").unwrap(), Value::Int(7));
        assert_eq!(o.convert("").unwrap(), Value::None);
        let o = Opt::int("x").max(10);
        assert_eq!(err(&o, "11"), "Should be less than or equal to 10");
        assert_eq!(o.type_repr(), "Integer(max=10)");
    }

    #[test]
    fn port_and_float() {
        let p = Opt::port("bind_port");
        assert_eq!(err(&p, "70000"), "Should be less than or equal to 65535");
        assert_eq!(err(&p, "-1"), "Should be greater than or equal to 0");
        assert_eq!(p.type_repr(), "Port(min=0, max=65535)");
        let f = Opt::float("f").min_f(1.5);
        assert_eq!(err(&f, "1"), "Should be greater than or equal to 1.5");
        assert_eq!(err(&f, "x"), "could not convert string to float: 'x'");
        assert_eq!(f.convert("2").unwrap(), Value::Float(2.0));
    }

    #[test]
    fn int_choices() {
        let o = Opt::int("c").choices(["1", "2"]);
        assert_eq!(
            err(&o, "3"),
            "Valid values are OrderedDict({1: None, 2: None}), but found 3"
        );
        assert_eq!(o.convert("2").unwrap(), Value::Int(2));
    }

    #[test]
    fn bool_values() {
        for t in ["true", "TRUE", "1", "on", "Yes"] {
            assert_eq!(convert_bool(t), Ok(true));
        }
        for f in ["false", "0", "OFF", "no"] {
            assert_eq!(convert_bool(f), Ok(false));
        }
        assert_eq!(
            convert_bool("N").unwrap_err(),
            "Unexpected boolean value 'N'"
        );
        assert_eq!(
            convert_bool("maybe").unwrap_err(),
            "Unexpected boolean value 'maybe'"
        );
    }

    #[test]
    fn str_constraints() {
        let o = Opt::str("s").choices(["a", "b"]);
        assert_eq!(err(&o, "c"), "Valid values are [a, b], but found 'c'");
        assert_eq!(o.type_repr(), "String(choices=['a', 'b'])");
        let o = Opt::str("s").choices(["a", "b"]).ignore_case();
        assert_eq!(o.convert("A").unwrap(), Value::Str("A".into()));
        let o = Opt::str("s").regex("^a+$");
        assert_eq!(err(&o, "b"), "Value 'b' doesn't match regex '^a+$'");
        assert!(o.convert("aaa").is_ok());
        let o = Opt::str("s").max_length(2);
        assert_eq!(err(&o, "abc"), "Value 'abc' exceeds maximum length 2");
    }

    #[test]
    fn lists() {
        let l = Opt::list("l");
        let s = |v: &[&str]| Value::List(v.iter().map(|x| Value::Str(x.to_string())).collect());
        assert_eq!(l.convert("a, b ,").unwrap(), s(&["a", "b"]));
        assert_eq!(l.convert("").unwrap(), s(&[]));
        assert_eq!(l.convert(" , ").unwrap(), s(&[]));
        let b = Opt::list("l").bounds();
        assert_eq!(b.convert("[a, b]").unwrap(), s(&["a", "b"]));
        assert_eq!(err(&b, "a,b"), "Value should start with \"[\"");
        assert_eq!(err(&b, "[a,b"), "Value should end with \"]\"");
        let i = Opt::int_list("l");
        assert_eq!(
            i.convert("1, 2").unwrap(),
            Value::List(vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(
            err(&i, "1,x"),
            "invalid literal for int() with base 10: 'x'"
        );
        assert_eq!(
            err(&i, "x,1"),
            "invalid literal for int() with base 10: 'x,1'"
        );
    }

    #[test]
    fn dicts() {
        let d = Opt::dict("d");
        let m = |v: &[(&str, &str)]| {
            Value::Dict(
                v.iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            )
        };
        assert_eq!(d.convert("a:1, b:").unwrap(), m(&[("a", "1"), ("b", "")]));
        assert_eq!(
            d.convert("a:b:c, d:e").unwrap(),
            m(&[("a", "b:c"), ("d", "e")])
        );
        assert_eq!(d.convert("").unwrap(), m(&[]));
        assert_eq!(
            d.convert("a:1,,b:2").unwrap(),
            m(&[("a", "1"), (",b", "2")])
        );
        assert_eq!(
            err(&d, "a"),
            "Value should be NAME:VALUE pairs separated by \",\""
        );
        assert_eq!(err(&d, "a:1,a:2"), "Duplicate key a");
        assert_eq!(err(&d, ":x"), "Key name should not be empty");
    }

    #[test]
    fn hosts_and_ips() {
        let h = Opt::host_address("bind_host");
        assert_eq!(
            err(&h, "not_an_ip!"),
            "not_an_ip! is not a valid host address"
        );
        assert_eq!(err(&h, "x!"), "x! is not a valid host address");
        assert_eq!(err(&h, "1.2.3"), "1.2.3 is not a valid host address");
        assert_eq!(err(&h, "-a"), "-a is not a valid host address");
        assert_eq!(h.convert("0.0.0.0").unwrap(), Value::Str("0.0.0.0".into()));
        assert_eq!(h.convert("::1").unwrap(), Value::Str("::1".into()));
        assert_eq!(
            h.convert("localhost.").unwrap(),
            Value::Str("localhost".into())
        );
        assert_eq!(
            h.convert("api.example.com").unwrap(),
            Value::Str("api.example.com".into())
        );
        let n = Opt::hostname("h");
        assert_eq!(err(&n, "a..b"), "a..b is an invalid hostname");
        assert_eq!(
            err(&n, "host.123"),
            "host.123 contains no non-numeric characters in the top-level domain part of the host name and is invalid"
        );
        assert_eq!(err(&n, ""), "Cannot have an empty hostname");
        let ip = Opt::ip("ip");
        assert_eq!(err(&ip, "x"), "x is not IPv4 or IPv6 address");
        assert_eq!(err(&ip, ""), "IP address cannot be an empty string");
        assert_eq!(
            err(&Opt::ip("ip").ip_version(4), "::1"),
            "::1 is not an IPv4 address"
        );
    }

    #[test]
    fn uris() {
        let u = Opt::uri("u");
        assert!(u.convert("http://h/p").is_ok());
        assert_eq!(err(&u, "foo"), "host, scheme were required but missing");
        assert_eq!(err(&u, "http://"), "host was required but missing");
        let u = Opt::uri("u").schemes(&["https"]);
        assert!(u.convert("http://h").is_err());
        assert!(u.convert("https://h").is_ok());
    }

    #[test]
    fn bad_defaults_rejected_at_check() {
        assert_eq!(
            Opt::int("x").default("abc").check().unwrap_err(),
            "Error processing default value abc for Opt type of Integer."
        );
        assert!(Opt::int("x").default("$other").check().is_ok());
        assert!(Opt::int("x").min(5).max(1).check().is_err());
        assert!(Opt::str("x").regex("(").check().is_err());
    }

    proptest! {
        #[test]
        fn converters_never_panic(s in "\\PC{0,40}") {
            let opts = [
                Opt::str("a").choices(["x"]), Opt::str("a").regex("^[a-z]+$").max_length(3),
                Opt::int("a").min(0).max(10), Opt::float("a").min(0).max(1), Opt::bool("a"),
                Opt::port("a"), Opt::list("a"), Opt::list("a").bounds(), Opt::int_list("a"),
                Opt::dict("a"), Opt::dict("a").bounds(), Opt::multi_str("a"), Opt::host_address("a"),
                Opt::hostname("a"), Opt::ip("a"), Opt::uri("a"), Opt::int("a").choices(["1"]),
            ];
            for o in &opts {
                let _ = o.convert(&s);
            }
        }
    }
}
