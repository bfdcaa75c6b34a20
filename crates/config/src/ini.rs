//! oslo.config's ini dialect.
//!
//! This is not a generic ini parser: it reproduces oslo's quirks because
//! real deployments depend on them — no inline comments, `:` or `=`
//! (whichever comes first), indented continuation lines, matching quotes
//! stripped, repeated keys kept as multi-values, and oslo's error texts.

use std::collections::HashMap;
use std::fmt;

use crate::pyfmt::{py_lstrip, py_repr, py_rstrip, py_strip};

/// One `key` in one `[section]` with every value it was given, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    /// Section name exactly as written (not normalised).
    pub section: String,
    pub key: String,
    /// All occurrences in file order; continuation lines are joined with `\n`.
    pub values: Vec<String>,
}

/// A parsed file: entries in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniFile {
    /// Section names in order of first appearance (including empty ones).
    pub sections: Vec<String>,
    pub entries: Vec<IniEntry>,
}

impl IniFile {
    /// Values of `key` in `section` (exact section match).
    pub fn get(&self, section: &str, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|e| e.section == section && e.key == key)
            .map(|e| e.values.as_slice())
    }
}

/// A syntax error, rendered exactly like oslo's `ConfigFileParseError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    pub file: String,
    pub lineno: usize,
    pub msg: String,
    pub line: String,
}

impl IniError {
    /// The part after `Failed to parse <file>: `.
    pub fn detail(&self) -> String {
        format!(
            "at {}:{}, {}: {}",
            self.file,
            self.lineno,
            self.msg,
            py_repr(&self.line)
        )
    }
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failed to parse {}: {}", self.file, self.detail())
    }
}

impl std::error::Error for IniError {}

/// Python's universal-newline line splitting (`\n`, `\r\n`, lone `\r`).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\n', '\r']) {
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

struct Builder<'a> {
    name: &'a str,
    file: IniFile,
    index: HashMap<(String, String), usize>,
    section: Option<String>,
}

impl Builder<'_> {
    fn err(&self, lineno: usize, msg: &str, line: &str) -> IniError {
        IniError {
            file: self.name.to_string(),
            lineno,
            msg: msg.to_string(),
            line: line.to_string(),
        }
    }

    fn assign(&mut self, lineno: usize, key: String, value: &[String]) -> Result<(), IniError> {
        // oslo only notices the missing section when the assignment is
        // flushed, so the reported line is the flush point and text is ''.
        let Some(section) = self.section.clone() else {
            return Err(self.err(lineno, "Section must be started before assignment", ""));
        };
        let joined = value.join("\n");
        let slot = (section.clone(), key.clone());
        match self.index.get(&slot) {
            Some(&i) => self.file.entries[i].values.push(joined),
            None => {
                self.index.insert(slot, self.file.entries.len());
                self.file.entries.push(IniEntry {
                    section,
                    key,
                    values: vec![joined],
                });
            }
        }
        Ok(())
    }
}

fn split_key_value(line: &str) -> Option<(String, String)> {
    let sep = line.find([':', '='])?;
    let key = py_strip(&line[..sep]);
    let mut value = py_strip(&line[sep + 1..]);
    if (value.starts_with('"') && value.ends_with('"'))
        || (value.starts_with('\'') && value.ends_with('\''))
    {
        // A lone quote counts as "matching" in oslo and yields ''.
        value = if value.len() >= 2 {
            &value[1..value.len() - 1]
        } else {
            ""
        };
    }
    Some((key.to_string(), value.to_string()))
}

/// Parses `text` as oslo ini; `name` is used in error messages only.
pub fn parse(name: &str, text: &str) -> Result<IniFile, IniError> {
    let mut b = Builder {
        name,
        file: IniFile::default(),
        index: HashMap::new(),
        section: None,
    };
    let mut pending: Option<(String, Vec<String>)> = None;
    let mut lineno = 0;
    for raw in lines(text) {
        lineno += 1;
        let line = py_rstrip(raw);
        if line.is_empty() {
            if let Some((k, v)) = pending.take() {
                b.assign(lineno, k, &v)?;
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match pending.as_mut() {
                Some((_, v)) => v.push(py_lstrip(line).to_string()),
                None => return Err(b.err(lineno, "Unexpected continuation line", line)),
            }
            continue;
        }
        if let Some((k, v)) = pending.take() {
            b.assign(lineno, k, &v)?;
        }
        if line.starts_with('[') {
            if !line.ends_with(']') {
                return Err(b.err(lineno, "Invalid section (must end with ])", line));
            }
            if line.len() <= 2 {
                return Err(b.err(lineno, "Empty section name", line));
            }
            let section = line[1..line.len() - 1].to_string();
            if !b.file.sections.contains(&section) {
                b.file.sections.push(section.clone());
            }
            b.section = Some(section);
        } else if line.starts_with(['#', ';']) {
            // Comments only count at the very start of a line.
        } else {
            let Some((key, value)) = split_key_value(line) else {
                return Err(b.err(lineno, "No ':' or '=' found in assignment", line));
            };
            if key.is_empty() {
                return Err(b.err(lineno, "Key cannot be empty", line));
            }
            pending = Some((key, vec![value]));
        }
    }
    if let Some((k, v)) = pending.take() {
        b.assign(lineno, k, &v)?;
    }
    Ok(b.file)
}

/// Pure entry point for fuzzing: parse `text` as if it were file `name`.
pub fn parse_ini_str(name: &str, text: &str) -> Result<IniFile, IniError> {
    parse(name, text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vals(f: &IniFile, s: &str, k: &str) -> Vec<String> {
        f.get(s, k).map(|v| v.to_vec()).unwrap_or_default()
    }

    #[test]
    fn basic_assignments_and_separators() {
        let f = parse("t", "[DEFAULT]\na = 1\nb: 2\nc = x:y\nd: x=y\ne=\n").unwrap();
        assert_eq!(vals(&f, "DEFAULT", "a"), ["1"]);
        assert_eq!(vals(&f, "DEFAULT", "b"), ["2"]);
        assert_eq!(vals(&f, "DEFAULT", "c"), ["x:y"]);
        assert_eq!(vals(&f, "DEFAULT", "d"), ["x=y"]);
        assert_eq!(vals(&f, "DEFAULT", "e"), [""]);
    }

    #[test]
    fn comments_only_at_line_start() {
        let f = parse("t", "[DEFAULT]\n# c\n; c\na = 1 # not a comment\n").unwrap();
        assert_eq!(vals(&f, "DEFAULT", "a"), ["1 # not a comment"]);
        assert_eq!(f.entries.len(), 1);
    }

    #[test]
    fn quotes_stripped_only_when_matching() {
        let f = parse(
            "t",
            "[s]\na = \"x y\"\nb = 'z'\nc = \"x'\nd = \"\ne = ' a '\n",
        )
        .unwrap();
        assert_eq!(vals(&f, "s", "a"), ["x y"]);
        assert_eq!(vals(&f, "s", "b"), ["z"]);
        assert_eq!(vals(&f, "s", "c"), ["\"x'"]);
        assert_eq!(vals(&f, "s", "d"), [""]);
        assert_eq!(vals(&f, "s", "e"), [" a "]);
    }

    #[test]
    fn continuation_lines_join_and_blank_ends() {
        let f = parse("t", "[s]\na = 1\n  2\n\t3\n\nb =\n  x\n").unwrap();
        assert_eq!(vals(&f, "s", "a"), ["1\n2\n3"]);
        assert_eq!(vals(&f, "s", "b"), ["\nx"]);
        let e = parse("t", "[s]\na = 1\n\n  2\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Failed to parse t: at t:4, Unexpected continuation line: '  2'"
        );
    }

    #[test]
    fn repeated_keys_are_multi_values() {
        let f = parse("t", "[s]\nm = 1\nx = 0\nm = 2\n[t]\nm = 3\n[s]\nm = 4\n").unwrap();
        assert_eq!(vals(&f, "s", "m"), ["1", "2", "4"]);
        assert_eq!(vals(&f, "t", "m"), ["3"]);
        assert_eq!(f.sections, ["s", "t"]);
    }

    #[test]
    fn crlf_and_cr_newlines() {
        let f = parse("t", "[s]\r\na = 1\r\n  2\rb = 3").unwrap();
        assert_eq!(vals(&f, "s", "a"), ["1\n2"]);
        assert_eq!(vals(&f, "s", "b"), ["3"]);
    }

    #[test]
    fn error_messages_match_oslo() {
        let cases = [
            (
                "[s]\nbogus line\n",
                "at f.conf:2, No ':' or '=' found in assignment: 'bogus line'",
            ),
            (
                "a = 1\n",
                "at f.conf:1, Section must be started before assignment: ''",
            ),
            (
                "a = 1\n\n[s]\n",
                "at f.conf:2, Section must be started before assignment: ''",
            ),
            (
                "[s\n",
                "at f.conf:1, Invalid section (must end with ]): '[s'",
            ),
            ("[]\n", "at f.conf:1, Empty section name: '[]'"),
            ("[s]\n= 1\n", "at f.conf:2, Key cannot be empty: '= 1'"),
            (
                "[s]\n = 1\n",
                "at f.conf:2, Unexpected continuation line: ' = 1'",
            ),
            ("  x\n", "at f.conf:1, Unexpected continuation line: '  x'"),
        ];
        for (text, want) in cases {
            let e = parse("f.conf", text).unwrap_err();
            assert_eq!(e.detail(), want, "for {text:?}");
            assert_eq!(e.to_string(), format!("Failed to parse f.conf: {want}"));
        }
    }

    #[test]
    fn section_names_kept_verbatim() {
        let f = parse("t", "[GRP]\na=1\n[ x ]\nb=2\n").unwrap();
        assert_eq!(vals(&f, "GRP", "a"), ["1"]);
        assert_eq!(vals(&f, " x ", "b"), ["2"]);
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC*") {
            let _ = parse("p", &text);
        }

        #[test]
        fn never_panics_on_ini_like_text(text in "[\\[\\]=:#; \ta-z\n\r\"']{0,200}") {
            let _ = parse("p", &text);
        }

        #[test]
        fn round_trips_generated_assignments(
            pairs in proptest::collection::vec(("[a-z_][a-z0-9_]{0,8}", "[a-zA-Z0-9 ,.:=/_-]{0,20}"), 0..20),
            sep in prop_oneof![Just(" = "), Just("="), Just(": "), Just(":")],
        ) {
            let mut text = String::from("[DEFAULT]\n");
            for (k, v) in &pairs {
                text.push_str(&format!("{k}{sep}{v}\n"));
            }
            let f = parse("p", &text).unwrap();
            let mut expected: Vec<(String, Vec<String>)> = Vec::new();
            for (k, v) in &pairs {
                let v = py_strip(v).to_string();
                match expected.iter_mut().find(|(ek, _)| ek == k) {
                    Some((_, vs)) => vs.push(v),
                    None => expected.push((k.clone(), vec![v])),
                }
            }
            let got: Vec<(String, Vec<String>)> =
                f.entries.iter().map(|e| (e.key.clone(), e.values.clone())).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
