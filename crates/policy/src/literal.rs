//! What `ast.literal_eval(kind)` does with the kind of a generic check.
//!
//! oslo first tries the kind as a Python literal (`'member':%(role)s`,
//! `True:%(enabled)s`); a `ValueError` (a valid expression that is not a
//! literal, such as `user_id` or `token.project.id`) makes it a dotted path
//! into the credentials, and a `SyntaxError` escapes as an exception on every
//! evaluation. We classify each kind once, at parse time, with a small Python
//! expression parser: enough of Python's grammar to tell the three apart for
//! anything that fits in a whitespace-free token without a colon.

use crate::pyval::{bytes_repr, float_repr, str_repr};

/// The three fates of a generic check's kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `str(literal_eval(kind))`; `None` when the value is a string no
    /// Rust string can equal (a lone surrogate).
    Literal(Option<String>),
    /// Not a literal: look the dotted path up in the credentials.
    Path(Vec<String>),
    /// Python raises this `SyntaxError` text when the check runs.
    Invalid(String),
}

/// Python's nesting limits make deep input a `SyntaxError`; ours keeps the
/// recursive parser's stack small.
const MAX_DEPTH: usize = 200;

pub fn classify(kind: &str) -> Kind {
    let outcome = tokenize(kind).and_then(|toks| {
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
        };
        let node = p.expr()?;
        if p.pos != p.toks.len() {
            return Err(Syntax);
        }
        Ok(node)
    });
    match outcome {
        Err(Syntax) => Kind::Invalid(format!("invalid syntax in check kind {kind:?}")),
        Ok(node) => match convert(&node) {
            Conv::Value(v) => Kind::Literal(v.py_str()),
            Conv::NotLiteral => Kind::Path(kind.split('.').map(str::to_string).collect()),
            Conv::Error(e) => Kind::Invalid(e),
        },
    }
}

#[derive(Debug)]
struct Syntax;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Int(String),
    Float(f64),
    Imag(f64),
    /// One string literal; `None` text for f-strings (never literals).
    Str {
        bytes: bool,
        text: Option<Vec<u32>>,
    },
    Op(&'static str),
}

const KEYWORDS: &[&str] = &[
    "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "except",
    "finally", "for", "from", "global", "import", "lambda", "nonlocal", "pass", "raise", "return",
    "try", "while", "with", "yield",
];

const OPS: &[&str] = &[
    "...", "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "@", "&", "|",
    "^", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", "=",
];

fn is_id_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_id_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn tokenize(src: &str) -> Result<Vec<Tok>, Syntax> {
    let s: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == '#' {
            break;
        }
        if c == '\0' {
            return Err(Syntax);
        }
        if is_id_start(c) {
            let start = i;
            while i < s.len() && is_id_continue(s[i]) {
                i += 1;
            }
            let name: String = s[start..i].iter().collect();
            let lower = name.to_ascii_lowercase();
            if i < s.len()
                && (s[i] == '\'' || s[i] == '"')
                && matches!(
                    lower.as_str(),
                    "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
                )
            {
                toks.push(string(&s, &mut i, &lower)?);
            } else {
                toks.push(Tok::Name(name));
            }
            continue;
        }
        if c == '\'' || c == '"' {
            toks.push(string(&s, &mut i, "")?);
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && s.get(i + 1).is_some_and(char::is_ascii_digit)) {
            toks.push(number(&s, &mut i)?);
            continue;
        }
        let rest: String = s[i..s.len().min(i + 3)].iter().collect();
        let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) else {
            return Err(Syntax);
        };
        i += op.chars().count();
        toks.push(Tok::Op(op));
    }
    Ok(toks)
}

fn digit_run(s: &[char], i: &mut usize, ok: impl Fn(char) -> bool) -> Result<String, Syntax> {
    // Python allows single underscores between digits only.
    let mut out = String::new();
    if !s.get(*i).is_some_and(|c| ok(*c)) {
        return Err(Syntax);
    }
    while let Some(&c) = s.get(*i) {
        if ok(c) {
            out.push(c);
            *i += 1;
        } else if c == '_' && s.get(*i + 1).is_some_and(|n| ok(*n)) {
            *i += 1;
        } else if c == '_' {
            return Err(Syntax);
        } else {
            break;
        }
    }
    Ok(out)
}

fn number(s: &[char], i: &mut usize) -> Result<Tok, Syntax> {
    let tok = number_body(s, i)?;
    // `1a`, `1.real`, `0x1g`: Python rejects letters glued to a number.
    if s.get(*i).is_some_and(|c| is_id_continue(*c) || *c == '.') {
        return Err(Syntax);
    }
    Ok(tok)
}

fn number_body(s: &[char], i: &mut usize) -> Result<Tok, Syntax> {
    if s[*i] == '0'
        && let Some(radix) = match s.get(*i + 1) {
            Some('x' | 'X') => Some(16),
            Some('o' | 'O') => Some(8),
            Some('b' | 'B') => Some(2),
            _ => None,
        }
    {
        *i += 2;
        if s.get(*i) == Some(&'_') {
            *i += 1;
        }
        let d = digit_run(s, i, |c| c.is_digit(radix))?;
        return Ok(Tok::Int(radix_to_decimal(&d, radix)));
    }
    let mut text = String::new();
    let mut is_float = false;
    let int_part = if s[*i] == '.' {
        String::new()
    } else {
        digit_run(s, i, |c| c.is_ascii_digit())?
    };
    text.push_str(&int_part);
    if s.get(*i) == Some(&'.') {
        is_float = true;
        *i += 1;
        text.push('.');
        if s.get(*i).is_some_and(char::is_ascii_digit) {
            text.push_str(&digit_run(s, i, |c| c.is_ascii_digit())?);
        }
    }
    if matches!(s.get(*i), Some('e' | 'E')) {
        is_float = true;
        *i += 1;
        text.push('e');
        if let Some(&sign @ ('+' | '-')) = s.get(*i) {
            text.push(sign);
            *i += 1;
        }
        text.push_str(&digit_run(s, i, |c| c.is_ascii_digit())?);
    }
    if matches!(s.get(*i), Some('j' | 'J')) {
        *i += 1;
        return Ok(Tok::Imag(text.parse().map_err(|_| Syntax)?));
    }
    if is_float {
        return Ok(Tok::Float(text.parse().map_err(|_| Syntax)?));
    }
    // Decimal integers may not have leading zeros, except zero itself.
    let trimmed = int_part.trim_start_matches('0');
    if trimmed.len() != int_part.len() && !trimmed.is_empty() {
        return Err(Syntax);
    }
    Ok(Tok::Int(if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.into()
    }))
}

/// Digits in `radix` to decimal digits, for integers of any size.
fn radix_to_decimal(digits: &str, radix: u32) -> String {
    // Little-endian base-10^9 limbs.
    let mut limbs: Vec<u64> = vec![0];
    for c in digits.chars() {
        let mut carry = u64::from(c.to_digit(radix).unwrap_or(0));
        for limb in limbs.iter_mut() {
            let v = *limb * u64::from(radix) + carry;
            *limb = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    let mut out = String::new();
    for (n, limb) in limbs.iter().rev().enumerate() {
        if n == 0 {
            out.push_str(&limb.to_string());
        } else {
            out.push_str(&format!("{limb:09}"));
        }
    }
    out
}

fn string(s: &[char], i: &mut usize, prefix: &str) -> Result<Tok, Syntax> {
    let raw = prefix.contains('r');
    let bytes = prefix.contains('b');
    let fstr = prefix.contains('f');
    let q = s[*i];
    let triple = s.get(*i + 1) == Some(&q) && s.get(*i + 2) == Some(&q);
    *i += if triple { 3 } else { 1 };
    let mut body = Vec::new();
    loop {
        let Some(&c) = s.get(*i) else {
            return Err(Syntax);
        };
        if c == q && (!triple || (s.get(*i + 1) == Some(&q) && s.get(*i + 2) == Some(&q))) {
            *i += if triple { 3 } else { 1 };
            break;
        }
        if c == '\\' {
            let Some(&n) = s.get(*i + 1) else {
                return Err(Syntax);
            };
            body.push(c);
            body.push(n);
            *i += 2;
            continue;
        }
        body.push(c);
        *i += 1;
    }
    if fstr {
        return Ok(Tok::Str { bytes, text: None });
    }
    if bytes && body.iter().any(|c| !c.is_ascii()) {
        return Err(Syntax);
    }
    let text = if raw {
        body.iter().map(|c| *c as u32).collect()
    } else {
        unescape(&body, bytes)?
    };
    Ok(Tok::Str {
        bytes,
        text: Some(text),
    })
}

/// Backslash escapes, as code points (a lone surrogate stays representable).
fn unescape(body: &[char], bytes: bool) -> Result<Vec<u32>, Syntax> {
    let mut out = Vec::new();
    let mut i = 0;
    let hex = |from: usize, n: usize| -> Result<u32, Syntax> {
        let digits: String = body.get(from..from + n).ok_or(Syntax)?.iter().collect();
        if digits.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(&digits, 16).map_err(|_| Syntax)
        } else {
            Err(Syntax)
        }
    };
    while i < body.len() {
        let c = body[i];
        if c != '\\' {
            out.push(c as u32);
            i += 1;
            continue;
        }
        let n = body.get(i + 1).copied().unwrap_or('\\');
        i += 2;
        match n {
            '\\' | '\'' | '"' => out.push(n as u32),
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(10),
            'r' => out.push(13),
            't' => out.push(9),
            'v' => out.push(11),
            '0'..='7' => {
                let mut v = n.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match body.get(i).and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(if bytes { v & 0xff } else { v });
            }
            'x' => {
                out.push(hex(i, 2)?);
                i += 2;
            }
            'u' | 'U' if !bytes => {
                let n = if n == 'u' { 4 } else { 8 };
                let v = hex(i, n)?;
                if v > 0x10ffff {
                    return Err(Syntax);
                }
                out.push(v);
                i += n;
            }
            // `\N{name}` needs the Unicode name table; we report it as an
            // error rather than guess (documented in the crate root).
            'N' if !bytes => return Err(Syntax),
            other => {
                out.push('\\' as u32);
                out.push(other as u32);
            }
        }
    }
    Ok(out)
}

/// The expression tree, reduced to what `literal_eval` distinguishes.
#[derive(Debug)]
enum Node {
    Int(String),
    Float(f64),
    Imag(f64),
    Str(Vec<u32>),
    Bytes(Vec<u8>),
    Const(&'static str),
    Tuple(Vec<Node>),
    List(Vec<Node>),
    Set(Vec<Node>),
    EmptyDict,
    EmptySetCall,
    Unary(bool, Box<Node>),
    AddSub(Box<Node>, bool, Box<Node>),
    /// Any other valid expression (a name, attribute, call, f-string...).
    Other,
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n == name)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let hit = self.is_op(op);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn eat_name(&mut self, name: &str) -> bool {
        let hit = self.is_name(name);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_op(&mut self, op: &str) -> Result<(), Syntax> {
        if self.eat_op(op) { Ok(()) } else { Err(Syntax) }
    }

    fn enter(&mut self) -> Result<(), Syntax> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(Syntax)
        } else {
            Ok(())
        }
    }

    fn expr(&mut self) -> Result<Node, Syntax> {
        self.enter()?;
        let node = self.or_test()?;
        let node = if self.eat_name("if") {
            self.or_test()?;
            if !self.eat_name("else") {
                return Err(Syntax);
            }
            self.expr()?;
            Node::Other
        } else {
            node
        };
        self.depth -= 1;
        Ok(node)
    }

    fn or_test(&mut self) -> Result<Node, Syntax> {
        self.chain("or", Self::and_test)
    }

    fn and_test(&mut self) -> Result<Node, Syntax> {
        self.chain("and", Self::not_test)
    }

    /// `operand (keyword operand)*`: any keyword makes it a non-literal.
    fn chain(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Node, Syntax>,
    ) -> Result<Node, Syntax> {
        let mut node = operand(self)?;
        while self.eat_name(keyword) {
            operand(self)?;
            node = Node::Other;
        }
        Ok(node)
    }

    fn not_test(&mut self) -> Result<Node, Syntax> {
        if self.eat_name("not") {
            self.enter()?;
            self.not_test()?;
            self.depth -= 1;
            return Ok(Node::Other);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Node, Syntax> {
        let mut node = self.binary(0)?;
        loop {
            let two_word = (self.is_name("not")
                && matches!(self.toks.get(self.pos + 1), Some(Tok::Name(n)) if n == "in"))
                || (self.is_name("is")
                    && matches!(self.toks.get(self.pos + 1), Some(Tok::Name(n)) if n == "not"));
            if two_word {
                self.pos += 2;
            } else if ["<", ">", "==", ">=", "<=", "!="]
                .iter()
                .any(|o| self.is_op(o))
                || self.is_name("in")
                || self.is_name("is")
            {
                self.pos += 1;
            } else {
                return Ok(node);
            }
            self.binary(0)?;
            node = Node::Other;
        }
    }

    /// Binary operators by precedence level: `|`, `^`, `&`, shifts, `+ -`,
    /// `* / // % @`.
    fn binary(&mut self, level: usize) -> Result<Node, Syntax> {
        const LEVELS: &[&[&str]] = &[
            &["|"],
            &["^"],
            &["&"],
            &["<<", ">>"],
            &["+", "-"],
            &["*", "/", "//", "%", "@"],
        ];
        if level == LEVELS.len() {
            return self.factor();
        }
        let mut node = self.binary(level + 1)?;
        while let Some(op) = LEVELS[level].iter().find(|o| self.is_op(o)) {
            self.pos += 1;
            let rhs = self.binary(level + 1)?;
            node = if level == 4 {
                Node::AddSub(Box::new(node), *op == "+", Box::new(rhs))
            } else {
                Node::Other
            };
        }
        Ok(node)
    }

    fn factor(&mut self) -> Result<Node, Syntax> {
        for (op, plus) in [("+", Some(true)), ("-", Some(false)), ("~", None)] {
            if self.eat_op(op) {
                self.enter()?;
                let inner = self.factor()?;
                self.depth -= 1;
                return Ok(match plus {
                    Some(p) => Node::Unary(p, Box::new(inner)),
                    None => Node::Other,
                });
            }
        }
        let base = self.primary()?;
        if self.eat_op("**") {
            self.enter()?;
            self.factor()?;
            self.depth -= 1;
            return Ok(Node::Other);
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Node, Syntax> {
        let mut node = self.atom()?;
        loop {
            if self.eat_op(".") {
                match self.peek() {
                    Some(Tok::Name(n)) if !is_keyword(n) => self.pos += 1,
                    _ => return Err(Syntax),
                }
                node = Node::Other;
            } else if self.eat_op("(") {
                let empty = self.is_op(")");
                self.call_args()?;
                node = match node {
                    Node::Const("set") if empty => Node::EmptySetCall,
                    _ => Node::Other,
                };
            } else if self.eat_op("[") {
                self.enter()?;
                self.items("]")?;
                self.depth -= 1;
                node = Node::Other;
            } else {
                return Ok(node);
            }
        }
    }

    fn call_args(&mut self) -> Result<(), Syntax> {
        self.enter()?;
        while !self.eat_op(")") {
            if self.eat_op("**") || self.eat_op("*") {
                self.expr()?;
            } else if matches!(self.peek(), Some(Tok::Name(_)))
                && matches!(self.toks.get(self.pos + 1), Some(Tok::Op("=")))
            {
                self.pos += 2;
                self.expr()?;
            } else {
                self.expr()?;
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Comma-separated items up to `close`; returns them and whether a
    /// comma was seen (a tuple).
    fn items(&mut self, close: &str) -> Result<(Vec<Node>, bool), Syntax> {
        let mut items = Vec::new();
        let mut comma = false;
        while !self.eat_op(close) {
            if self.eat_op("*") {
                self.binary(0)?;
                items.push(Node::Other);
            } else {
                items.push(self.expr()?);
            }
            if self.eat_op(",") {
                comma = true;
            } else {
                self.expect_op(close)?;
                break;
            }
        }
        Ok((items, comma))
    }

    fn atom(&mut self) -> Result<Node, Syntax> {
        let Some(tok) = self.peek().cloned() else {
            return Err(Syntax);
        };
        self.pos += 1;
        Ok(match tok {
            Tok::Name(n) => match n.as_str() {
                "True" => Node::Const("True"),
                "False" => Node::Const("False"),
                "None" => Node::Const("None"),
                "set" => Node::Const("set"),
                n if is_keyword(n) => return Err(Syntax),
                _ => Node::Other,
            },
            Tok::Int(d) => Node::Int(d),
            Tok::Float(f) => Node::Float(f),
            Tok::Imag(f) => Node::Imag(f),
            Tok::Str { bytes, text } => {
                // Adjacent literals concatenate; bytes and str do not mix.
                let mut parts = vec![text];
                while let Some(Tok::Str { bytes: b2, text }) = self.peek().cloned() {
                    if b2 != bytes {
                        return Err(Syntax);
                    }
                    parts.push(text);
                    self.pos += 1;
                }
                let Some(parts) = parts.into_iter().collect::<Option<Vec<_>>>() else {
                    return Ok(Node::Other);
                };
                let all: Vec<u32> = parts.concat();
                if bytes {
                    Node::Bytes(all.iter().map(|c| *c as u8).collect())
                } else {
                    Node::Str(all)
                }
            }
            Tok::Op("...") => Node::Const("Ellipsis"),
            Tok::Op("(") => {
                self.enter()?;
                let (mut items, comma) = self.items(")")?;
                self.depth -= 1;
                if items.len() == 1 && !comma {
                    items.pop().unwrap_or(Node::Other)
                } else {
                    Node::Tuple(items)
                }
            }
            Tok::Op("[") => {
                self.enter()?;
                let (items, _) = self.items("]")?;
                self.depth -= 1;
                Node::List(items)
            }
            Tok::Op("{") => {
                self.enter()?;
                let (items, _) = self.items("}")?;
                self.depth -= 1;
                if items.is_empty() {
                    Node::EmptyDict
                } else {
                    Node::Set(items)
                }
            }
            Tok::Op(_) => return Err(Syntax),
        })
    }
}

fn is_keyword(n: &str) -> bool {
    KEYWORDS.contains(&n)
        || matches!(
            n,
            "True" | "False" | "None" | "and" | "or" | "not" | "in" | "is" | "if" | "else"
        )
}

/// A Python value `literal_eval` can return.
#[derive(Debug, Clone)]
enum PyVal {
    Int(bool, String),
    Float(f64),
    Complex(f64, f64),
    Str(Vec<u32>),
    Bytes(Vec<u8>),
    Const(&'static str),
    Tuple(Vec<PyVal>),
    List(Vec<PyVal>),
    Set(Vec<PyVal>),
    EmptyDict,
}

enum Conv {
    Value(PyVal),
    NotLiteral,
    Error(String),
}

fn convert(node: &Node) -> Conv {
    let all = |items: &[Node]| -> Result<Vec<PyVal>, Conv> {
        items
            .iter()
            .map(|n| match convert(n) {
                Conv::Value(v) => Ok(v),
                other => Err(other),
            })
            .collect()
    };
    match node {
        Node::Int(d) => Conv::Value(PyVal::Int(false, d.clone())),
        Node::Float(f) => Conv::Value(PyVal::Float(*f)),
        Node::Imag(f) => Conv::Value(PyVal::Complex(0.0, *f)),
        Node::Str(s) => Conv::Value(PyVal::Str(s.clone())),
        Node::Bytes(b) => Conv::Value(PyVal::Bytes(b.clone())),
        Node::Const("set") => Conv::NotLiteral,
        Node::Const(c) => Conv::Value(PyVal::Const(c)),
        Node::EmptyDict => Conv::Value(PyVal::EmptyDict),
        Node::EmptySetCall => Conv::Value(PyVal::Set(Vec::new())),
        Node::Tuple(items) => all(items).map_or_else(|e| e, |v| Conv::Value(PyVal::Tuple(v))),
        Node::List(items) => all(items).map_or_else(|e| e, |v| Conv::Value(PyVal::List(v))),
        Node::Set(items) => match all(items) {
            Err(e) => e,
            Ok(v)
                if v.iter()
                    .any(|x| matches!(x, PyVal::List(_) | PyVal::Set(_))) =>
            {
                Conv::Error("unhashable type in set literal".into())
            }
            Ok(v) => Conv::Value(PyVal::Set(v)),
        },
        Node::Unary(plus, inner) => match signed(*plus, inner) {
            Some(v) => Conv::Value(v),
            None => Conv::NotLiteral,
        },
        Node::AddSub(l, plus, r) => {
            let left = match &**l {
                Node::Unary(p, inner) => signed(*p, inner),
                other => num_value(other),
            };
            let right = num_value(r);
            match (left, right) {
                (Some(l @ (PyVal::Int(..) | PyVal::Float(_))), Some(PyVal::Complex(re, im))) => {
                    let lf = as_f64(&l);
                    let (re, im) = if *plus { (lf + re, im) } else { (lf - re, -im) };
                    Conv::Value(PyVal::Complex(re, im))
                }
                _ => Conv::NotLiteral,
            }
        }
        Node::Other => Conv::NotLiteral,
    }
}

fn num_value(node: &Node) -> Option<PyVal> {
    match node {
        Node::Int(d) => Some(PyVal::Int(false, d.clone())),
        Node::Float(f) => Some(PyVal::Float(*f)),
        Node::Imag(f) => Some(PyVal::Complex(0.0, *f)),
        _ => None,
    }
}

fn signed(plus: bool, inner: &Node) -> Option<PyVal> {
    let v = num_value(inner)?;
    Some(if plus {
        v
    } else {
        match v {
            PyVal::Int(neg, d) => PyVal::Int(!neg && d != "0", d),
            PyVal::Float(f) => PyVal::Float(-f),
            PyVal::Complex(re, im) => PyVal::Complex(-re, -im),
            other => other,
        }
    })
}

fn as_f64(v: &PyVal) -> f64 {
    match v {
        PyVal::Int(neg, d) => {
            let f: f64 = d.parse().unwrap_or(f64::INFINITY);
            if *neg { -f } else { f }
        }
        PyVal::Float(f) => *f,
        _ => 0.0,
    }
}

fn complex_repr(re: f64, im: f64) -> String {
    if re == 0.0 && re.is_sign_positive() {
        return format!("{}j", float_repr(im, false));
    }
    let im_s = float_repr(im, false);
    let sign = if im_s.starts_with('-') { "" } else { "+" };
    format!("({}{sign}{im_s}j)", float_repr(re, false))
}

fn code_points(cps: &[u32]) -> Option<String> {
    cps.iter().map(|c| char::from_u32(*c)).collect()
}

impl PyVal {
    fn py_str(&self) -> Option<String> {
        match self {
            PyVal::Str(s) => code_points(s),
            other => other.repr(),
        }
    }

    fn repr(&self) -> Option<String> {
        let seq =
            |items: &[PyVal]| -> Option<Vec<String>> { items.iter().map(PyVal::repr).collect() };
        Some(match self {
            PyVal::Int(neg, d) => format!("{}{d}", if *neg { "-" } else { "" }),
            PyVal::Float(f) => float_repr(*f, true),
            PyVal::Complex(re, im) => complex_repr(*re, *im),
            PyVal::Str(s) => {
                let mut out = String::new();
                str_repr(&code_points(s)?, &mut out, false);
                out
            }
            PyVal::Bytes(b) => {
                let mut out = String::new();
                bytes_repr(b, &mut out);
                out
            }
            PyVal::Const(c) => (*c).to_string(),
            PyVal::EmptyDict => "{}".into(),
            PyVal::List(items) => format!("[{}]", seq(items)?.join(", ")),
            PyVal::Tuple(items) if items.len() == 1 => format!("({},)", seq(items)?.join("")),
            PyVal::Tuple(items) => format!("({})", seq(items)?.join(", ")),
            PyVal::Set(items) if items.is_empty() => "set()".into(),
            PyVal::Set(items) => {
                // Python orders a set by hash; we keep first occurrences in
                // source order (documented approximation).
                let mut seen: Vec<String> = Vec::new();
                for s in seq(items)? {
                    if !seen.contains(&s) {
                        seen.push(s);
                    }
                }
                format!("{{{}}}", seen.join(", "))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lit(k: &str) -> String {
        match classify(k) {
            Kind::Literal(Some(s)) => s,
            other => panic!("{k}: {other:?}"),
        }
    }

    #[test]
    fn literals_like_python() {
        for (k, s) in [
            ("-1j", "(-0-1j)"),
            ("1+2j", "(1+2j)"),
            ("0x1F", "31"),
            ("00", "0"),
            ("b\"a\"", "b'a'"),
            ("\"a\"\"b\"", "ab"),
            ("...", "Ellipsis"),
            ("set()", "set()"),
            ("[1,(2,)]", "[1, (2,)]"),
            ("{}", "{}"),
            ("{1,2}", "{1, 2}"),
            ("1e999", "inf"),
            ("1_000", "1000"),
            ("0_0", "0"),
            ("+1.5", "1.5"),
            ("True", "True"),
            ("None", "None"),
            ("1.0", "1.0"),
            ("2.5e20", "2.5e+20"),
            ("(1)", "1"),
            ("()", "()"),
            ("(1,)", "(1,)"),
            (".5j", "0.5j"),
            ("1.5e-7", "1.5e-07"),
            ("-0.0", "-0.0"),
            ("'member'", "member"),
            ("'it\\'s'", "it's"),
            (
                "0xffffffffffffffffffffffff",
                "79228162514264337593543950335",
            ),
        ] {
            assert_eq!(lit(k), s, "{k}");
        }
    }

    #[test]
    fn paths_and_errors_like_python() {
        for k in [
            "--1",
            "f'x'",
            "a#b",
            "not(a)",
            "(a)and(b)",
            "x[0]",
            "-True",
            "a-b",
            "user_id",
            "token.project.id",
        ] {
            assert!(matches!(classify(k), Kind::Path(_)), "{k}");
        }
        for k in [
            "1.2.3",
            "012",
            "#a",
            "a.1",
            "ur\"x\"",
            "a\0b",
            "\"\\N{DASH}\"",
            "",
            "a.",
            "$a",
            "class",
            "a.class",
            "1a",
            "a!b",
            "1_",
            "0b12",
            "1__0",
            "1e",
            "\"\\x4\"",
            "'abc",
        ] {
            assert!(matches!(classify(k), Kind::Invalid(_)), "{k}");
        }
        assert_eq!(
            classify("a.b.c"),
            Kind::Path(vec!["a".into(), "b".into(), "c".into()])
        );
    }
}
