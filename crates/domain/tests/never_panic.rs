//! The PATCH and list-query parsers answer every input with a value or a
//! `DomainError`, never a panic.
#![allow(clippy::unwrap_used)]

use glimpse_domain::patch::{MEDIA_TYPE_V20, MEDIA_TYPE_V21, parse_json_body, parse_patch};
use glimpse_domain::py::parse_query_string;
use glimpse_domain::query::{ListLimits, parse_list_query};
use glimpse_domain::schema::{CustomProperties, image_schema};
use proptest::prelude::*;

fn schema() -> serde_json::Value {
    image_schema(
        &["raw".into()],
        &["bare".into()],
        &CustomProperties::default(),
    )
    .unwrap()
}

fn pointer() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[/~01a-z \\-]{0,12}").unwrap()
}

fn op_json() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("add"), Just("remove"), Just("replace"), Just("x")],
        pointer(),
        prop_oneof![
            Just("\"v\""),
            Just("1"),
            Just("null"),
            Just("{\"url\":\"u\",\"metadata\":{}}"),
            Just("[]")
        ],
        any::<bool>(),
    )
        .prop_map(|(op, p, v, d4)| {
            let p = serde_json::to_string(&p).unwrap();
            if d4 {
                format!("{{\"{op}\":{p},\"value\":{v}}}")
            } else {
                format!("{{\"op\":\"{op}\",\"path\":{p},\"value\":{v}}}")
            }
        })
}

proptest! {
    #[test]
    fn patch_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64), v20 in any::<bool>()) {
        let ct = if v20 { MEDIA_TYPE_V20 } else { MEDIA_TYPE_V21 };
        if let Ok(v) = parse_json_body(&body) {
            let _ = parse_patch(Some(ct), Some(&v), &schema());
        }
    }

    #[test]
    fn patch_ops_never_panic(ops in proptest::collection::vec(op_json(), 0..4), v20 in any::<bool>()) {
        let body = format!("[{}]", ops.join(","));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let ct = if v20 { MEDIA_TYPE_V20 } else { MEDIA_TYPE_V21 };
        let _ = parse_patch(Some(ct), Some(&v), &schema());
    }

    #[test]
    fn query_bytes_never_panic(qs in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(pairs) = parse_query_string(&qs) {
            let _ = parse_list_query(&pairs, ListLimits::default());
        }
    }

    #[test]
    fn query_shapes_never_panic(
        pairs in proptest::collection::vec((
            prop_oneof![Just("limit"), Just("sort"), Just("sort_key"), Just("sort_dir"), Just("name"),
                        Just("created_at"), Just("size_min"), Just("tag"), Just("visibility"),
                        Just("os_hidden"), Just("x_max"), Just("marker"), Just("tags")],
            proptest::string::string_regex("[a-z0-9:,\"\\\\ T+\\-.]{0,20}").unwrap()),
            0..6)
    ) {
        let pairs: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let _ = parse_list_query(&pairs, ListLimits::default());
    }
}
