//! Differential test: glimpse-policy against the real oslo.policy 6.0.1
//! with Glance 33's registered defaults.
//!
//! The Rust side writes policy files and a table of scenarios (enforcer
//! set-ups) × credentials × targets × rules (registered names and ad-hoc
//! check strings) to a temporary directory; `oslo_oracle.py`, run with the
//! Glance venv's python, answers every case with oslo.policy; we answer
//! the same cases and require identical decisions, errors included.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use glimpse_policy::{Enforcer, PolicyConfig, PolicyError, Values};
use serde_json::{Value, json};

/// Policy files: overrides, custom rules and `rule:` chains, the language's
/// corners, and the list-of-lists form.
const CUSTOM_YAML: &str = r#"# Operator overrides (YAML).
"context_is_admin": "role:admin or role:cloud_admin"
"owner": "project_id:%(owner)s"
"custom_owner": "rule:owner and role:member"
"custom_chain": "rule:custom_owner or rule:missing_rule"
get_image: rule:context_is_admin or rule:owner or 'public':%(visibility)s
"download_image": "not role:reader and rule:owner"
"delete_image": "role:admin and (project_id:%(project_id)s or (role:member and not 'private':%(visibility)s))"
"get_images": ["role:reader", ["role:member", "project_id:%(owner)s"]]
"add_member": []
"modify_member": [[]]
"get_member": ~
"publicize_image": "role:admin role:member"
"communitize_image": "token.project.id:%(project_id)s"
"deactivate": "is_admin_project:True and role:admin"
"reactivate": "'member':%(role)s or 1:%(min_ram)s"
"upload_image": "((((role:member)))) and ((project_id:%(project_id)s or project_id:%(member_id)s))"
"tasks_api_access": "roles:admin"
"get_task": "rule:nonexistent"
"modify_task": "rule:default"
"stores_info_detail": "not not role:service"
"cache_prune": "(role:admin or role:member and project_id:%(owner)s) and not role:reader or 'x':%(visibility)s"
"set_image_location": "role:Admin OR Role:member AND project_id:%(project_id)s"
"cyc_a": "rule:cyc_b"
"cyc_b": "role:nobody or rule:cyc_a"
"#;

/// The same kind of thing as JSON, with a `default` override that changes
/// every fallback.
const CUSTOM_JSON: &str = r#"{
    "default": "role:admin",
    "context_is_admin": "role:admin",
    "get_image": "role:reader and (project_id:%(owner)s or project_id:%(member_id)s)",
    "custom_literal": "True:%(protected)s or 1.0:%(ratio)s",
    "add_image": "role:member and project_id:%(project_id)s and not None:%(owner)s",
    "get_images": [["role:reader"], ["role:admin"]],
    "cache_image": "system_scope:all",
    "cache_delete": "system:all or domain_id:d1",
    "get_task": "rule:nonexistent",
    "get_tasks": "[1,2]:%(pair)s",
    "add_task": "user_id:%(owner)s%(visibility)s"
}"#;

const DIR_FIRST: &str =
    "\"get_image\": \"!\"\n\"custom_dir\": \"role:reader\"\n\"copy_image\": \"rule:custom_dir\"\n";
const DIR_SECOND: &str = "get_image: role:reader\nadd_member: '@'\n";
const DIR_HIDDEN: &str = "get_image: '!'\nadd_member: '!'\n";

/// Non-string values: falsy ones mean "always".
const FALSY: &str =
    "get_image: no\nadd_image: 0\nget_images: ''\ndelete_image: []\nmodify_image: {}\n";

/// Check strings evaluated ad hoc: every feature of the language, and
/// malformed rules.
const CHECKS: &[&str] = &[
    "",
    "@",
    "!",
    " ",
    "role:admin",
    "role:ADMIN",
    "role:%(owner)s",
    "role:%(missing)s",
    "role:ädmin",
    "role:a",
    "ROLE:admin",
    "project_id:%(project_id)s",
    "project_id:%(owner)s",
    "project_id:%(tenant)s",
    "user_id:%(user_id)s",
    "'public':%(visibility)s",
    "\"shared\":%(visibility)s",
    "True:%(protected)s",
    "False:%(protected)s",
    "None:%(owner)s",
    "None:%(visibility)s",
    "1:%(min_ram)s",
    "1.0:%(ratio)s",
    "-1:%(delta)s",
    "[1,2]:%(pair)s",
    "is_admin_project:True",
    "is_admin_project:%(protected)s",
    "system_scope:all",
    "system:all",
    "domain_id:%(domain)s",
    "domain_id:d1",
    "service_roles:service",
    "roles:admin",
    "roles:reader",
    "token.project.id:%(project_id)s",
    "token.roles.name:admin",
    "token.missing.name:admin",
    "project_id.x:p1",
    "roles.name:admin",
    "not role:admin",
    "not not role:admin",
    "role:admin and not role:reader",
    "not role:admin or role:reader",
    "role:admin or role:member and project_id:%(project_id)s",
    "(role:admin or role:member) and project_id:%(project_id)s",
    "role:admin or role:member and project_id:%(project_id)s and 'private':%(visibility)s",
    "role:reader and role:member or role:admin and not project_id:%(owner)s",
    "((((role:reader))))",
    "(((role:reader) and ((project_id:%(project_id)s))) or (role:admin))",
    "not (role:admin or role:member)",
    "( not role:admin )",
    "role:admin OR role:reader AnD not project_id:%(owner)s",
    "rule:context_is_admin",
    "rule:get_image",
    "rule:add_image",
    "rule:nonexistent",
    "rule:custom_owner",
    "rule:custom_chain",
    "rule:custom_literal",
    "rule:custom_dir",
    "rule:default",
    "not rule:nonexistent",
    "foo",
    "role:admin and",
    "or role:admin",
    "(role:admin",
    "role:admin)",
    "'role:admin'",
    "role:admin role:member",
    "and",
    "not",
    "role:admin and (",
    "@ and !",
    "! or @",
    "not @",
    "%(x)s:y",
    "a-b:c",
    "x[0]:y",
    "1.2.3:x",
    ":x",
    "project_id:100%",
    "project_id:%(owner)d",
    "project_id:%(owner)r",
    "project_id:%(owner)-3s",
    "project_id:%%(owner)s",
    "user_id:%(owner)s%(visibility)s",
    "'p1':%(owner)s and 'p1':%(project_id)s",
    "u'p1':%(owner)s",
    "b'p1':%(owner)s",
    "0x1:%(min_ram)s",
    "rule:cyc_a",
    "role:admin or rule:cyc_a",
    "not ((((((((((not ((((((((((role:admin))))))))))))))))))))",
    "(role:a and (role:b or (role:c and (role:d or (role:e and (role:admin or (role:reader and (role:member or rule:owner))))))))",
];

fn policy_values(roles: Value, project: Value) -> Value {
    json!({
        "user_id": "u1",
        "user_domain_id": "default",
        "system_scope": null,
        "domain_id": null,
        "project_id": project,
        "project_domain_id": "default",
        "roles": roles,
        "is_admin_project": true,
        "service_user_id": null,
        "service_user_domain_id": null,
        "service_project_id": null,
        "service_project_domain_id": null,
        "service_roles": [],
    })
}

fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn credentials() -> Vec<Value> {
    let role_sets = [
        json!([]),
        json!(["admin"]),
        json!(["member", "reader"]),
        json!(["reader"]),
        json!(["Member", "READER"]),
        json!(["service"]),
        json!(["admin", "member", "reader"]),
        json!(["cloud_admin", "member"]),
    ];
    let mut out = Vec::new();
    for roles in &role_sets {
        for project in [json!("p1"), json!("p2"), Value::Null] {
            out.push(policy_values(roles.clone(), project));
        }
    }
    let admin_p1 = policy_values(json!(["admin", "member", "reader"]), json!("p1"));
    out.extend([
        with(admin_p1.clone(), json!({"system_scope": "all", "project_id": null})),
        with(admin_p1.clone(), json!({"system_scope": "all"})),
        with(admin_p1.clone(), json!({"domain_id": "d1", "project_id": null})),
        with(admin_p1.clone(), json!({"is_admin_project": false})),
        with(
            policy_values(json!(["reader"]), json!("p1")),
            json!({"token": {"project": {"id": "p1"}, "roles": [{"name": "admin"}, {"name": "reader"}]}}),
        ),
        policy_values(json!("admin"), json!("p1")),
        policy_values(Value::Null, json!("p1")),
        policy_values(json!([1, "admin"]), json!("p1")),
        policy_values(json!(["Ädmin"]), json!("p1")),
        with(
            policy_values(json!([]), json!("p1")),
            json!({"service_roles": ["service"], "service_user_id": "s1"}),
        ),
        json!({"project_id": "p1", "user_id": "u1"}),
        json!({}),
    ]);
    out
}

fn targets() -> Vec<Value> {
    let mut out = Vec::new();
    let members = [
        None,
        Some(json!("p1")),
        Some(json!("p2")),
        Some(Value::Null),
    ];
    let mut n = 0;
    for owner in [json!("p1"), json!("p2"), Value::Null] {
        for vis in ["public", "private", "shared", "community"] {
            let mut t = json!({"owner": owner, "project_id": owner, "visibility": vis});
            if let Some(m) = &members[n % members.len()] {
                t["member_id"] = m.clone();
            }
            n += 1;
            out.push(t);
        }
    }
    out.extend([
        json!({}),
        json!({"owner": "p1", "visibility": "private"}),
        json!({
            "owner": "p1", "project_id": "p1", "visibility": "private", "protected": true,
            "min_ram": 1, "ratio": 1.0, "delta": -1, "role": "member", "pair": [1, 2],
            "domain": "d1", "member_id": "p2",
        }),
        json!({"owner": true, "project_id": 5, "visibility": null, "protected": false, "min_ram": 0}),
        json!({"owner": null, "project_id": null, "visibility": null, "member_id": null}),
    ]);
    out
}

struct Scenario {
    config: PolicyConfig,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

fn scenarios(dir: &Path) -> Vec<Scenario> {
    let yaml = write(dir, "custom.yaml", CUSTOM_YAML);
    let json_file = write(dir, "custom.json", CUSTOM_JSON);
    let pdir = dir.join("policy.d");
    write(&pdir, "20-second.yaml", DIR_SECOND);
    write(&pdir, "10-first.yaml", DIR_FIRST);
    write(&pdir, ".hidden.yaml", DIR_HIDDEN);
    write(&pdir, "sub/ignored.yaml", DIR_HIDDEN);
    let falsy = write(dir, "falsy.yaml", FALSY);
    let empty = write(dir, "empty.yaml", "");
    let top_list = write(dir, "top_list.yaml", "[]\n");
    let broken = [
        write(dir, "broken_list.yaml", "- a\n- b\n"),
        write(dir, "broken_syntax.yaml", "get_image: [\n"),
        write(dir, "broken_scalar.yaml", "get_image: 5\n"),
        write(dir, "broken_yes.yaml", "get_image: yes\n"),
        write(dir, "broken_text.yaml", "just some text\n"),
    ];
    let cfg = |new: bool, file: Option<&PathBuf>, dirs: Vec<PathBuf>| Scenario {
        config: PolicyConfig {
            enforce_new_defaults: new,
            enforce_scope: true,
            policy_file: file.cloned(),
            policy_dirs: dirs,
        },
    };
    let mut out = vec![
        cfg(true, None, vec![]),
        cfg(false, None, vec![]),
        cfg(true, Some(&yaml), vec![]),
        cfg(false, Some(&yaml), vec![]),
        cfg(true, Some(&json_file), vec![pdir.clone()]),
        cfg(
            false,
            Some(&json_file),
            vec![pdir.clone(), dir.join("missing.d")],
        ),
        cfg(true, Some(&falsy), vec![]),
        cfg(false, Some(&empty), vec![]),
        cfg(false, None, vec![pdir.clone()]),
        cfg(true, Some(&top_list), vec![]),
    ];
    out.extend(broken.iter().map(|b| cfg(true, Some(b), vec![])));
    out
}

/// What we answer for one case, in the oracle's words.
fn decide(
    enforcer: &Result<Enforcer, PolicyError>,
    rule: &Value,
    target: &Values,
    creds: &Values,
) -> String {
    let Ok(enforcer) = enforcer else {
        // Like Glance, the name is checked before the rules are loaded.
        let registered = |n: &str| Enforcer::registered().iter().any(|d| d.name == n);
        return match rule.get("rule").and_then(Value::as_str) {
            Some(name) if !registered(name) => "not_registered".into(),
            _ => "error".into(),
        };
    };
    let result = match rule {
        Value::Object(r) if r.contains_key("rule") => {
            enforcer.enforce(r["rule"].as_str().unwrap(), target, creds)
        }
        Value::Object(r) => enforcer.try_check_str(r["check"].as_str().unwrap(), target, creds),
        _ => unreachable!(),
    };
    match result {
        Ok(true) => "true".into(),
        Ok(false) => "false".into(),
        Err(PolicyError::NotRegistered(_)) => "not_registered".into(),
        Err(_) => "error".into(),
    }
}

#[test]
fn decisions_match_oslo_policy() {
    let Some(python) = common::oracle_python("decisions_match_oslo_policy") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "glimpse-policy-diff-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    fs::create_dir_all(&dir).unwrap();
    let scenarios = scenarios(&dir);
    let creds = credentials();
    let targets = targets();
    let mut names: Vec<&str> = Enforcer::registered().iter().map(|d| d.name).collect();
    names.extend(["custom_owner", "nonexistent", "owner"]);

    // Every combination for the defaults; a systematic subsample (every
    // k-th credentials × target pair, shifted per rule) elsewhere.
    let pairs: Vec<(usize, usize)> = (0..creds.len())
        .flat_map(|c| (0..targets.len()).map(move |t| (c, t)))
        .collect();
    let mut cases: Vec<Value> = Vec::new();
    let mut push = |s: usize, what: Value, step: usize, shift: usize| {
        for (i, (c, t)) in pairs.iter().enumerate() {
            if (i + shift).is_multiple_of(step) {
                let mut case = what.clone();
                case["s"] = json!(s);
                case["c"] = json!(c);
                case["t"] = json!(t);
                cases.push(case);
            }
        }
    };
    for (s, _) in scenarios.iter().enumerate() {
        let step = match s {
            0 | 1 => 1,
            2..=5 => 3,
            _ if s >= 10 => 97,
            _ => 7,
        };
        for (k, name) in names.iter().enumerate() {
            push(s, json!({"rule": name}), step, k);
        }
        if s <= 5 {
            for (k, check) in CHECKS.iter().enumerate() {
                push(s, json!({"check": check}), if s <= 1 { 2 } else { 4 }, k);
            }
        }
    }

    let input = dir.join("cases.json");
    let output = dir.join("results.json");
    let data = json!({
        "scenarios": scenarios.iter().map(|s| json!({
            "enforce_new_defaults": s.config.enforce_new_defaults,
            "policy_file": s.config.policy_file,
            "policy_dirs": s.config.policy_dirs,
        })).collect::<Vec<_>>(),
        "creds": creds,
        "targets": targets,
        "cases": cases,
    });
    fs::write(&input, serde_json::to_vec(&data).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oslo_oracle.py");
    let run = Command::new(&python)
        .arg(&script)
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let answer: Value = serde_json::from_slice(&fs::read(&output).unwrap()).unwrap();
    let expected = answer["results"].as_array().unwrap();
    assert_eq!(expected.len(), cases.len());

    let enforcers: Vec<Result<Enforcer, PolicyError>> = scenarios
        .iter()
        .map(|s| Enforcer::new(s.config.clone()))
        .collect();
    let as_map = |v: &Value| v.as_object().unwrap().clone();
    let creds: Vec<Values> = creds.iter().map(as_map).collect();
    let targets: Vec<Values> = targets.iter().map(as_map).collect();
    let mut mismatches = Vec::new();
    let mut tally = std::collections::BTreeMap::new();
    for (case, want) in cases.iter().zip(expected) {
        let s = case["s"].as_u64().unwrap() as usize;
        let c = case["c"].as_u64().unwrap() as usize;
        let t = case["t"].as_u64().unwrap() as usize;
        let got = decide(&enforcers[s], case, &targets[t], &creds[c]);
        let want = want.as_str().unwrap();
        *tally.entry(want.to_string()).or_insert(0usize) += 1;
        if got != want {
            mismatches.push(format!(
                "scenario {s} {} creds {} target {}: oslo {want}, glimpse {got}",
                case.get("rule").or(case.get("check")).unwrap(),
                Value::Object(creds[c].clone()),
                Value::Object(targets[t].clone()),
            ));
        }
    }
    fs::remove_dir_all(&dir).ok();
    common::loud(&format!(
        "differential: {} cases against oslo.policy {} ({} scenarios, {} credential sets, {} targets); oslo answers {tally:?}; {} mismatches",
        cases.len(),
        answer["oslo_policy"].as_str().unwrap_or("?"),
        scenarios.len(),
        creds.len(),
        targets.len(),
        mismatches.len()
    ));
    for m in mismatches.iter().take(40) {
        common::loud(&format!("  {m}"));
    }
    assert!(mismatches.is_empty(), "{} mismatches", mismatches.len());
}
