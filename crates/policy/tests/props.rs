//! Property tests: nothing panics on arbitrary input, and a parsed rule
//! rendered as oslo's `str()` parses back to the same tree.
#![allow(clippy::unwrap_used)]

use glimpse_policy::pyfmt::Template;
use glimpse_policy::{Enforcer, PolicyConfig, Values, literal, parse_rule, yaml};
use proptest::prelude::*;
use serde_json::json;

fn values(v: serde_json::Value) -> Values {
    v.as_object().unwrap().clone()
}

/// Text made of the language's own pieces, so the parser's corners get hit
/// far more often than by uniform noise.
fn policyish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("role:admin".to_string()),
        Just("rule:get_image".to_string()),
        Just("rule:nope".to_string()),
        Just("project_id:%(owner)s".to_string()),
        Just("'public':%(visibility)s".to_string()),
        Just("True:%(p)s".to_string()),
        Just("a.b:%(x)d".to_string()),
        Just("and".to_string()),
        Just("or".to_string()),
        Just("not".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("@".to_string()),
        Just("!".to_string()),
        Just("'".to_string()),
        Just("%".to_string()),
        "[a-z0-9:%()'\".\\[\\]{}+-]{1,8}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.join(" "))
}

/// Well-formed rules built from the grammar.
fn rule_text() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("role:admin".to_string()),
        Just("role:%(owner)s".to_string()),
        Just("rule:context_is_admin".to_string()),
        Just("project_id:%(project_id)s".to_string()),
        Just("'public':%(visibility)s".to_string()),
        Just("True:%(protected)s".to_string()),
        Just("token.roles.name:admin".to_string()),
        Just("@".to_string()),
        Just("!".to_string()),
    ];
    atom.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| format!("not {a}")),
            inner.clone().prop_map(|a| format!("({a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} or {b}")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = parse_rule(&text).to_string();
        let _ = literal::classify(&text);
        let _ = yaml::load_mapping(&text);
    }

    #[test]
    fn evaluation_never_panics(text in policyish()) {
        let enforcer = Enforcer::new(PolicyConfig::default()).unwrap();
        let target = values(json!({"owner": "p1", "visibility": "public", "x": null}));
        let creds = values(json!({"roles": ["admin"], "project_id": "p1", "a": {"b": [1, "x"]}}));
        let _ = enforcer.try_check_str(&text, &target, &creds);
        let _ = Template::new(&text).format(&target);
        let _ = parse_rule(&text).to_string();
    }

    #[test]
    fn render_then_parse_is_identity(text in rule_text()) {
        let tree = parse_rule(&text);
        let again = parse_rule(&tree.to_string());
        prop_assert_eq!(&tree, &again, "{} rendered as {}", text, tree);
    }
}
