//! oslo.policy for Glimpse: the rule language, the enforcer and Glance 33's
//! default policies.
//!
//! Tour:
//! - [`parser`]: check strings (`role:admin or rule:owner`) and the legacy
//!   list-of-lists form into a [`Check`] tree, with oslo's shift-reduce
//!   quirks; [`check`] renders a tree back as oslo's `str()` does.
//! - `eval` (internal): evaluating a tree on a target and credentials.
//!   [`pyfmt`], [`literal`] and [`pyval`] reproduce the bits of Python the
//!   checks lean on: `match % target`, `ast.literal_eval(kind)` and
//!   `str()`/`repr()` of values.
//! - [`defaults`]: Glance 33's registered policies as data.
//! - [`enforcer`]: [`Enforcer`] merges the defaults with policy files the
//!   way oslo.policy 6.0.1 does, enforces by name, and reloads changed files.
//! - [`yaml`]: policy files read as PyYAML reads them.
//! - [`sample`]: the `oslopolicy-sample-generator --namespace glance` text.
//!
//! Credentials are what oslo.context's `RequestContext.to_policy_values()`
//! gives (Glance adds nothing): `user_id`, `user_domain_id`,
//! `system_scope`, `domain_id`, `project_id`, `project_domain_id`, `roles`,
//! `is_admin_project`, `service_user_id`, `service_user_domain_id`,
//! `service_project_id`, `service_project_domain_id`, `service_roles`.
//! Callers build them, and targets, as [`Values`] maps.
//!
//! What we deliberately do not reproduce:
//! - `http:`/`https:` checks (oslo POSTs to a URL): they parse, log a
//!   warning and always fail.
//! - In `kind:match` kinds, `\N{...}` string escapes and sets follow
//!   Python only approximately (a `\N` escape is an error; set elements
//!   keep source order); `%e`/`%f`/`%g`/`%c` conversions in a match are
//!   evaluation errors.
//! - Python's recursion limit is modelled as a fixed depth
//!   ([`check::MAX_DEPTH`]): deeper rules or `rule:` cycles are evaluation
//!   errors, as oslo's `RecursionError` is.
//! - Reloads rebuild the rule set from scratch, so deleting an override
//!   from a file restores the default (Glance's enforcer, built with
//!   `overwrite=False`, keeps the stale override until restarted).

pub mod check;
pub mod defaults;
pub mod enforcer;
pub mod error;
mod eval;
pub mod literal;
pub mod parser;
pub mod pyfmt;
pub mod pyval;
pub mod sample;
pub mod yaml;

pub use check::Check;
pub use defaults::{DeprecatedRule, GLANCE_DEFAULTS, Operation, RuleDefault};
pub use enforcer::{Enforcer, PolicyConfig};
pub use error::PolicyError;
pub use eval::Values;
pub use parser::parse_rule;
pub use sample::sample_yaml;
