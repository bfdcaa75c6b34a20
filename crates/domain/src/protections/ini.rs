//! The INI dialect of Python's `configparser.ConfigParser()` with its
//! defaults, which is what reads a property protection file: sections in
//! file order, `=` or `:` between key and value, keys lower-cased, values
//! stripped and continued on deeper-indented lines, `#`/`;` comment lines,
//! a `[DEFAULT]` section whose keys every other section inherits, strict
//! duplicate checks, and `%`-interpolation when a value is read.
//!
//! Section names are kept verbatim (they are regular expressions), which is
//! why the oslo.config INI parser (`glimpse-config`) is not reused here.

use std::fmt;

use crate::py;

/// `configparser.DEFAULTSECT`.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// `configparser.MAX_INTERPOLATION_DEPTH`.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// A parsed file: `[DEFAULT]` keys and the other sections, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ini {
    pub defaults: Vec<(String, String)>,
    pub sections: Vec<(String, Vec<(String, String)>)>,
}

/// Why a file does not parse (or a value cannot be interpolated); the
/// texts follow `configparser`'s exceptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IniError {
    MissingSectionHeader {
        line: usize,
        text: String,
    },
    DuplicateSection {
        name: String,
        line: usize,
    },
    DuplicateOption {
        section: String,
        option: String,
        line: usize,
    },
    /// Lines that are neither a header, an option nor a continuation.
    Parsing {
        lines: Vec<(usize, String)>,
    },
    Interpolation {
        section: String,
        option: String,
        reason: String,
    },
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IniError::MissingSectionHeader { line, text } => write!(
                f,
                "line {line}: no section header before {}",
                py::repr_str(text)
            ),
            IniError::DuplicateSection { name, line } => {
                write!(f, "line {line}: section [{name}] already exists")
            }
            IniError::DuplicateOption {
                section,
                option,
                line,
            } => write!(
                f,
                "line {line}: option '{option}' in section [{section}] already exists"
            ),
            IniError::Parsing { lines } => {
                let shown: Vec<String> = lines
                    .iter()
                    .map(|(n, t)| format!("line {n}: {}", py::repr_str(t)))
                    .collect();
                write!(f, "cannot parse {}", shown.join(", "))
            }
            IniError::Interpolation {
                section,
                option,
                reason,
            } => write!(f, "[{section}] {option}: {reason}"),
        }
    }
}

impl std::error::Error for IniError {}

/// Python's text-mode line iteration with universal newlines: `\r\n` and
/// a lone `\r` end a line like `\n` does.
fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&text[start..i]);
                if b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// `SECTCRE.match`: `[`, at least one character, and the *last* `]` of the
/// line (the group is greedy; anything after it is ignored).
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// `OPTCRE.match`: the key up to the first `=` or `:`, the value after it.
fn option_line(line: &str) -> Option<(&str, &str)> {
    let at = line.find(['=', ':'])?;
    Some((&line[..at], &line[at + 1..]))
}

/// Options as read so far: each value as its list of lines.
type DraftOptions = Vec<(String, Vec<String>)>;

/// The file while it is read: `[DEFAULT]` and the sections, in order.
#[derive(Default)]
struct Draft {
    defaults: DraftOptions,
    sections: Vec<(String, DraftOptions)>,
}

/// Which section option lines go to: `None` is `[DEFAULT]`.
type Target = Option<usize>;

impl Draft {
    fn options(&mut self, t: Target) -> Option<&mut DraftOptions> {
        match t {
            None => Some(&mut self.defaults),
            Some(k) => self.sections.get_mut(k).map(|s| &mut s.1),
        }
    }

    fn name(&self, t: Target) -> String {
        match t {
            None => DEFAULT_SECTION.to_string(),
            Some(k) => self
                .sections
                .get(k)
                .map(|s| s.0.clone())
                .unwrap_or_default(),
        }
    }

    /// Another line of the value of option `i` of `t`.
    fn push_line(&mut self, t: Target, i: usize, line: String) {
        if let Some(o) = self.options(t).and_then(|opts| opts.get_mut(i)) {
            o.1.push(line);
        }
    }
}

/// Parse `text` as `ConfigParser().read()` does.
pub fn parse(text: &str) -> Result<Ini, IniError> {
    let mut draft = Draft::default();
    // No section yet: `None`; then the section option lines go to.
    let mut current: Option<Target> = None;
    // The option continuation lines extend (its index in the section).
    let mut option: Option<usize> = None;
    let mut indent_level = 0usize;
    let mut errors: Vec<(usize, String)> = Vec::new();
    for (n, raw) in lines(text).into_iter().enumerate() {
        let lineno = n + 1;
        let stripped = py::strip(raw);
        let comment = stripped.starts_with('#') || stripped.starts_with(';');
        let value = if comment { "" } else { stripped };
        if value.is_empty() {
            // A blank line inside a value is kept (empty_lines_in_values);
            // a comment line is skipped without ending the value.
            if !comment && let (Some(t), Some(i)) = (current, option) {
                draft.push_line(t, i, String::new());
            }
            continue;
        }
        let indent = raw.chars().take_while(|c| py::is_space(*c)).count();
        if let (Some(t), Some(i)) = (current, option)
            && indent > indent_level
        {
            draft.push_line(t, i, value.to_string());
            continue;
        }
        indent_level = indent;
        if let Some(name) = section_header(value) {
            if name == DEFAULT_SECTION {
                current = Some(None);
            } else if draft.sections.iter().any(|(s, _)| s == name) {
                return Err(IniError::DuplicateSection {
                    name: name.to_string(),
                    line: lineno,
                });
            } else {
                draft.sections.push((name.to_string(), Vec::new()));
                current = Some(Some(draft.sections.len() - 1));
            }
            option = None;
            continue;
        }
        let Some(target) = current else {
            return Err(IniError::MissingSectionHeader {
                line: lineno,
                text: raw.to_string(),
            });
        };
        let Some((key, val)) = option_line(value) else {
            // Not fatal at once: configparser reports every bad line at
            // the end (and keeps extending the previous option meanwhile).
            errors.push((lineno, raw.to_string()));
            continue;
        };
        let key = py::strip(key);
        if key.is_empty() {
            errors.push((lineno, raw.to_string()));
        }
        let key = py_lower(key);
        let section = draft.name(target);
        let Some(opts) = draft.options(target) else {
            continue;
        };
        if opts.iter().any(|(k, _)| *k == key) {
            return Err(IniError::DuplicateOption {
                section,
                option: key,
                line: lineno,
            });
        }
        opts.push((key.clone(), vec![py::strip(val).to_string()]));
        // An empty key is an error line, but it still becomes the option
        // (falsy, so it takes no continuation lines).
        option = (!key.is_empty()).then(|| opts.len() - 1);
    }
    if !errors.is_empty() {
        return Err(IniError::Parsing { lines: errors });
    }
    let join = |opts: DraftOptions| -> Vec<(String, String)> {
        opts.into_iter()
            .map(|(k, v)| (k, py_rstrip(&v.join("\n")).to_string()))
            .collect()
    };
    Ok(Ini {
        defaults: join(draft.defaults),
        sections: draft
            .sections
            .into_iter()
            .map(|(s, opts)| (s, join(opts)))
            .collect(),
    })
}

/// `str.lower()` (the default `optionxform`).
fn py_lower(s: &str) -> String {
    s.to_lowercase()
}

/// `str.rstrip()`.
fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(py::is_space)
}

impl Ini {
    /// Section names in order (`sections()`: `[DEFAULT]` is not one).
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|(s, _)| s.as_str())
    }

    /// The raw value of `option` in `section`, falling back to
    /// `[DEFAULT]`; `None` when neither has it (or no such section).
    pub fn raw(&self, section: &str, option: &str) -> Option<&str> {
        let (_, opts) = self.sections.iter().find(|(s, _)| s == section)?;
        let key = py_lower(option);
        opts.iter()
            .chain(self.defaults.iter())
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `get(section, option)`: the value with `BasicInterpolation`
    /// applied (`%%` is `%`, `%(name)s` is another option of the section
    /// or of `[DEFAULT]`); `Ok(None)` when the option is missing.
    pub fn get(&self, section: &str, option: &str) -> Result<Option<String>, IniError> {
        let Some(raw) = self.raw(section, option) else {
            return Ok(None);
        };
        let mut out = String::new();
        self.interpolate(section, option, raw, &mut out, 1)?;
        Ok(Some(out))
    }

    fn interpolate(
        &self,
        section: &str,
        option: &str,
        mut rest: &str,
        out: &mut String,
        depth: usize,
    ) -> Result<(), IniError> {
        let fail = |reason: String| IniError::Interpolation {
            section: section.to_string(),
            option: py_lower(option),
            reason,
        };
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(fail(format!(
                "more than {MAX_INTERPOLATION_DEPTH} levels of %(name)s references"
            )));
        }
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            let after = &rest[1..];
            if let Some(tail) = after.strip_prefix('%') {
                out.push('%');
                rest = tail;
            } else if after.starts_with('(') {
                // `%\(([^)]+)\)s`
                let name_end = after.find(')').filter(|&e| e > 1);
                let Some(e) = name_end.filter(|&e| after[e + 1..].starts_with('s')) else {
                    return Err(fail(format!(
                        "bad interpolation variable reference {}",
                        py::repr_str(rest)
                    )));
                };
                let var = py_lower(&after[1..e]);
                rest = &after[e + 2..];
                let Some(v) = self.raw(section, &var) else {
                    return Err(fail(format!("no option '{var}' to substitute")));
                };
                if v.contains('%') {
                    self.interpolate(section, option, v, out, depth + 1)?;
                } else {
                    out.push_str(v);
                }
            } else {
                return Err(fail(format!(
                    "'%' must be followed by '%' or '(', found: {}",
                    py::repr_str(rest)
                )));
            }
        }
        out.push_str(rest);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn secs(ini: &Ini) -> Vec<&str> {
        ini.section_names().collect()
    }

    #[test]
    fn sections_in_order_keys_lowered_values_stripped() {
        let ini = parse(
            "# comment\n[^x_.*]\nCreate =  admin , member \nread: @\n\n; other\n[.*]\ncreate=\n",
        )
        .unwrap();
        assert_eq!(secs(&ini), ["^x_.*", ".*"]);
        assert_eq!(ini.raw("^x_.*", "create"), Some("admin , member"));
        assert_eq!(ini.raw("^x_.*", "CREATE"), Some("admin , member"));
        assert_eq!(ini.raw("^x_.*", "read"), Some("@"));
        assert_eq!(ini.raw(".*", "create"), Some(""));
        assert_eq!(ini.raw(".*", "read"), None);
    }

    #[test]
    fn headers_are_greedy_and_verbatim() {
        let ini = parse("[a]b] trailing\nx = 1\n[ spaced ]\n[[0-9]]\n").unwrap();
        assert_eq!(secs(&ini), ["a]b", " spaced ", "[0-9]"]);
        // `[]` is not a header: an option line without a delimiter.
        assert!(matches!(
            parse("[]\n"),
            Err(IniError::MissingSectionHeader { line: 1, .. })
        ));
    }

    #[test]
    fn continuation_lines_and_blank_lines() {
        let text =
            "[s]\ncreate = admin,\n  member\n\n    reader\n# c\nread = x\n  [not a header]\n";
        let ini = parse(text).unwrap();
        assert_eq!(ini.raw("s", "create"), Some("admin,\nmember\n\nreader"));
        assert_eq!(ini.raw("s", "read"), Some("x\n[not a header]"));
        // Trailing blank lines are dropped; \r\n and \r end lines too.
        let ini = parse("[s]\r\na = 1\r\n\r\n\rb = 2").unwrap();
        assert_eq!(ini.raw("s", "a"), Some("1"));
        assert_eq!(ini.raw("s", "b"), Some("2"));
    }

    #[test]
    fn defaults_are_inherited() {
        let ini =
            parse("[DEFAULT]\nread = admin\n[s]\ncreate = x\n[DEFAULT]\ndelete = y\n").unwrap();
        assert_eq!(secs(&ini), ["s"]);
        assert_eq!(ini.raw("s", "read"), Some("admin"));
        assert_eq!(ini.raw("s", "delete"), Some("y"));
        assert_eq!(ini.raw("nope", "read"), None);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse("create = a\n"),
            Err(IniError::MissingSectionHeader { .. })
        ));
        assert!(matches!(
            parse("[a]\n[a]\n"),
            Err(IniError::DuplicateSection { line: 2, .. })
        ));
        assert!(matches!(
            parse("[a]\nx = 1\nX = 2\n"),
            Err(IniError::DuplicateOption { line: 3, .. })
        ));
        assert!(matches!(
            parse("[a]\nx = 1\nnovalue\n= 3\n"),
            Err(IniError::Parsing { lines }) if lines.len() == 2
        ));
        // A BOM is not whitespace to Python: no header on line 1.
        assert!(parse("\u{feff}[a]\nx = 1\n").is_err());
    }

    #[test]
    fn interpolation() {
        let ini = parse(
            "[DEFAULT]\nadmins = admin,%(extra)s\nextra = root\n[s]\nread = %(admins)s,member\npct = 100%%\nbad = 5%\nmissing = %(nope)s\nloop = %(loop)s\nref = %(x)\n",
        )
        .unwrap();
        assert_eq!(
            ini.get("s", "read").unwrap().as_deref(),
            Some("admin,root,member")
        );
        assert_eq!(ini.get("s", "pct").unwrap().as_deref(), Some("100%"));
        assert_eq!(ini.get("s", "absent").unwrap(), None);
        for bad in ["bad", "missing", "loop", "ref"] {
            assert!(ini.get("s", bad).is_err(), "{bad}");
        }
    }
}
