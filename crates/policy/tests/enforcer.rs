//! The enforcer's merge, scope and reload behaviour.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::PathBuf;

use glimpse_policy::{Enforcer, PolicyConfig, PolicyError, Values};
use serde_json::json;

fn values(v: serde_json::Value) -> Values {
    v.as_object().unwrap().clone()
}

fn creds(roles: &[&str], project: Option<&str>) -> Values {
    values(json!({"roles": roles, "project_id": project, "system_scope": null, "domain_id": null}))
}

fn target(owner: &str, visibility: &str) -> Values {
    values(json!({"owner": owner, "project_id": owner, "visibility": visibility}))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("glimpse-policy-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Enforcer>();
}

#[test]
fn defaults_new_and_legacy() {
    let new = Enforcer::new(PolicyConfig::default()).unwrap();
    let t = target("p1", "private");
    assert!(
        new.enforce("get_image", &t, &creds(&["reader"], Some("p1")))
            .unwrap()
    );
    assert!(
        !new.enforce("get_image", &t, &creds(&["reader"], Some("p2")))
            .unwrap()
    );
    assert!(
        !new.enforce("get_image", &t, &creds(&[], Some("p1")))
            .unwrap()
    );
    assert!(
        new.enforce("get_image", &t, &creds(&["ADMIN"], None))
            .unwrap()
    );
    assert_eq!(
        new.enforce("no_such_policy", &t, &creds(&[], None)),
        Err(PolicyError::NotRegistered("no_such_policy".into()))
    );

    let legacy = Enforcer::new(PolicyConfig {
        enforce_new_defaults: false,
        ..PolicyConfig::default()
    })
    .unwrap();
    // `new or rule:default`, and `default` is `"" or rule:context_is_admin`.
    assert!(
        legacy
            .enforce("get_image", &t, &creds(&[], Some("p2")))
            .unwrap()
    );
    assert_eq!(
        legacy.effective_rule("get_images").unwrap(),
        "((rule:context_is_admin or (role:reader and project_id:%(project_id)s)) or rule:default)"
    );
    assert_eq!(
        legacy.effective_rule("default").unwrap(),
        "(@ or rule:context_is_admin)"
    );
    // No deprecated rule: unchanged.
    assert!(
        !legacy
            .enforce("publicize_image", &t, &creds(&["member"], Some("p1")))
            .unwrap()
    );
}

#[test]
fn scope_types_follow_oslo_6() {
    let enforcer = Enforcer::new(PolicyConfig::default()).unwrap();
    let t = target("p1", "public");
    let mut system_admin = creds(&["admin"], None);
    system_admin.insert("system_scope".into(), json!("all"));
    // Every Glance policy is project-scoped: a system token is refused...
    assert!(!enforcer.enforce("get_image", &t, &system_admin).unwrap());
    // ...except by the unscoped base rules.
    assert!(
        enforcer
            .enforce("context_is_admin", &t, &system_admin)
            .unwrap()
    );
    let mut domain_admin = creds(&["admin"], None);
    domain_admin.insert("domain_id".into(), json!("d1"));
    assert!(!enforcer.enforce("get_image", &t, &domain_admin).unwrap());

    let lenient = Enforcer::new(PolicyConfig {
        enforce_scope: false,
        ..PolicyConfig::default()
    })
    .unwrap();
    assert!(lenient.enforce("get_image", &t, &system_admin).unwrap());
}

#[test]
fn files_override_in_order_and_reload() {
    let dir = temp_dir("reload");
    let file = dir.join("policy.yaml");
    let pdir = dir.join("policy.d");
    fs::create_dir_all(&pdir).unwrap();
    fs::write(&file, "get_image: role:nobody\ncustom: role:reader\n").unwrap();
    fs::write(pdir.join("b.json"), r#"{"add_image": "rule:custom"}"#).unwrap();
    fs::write(pdir.join("a.yaml"), "add_image: '!'\n").unwrap();
    let config = PolicyConfig {
        policy_file: Some(file.clone()),
        policy_dirs: vec![pdir.clone()],
        ..PolicyConfig::default()
    };
    let enforcer = Enforcer::new(config).unwrap();
    let t = target("p1", "public");
    let reader = creds(&["reader"], Some("p1"));
    assert!(!enforcer.enforce("get_image", &t, &reader).unwrap());
    assert!(
        enforcer.enforce("add_image", &t, &reader).unwrap(),
        "b.json applies after a.yaml"
    );
    assert!(enforcer.check_str("rule:custom", &t, &reader));
    assert!(!enforcer.reload_if_changed().unwrap());

    // An edit takes effect without a restart.
    fs::write(&file, "get_image: role:reader or role:admin\n").unwrap();
    assert!(enforcer.reload_if_changed().unwrap());
    assert!(enforcer.enforce("get_image", &t, &reader).unwrap());
    // `custom` is gone: like oslo, `rule:custom` now falls back to the
    // `default` rule, which is empty (always true).
    assert!(enforcer.check_str("rule:custom", &t, &creds(&[], None)));

    // A broken edit keeps the previous rules and is reported once.
    fs::write(&file, "get_image: [unclosed\n").unwrap();
    assert!(matches!(
        enforcer.reload_if_changed(),
        Err(PolicyError::File { .. })
    ));
    assert!(enforcer.enforce("get_image", &t, &reader).unwrap());
    assert!(!enforcer.reload_if_changed().unwrap());

    // Removing the file restores the defaults.
    fs::remove_file(&file).unwrap();
    fs::remove_dir_all(&pdir).unwrap();
    assert!(enforcer.reload_if_changed().unwrap());
    assert_eq!(
        enforcer.effective_rule("get_image").unwrap(),
        glimpse_policy::parse_rule(
            Enforcer::registered()
                .iter()
                .find(|d| d.name == "get_image")
                .unwrap()
                .check_str
        )
        .to_string()
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_files_are_errors() {
    let dir = temp_dir("bad");
    for (name, text) in [
        ("list.yaml", "- a\n"),
        ("syntax.yaml", "a: [\n"),
        ("scalar.yaml", "get_image: 5\n"),
        ("text.yaml", "hello\n"),
    ] {
        let file = dir.join(name);
        fs::write(&file, text).unwrap();
        let err = Enforcer::new(PolicyConfig {
            policy_file: Some(file),
            ..PolicyConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, PolicyError::File { .. }), "{name}: {err}");
    }
    // A policy dir that is a file.
    let not_dir = dir.join("list.yaml");
    assert!(
        Enforcer::new(PolicyConfig {
            policy_dirs: vec![not_dir],
            ..PolicyConfig::default()
        })
        .is_err()
    );
    // Missing file and directory: defaults only.
    assert!(
        Enforcer::new(PolicyConfig {
            policy_file: Some(dir.join("missing.yaml")),
            policy_dirs: vec![dir.join("missing.d")],
            ..PolicyConfig::default()
        })
        .is_ok()
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn external_checks_fail_closed() {
    let enforcer = Enforcer::new(PolicyConfig::default()).unwrap();
    let t = target("p1", "public");
    let c = creds(&["admin"], Some("p1"));
    assert!(!enforcer.check_str("http://127.0.0.1:1/%(owner)s", &t, &c));
    assert!(enforcer.check_str("not https://127.0.0.1:1/", &t, &c));
}
