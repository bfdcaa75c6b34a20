//! Python `re` patterns (the section names of a property protection file)
//! compiled for `regex-lite`, with Python's answer to "does
//! `re.compile(section).search(name)` match".
//!
//! The pattern is parsed with Python 3.11's grammar (`re/_parser.py`), so
//! what Python rejects is rejected here too, and re-emitted in syntax
//! `regex-lite` reads with the same meaning. Where the two differ:
//! - `\d` and `\s` are Unicode classes, as in Python (written out here as
//!   explicit ranges; `(?a)` makes them ASCII, as in Python).
//! - `\Z` is `\z`; `$` (without `(?m)`) is `(?m:$)`, which also matches
//!   before a newline *inside* the name (Python: only before a final one).
//! - `{` that does not start a valid repeat is a literal, as in Python.
//! - Constructs `regex-lite` cannot express (lookaround, backreferences,
//!   conditionals, atomic groups, possessive repeats, `\N{...}`) are
//!   refused with a clear message rather than approximated.
//! - Word characters (`\w`, `\b`) and case-insensitive matching are ASCII
//!   only (Python: Unicode).

use std::fmt;

use regex_lite::Regex;

/// Why a section name is not a usable pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternError {
    /// Python's `re.compile` would raise `re.error` too.
    Invalid { message: String, position: usize },
    /// Valid Python, but beyond what Glimpse's regex engine can express.
    Unsupported(String),
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Invalid { message, position } => {
                write!(f, "{message} at position {position}")
            }
            PatternError::Unsupported(what) => write!(
                f,
                "{what} is valid in Python but not supported by Glimpse's regular expressions"
            ),
        }
    }
}

impl std::error::Error for PatternError {}

/// A compiled section name.
#[derive(Clone, Debug)]
pub struct Pattern {
    source: String,
    regex: Regex,
    /// For the empty name when the pattern uses `\B`: Python's `\B` never
    /// matches in an empty string (regex-lite's does).
    for_empty: Option<Regex>,
}

fn compile(translated: &str) -> Result<Regex, PatternError> {
    // A group and a repeat each nest one level; the default limit (50)
    // would refuse patterns Python takes.
    regex_lite::RegexBuilder::new(translated)
        .nest_limit(3 * MAX_NESTING as u32)
        .build()
        .map_err(|e| {
            // Only sizes can fail here (the syntax is ours).
            PatternError::Unsupported(format!(
                "a pattern this large ({})",
                e.to_string().lines().last().unwrap_or("too big")
            ))
        })
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, PatternError> {
        let (translated, non_boundary) = translate_with(source, false)?;
        let regex = compile(&translated)?;
        let for_empty = if non_boundary {
            Some(compile(&translate_with(source, true)?.0)?)
        } else {
            None
        };
        Ok(Pattern {
            source: source.to_string(),
            regex,
            for_empty,
        })
    }

    /// `pattern.search(name) is not None`.
    pub fn search(&self, name: &str) -> bool {
        match &self.for_empty {
            Some(r) if name.is_empty() => r.is_match(name),
            _ => self.regex.is_match(name),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// `sre_constants.MAXREPEAT`: repeat counts must stay below it.
const MAXREPEAT: u64 = 4_294_967_295;
/// How deeply groups may nest (regex-lite's own limit is a little higher).
const MAX_NESTING: usize = 100;
/// `sre_constants.MAXGROUPS` on 64-bit builds.
const MAXGROUPS: usize = 1_073_741_823;

#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    ascii: bool,
    verbose: bool,
    multiline: bool,
}

/// What the last item of the current sequence was, for Python's
/// "nothing to repeat" and "multiple repeat" checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Last {
    None,
    /// `^`, `$`, `\A`, `\Z`, `\b`, `\B`.
    At,
    Repeat,
    Item,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    group_names: Vec<String>,
    groups: usize,
    out: String,
    /// Translating for the empty name (see [`Pattern`]).
    empty_haystack: bool,
    /// Whether `\B` occurs.
    non_boundary: bool,
}

/// Translate a Python pattern into `regex-lite` syntax.
pub fn translate(src: &str) -> Result<String, PatternError> {
    translate_with(src, false).map(|(t, _)| t)
}

fn translate_with(src: &str, empty_haystack: bool) -> Result<(String, bool), PatternError> {
    let mut p = Parser {
        chars: src.chars().collect(),
        pos: 0,
        group_names: Vec::new(),
        groups: 1,
        out: String::new(),
        empty_haystack,
        non_boundary: false,
    };
    let flags = p.global_flags()?;
    p.alternation(flags, 0)?;
    if p.pos < p.chars.len() {
        return Err(p.invalid("unbalanced parenthesis", p.pos));
    }
    Ok((p.out, p.non_boundary))
}

fn is_hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

/// Python's verbose-mode whitespace (ASCII only).
fn is_verbose_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

impl Parser {
    fn invalid(&self, message: &str, position: usize) -> PatternError {
        PatternError::Invalid {
            message: message.to_string(),
            position,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Leading `(?flags)` groups, the only place Python 3.11 accepts
    /// global flags. They apply to the whole pattern, so they are read
    /// first and emitted once.
    fn global_flags(&mut self) -> Result<Flags, PatternError> {
        let mut flags = Flags::default();
        let mut unicode = false;
        let mut ignorecase = false;
        let mut dotall = false;
        loop {
            let start = self.pos;
            // Comments and verbose whitespace may come before flags too.
            if flags.verbose {
                self.skip_verbose();
            }
            if self.peek() == Some('(')
                && self.peek_at(1) == Some('?')
                && self.peek_at(2) == Some('#')
            {
                self.pos += 3;
                self.comment(start)?;
                continue;
            }
            if !(self.peek() == Some('(') && self.peek_at(1) == Some('?')) {
                break;
            }
            // Only a run of flag letters closed by `)` is a global group.
            let mut k = 2;
            while let Some(c) = self.peek_at(k) {
                if "iLmsxatu".contains(c) {
                    k += 1;
                } else {
                    break;
                }
            }
            if k == 2 || self.peek_at(k) != Some(')') {
                break;
            }
            for i in 2..k {
                let c = self.chars[self.pos + i];
                match c {
                    'i' => ignorecase = true,
                    'm' => flags.multiline = true,
                    's' => dotall = true,
                    'x' => flags.verbose = true,
                    'a' => flags.ascii = true,
                    'u' => unicode = true,
                    'L' => {
                        return Err(self.invalid(
                            "bad inline flags: cannot use 'L' flag with a str pattern",
                            self.pos + i,
                        ));
                    }
                    _ => return Err(PatternError::Unsupported("the (?t) flag".into())),
                }
                if flags.ascii && unicode {
                    return Err(self.invalid(
                        "bad inline flags: flags 'a', 'u' and 'L' are incompatible",
                        self.pos + i,
                    ));
                }
            }
            self.pos += k + 1;
        }
        let mut lead = String::new();
        if ignorecase {
            lead.push('i');
        }
        if dotall {
            lead.push('s');
        }
        if flags.multiline {
            lead.push('m');
        }
        if !lead.is_empty() {
            self.out.push_str(&format!("(?{lead})"));
        }
        Ok(flags)
    }

    fn skip_verbose(&mut self) {
        while let Some(c) = self.peek() {
            if is_verbose_space(c) {
                self.pos += 1;
            } else if c == '#' {
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// After `(?#`: skip to the closing parenthesis.
    fn comment(&mut self, start: usize) -> Result<(), PatternError> {
        loop {
            match self.peek() {
                None => return Err(self.invalid("missing ), unterminated comment", start)),
                Some(c) => {
                    self.pos += 1;
                    if c == '\\' {
                        // The tokenizer reads an escape as one token.
                        if self.peek().is_none() {
                            return Err(self.invalid("bad escape (end of pattern)", self.pos - 1));
                        }
                        self.pos += 1;
                    } else if c == ')' {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// `a|b|c` up to an unmatched `)` or the end.
    fn alternation(&mut self, flags: Flags, depth: usize) -> Result<(), PatternError> {
        loop {
            self.sequence(flags, depth)?;
            if !self.eat('|') {
                return Ok(());
            }
            self.out.push('|');
        }
    }

    fn sequence(&mut self, flags: Flags, depth: usize) -> Result<(), PatternError> {
        let mut last = Last::None;
        loop {
            if flags.verbose {
                self.skip_verbose();
            }
            let Some(c) = self.peek() else {
                return Ok(());
            };
            if c == '|' || c == ')' {
                return Ok(());
            }
            let here = self.pos;
            self.pos += 1;
            match c {
                '*' | '+' | '?' | '{' => {
                    let (min, max) = match c {
                        '*' => (0, None),
                        '+' => (1, None),
                        '?' => (0, Some(1)),
                        _ => match self.brace_repeat(here)? {
                            Some(r) => r,
                            None => {
                                // A `{` that is not a repeat is a literal.
                                push_literal(&mut self.out, '{');
                                last = Last::Item;
                                continue;
                            }
                        },
                    };
                    match last {
                        Last::None | Last::At => {
                            return Err(self.invalid("nothing to repeat", here));
                        }
                        Last::Repeat => return Err(self.invalid("multiple repeat", here)),
                        Last::Item => {}
                    }
                    let lazy = self.eat('?');
                    if !lazy && self.peek() == Some('+') {
                        return Err(PatternError::Unsupported(
                            "a possessive repeat (*+, ++, ?+, {m,n}+)".into(),
                        ));
                    }
                    // Every repeatable item is emitted as one atom (a
                    // character, an escape, a class or a group), so the
                    // quantifier can follow it directly.
                    match (min, max) {
                        (0, None) => self.out.push('*'),
                        (1, None) => self.out.push('+'),
                        (0, Some(1)) => self.out.push('?'),
                        (m, None) => self.out.push_str(&format!("{{{m},}}")),
                        (m, Some(n)) => self.out.push_str(&format!("{{{m},{n}}}")),
                    }
                    if lazy {
                        self.out.push('?');
                    }
                    last = Last::Repeat;
                    continue;
                }
                _ => {}
            }
            let item = match c {
                '\\' => self.escape(flags)?,
                '[' => {
                    self.class(flags, here)?;
                    Last::Item
                }
                '.' => {
                    self.out.push('.');
                    Last::Item
                }
                '^' => {
                    self.out.push('^');
                    Last::At
                }
                '$' => {
                    self.out
                        .push_str(if flags.multiline { "$" } else { "(?m:$)" });
                    Last::At
                }
                '(' => match self.group(flags, depth, here)? {
                    Some(l) => l,
                    // A comment group adds nothing: the item before it
                    // stays the one a repeat applies to.
                    None => continue,
                },
                other => {
                    push_literal(&mut self.out, other);
                    Last::Item
                }
            };
            last = item;
        }
    }

    /// After `{`: `Some((min, max))` for a valid repeat, `None` (position
    /// restored) when Python reads the `{` as a literal.
    fn brace_repeat(&mut self, here: usize) -> Result<Option<(u64, Option<u64>)>, PatternError> {
        let start = self.pos;
        if self.peek() == Some('}') {
            return Ok(None);
        }
        let digits = |p: &mut Self| {
            let mut s = String::new();
            while let Some(c) = p.peek().filter(char::is_ascii_digit) {
                s.push(c);
                p.pos += 1;
            }
            s
        };
        let lo = digits(self);
        let hi = if self.eat(',') {
            digits(self)
        } else {
            lo.clone()
        };
        if !self.eat('}') {
            self.pos = start;
            return Ok(None);
        }
        let num = |s: &str| -> Result<u64, PatternError> {
            match s.parse::<u64>() {
                Ok(n) if n < MAXREPEAT => Ok(n),
                _ => Err(PatternError::Invalid {
                    message: "the repetition number is too large".into(),
                    position: here,
                }),
            }
        };
        let min = if lo.is_empty() { 0 } else { num(&lo)? };
        let max = if hi.is_empty() { None } else { Some(num(&hi)?) };
        if let Some(m) = max
            && m < min
        {
            return Err(self.invalid("min repeat greater than max repeat", here));
        }
        Ok(Some((min, max)))
    }

    /// After `\` outside a class.
    fn escape(&mut self, flags: Flags) -> Result<Last, PatternError> {
        let at = self.pos - 1;
        let Some(c) = self.peek() else {
            return Err(self.invalid("bad escape (end of pattern)", at));
        };
        self.pos += 1;
        let lit = |p: &mut Self, v: u32| {
            push_code_point(&mut p.out, v);
            Ok(Last::Item)
        };
        match c {
            'A' => {
                self.out.push_str("\\A");
                Ok(Last::At)
            }
            'Z' => {
                self.out.push_str("\\z");
                Ok(Last::At)
            }
            'b' => {
                self.out.push_str("\\b");
                Ok(Last::At)
            }
            'B' => {
                self.non_boundary = true;
                self.out
                    .push_str(if self.empty_haystack { NEVER } else { "\\B" });
                Ok(Last::At)
            }
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                let set = category(c, flags.ascii);
                push_class(&mut self.out, &set);
                Ok(Last::Item)
            }
            'a' => lit(self, 0x07),
            'f' => lit(self, 0x0c),
            'n' => lit(self, 0x0a),
            'r' => lit(self, 0x0d),
            't' => lit(self, 0x09),
            'v' => lit(self, 0x0b),
            'x' | 'u' | 'U' => {
                let v = self.hex_escape(c, at)?;
                lit(self, v)
            }
            'N' => Err(PatternError::Unsupported(
                "a named character escape (\\N{...})".into(),
            )),
            '0' => {
                let mut v = 0u32;
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                lit(self, v)
            }
            '1'..='9' => {
                // Three octal digits are a character; anything else is a
                // group reference.
                let d1 = c;
                if let Some(d2) = self.peek().filter(char::is_ascii_digit) {
                    if d1 <= '7'
                        && d2 <= '7'
                        && let Some(d3) = self.peek_at(1).filter(|d| ('0'..='7').contains(d))
                    {
                        self.pos += 2;
                        let v = [d1, d2, d3]
                            .iter()
                            .fold(0u32, |acc, d| acc * 8 + d.to_digit(8).unwrap_or(0));
                        if v > 0o377 {
                            return Err(self.invalid(
                                &format!(
                                    "octal escape value \\{d1}{d2}{d3} outside of range 0-0o377"
                                ),
                                at,
                            ));
                        }
                        return lit(self, v);
                    }
                    self.pos += 1;
                    let n = (d1 as usize - '0' as usize) * 10 + (d2 as usize - '0' as usize);
                    return self.group_ref(n, at);
                }
                self.group_ref(d1 as usize - '0' as usize, at)
            }
            c if c.is_ascii_alphabetic() => Err(self.invalid(&format!("bad escape \\{c}"), at)),
            other => {
                push_literal(&mut self.out, other);
                Ok(Last::Item)
            }
        }
    }

    fn group_ref(&self, n: usize, at: usize) -> Result<Last, PatternError> {
        if n < self.groups {
            Err(PatternError::Unsupported("a backreference".into()))
        } else {
            Err(self.invalid(&format!("invalid group reference {n}"), at + 1))
        }
    }

    /// `\xHH`, `\uHHHH`, `\UHHHHHHHH`: exactly that many hex digits.
    fn hex_escape(&mut self, kind: char, at: usize) -> Result<u32, PatternError> {
        let n = match kind {
            'x' => 2,
            'u' => 4,
            _ => 8,
        };
        let mut s = String::new();
        while s.len() < n {
            match self.peek().filter(|c| is_hex(*c)) {
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
                None => break,
            }
        }
        if s.len() != n {
            return Err(self.invalid(&format!("incomplete escape \\{kind}{s}"), at));
        }
        let v = u32::from_str_radix(&s, 16).unwrap_or(u32::MAX);
        if v > 0x10ffff {
            return Err(self.invalid(&format!("bad escape \\{kind}{s}"), at));
        }
        Ok(v)
    }

    /// After `(`. `Ok(None)` for a comment group.
    fn group(
        &mut self,
        flags: Flags,
        depth: usize,
        start: usize,
    ) -> Result<Option<Last>, PatternError> {
        // Recursion depth stays bounded whatever the file says (Python
        // fails deep nesting with RecursionError too, somewhat deeper).
        if depth >= MAX_NESTING {
            return Err(PatternError::Unsupported(format!(
                "groups nested more than {MAX_NESTING} deep"
            )));
        }
        let mut inner = flags;
        let mut open = String::from("(?:");
        if self.eat('?') {
            let Some(c) = self.peek() else {
                return Err(self.invalid("unexpected end of pattern", self.pos));
            };
            self.pos += 1;
            match c {
                'P' => {
                    if self.eat('<') {
                        let name = self.until('>', "group name")?;
                        self.check_group_name(&name)?;
                        if self.group_names.contains(&name) {
                            return Err(self.invalid(
                                &format!(
                                    "redefinition of group name {}",
                                    crate::py::repr_str(&name)
                                ),
                                start,
                            ));
                        }
                        self.group_names.push(name);
                        self.open_group(start)?;
                    } else if self.eat('=') {
                        let name = self.until(')', "group name")?;
                        self.check_group_name(&name)?;
                        if !self.group_names.contains(&name) {
                            return Err(self.invalid(
                                &format!("unknown group name {}", crate::py::repr_str(&name)),
                                start,
                            ));
                        }
                        return Err(PatternError::Unsupported("a backreference".into()));
                    } else {
                        let c = self.peek().map(String::from).unwrap_or_default();
                        return Err(self.invalid(&format!("unknown extension ?P{c}"), start));
                    }
                }
                ':' => {}
                '#' => {
                    self.comment(start)?;
                    return Ok(None);
                }
                '=' | '!' => {
                    return Err(PatternError::Unsupported("a lookahead assertion".into()));
                }
                '<' => {
                    return match self.peek() {
                        Some('=' | '!') => {
                            Err(PatternError::Unsupported("a lookbehind assertion".into()))
                        }
                        other => Err(self.invalid(
                            &format!(
                                "unknown extension ?<{}",
                                other.map(String::from).unwrap_or_default()
                            ),
                            start,
                        )),
                    };
                }
                '(' => {
                    return Err(PatternError::Unsupported(
                        "a conditional group (?(...)...)".into(),
                    ));
                }
                '>' => return Err(PatternError::Unsupported("an atomic group (?>...)".into())),
                c if "iLmsxatu-".contains(c) => {
                    open = self.scoped_flags(c, &mut inner, start)?;
                }
                other => {
                    return Err(self.invalid(&format!("unknown extension ?{other}"), start));
                }
            }
        } else {
            self.open_group(start)?;
        }
        self.out.push_str(&open);
        self.alternation(inner, depth + 1)?;
        if !self.eat(')') {
            return Err(self.invalid("missing ), unterminated subpattern", start));
        }
        self.out.push(')');
        Ok(Some(Last::Item))
    }

    fn open_group(&mut self, start: usize) -> Result<(), PatternError> {
        self.groups += 1;
        if self.groups > MAXGROUPS {
            return Err(self.invalid("too many groups", start));
        }
        Ok(())
    }

    /// `(?flags-flags:`: returns the opening to emit. A `)` right after
    /// the flags is a global flag group, which Python accepts only at the
    /// start of the pattern (read by `global_flags`).
    fn scoped_flags(
        &mut self,
        first: char,
        inner: &mut Flags,
        start: usize,
    ) -> Result<String, PatternError> {
        let mut on = String::new();
        let mut off = String::new();
        let mut c = first;
        if c != '-' {
            loop {
                match c {
                    'L' => {
                        return Err(self.invalid(
                            "bad inline flags: cannot use 'L' flag with a str pattern",
                            self.pos,
                        ));
                    }
                    't' => return Err(PatternError::Unsupported("the (?t) flag".into())),
                    _ => {}
                }
                if "au".contains(c) && (on.contains('a') || on.contains('u')) && !on.contains(c) {
                    return Err(self.invalid(
                        "bad inline flags: flags 'a', 'u' and 'L' are incompatible",
                        self.pos,
                    ));
                }
                on.push(c);
                let Some(n) = self.peek() else {
                    return Err(self.invalid("missing -, : or )", self.pos));
                };
                self.pos += 1;
                c = n;
                if ")-:".contains(c) {
                    break;
                }
                if !"iLmsxatu".contains(c) {
                    let msg = if c.is_alphabetic() {
                        "unknown flag"
                    } else {
                        "missing -, : or )"
                    };
                    return Err(self.invalid(msg, self.pos - 1));
                }
            }
        }
        if c == ')' {
            return Err(self.invalid("global flags not at the start of the expression", start));
        }
        if c == '-' {
            let Some(n) = self.peek() else {
                return Err(self.invalid("missing flag", self.pos));
            };
            self.pos += 1;
            c = n;
            if !"iLmsxatu".contains(c) {
                let msg = if c.is_alphabetic() {
                    "unknown flag"
                } else {
                    "missing flag"
                };
                return Err(self.invalid(msg, self.pos - 1));
            }
            loop {
                if "aLu".contains(c) {
                    return Err(self.invalid(
                        "bad inline flags: cannot turn off flags 'a', 'u' and 'L'",
                        self.pos - 1,
                    ));
                }
                if c == 't' {
                    return Err(self.invalid(
                        "bad inline flags: cannot turn off global flag",
                        self.pos - 1,
                    ));
                }
                off.push(c);
                let Some(n) = self.peek() else {
                    return Err(self.invalid("missing :", self.pos));
                };
                self.pos += 1;
                c = n;
                if c == ':' {
                    break;
                }
                if !"iLmsxatu".contains(c) {
                    let msg = if c.is_alphabetic() {
                        "unknown flag"
                    } else {
                        "missing :"
                    };
                    return Err(self.invalid(msg, self.pos - 1));
                }
            }
        }
        if on.chars().any(|f| off.contains(f)) {
            return Err(self.invalid("bad inline flags: flag turned on and off", self.pos - 1));
        }
        // Python's verbose and type flags change how the group is read;
        // i, m and s are passed on to regex-lite.
        if on.contains('x') {
            inner.verbose = true;
        }
        if off.contains('x') {
            inner.verbose = false;
        }
        if on.contains('a') {
            inner.ascii = true;
        }
        if on.contains('u') {
            inner.ascii = false;
        }
        if on.contains('m') {
            inner.multiline = true;
        }
        if off.contains('m') {
            inner.multiline = false;
        }
        let keep = |s: &str| s.chars().filter(|f| "ims".contains(*f)).collect::<String>();
        let (on, off) = (keep(&on), keep(&off));
        Ok(match (on.is_empty(), off.is_empty()) {
            (true, true) => "(?:".to_string(),
            (false, true) => format!("(?{on}:"),
            (true, false) => format!("(?-{off}:"),
            (false, false) => format!("(?{on}-{off}:"),
        })
    }

    /// Characters up to `end` (consumed), for group names.
    fn until(&mut self, end: char, what: &str) -> Result<String, PatternError> {
        let start = self.pos;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(if s.is_empty() {
                        self.invalid(&format!("missing {what}"), start)
                    } else {
                        self.invalid(&format!("missing {end}, unterminated name"), start)
                    });
                }
                Some(c) => {
                    self.pos += 1;
                    if c == end {
                        if s.is_empty() {
                            return Err(self.invalid(&format!("missing {what}"), start));
                        }
                        return Ok(s);
                    }
                    s.push(c);
                }
            }
        }
    }

    /// `str.isidentifier()`, close enough: a letter or `_`, then letters,
    /// digits or `_` (Unicode letters included).
    fn check_group_name(&self, name: &str) -> Result<(), PatternError> {
        let mut cs = name.chars();
        let ok = cs.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && cs.all(|c| c.is_alphanumeric() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(self.invalid(
                &format!("bad character in group name {}", crate::py::repr_str(name)),
                self.pos,
            ))
        }
    }

    /// After `[`: a character set, emitted as explicit ranges.
    fn class(&mut self, flags: Flags, here: usize) -> Result<(), PatternError> {
        let negate = self.eat('^');
        let mut set: Vec<(u32, u32)> = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.invalid("unterminated character set", here));
            };
            self.pos += 1;
            if c == ']' && !first {
                break;
            }
            first = false;
            let item = if c == '\\' {
                self.class_escape(flags)?
            } else {
                ClassItem::Char(c as u32)
            };
            if self.peek() == Some('-') {
                self.pos += 1;
                let Some(t) = self.peek() else {
                    return Err(self.invalid("unterminated character set", here));
                };
                self.pos += 1;
                if t == ']' {
                    add_item(&mut set, &item);
                    set.push(('-' as u32, '-' as u32));
                    break;
                }
                let hi = if t == '\\' {
                    self.class_escape(flags)?
                } else {
                    ClassItem::Char(t as u32)
                };
                match (&item, &hi) {
                    (ClassItem::Char(a), ClassItem::Char(b)) if a <= b => set.push((*a, *b)),
                    _ => return Err(self.invalid("bad character range", here)),
                }
            } else {
                add_item(&mut set, &item);
            }
        }
        let set = normalise(set);
        let set = if negate { complement(&set) } else { set };
        push_class(&mut self.out, &set);
        Ok(())
    }

    /// After `\` inside a class.
    fn class_escape(&mut self, flags: Flags) -> Result<ClassItem, PatternError> {
        let at = self.pos - 1;
        let Some(c) = self.peek() else {
            return Err(self.invalid("bad escape (end of pattern)", at));
        };
        self.pos += 1;
        Ok(ClassItem::Char(match c {
            'a' => 0x07,
            'b' => 0x08,
            'f' => 0x0c,
            'n' => 0x0a,
            'r' => 0x0d,
            't' => 0x09,
            'v' => 0x0b,
            '\\' => '\\' as u32,
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                return Ok(ClassItem::Set(category(c, flags.ascii)));
            }
            'x' | 'u' | 'U' => self.hex_escape(c, at)?,
            'N' => {
                return Err(PatternError::Unsupported(
                    "a named character escape (\\N{...})".into(),
                ));
            }
            '0'..='7' => {
                let mut v = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                if v > 0o377 {
                    return Err(self.invalid("octal escape value outside of range 0-0o377", at));
                }
                v
            }
            c if c.is_ascii_alphanumeric() => {
                return Err(self.invalid(&format!("bad escape \\{c}"), at));
            }
            other => other as u32,
        }))
    }
}

enum ClassItem {
    Char(u32),
    Set(Vec<(u32, u32)>),
}

fn add_item(set: &mut Vec<(u32, u32)>, item: &ClassItem) {
    match item {
        ClassItem::Char(c) => set.push((*c, *c)),
        ClassItem::Set(s) => set.extend_from_slice(s),
    }
}

/// Sorted, merged ranges.
fn normalise(mut set: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    set.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(set.len());
    for (lo, hi) in set {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn complement(set: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &(lo, hi) in set {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi.saturating_add(1);
    }
    if next <= 0x10ffff {
        out.push((next, 0x10ffff));
    }
    out
}

/// Python's `\d`, `\s`, `\w` and their negations as ranges.
fn category(c: char, ascii: bool) -> Vec<(u32, u32)> {
    let base: Vec<(u32, u32)> = match c.to_ascii_lowercase() {
        'd' if ascii => vec![(0x30, 0x39)],
        'd' => crate::py::ND_ZEROS.iter().map(|&z| (z, z + 9)).collect(),
        's' if ascii => vec![(0x09, 0x0d), (0x20, 0x20)],
        's' => vec![
            (0x09, 0x0d),
            (0x1c, 0x20),
            (0x85, 0x85),
            (0xa0, 0xa0),
            (0x1680, 0x1680),
            (0x2000, 0x200a),
            (0x2028, 0x2029),
            (0x202f, 0x202f),
            (0x205f, 0x205f),
            (0x3000, 0x3000),
        ],
        // ASCII word characters (Python: Unicode; see the module docs).
        _ => vec![(0x30, 0x39), (0x41, 0x5a), (0x5f, 0x5f), (0x61, 0x7a)],
    };
    let base = normalise(base);
    if c.is_ascii_uppercase() {
        complement(&base)
    } else {
        base
    }
}

/// An atom that never matches.
const NEVER: &str = "(?:\\b\\B)";

/// One code point as a `regex-lite` atom. A surrogate (reachable only
/// through `\uD800`-style escapes) can never occur in a name: an atom
/// that never matches stands for it.
fn push_code_point(out: &mut String, v: u32) {
    match char::from_u32(v) {
        Some(c) => push_literal(out, c),
        None => out.push_str(NEVER),
    }
}

/// A literal character: ASCII letters and digits as they are, other ASCII
/// as `\x{..}` (so no escape takes a special meaning), the rest verbatim.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

/// A set of ranges as a class of valid scalar values (surrogates cut
/// out); an empty set becomes an atom that never matches.
fn push_class(out: &mut String, set: &[(u32, u32)]) {
    let mut body = String::new();
    for &(lo, hi) in set {
        let mut parts = vec![(lo, hi)];
        if lo <= 0xdfff && hi >= 0xd800 {
            parts = vec![(lo, 0xd7ff), (0xe000, hi)];
        }
        for (a, b) in parts {
            if a > b {
                continue;
            }
            if a == b {
                body.push_str(&format!("\\x{{{a:X}}}"));
            } else {
                body.push_str(&format!("\\x{{{a:X}}}-\\x{{{b:X}}}"));
            }
        }
    }
    if body.is_empty() {
        out.push_str(NEVER);
    } else {
        out.push('[');
        out.push_str(&body);
        out.push(']');
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(p: &str, name: &str) -> bool {
        Pattern::new(p).unwrap().search(name)
    }

    #[test]
    fn search_is_unanchored() {
        assert!(m("x_foo", "a_x_foo_b"));
        assert!(m("^x_owner_.*", "x_owner_a"));
        assert!(!m("^x_owner_.*", "y_x_owner_a"));
        assert!(m(".*", ""));
        assert!(m("os_glance.*", "my_os_glance_thing"));
        // `x_foo_*` is x_foo followed by any number of underscores.
        assert!(m("x_foo_*", "x_foo"));
        assert!(m("x_foo_*", "x_foobar"));
    }

    #[test]
    fn anchors_and_newlines() {
        assert!(m("^a$", "a"));
        assert!(m("^a$", "a\n"));
        assert!(!m(r"^a\Z", "a\n"));
        assert!(m(r"\Aa\Z", "a"));
        assert!(!m("^a.b", "a\nb"));
        assert!(m("(?s)^a.b", "a\nb"));
        assert!(m("(?m)^b", "a\nb"));
        assert!(!m("^b", "a\nb"));
    }

    #[test]
    fn braces_like_python() {
        assert!(m("a{2}", "aa") && !m("^a{2}$", "a"));
        assert!(m("^a{,2}$", "aa") && !m("^a{,2}$", "aaa"));
        assert!(m("^a{,}$", "aaaa"));
        // Not a repeat: literal braces.
        assert!(m("^a{x}$", "a{x}"));
        assert!(m("^a{}$", "a{}"));
        assert!(m("^a{1,x$", "a{1,x"));
        assert!(m("^{$", "{"));
        assert!(m("^}$", "}"));
    }

    #[test]
    fn classes() {
        assert!(m("^[]a]+$", "]a]"));
        assert!(m("^[^]a]$", "b") && !m("^[^]a]$", "]"));
        assert!(m("^[a-]$", "-") && m("^[-a]$", "-"));
        assert!(m(r"^[\d_]+$", "1_٣"));
        assert!(m(r"^[\D]$", "x") && !m(r"^[\D]$", "7"));
        assert!(m(r"^[[]$", "["));
        assert!(m(r"^[\b]$", "\u{8}"));
        assert!(m(r"^[&&~~]+$", "&~"));
        assert!(m(r"^[^\s]$", "x") && !m(r"^[^\s]$", "\u{2003}"));
        assert!(m(r"(?a)^\d$", "1") && !m(r"(?a)^\d$", "٣"));
        assert!(m(r"^\s$", "\u{1f}"));
    }

    #[test]
    fn escapes_and_flags() {
        assert!(m(r"^\x41\u0042\U00000043\101$", "ABCA"));
        assert!(m(r"^\.\-\<$", ".-<"));
        assert!(m(r"^\0$", "\0"));
        assert!(!m(r"\ud800", "x"));
        assert!(m(r"(?i)^ABC$", "abc"));
        assert!(m(r"^(?i:A)b$", "ab") && !m(r"^(?i:A)b$", "aB"));
        assert!(m("(?x) ^ a  b # comment\n $", "ab"));
        assert!(m(r"(?#note)^a(?#x)*$", "aaa"));
        assert!(m(r"^(?P<n>a|b)+$", "abba"));
        assert!(m(r"^(a|)$", ""));
        // Python's \B never matches in an empty string.
        assert!(!m(r"\B", "") && m(r"\B", "ab") && !m(r"a\B", "a"));
    }

    #[test]
    fn python_errors() {
        for bad in [
            "^[0-9)",
            "(",
            ")",
            "a)",
            "*a",
            "a**",
            "^*",
            "a{2,1}",
            r"\q",
            "a\\",
            "[b-a]",
            r"[\d-z]",
            "(?P<1>a)",
            "(?P<n>a)(?P<n>b)",
            "a(?i)",
            "(?L)a",
            "(?-a:x)",
            "(?i-i:x)",
            "(?<n>a)",
            "(?Q)",
            r"\x4",
            r"\2",
            "(?",
            "(?P",
            "(?#",
            "[a",
            r"\U00110000",
            "(?x",
            "a{99999999999}",
        ] {
            assert!(
                matches!(Pattern::new(bad), Err(PatternError::Invalid { .. })),
                "{bad}: {:?}",
                Pattern::new(bad).map(|p| p.as_str().to_string())
            );
        }
    }

    #[test]
    fn unsupported_constructs() {
        for p in [
            "(?=a)",
            "(?!a)",
            "(?<=a)b",
            "(?<!a)b",
            r"(a)\1",
            "(?P<n>a)(?P=n)",
            "(a)?(?(1)b|c)",
            "(?>a)",
            "a*+",
            r"\N{EM DASH}",
        ] {
            assert!(
                matches!(Pattern::new(p), Err(PatternError::Unsupported(_))),
                "{p}"
            );
        }
        // Deep nesting is refused, not a stack overflow; up to the limit
        // (each level repeated) it compiles.
        let deep = format!("{}a{}", "(".repeat(500), ")".repeat(500));
        assert!(matches!(
            Pattern::new(&deep),
            Err(PatternError::Unsupported(_))
        ));
        let ok = format!("{}a{}", "(".repeat(99), ")*".repeat(99));
        assert!(Pattern::new(&ok).unwrap().search("aaa"));
    }

    proptest::proptest! {
        // Whatever the pattern, translation answers (no panic) and its
        // output, when produced, is accepted by regex-lite.
        #[test]
        fn never_panics(p in "[\\\\()\\[\\]{}*+?|^$.a-c0-9,:=!<>#PxiLsmu\\- ]{0,16}") {
            if let Ok(t) = translate(&p) {
                proptest::prop_assert!(Regex::new(&t).is_ok(), "{p} -> {t}");
            }
        }
    }
}
