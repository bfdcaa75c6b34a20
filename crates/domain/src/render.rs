//! The image JSON exactly as Glance's `ResponseSerializer._format_image`
//! builds it, and the list body with its `first`/`next` links.

use serde_json::{Map, Value};

use crate::image::Image;
use crate::props;
use crate::py;

/// The configuration flags that change the image JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// `[DEFAULT] show_multiple_locations`: add `locations` (even `[]`).
    pub show_multiple_locations: bool,
    /// `[DEFAULT] show_image_direct_url`: add `direct_url` when the image
    /// has a location (the first one; locations arrive store-weight sorted).
    pub show_image_direct_url: bool,
    /// `enabled_backends` is set: add `stores` (comma list of the
    /// locations' `metadata.store`) when any location names a store.
    pub multi_store: bool,
}

/// Render one image. `image_schema` is the served image schema: extra
/// properties it does not define render a stored NULL as `""` (Glance's
/// v1-compatibility rule), those it defines keep `null`.
pub fn image_json(image: &Image, image_schema: &Value, opts: RenderOptions) -> Value {
    image_json_readable(image, image_schema, opts, &|_| true)
}

/// [`image_json`] showing only the extra properties `readable` accepts
/// (property protections: what the caller may read).
pub fn image_json_readable(
    image: &Image,
    image_schema: &Value,
    opts: RenderOptions,
    readable: &dyn Fn(&str) -> bool,
) -> Value {
    let known = image_schema.get("properties").and_then(Value::as_object);
    // Extra properties come first; base attributes then overwrite in
    // place (a dict assignment keeps the key's position).
    let mut m = Map::new();
    for (k, v) in &image.extra_properties.0 {
        if props::is_hidden(k) || !readable(k) {
            continue;
        }
        m.insert(k.clone(), v.clone().map_or(Value::Null, Value::String));
    }
    let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    let int = |v: Option<i64>| v.map_or(Value::Null, Value::from);
    m.insert("name".into(), opt(&image.name));
    m.insert("disk_format".into(), opt(&image.disk_format));
    m.insert("container_format".into(), opt(&image.container_format));
    m.insert("visibility".into(), image.visibility.as_str().into());
    m.insert("size".into(), int(image.size));
    m.insert("virtual_size".into(), int(image.virtual_size));
    m.insert("status".into(), image.status.as_str().into());
    m.insert("checksum".into(), opt(&image.checksum));
    m.insert("protected".into(), image.protected.into());
    m.insert("min_ram".into(), image.min_ram.into());
    m.insert("min_disk".into(), image.min_disk.into());
    m.insert("owner".into(), opt(&image.owner));
    m.insert("os_hidden".into(), image.os_hidden.into());
    m.insert("os_hash_algo".into(), opt(&image.os_hash_algo));
    m.insert("os_hash_value".into(), opt(&image.os_hash_value));
    m.insert("id".into(), image.id.clone().into());
    m.insert("created_at".into(), image.created_at.isotime().into());
    m.insert("updated_at".into(), image.updated_at.isotime().into());
    let locations: Vec<_> = image.active_locations().collect();
    if opts.show_multiple_locations {
        let list = locations
            .iter()
            .map(|l| {
                let mut o = Map::new();
                o.insert("url".into(), l.url.clone().into());
                o.insert("metadata".into(), Value::Object(l.metadata.clone()));
                Value::Object(o)
            })
            .collect();
        m.insert("locations".into(), Value::Array(list));
    }
    if opts.show_image_direct_url
        && let Some(first) = locations.first()
    {
        m.insert("direct_url".into(), first.url.clone().into());
    }
    m.insert(
        "tags".into(),
        Value::Array(image.tags.iter().cloned().map(Value::String).collect()),
    );
    let href = format!("/v2/images/{}", image.id);
    m.insert("self".into(), href.clone().into());
    m.insert("file".into(), format!("{href}/file").into());
    m.insert("schema".into(), "/v2/schemas/image".into());
    // schema.filter(): NULL extras outside the schema become "".
    for (k, v) in m.iter_mut() {
        if v.is_null() && known.is_none_or(|p| !p.contains_key(k)) {
            *v = Value::String(String::new());
        }
    }
    if opts.multi_store {
        let stores: Vec<&str> = locations
            .iter()
            .filter_map(|l| l.metadata.get("store").and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .collect();
        if !stores.is_empty() {
            m.insert("stores".into(), stores.join(",").into());
        }
    }
    Value::Object(m)
}

/// `dict(request.params)`: first-seen key order, last value wins.
fn params_dict(params: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (k, v) in params {
        match out.iter_mut().find(|(x, _)| x == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

/// The `first` link of `GET /v2/images`: every request parameter except
/// `marker`, repeated ones collapsed to their last value.
pub fn first_link(params: &[(String, String)]) -> String {
    let d: Vec<(&str, &str)> = params_dict(params)
        .into_iter()
        .filter(|(k, _)| *k != "marker")
        .collect();
    if d.is_empty() {
        "/v2/images".to_string()
    } else {
        format!("/v2/images?{}", py::urlencode(d))
    }
}

/// The `next` link: like `first` with `marker=<last id>` appended.
pub fn next_link(params: &[(String, String)], next_marker: &str) -> String {
    let mut d: Vec<(&str, &str)> = params_dict(params)
        .into_iter()
        .filter(|(k, _)| *k != "marker")
        .collect();
    d.push(("marker", next_marker));
    format!("/v2/images?{}", py::urlencode(d))
}

/// The `GET /v2/images` body: `images`, `first`, `schema`, then `next`
/// when the page was full (`next_marker` is the last image's id then).
pub fn list_json(
    images: Vec<Value>,
    params: &[(String, String)],
    next_marker: Option<&str>,
) -> Value {
    let mut m = Map::new();
    m.insert("images".into(), Value::Array(images));
    m.insert("first".into(), first_link(params).into());
    m.insert("schema".into(), "/v2/schemas/images".into());
    if let Some(marker) = next_marker {
        m.insert("next".into(), next_link(params, marker).into());
    }
    Value::Object(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::image::Location;
    use crate::py::Timestamp;
    use crate::schema::{CustomProperties, image_schema};

    fn schema() -> Value {
        let d = vec!["raw".to_string()];
        let c = vec!["bare".to_string()];
        let custom = CustomProperties::from_file_json(
            &serde_json::json!({"description": {"type": "string"}}),
        );
        image_schema(&d, &c, &custom).unwrap()
    }

    fn sample() -> Image {
        let t = Timestamp::from_utc(2026, 11, 21, 17, 6, 23, 0).unwrap();
        let mut i = Image::new("17985540-f1e3-4c3e-8093-b96294e6b7d6".into(), t);
        i.name = Some("a".into());
        i.disk_format = Some("raw".into());
        i.container_format = Some("bare".into());
        i.extra_properties.set("zeta", Some("1".into()));
        i.extra_properties.set("alpha", Some("2".into()));
        i.extra_properties.set("description", Some("d".into()));
        i.tags = vec!["t1".into(), "t2".into()];
        i
    }

    // Body captured from Glance 33 (POST /v2/images, stock config).
    const GLANCE_CREATE: &str = r#"{"zeta": "1", "alpha": "2", "description": "d", "name": "a", "disk_format": "raw", "container_format": "bare", "visibility": "shared", "size": null, "virtual_size": null, "status": "queued", "checksum": null, "protected": false, "min_ram": 0, "min_disk": 0, "owner": null, "os_hidden": false, "os_hash_algo": null, "os_hash_value": null, "id": "17985540-f1e3-4c3e-8093-b96294e6b7d6", "created_at": "2026-11-21T17:06:23Z", "updated_at": "2026-11-21T17:06:23Z", "tags": ["t1", "t2"], "self": "/v2/images/17985540-f1e3-4c3e-8093-b96294e6b7d6", "file": "/v2/images/17985540-f1e3-4c3e-8093-b96294e6b7d6/file", "schema": "/v2/schemas/image"}"#;

    fn py_dumps(v: &Value) -> String {
        // Python's separators, enough for these ASCII fixtures.
        let s = serde_json::to_string(v).unwrap();
        let mut out = String::new();
        let mut in_str = false;
        let mut esc = false;
        for c in s.chars() {
            out.push(c);
            if in_str {
                if esc {
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == '"' {
                    in_str = false;
                }
            } else if c == '"' {
                in_str = true;
            } else if c == ':' || c == ',' {
                out.push(' ');
            }
        }
        out
    }

    #[test]
    fn matches_glance_key_order() {
        let v = image_json(&sample(), &schema(), RenderOptions::default());
        assert_eq!(py_dumps(&v), GLANCE_CREATE);
    }

    #[test]
    fn hidden_null_and_location_rules() {
        let mut i = sample();
        i.extra_properties
            .set("os_glance_stage_host", Some("h".into()));
        i.extra_properties.set("legacy", None);
        i.extra_properties.set("description", None);
        // A read-only base key stored as an extra keeps its slot but shows
        // the attribute (seen with POST {"os_hash_algo": "x"}).
        i.extra_properties.set("os_hash_algo", Some("x".into()));
        let opts = RenderOptions {
            show_multiple_locations: true,
            show_image_direct_url: true,
            multi_store: true,
        };
        let v = image_json(&i, &schema(), opts);
        let o = v.as_object().unwrap();
        assert!(!o.contains_key("os_glance_stage_host"));
        assert_eq!(o["legacy"], "");
        assert_eq!(o["description"], Value::Null);
        assert_eq!(o["os_hash_algo"], Value::Null);
        assert_eq!(o["locations"], serde_json::json!([]));
        assert!(!o.contains_key("direct_url") && !o.contains_key("stores"));
        let mut meta = Map::new();
        meta.insert("store".into(), "fast".into());
        i.locations.push(Location {
            url: "file:///a".into(),
            metadata: meta,
            status: "active".into(),
            id: Some(1),
        });
        i.locations.push(Location {
            url: "file:///b".into(),
            metadata: Map::new(),
            status: "deleted".into(),
            id: Some(2),
        });
        let v = image_json(&i, &schema(), opts);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        let tail: Vec<&str> = keys[keys.len() - 8..].iter().map(|s| s.as_str()).collect();
        assert_eq!(
            tail,
            [
                "updated_at",
                "locations",
                "direct_url",
                "tags",
                "self",
                "file",
                "schema",
                "stores"
            ]
        );
        assert_eq!(
            v["locations"],
            serde_json::json!([{"url": "file:///a", "metadata": {"store": "fast"}}])
        );
        assert_eq!(v["direct_url"], "file:///a");
        assert_eq!(v["stores"], "fast");
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn links_like_glance() {
        // GET /v2/images?limit=1&sort=name:asc&foo=a%20b&foo=c&x=%E2%82%AC;y=1
        let q = p(&[
            ("limit", "1"),
            ("sort", "name:asc"),
            ("foo", "a b"),
            ("foo", "c"),
            ("x", "€"),
            ("y", "1"),
        ]);
        assert_eq!(
            first_link(&q),
            "/v2/images?limit=1&sort=name%3Aasc&foo=c&x=%E2%82%AC&y=1"
        );
        assert_eq!(first_link(&[]), "/v2/images");
        assert_eq!(first_link(&p(&[("marker", "m")])), "/v2/images");
        assert_eq!(
            next_link(&p(&[("marker", "old"), ("limit", "2")]), "new"),
            "/v2/images?limit=2&marker=new"
        );
        let body = list_json(vec![], &p(&[("tag", " a ")]), None);
        assert_eq!(
            py_dumps(&body),
            r#"{"images": [], "first": "/v2/images?tag=+a+", "schema": "/v2/schemas/images"}"#
        );
    }
}
