//! The sample file against `oslopolicy-sample-generator --namespace glance`
//! from the Glance 33 venv: identical except for prose (descriptions and
//! deprecation reasons, which are written in our own words).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use glimpse_policy::sample::format_default;
use glimpse_policy::{Enforcer, sample_yaml};

/// Python's sample with every description replaced by "DESC" and every
/// deprecation reason by "REASON" (through oslo's own formatter), so the
/// rest can be compared byte for byte: the prose is ours, the data is
/// Glance's.
const PLACEHOLDER_SCRIPT: &str = r#"
import sys
from oslo_policy import generator
import glance.policies
out = []
for rule in glance.policies.list_rules():
    if rule.description:
        rule._description = 'DESC'
    if rule.deprecated_reason:
        rule._deprecated_reason = 'REASON'
    if rule.deprecated_rule is not None and rule.deprecated_rule.deprecated_reason:
        rule.deprecated_rule._deprecated_reason = 'REASON'
    out.append(generator._format_rule_default_yaml(rule))
sys.stdout.write(''.join(out))
"#;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sample_matches_python_except_descriptions() {
    let Some(python) = common::oracle_python("sample_matches_python_except_descriptions") else {
        return;
    };
    let expected = run(Command::new(&python).args(["-c", PLACEHOLDER_SCRIPT]));
    let ours: String = Enforcer::registered()
        .iter()
        .map(|d| {
            let mut d = *d;
            if d.description.is_some() {
                d.description = Some("DESC");
            }
            if d.deprecated_reason.is_some() {
                d.deprecated_reason = Some("REASON");
            }
            if let Some(dep) = d.deprecated_rule.as_mut()
                && dep.deprecated_reason.is_some()
            {
                dep.deprecated_reason = Some("REASON");
            }
            format_default(&d)
        })
        .collect();
    assert_eq!(ours, expected);

    // And the real command: same rule, operation and scope lines in the
    // same order.
    let generator = python.with_file_name("oslopolicy-sample-generator");
    let real = run(Command::new(generator).args(["--namespace", "glance"]));
    let structural = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                l.starts_with("#\"")
                    || l.starts_with("# Intended scope(s):")
                    || ["GET", "POST", "PUT", "PATCH", "DELETE"]
                        .iter()
                        .any(|m| l.starts_with(&format!("# {m}  /")))
            })
            .map(str::to_string)
            .collect()
    };
    let mine = sample_yaml();
    assert_eq!(structural(&mine), structural(&real));
    let defaults = Enforcer::registered();
    let lines = defaults.len()
        + defaults.iter().filter(|d| d.scope_types.is_some()).count()
        + defaults
            .iter()
            .map(|d| d.operations.map_or(0, <[_]>::len))
            .sum::<usize>();
    assert_eq!(structural(&mine).len(), lines);
}
