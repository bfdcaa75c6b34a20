//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyError {
    /// `enforce` on a name no default registers (oslo's
    /// `PolicyNotRegistered`).
    NotRegistered(String),
    /// A policy file or directory that could not be read or parsed.
    File { path: PathBuf, message: String },
    /// Evaluating a rule raised in oslo (a bad `%` format in a match, a
    /// kind that is a Python syntax error, a credential path through a
    /// non-mapping, a `rule:` cycle): Glance answers such a request with a
    /// 500, so callers should too.
    Evaluation { rule: String, message: String },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::NotRegistered(name) => write!(f, "Policy {name} has not been registered"),
            PolicyError::File { path, message } => {
                write!(f, "policy file {}: {message}", path.display())
            }
            PolicyError::Evaluation { rule, message } => {
                write!(f, "evaluating policy {rule}: {message}")
            }
        }
    }
}

impl std::error::Error for PolicyError {}
