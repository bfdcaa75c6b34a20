//! `GET /v2/schemas/*` from the real binary, compared byte for byte with
//! what Glance 33 serves (fixtures captured from Glance, in
//! crates/api/tests/data).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn stock_schemas_match_glance_bytes() {
    let srv = start(&base_conf(free_port(), 1, "", ""));
    for name in ["image", "images", "member", "members", "task", "tasks"] {
        let r = srv.get(&format!("/v2/schemas/{name}"));
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let want = fixture(&format!("schema-{name}.json"));
        assert_eq!(
            r.text(),
            String::from_utf8_lossy(&want),
            "/v2/schemas/{name}"
        );
        assert_eq!(
            r.header("content-length"),
            Some(want.len().to_string().as_str())
        );
    }
    // Versioned aliases reach the same router; unknown names are 404.
    assert_eq!(
        srv.get("/v2.1/schemas/member").body,
        fixture("schema-member.json")
    );
    assert_eq!(srv.get("/v2/schemas/nope").status, 404);
}

#[test]
fn schema_image_json_beside_the_config_is_merged() {
    let dir = TempDir::new("schemas");
    dir.write(
        "schema-image.json",
        &String::from_utf8(fixture("schema-image.custom-input.json")).unwrap(),
    );
    let srv = start_in(dir, &base_conf(free_port(), 1, "", ""), &[], true);
    let r = srv.get("/v2/schemas/image");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["required"], serde_json::json!(["name"]));
    assert_eq!(v["properties"]["hw_widget"]["is_base"], false);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "name",
            "properties",
            "additionalProperties",
            "required",
            "links"
        ]
    );
    // ensure_ascii, as Glance.
    assert!(r.text().contains(r"A widget \u00e9 \ud83d\ude00 </x>"));
}
