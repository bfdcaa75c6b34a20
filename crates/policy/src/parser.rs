//! oslo.policy's rule language, parsed the way `oslo_policy._parser` does.
//!
//! The text form is split on whitespace, parentheses are peeled off each
//! token, and a greedy shift-reduce loop builds the tree. Its quirks are
//! deliberate compatibility: `not` binds to the next check only, `a or b and
//! c` becomes `a or (b and c)` by rewriting the last `or` operand, a quoted
//! token is a string that never reduces, and anything that does not reduce
//! to a single check becomes `!` (fail closed) with a logged warning.
//! The legacy JSON list-of-lists form is [`parse_list_rule`].

use crate::check::{Check, MAX_DEPTH};
use crate::literal::classify;
use crate::pyfmt::Template;

/// Python's `str.isspace()`: Rust's White_Space plus the four ASCII
/// information separators Python also splits on.
pub(crate) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Parses one check string (`role:admin or rule:owner`). Never fails:
/// what oslo cannot understand becomes [`Check::False`], with a warning.
pub fn parse_rule(text: &str) -> Check {
    if text.is_empty() {
        return Check::True;
    }
    let mut state = State::default();
    for tok in text.split(py_space).filter(|t| !t.is_empty()) {
        tokenize(tok, &mut state);
    }
    match state.finish() {
        Some(check) => check,
        None => {
            log::warn!("Failed to understand rule {text}: it will never pass");
            Check::False
        }
    }
}

/// One `kind:match` token (oslo's `_parse_check`).
pub fn parse_check(token: &str) -> Check {
    match token {
        "!" => return Check::False,
        "@" => return Check::True,
        _ => {}
    }
    let Some((kind, matched)) = token.split_once(':') else {
        log::warn!("Failed to understand rule {token}: no kind:match form, it will never pass");
        return Check::False;
    };
    match kind {
        "rule" => Check::Rule(matched.to_string()),
        "role" => Check::Role(Template::new(matched)),
        "http" | "https" => {
            log::warn!(
                "Rule check {token}: remote {kind} checks are not supported by Glimpse and always fail"
            );
            Check::External {
                kind: kind.to_string(),
                target: matched.to_string(),
            }
        }
        _ => Check::Generic {
            kind: kind.to_string(),
            class: classify(kind),
            matcher: Template::new(matched),
        },
    }
}

enum Entry {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// A quoted token: never part of a valid rule.
    Str,
    /// A check, with the depth of its tree.
    Check(Check, usize),
    AndExpr(Vec<Check>, usize),
    OrExpr(Vec<Check>, usize),
}

#[derive(Default)]
struct State {
    stack: Vec<Entry>,
}

fn node(check: Check, depth: usize) -> Entry {
    capped(Entry::Check(check, depth), depth)
}

fn tokenize(tok: &str, state: &mut State) {
    let clean = tok.trim_start_matches('(');
    for _ in 0..tok.len() - clean.len() {
        state.shift(Entry::LParen);
    }
    if clean.is_empty() {
        return;
    }
    let tok = clean;
    let clean = tok.trim_end_matches(')');
    let trail = tok.len() - clean.len();
    match clean.to_lowercase().as_str() {
        "and" => state.shift(Entry::And),
        "or" => state.shift(Entry::Or),
        "not" => state.shift(Entry::Not),
        _ if clean.is_empty() => {}
        _ => {
            // The quote test looks at the token before its `)`s are removed.
            let first = tok.chars().next();
            let last = tok.chars().last();
            if tok.chars().count() >= 2 && first == last && matches!(first, Some('"' | '\'')) {
                state.shift(Entry::Str);
            } else {
                state.shift(Entry::Check(parse_check(clean), 1));
            }
        }
    }
    for _ in 0..trail {
        state.shift(Entry::RParen);
    }
}

impl State {
    fn shift(&mut self, e: Entry) {
        self.stack.push(e);
        while self.reduce() {}
    }

    /// Applies one reduction to the top of the stack, if any matches.
    fn reduce(&mut self) -> bool {
        let n = self.stack.len();
        if n >= 3 {
            use Entry as E;
            let top3 = (&self.stack[n - 3], &self.stack[n - 2], &self.stack[n - 1]);
            let kind = match top3 {
                (E::LParen, E::Check(..) | E::AndExpr(..) | E::OrExpr(..), E::RParen) => 1,
                (E::Check(..), E::And, E::Check(..)) => 2,
                (E::AndExpr(..), E::And, E::Check(..)) => 3,
                (E::OrExpr(..), E::And, E::Check(..)) => 4,
                (E::Check(..) | E::AndExpr(..), E::Or, E::Check(..)) => 5,
                (E::OrExpr(..), E::Or, E::Check(..)) => 6,
                _ => 0,
            };
            if kind == 1 {
                self.stack.pop();
                let mid = self.stack.pop();
                self.stack.pop();
                if let Some(mid) = mid {
                    let (v, d) = value(mid);
                    self.stack.push(Entry::Check(v, d));
                }
                return true;
            }
            if kind != 0 {
                let c = self.stack.pop();
                self.stack.pop();
                let a = self.stack.pop();
                let (Some(a), Some(c)) = (a, c) else {
                    return false;
                };
                self.stack.push(combine(kind, a, c));
                return true;
            }
        }
        if n >= 2
            && matches!(self.stack[n - 2], Entry::Not)
            && matches!(self.stack[n - 1], Entry::Check(..))
            && let Some(Entry::Check(c, d)) = self.stack.pop()
        {
            self.stack.pop();
            self.stack.push(node(Check::Not(Box::new(c)), d + 1));
            return true;
        }
        false
    }

    fn finish(mut self) -> Option<Check> {
        if self.stack.len() != 1 {
            return None;
        }
        match self.stack.pop()? {
            Entry::Check(c, _) => Some(c),
            Entry::AndExpr(v, _) => Some(Check::And(v)),
            Entry::OrExpr(v, _) => Some(Check::Or(v)),
            _ => None,
        }
    }
}

fn value(e: Entry) -> (Check, usize) {
    match e {
        Entry::Check(c, d) => (c, d),
        Entry::AndExpr(v, d) => (Check::And(v), d),
        Entry::OrExpr(v, d) => (Check::Or(v), d),
        _ => (Check::False, 1),
    }
}

/// Builds the reduction `kind` (numbered as in [`State::reduce`]) of the
/// outer entries `a` and `c`.
fn combine(kind: u8, a: Entry, c: Entry) -> Entry {
    let (cv, cd) = value(c);
    match (kind, a) {
        (2, a) => {
            let (av, ad) = value(a);
            and_expr(vec![av, cv], ad.max(cd) + 1)
        }
        (3, Entry::AndExpr(mut v, d)) => {
            v.push(cv);
            and_expr(v, d.max(cd + 1))
        }
        (4, Entry::OrExpr(mut v, d)) => {
            // `a or b and c`: `and` takes the last `or` operand.
            let last = v.pop().unwrap_or(Check::False);
            let and = match last {
                Check::And(mut inner) => {
                    inner.push(cv);
                    inner
                }
                other => vec![other, cv],
            };
            v.push(Check::And(and));
            or_expr(v, d.max(cd + 2))
        }
        (5, a) => {
            let (av, ad) = value(a);
            or_expr(vec![av, cv], ad.max(cd) + 1)
        }
        (6, Entry::OrExpr(mut v, d)) => {
            v.push(cv);
            or_expr(v, d.max(cd + 1))
        }
        _ => Entry::Check(Check::False, 1),
    }
}

/// An `and` expression of tree depth `depth` (cut off past the limit).
fn and_expr(v: Vec<Check>, depth: usize) -> Entry {
    capped(Entry::AndExpr(v, depth), depth)
}

fn or_expr(v: Vec<Check>, depth: usize) -> Entry {
    capped(Entry::OrExpr(v, depth), depth)
}

fn capped(e: Entry, depth: usize) -> Entry {
    if depth > MAX_DEPTH {
        Entry::Check(Check::TooDeep, 1)
    } else {
        e
    }
}

/// A rule value from a policy file that is not a string: oslo's legacy
/// list-of-lists form (outer list joined by `or`, inner lists by `and`).
/// `Err` carries what Python raises (`TypeError` for non-iterables).
pub fn parse_list_rule(rule: &crate::yaml::Doc) -> Result<Check, String> {
    use crate::yaml::Doc;
    if !rule.truthy() {
        return Ok(Check::True);
    }
    let outer = rule.iter_items()?;
    let mut or_list = Vec::new();
    for inner in outer {
        if !inner.truthy() {
            continue;
        }
        let and_list: Vec<Check> = match inner {
            Doc::Str(s) => vec![parse_check(s)],
            other => other
                .iter_items()?
                .into_iter()
                .map(|r| match r {
                    Doc::Str(s) => parse_check(s),
                    other => {
                        log::warn!("Failed to understand rule {other:?}: not a string");
                        Check::False
                    }
                })
                .collect(),
        };
        if and_list.len() == 1 {
            or_list.extend(and_list);
        } else {
            or_list.push(Check::And(and_list));
        }
    }
    Ok(match or_list.len() {
        0 => Check::False,
        1 => or_list.pop().unwrap_or(Check::False),
        _ => Check::Or(or_list),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn s(text: &str) -> String {
        parse_rule(text).to_string()
    }

    #[test]
    fn renders_like_oslo() {
        for (text, rendered) in [
            ("", "@"),
            (" ", "!"),
            ("role:admin", "role:admin"),
            ("a:b or c:d and e:f", "(a:b or (c:d and e:f))"),
            (
                "a:b or c:d and e:f and g:h",
                "(a:b or (c:d and e:f and g:h))",
            ),
            ("a:b and c:d or e:f", "((a:b and c:d) or e:f)"),
            ("not a:b and c:d", "(not a:b and c:d)"),
            ("a:b and not c:d", "(a:b and not c:d)"),
            ("not (a:b or c:d)", "not (a:b or c:d)"),
            ("((a:b))", "a:b"),
            (
                "a:b or (c:d and e:f) and g:h",
                "(a:b or (c:d and e:f and g:h))",
            ),
            ("a:b c:d", "!"),
            ("a:b and", "!"),
            ("'a:b'", "!"),
            ("'a':b", "'a':b"),
            ("foo", "!"),
            ("A:b AND c:d Or NOT e:f", "((A:b and c:d) or not e:f)"),
            ("(a:b", "!"),
            ("a:b)", "!"),
        ] {
            assert_eq!(s(text), rendered, "{text}");
        }
    }

    #[test]
    fn deep_rules_do_not_overflow() {
        let deep = "not ".repeat(100_000) + "a:b";
        assert_eq!(parse_rule(&deep), Check::TooDeep);
        let parens = "(".repeat(50_000) + "a:b" + &")".repeat(50_000);
        assert_eq!(s(&parens), "a:b");
        let mut nested = String::from("a:b");
        for _ in 0..5000 {
            nested = format!("(x:y and {nested})");
        }
        assert!(matches!(
            parse_rule(&nested),
            Check::TooDeep | Check::And(_)
        ));
    }
}
