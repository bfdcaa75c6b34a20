//! The parsed form of a rule: oslo.policy's check tree.

use std::fmt;

use crate::literal::Kind;
use crate::pyfmt::Template;

/// Rules nested deeper than this would exhaust Python's recursion limit
/// when oslo evaluates them; we cut them off (see [`Check::TooDeep`]).
pub const MAX_DEPTH: usize = 500;

/// One node of a parsed rule, mirroring oslo's check classes.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// `@` or the empty rule: always passes.
    True,
    /// `!` or anything oslo could not understand: never passes.
    False,
    /// `rule:NAME`: another rule of the enforcer.
    Rule(String),
    /// `role:NAME`: a role of the caller, compared case-insensitively.
    Role(Template),
    /// `kind:match`: a literal or a credential path compared with the match.
    Generic {
        kind: String,
        class: Kind,
        matcher: Template,
    },
    /// `http:` / `https:`: remote checks, not supported (always false).
    External {
        kind: String,
        target: String,
    },
    Not(Box<Check>),
    And(Vec<Check>),
    Or(Vec<Check>),
    /// A subtree deeper than [`MAX_DEPTH`]: evaluating it is an error, as
    /// Python's `RecursionError` would be.
    TooDeep,
}

/// Renders as oslo's `str(check)`: `@`, `!`, `kind:match`, `not X`,
/// `(a and b)`, `(a or b)`.
impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::True => f.write_str("@"),
            Check::False | Check::TooDeep => f.write_str("!"),
            Check::Rule(name) => write!(f, "rule:{name}"),
            Check::Role(t) => write!(f, "role:{}", t.raw()),
            Check::Generic { kind, matcher, .. } => write!(f, "{kind}:{}", matcher.raw()),
            Check::External { kind, target } => write!(f, "{kind}:{target}"),
            Check::Not(inner) => write!(f, "not {inner}"),
            Check::And(rules) => join(f, rules, " and "),
            Check::Or(rules) => join(f, rules, " or "),
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, rules: &[Check], sep: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, r) in rules.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{r}")?;
    }
    f.write_str(")")
}

impl Check {
    /// The `rule:` references oslo's load-time sanity checks look at: they
    /// descend through `and`/`or` but not into `not`.
    pub fn rule_refs<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Check::Rule(name) => out.push(name),
            Check::And(rules) | Check::Or(rules) => {
                for r in rules {
                    r.rule_refs(out);
                }
            }
            _ => {}
        }
    }

    pub fn has_external(&self) -> bool {
        match self {
            Check::External { .. } => true,
            Check::Not(inner) => inner.has_external(),
            Check::And(rules) | Check::Or(rules) => rules.iter().any(Check::has_external),
            _ => false,
        }
    }
}
