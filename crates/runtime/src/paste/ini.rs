//! An INI reader with the semantics of Python 3's `configparser.ConfigParser`
//! as PasteDeploy configures it: `=`/`:` delimiters, full-line `#`/`;`
//! comments, indented continuation lines (blank lines kept inside values),
//! strict duplicate checks, case-preserving keys, and `%(name)s`
//! interpolation from the section and `[DEFAULT]`.
//!
//! Values are stored raw and interpolated on read, as `ConfigParser.get`
//! does, so an interpolation error surfaces only when that value is used.

use super::{PasteError, py_repr};

/// `configparser.MAX_INTERPOLATION_DEPTH`.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// The name of the defaults section.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// A parsed INI file. Section and option order is the file order.
#[derive(Clone, Debug, Default)]
pub struct IniFile {
    /// Name used in error messages (Python's `fp.name`).
    filename: String,
    defaults: Vec<(String, String)>,
    sections: Vec<(String, Vec<(String, String)>)>,
}

/// Python's `str.isspace` (Rust's `char::is_whitespace` lacks the
/// information separators U+001C..U+001F).
pub(crate) fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Split like a text-mode Python file with universal newlines: `\n`, `\r`
/// and `\r\n` end a line; each yielded line carries a normalised `\n`
/// (except a last unterminated line), because Python's error messages show it.
fn universal_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                cur.push('\n');
                lines.push(std::mem::take(&mut cur));
            }
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                cur.push('\n');
                lines.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// An option while parsing: its name and value lines.
type RawOpt = (String, Vec<String>);

/// Where the parser is currently adding options.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cursor {
    None,
    Defaults,
    Section(usize),
}

impl IniFile {
    /// Parse `text`; `filename` is only used in messages.
    pub fn parse(text: &str, filename: &str) -> Result<IniFile, PasteError> {
        let mut ini = IniFile {
            filename: filename.to_string(),
            ..IniFile::default()
        };
        // Values are collected as lists of lines and joined at the end,
        // which is how ConfigParser keeps blank lines inside values.
        let mut defaults: Vec<(String, Vec<String>)> = Vec::new();
        let mut sections: Vec<(String, Vec<RawOpt>)> = Vec::new();
        let mut seen_sections = std::collections::HashSet::new();
        let mut seen_options = std::collections::HashSet::new();
        let mut cursor = Cursor::None;
        let mut sectname = String::new();
        let mut optname: Option<String> = None;
        let mut indent_level: usize = 0;
        let mut errors: Vec<(usize, String)> = Vec::new();

        for (idx, line) in universal_lines(text).iter().enumerate() {
            let lineno = idx + 1;
            let stripped = py_strip(line);
            let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
            if is_comment || stripped.is_empty() {
                // Blank (not comment) lines become part of a running value.
                if !is_comment && let Some(opt) = optname.as_ref().filter(|o| !o.is_empty()) {
                    let target = match cursor {
                        Cursor::Defaults => defaults.iter_mut().find(|(k, _)| k == opt),
                        Cursor::Section(i) => sections[i].1.iter_mut().find(|(k, _)| k == opt),
                        Cursor::None => None,
                    };
                    if let Some((_, v)) = target {
                        v.push(String::new());
                    }
                }
                continue;
            }
            let cur_indent = line.chars().take_while(|c| py_isspace(*c)).count();
            if cursor != Cursor::None
                && optname.as_deref().is_some_and(|o| !o.is_empty())
                && cur_indent > indent_level
            {
                if let Some(opt) = &optname {
                    let target = match cursor {
                        Cursor::Defaults => defaults.iter_mut().find(|(k, _)| k == opt),
                        Cursor::Section(i) => sections[i].1.iter_mut().find(|(k, _)| k == opt),
                        Cursor::None => None,
                    };
                    if let Some((_, v)) = target {
                        v.push(stripped.to_string());
                    }
                }
                continue;
            }
            indent_level = cur_indent;
            if let Some(header) = section_header(stripped) {
                if let Some(pos) = sections.iter().position(|(n, _)| n == header) {
                    if seen_sections.contains(header) {
                        return Err(PasteError::Config(format!(
                            "While reading from {} [line {:2}]: section {} already exists",
                            py_repr(filename),
                            lineno,
                            py_repr(header)
                        )));
                    }
                    cursor = Cursor::Section(pos);
                } else if header == DEFAULT_SECTION {
                    cursor = Cursor::Defaults;
                } else {
                    sections.push((header.to_string(), Vec::new()));
                    cursor = Cursor::Section(sections.len() - 1);
                }
                seen_sections.insert(header.to_string());
                sectname = header.to_string();
                optname = None;
                continue;
            }
            if cursor == Cursor::None {
                return Err(PasteError::Config(format!(
                    "File contains no section headers.\nfile: {}, line: {}\n{}",
                    py_repr(filename),
                    lineno,
                    py_repr(line)
                )));
            }
            match split_option(stripped) {
                Some((name, value)) => {
                    if name.is_empty() {
                        errors.push((lineno, py_repr(line)));
                    }
                    let key = (sectname.clone(), name.to_string());
                    if seen_options.contains(&key) {
                        return Err(PasteError::Config(format!(
                            "While reading from {} [line {:2}]: option {} in section {} already exists",
                            py_repr(filename),
                            lineno,
                            py_repr(name),
                            py_repr(&sectname)
                        )));
                    }
                    seen_options.insert(key);
                    let value = vec![py_strip(value).to_string()];
                    let opts = match cursor {
                        Cursor::Defaults => &mut defaults,
                        Cursor::Section(i) => &mut sections[i].1,
                        Cursor::None => continue,
                    };
                    match opts.iter_mut().find(|(k, _)| k == name) {
                        Some(slot) => slot.1 = value,
                        None => opts.push((name.to_string(), value)),
                    }
                    optname = Some(name.to_string());
                }
                None => errors.push((lineno, py_repr(line))),
            }
        }

        if !errors.is_empty() {
            let mut msg = format!("Source contains parsing errors: {}", py_repr(filename));
            for (lineno, line) in errors {
                msg.push_str(&format!("\n\t[line {lineno:2}]: {line}"));
            }
            return Err(PasteError::Config(msg));
        }

        let join = |lines: Vec<String>| lines.join("\n").trim_end_matches(py_isspace).to_string();
        ini.defaults = defaults.into_iter().map(|(k, v)| (k, join(v))).collect();
        ini.sections = sections
            .into_iter()
            .map(|(n, opts)| (n, opts.into_iter().map(|(k, v)| (k, join(v))).collect()))
            .collect();
        Ok(ini)
    }

    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// Section names in file order (`[DEFAULT]` excluded).
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|(n, _)| n.as_str())
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.sections.iter().any(|(n, _)| n == name)
    }

    /// Add constructor defaults (`here`, `__file__`). Python sets them
    /// before reading, so a `[DEFAULT]` entry in the file overrides them.
    pub fn prepend_defaults(&mut self, pairs: &[(&str, &str)]) {
        let mut front: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| !self.defaults.iter().any(|(d, _)| d == k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        front.append(&mut self.defaults);
        self.defaults = front;
    }

    /// Append a default unless one exists (paste's
    /// `update_defaults(..., overwrite=False)`).
    pub fn add_default_if_absent(&mut self, key: &str, value: &str) {
        if !self.defaults.iter().any(|(k, _)| k == key) {
            self.defaults.push((key.to_string(), value.to_string()));
        }
    }

    /// Raw `[DEFAULT]` keys.
    pub fn default_keys(&self) -> impl Iterator<Item = &str> {
        self.defaults.iter().map(|(k, _)| k.as_str())
    }

    /// `ConfigParser.options(section)`: the section's keys, then defaults
    /// not overridden by it.
    pub fn options(&self, section: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .section_entries(section)
            .map(|e| e.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        for (k, _) in &self.defaults {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
        out
    }

    fn section_entries(&self, section: &str) -> Option<&Vec<(String, String)>> {
        self.sections
            .iter()
            .find(|(n, _)| n == section)
            .map(|(_, e)| e)
    }

    fn lookup(&self, section: &str, key: &str) -> Option<&str> {
        if section != DEFAULT_SECTION
            && let Some(v) = self
                .section_entries(section)
                .and_then(|e| e.iter().find(|(k, _)| k == key))
        {
            return Some(&v.1);
        }
        self.defaults
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The raw (uninterpolated) value.
    pub fn get_raw(&self, section: &str, option: &str) -> Option<&str> {
        self.lookup(section, option)
    }

    /// `ConfigParser.get(section, option)` with basic interpolation. Errors
    /// carry PasteDeploy's `Error in file <f>: ` prefix.
    pub fn get(&self, section: &str, option: &str) -> Result<Option<String>, PasteError> {
        let Some(raw) = self.lookup(section, option) else {
            return Ok(None);
        };
        let mut out = String::new();
        self.interpolate(section, option, raw, raw, 1, &mut out)
            .map_err(|e| PasteError::Config(format!("Error in file {}: {e}", self.filename)))?;
        Ok(Some(out))
    }

    /// `NicerConfigParser.defaults()`: each default interpolated.
    pub fn interpolated_defaults(&self) -> Result<super::ConfMap, PasteError> {
        let mut out = super::ConfMap::new();
        for (k, raw) in &self.defaults {
            let v = self.get(DEFAULT_SECTION, k)?.unwrap_or_default();
            // `self.get(...) or val`: an empty result falls back to the raw value.
            out.insert(k.clone(), if v.is_empty() { raw.clone() } else { v });
        }
        Ok(out)
    }

    fn interpolate(
        &self,
        section: &str,
        option: &str,
        rawval: &str,
        mut rest: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), String> {
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(format!(
                "Recursion limit exceeded in value substitution: option {} in section {} \
                 contains an interpolation key which cannot be substituted in {} steps. \
                 Raw value: {}",
                py_repr(option),
                py_repr(section),
                MAX_INTERPOLATION_DEPTH,
                py_repr(rawval)
            ));
        }
        while !rest.is_empty() {
            let Some(p) = rest.find('%') else {
                out.push_str(rest);
                return Ok(());
            };
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            let next = rest[1..].chars().next();
            match next {
                Some('%') => {
                    out.push('%');
                    rest = &rest[2..];
                }
                Some('(') => {
                    // `%\(([^)]+)\)s`
                    let close = rest[2..].find(')').map(|i| i + 2);
                    let var = match close {
                        Some(c) if c > 2 && rest[c + 1..].starts_with('s') => &rest[2..c],
                        _ => {
                            return Err(format!(
                                "bad interpolation variable reference {}",
                                py_repr(rest)
                            ));
                        }
                    };
                    let end = 2 + var.len() + 2;
                    rest = &rest[end..];
                    let Some(v) = self.lookup(section, var) else {
                        return Err(format!(
                            "Bad value substitution: option {} in section {} contains an \
                             interpolation key {} which is not a valid option name. Raw value: {}",
                            py_repr(option),
                            py_repr(section),
                            py_repr(var),
                            py_repr(rawval)
                        ));
                    };
                    if v.contains('%') {
                        self.interpolate(section, option, rawval, v, depth + 1, out)?;
                    } else {
                        out.push_str(v);
                    }
                }
                _ => {
                    return Err(format!(
                        "'%' must be followed by '%' or '(', found: {}",
                        py_repr(rest)
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `ConfigParser.SECTCRE` (`\[(?P<header>.+)\]`, greedy): the text between
/// the first `[` and the last `]`, non-empty.
fn section_header(stripped: &str) -> Option<&str> {
    let rest = stripped.strip_prefix('[')?;
    let close = rest.rfind(']')?;
    if close == 0 {
        None
    } else {
        Some(&rest[..close])
    }
}

/// `ConfigParser.OPTCRE`: everything before the first `=` or `:` (trailing
/// whitespace removed) is the key; the rest, the value.
fn split_option(stripped: &str) -> Option<(&str, &str)> {
    let pos = stripped.find(['=', ':'])?;
    let name = stripped[..pos].trim_end_matches(py_isspace);
    Some((name, &stripped[pos + 1..]))
}

/// ConfigParser's `before_set` check, which Python applies to the
/// constructor defaults (`here`, `__file__`): a lone `%` is an error.
pub(crate) fn check_interpolation_syntax(value: &str) -> Result<(), PasteError> {
    let tmp = value.replace("%%", "");
    let mut cleaned = String::new();
    let mut rest = tmp.as_str();
    while let Some(p) = rest.find("%(") {
        cleaned.push_str(&rest[..p]);
        let after = &rest[p + 2..];
        match after.find(')') {
            Some(c) if c > 0 && after[c + 1..].starts_with('s') => rest = &after[c + 2..],
            _ => {
                cleaned.push_str("%(");
                rest = after;
            }
        }
    }
    cleaned.push_str(rest);
    match cleaned.find('%') {
        Some(pos) => Err(PasteError::Config(format!(
            "invalid interpolation syntax in {} at position {}",
            py_repr(value),
            pos
        ))),
        None => Ok(()),
    }
}
