//! `PATCH /v2/images/{id}` bodies in both of Glance's dialects
//! (`RequestDeserializer.update`): media-type check, operation shape,
//! JSON-pointer validation and decoding, depth rules, read-only/reserved
//! roots and schema validation of added/replaced values.

use serde_json::{Map, Value};

use crate::error::DomainError;
use crate::props;
use crate::py;
use crate::schema;

/// The two JSON-patch media types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchDialect {
    /// `application/openstack-images-v2.0-json-patch` (draft 4:
    /// `{"replace": "/x", "value": ..}`). Tempest uses this one.
    V20,
    /// `application/openstack-images-v2.1-json-patch` (draft 10:
    /// `{"op": "replace", "path": "/x", "value": ..}`).
    V21,
}

pub const MEDIA_TYPE_V20: &str = "application/openstack-images-v2.0-json-patch";
pub const MEDIA_TYPE_V21: &str = "application/openstack-images-v2.1-json-patch";

impl PatchDialect {
    /// From the request's Content-Type (parameters after `;` ignored, as
    /// WebOb's `content_type` does); anything else is a 415.
    pub fn from_content_type(ct: Option<&str>) -> Result<PatchDialect, DomainError> {
        let raw = ct.unwrap_or("");
        match raw.split(';').next().unwrap_or("") {
            MEDIA_TYPE_V20 => Ok(PatchDialect::V20),
            MEDIA_TYPE_V21 => Ok(PatchDialect::V21),
            other => Err(DomainError::UnsupportedPatchType(other.to_string())),
        }
    }

    /// The JSON-schema draft number Glance records with each change.
    pub fn draft(self) -> u8 {
        match self {
            PatchDialect::V20 => 4,
            PatchDialect::V21 => 10,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
}

impl PatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOp::Add => "add",
            PatchOp::Remove => "remove",
            PatchOp::Replace => "replace",
        }
    }
    fn from_str(s: &str) -> Option<PatchOp> {
        match s {
            "add" => Some(PatchOp::Add),
            "remove" => Some(PatchOp::Remove),
            "replace" => Some(PatchOp::Replace),
            _ => None,
        }
    }
}

const OPS: [&str; 3] = ["add", "remove", "replace"];

/// One validated change.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchChange {
    pub op: PatchOp,
    /// The decoded pointer segments (escapes undone, each stripped).
    pub path: Vec<String>,
    /// Present for add and replace.
    pub value: Option<Value>,
    pub dialect: PatchDialect,
}

/// Where a `/locations/<pos>` change points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocationPos<'a> {
    /// `-`: the end of the list.
    End,
    /// Anything else, left for the caller to parse as Glance does (`int()`).
    Index(&'a str),
}

impl PatchChange {
    pub fn root(&self) -> &str {
        self.path.first().map(String::as_str).unwrap_or("")
    }
    /// For `/locations/N` and `/locations/-`.
    pub fn location_pos(&self) -> Option<LocationPos<'_>> {
        match self.path.as_slice() {
            [root, pos] if root == "locations" => Some(if pos == "-" {
                LocationPos::End
            } else {
                LocationPos::Index(pos)
            }),
            _ => None,
        }
    }
}

/// Decode a request body as `JSONRequestDeserializer.from_json` does:
/// 400 on malformed JSON or a top-level scalar.
pub fn parse_json_body(body: &[u8]) -> Result<Value, DomainError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| DomainError::BadRequest("Malformed JSON in request body.".into()))?;
    if !(v.is_object() || v.is_array()) {
        return Err(DomainError::BadRequest(
            "Unexpected body type. Expected list/dict.".into(),
        ));
    }
    Ok(v)
}

fn bad(msg: String) -> DomainError {
    DomainError::BadRequest(msg)
}

/// `_validate_json_pointer`.
pub fn validate_pointer(pointer: &str) -> Result<(), DomainError> {
    if !pointer.starts_with('/') {
        return Err(bad(format!(
            "Pointer `{pointer}` does not start with \"/\"."
        )));
    }
    let rest = &pointer[1..];
    // re.search(r'/\s*?/', rest)
    let mut chars = rest.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '/' {
            let mut it = chars.clone();
            while let Some(&(_, n)) = it.peek() {
                if py::is_space(n) {
                    it.next();
                } else {
                    break;
                }
            }
            if matches!(it.peek(), Some((_, '/'))) {
                return Err(bad(format!("Pointer `{pointer}` contains adjacent \"/\".")));
            }
        }
    }
    if pointer.len() > 1 && pointer.ends_with('/') {
        return Err(bad(format!("Pointer `{pointer}` end with \"/\".")));
    }
    if py::strip(rest) == "/" {
        return Err(bad(format!(
            "Pointer `{pointer}` does not contains valid token."
        )));
    }
    let mut it = pointer.chars().peekable();
    while let Some(c) = it.next() {
        if c == '~' && !matches!(it.peek(), Some('0') | Some('1')) {
            return Err(bad(format!(
                "Pointer `{pointer}` contains \"~\" not part of a recognized escape sequence."
            )));
        }
    }
    Ok(())
}

/// `_decode_json_pointer`: validate, drop every leading `/`, split, undo
/// `~1` then `~0`, strip each segment.
pub fn decode_pointer(pointer: &str) -> Result<Vec<String>, DomainError> {
    validate_pointer(pointer)?;
    Ok(pointer
        .trim_start_matches('/')
        .split('/')
        .map(|p| py::strip(&p.replace("~1", "/").replace("~0", "~")).to_string())
        .collect())
}

/// Parse and validate a PATCH request. `body` is `None` when the request
/// had no body. `image_schema` is the served image schema.
pub fn parse_patch(
    content_type: Option<&str>,
    body: Option<&Value>,
    image_schema: &Value,
) -> Result<Vec<PatchChange>, DomainError> {
    let dialect = PatchDialect::from_content_type(content_type)?;
    let Some(body) = body else {
        return Err(bad("Body expected in request.".into()));
    };
    let Value::Array(items) = body else {
        return Err(bad(
            "Request body must be a JSON array of operation objects.".into(),
        ));
    };
    let mut changes = Vec::with_capacity(items.len());
    for raw in items {
        let Value::Object(raw) = raw else {
            return Err(bad("Operations must be JSON objects.".into()));
        };
        let (op, path) = match dialect {
            PatchDialect::V21 => op_path_d10(raw)?,
            PatchDialect::V20 => op_path_d4(raw)?,
        };
        // A non-string pointer crashes Glance (`startswith` on non-str).
        let Value::String(pointer) = path else {
            return Err(DomainError::Internal("JSON pointer is not a string".into()));
        };
        let path = decode_pointer(pointer)?;
        validate_depth(op, &path)?;
        let value = if op == PatchOp::Remove {
            None
        } else {
            match raw.get("value") {
                Some(v) => Some(v.clone()),
                None => {
                    return Err(bad(format!(
                        "Operation \"{}\" requires a member named \"value\".",
                        op.as_str()
                    )));
                }
            }
        };
        let change = PatchChange {
            op,
            path,
            value,
            dialect,
        };
        validate_change(&change, image_schema)?;
        changes.push(change);
    }
    Ok(changes)
}

fn op_path_d10(raw: &Map<String, Value>) -> Result<(PatchOp, &Value), DomainError> {
    let available = OPS.join(", ");
    let op = match raw.get("op") {
        None | Some(Value::Null) => {
            return Err(bad(format!(
                "Unable to find `op` in JSON Schema change. It must be one of the following: {available}."
            )));
        }
        Some(v) => v,
    };
    let Some(op) = op.as_str().and_then(PatchOp::from_str) else {
        return Err(bad(format!(
            "Invalid operation: `{}`. It must be one of the following: {available}.",
            py::str_of(op)
        )));
    };
    let Some(path) = raw.get("path") else {
        return Err(bad("Unable to find 'path' in JSON Schema change".into()));
    };
    Ok((op, path))
}

fn op_path_d4(raw: &Map<String, Value>) -> Result<(PatchOp, &Value), DomainError> {
    let mut found = None;
    for key in OPS {
        if raw.contains_key(key) {
            if found.is_some() {
                return Err(bad("Operation objects must contain only one member named \"add\", \"remove\", or \"replace\".".into()));
            }
            found = Some(key);
        }
    }
    let Some(key) = found else {
        return Err(bad("Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".".into()));
    };
    let op = PatchOp::from_str(key).unwrap_or(PatchOp::Add);
    match raw.get(key) {
        Some(p) => Ok((op, p)),
        None => Err(bad("Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".".into())),
    }
}

/// `_validate_path`: one segment, except `locations`, which takes two for
/// add/remove and one for replace.
fn validate_depth(op: PatchOp, path: &[String]) -> Result<(), DomainError> {
    let root = path.first().map(String::as_str).unwrap_or("");
    let want = match (root, op) {
        ("locations", PatchOp::Add | PatchOp::Remove) => 2,
        _ => 1,
    };
    if path.len() != want {
        return Err(bad(format!(
            "Invalid JSON pointer for this resource: '/{}'",
            path.join("/")
        )));
    }
    Ok(())
}

/// `_validate_change`: read-only and reserved roots are 403; added or
/// replaced values must satisfy the image schema (400).
fn validate_change(change: &PatchChange, image_schema: &Value) -> Result<(), DomainError> {
    let root = change.root();
    if props::READ_ONLY.contains(&root) {
        return Err(DomainError::Forbidden(format!(
            "Attribute '{root}' is read-only."
        )));
    }
    if props::is_reserved_key(root) {
        return Err(DomainError::Forbidden(format!(
            "Attribute '{root}' is reserved."
        )));
    }
    let Some(value) = &change.value else {
        return Ok(());
    };
    let partial = if change.path.len() == 1 {
        Some(value.clone())
    } else if schema::image_base_properties(&[], &[])
        .get(root)
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        == Some("array")
    {
        Some(Value::Array(vec![value.clone()]))
    } else {
        None
    };
    if let Some(v) = partial {
        let mut obj = Map::new();
        obj.insert(root.to_string(), v);
        schema::validate(image_schema, &Value::Object(obj))
            .map_err(|e| bad(e.glance_message("image")))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::schema::{
        CustomProperties, DEFAULT_CONTAINER_FORMATS, DEFAULT_DISK_FORMATS, image_schema,
    };
    use serde_json::json;

    fn sch() -> Value {
        let d: Vec<String> = DEFAULT_DISK_FORMATS.iter().map(|s| s.to_string()).collect();
        let c: Vec<String> = DEFAULT_CONTAINER_FORMATS
            .iter()
            .map(|s| s.to_string())
            .collect();
        image_schema(&d, &c, &CustomProperties::default()).unwrap()
    }

    fn e(dialect: &str, body: &str) -> (u16, String) {
        let ct = format!("application/openstack-images-{dialect}-json-patch");
        let v: Value = serde_json::from_str(body).unwrap();
        let err = parse_patch(Some(&ct), Some(&v), &sch()).unwrap_err();
        (err.status(), err.explanation())
    }

    // Statuses and texts captured from Glance 33.
    #[test]
    fn errors_match_glance() {
        let cases: &[(&str, &str, u16, &str)] = &[
            (
                "v2.1",
                "{}",
                400,
                "Request body must be a JSON array of operation objects.",
            ),
            ("v2.1", "[1]", 400, "Operations must be JSON objects."),
            (
                "v2.1",
                "[{}]",
                400,
                "Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.",
            ),
            (
                "v2.1",
                r#"[{"op":"x"}]"#,
                400,
                "Invalid operation: `x`. It must be one of the following: add, remove, replace.",
            ),
            (
                "v2.1",
                r#"[{"op":[],"path":"/a"}]"#,
                400,
                "Invalid operation: `[]`. It must be one of the following: add, remove, replace.",
            ),
            (
                "v2.1",
                r#"[{"op":"add"}]"#,
                400,
                "Unable to find 'path' in JSON Schema change",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"a"}]"#,
                400,
                "Pointer `a` does not start with \"/\".",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/a//b"}]"#,
                400,
                "Pointer `/a//b` contains adjacent \"/\".",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/a/"}]"#,
                400,
                "Pointer `/a/` end with \"/\".",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/~2"}]"#,
                400,
                "Pointer `/~2` contains \"~\" not part of a recognized escape sequence.",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/a/b"}]"#,
                400,
                "Invalid JSON pointer for this resource: '/a/b'",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/a"}]"#,
                400,
                "Operation \"add\" requires a member named \"value\".",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/ "}]"#,
                400,
                "Operation \"add\" requires a member named \"value\".",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/"}]"#,
                400,
                "Operation \"add\" requires a member named \"value\".",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/ / "}]"#,
                400,
                "Pointer `/ / ` does not contains valid token.",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/status","value":"x"}]"#,
                403,
                "Attribute 'status' is read-only.",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":"/os_glance_x","value":"x"}]"#,
                403,
                "Attribute 'os_glance_x' is reserved.",
            ),
            (
                "v2.1",
                r#"[{"op":"replace","path":"/locations/0","value":"x"}]"#,
                400,
                "Invalid JSON pointer for this resource: '/locations/0'",
            ),
            (
                "v2.1",
                r#"[{"op":"add","path":5}]"#,
                500,
                "The server has either erred or is incapable of performing the requested operation.",
            ),
            (
                "v2.0",
                r#"[{"add":"/a","remove":"/b"}]"#,
                400,
                "Operation objects must contain only one member named \"add\", \"remove\", or \"replace\".",
            ),
            (
                "v2.0",
                r#"[{"x":"/a"}]"#,
                400,
                "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".",
            ),
            (
                "v2.0",
                r#"[{"add":5}]"#,
                500,
                "The server has either erred or is incapable of performing the requested operation.",
            ),
        ];
        for (d, body, status, text) in cases {
            assert_eq!(e(d, body), (*status, text.to_string()), "{d} {body}");
        }
        let (s, m) = e("v2.1", r#"[{"op":"add","path":"/a","value":1}]"#);
        assert_eq!(s, 400);
        assert!(m.starts_with("Provided object does not match schema 'image': 1 is not of type 'string'\n\nFailed validating 'type' in schema['additionalProperties']:\n    {'type': 'string'}\n\nOn instance['a']:\n    1"));
        let (s, m) = e("v2.1", r#"[{"op":"add","path":"/locations/-","value":{}}]"#);
        assert_eq!(s, 400);
        assert!(m.starts_with(
            "Provided object does not match schema 'image': 'url' is a required property"
        ));
    }

    #[test]
    fn media_types() {
        let v = json!([]);
        let err = parse_patch(Some("application/json"), Some(&v), &sch()).unwrap_err();
        assert_eq!(err.status(), 415);
        assert_eq!(
            err.headers(),
            vec![("Accept-Patch", crate::error::ACCEPT_PATCH)]
        );
        assert_eq!(
            parse_patch(None, Some(&v), &sch()).unwrap_err().status(),
            415
        );
        assert!(
            parse_patch(
                Some("application/openstack-images-v2.0-json-patch; charset=UTF-8"),
                Some(&v),
                &sch()
            )
            .unwrap()
            .is_empty()
        );
        assert_eq!(
            parse_patch(Some(MEDIA_TYPE_V21), None, &sch())
                .unwrap_err()
                .explanation(),
            "Body expected in request."
        );
    }

    #[test]
    fn both_dialects_produce_typed_changes() {
        let s = sch();
        let v = json!([{"replace": "/name", "value": "n"}, {"add": "/locations/-", "value": {"url": "u", "metadata": {}}}, {"remove": "/a~1b~0c"}]);
        let c = parse_patch(Some(MEDIA_TYPE_V20), Some(&v), &s).unwrap();
        assert_eq!(c[0].op, PatchOp::Replace);
        assert_eq!(c[0].path, vec!["name"]);
        assert_eq!(c[1].location_pos(), Some(LocationPos::End));
        assert_eq!(c[2].path, vec!["a/b~c"]);
        assert_eq!(c[2].value, None);
        let v = json!([{"op": "add", "path": "/locations/0", "value": {"url": "u", "metadata": {}}}, {"op": "replace", "path": "//x", "value": "y"}]);
        let c = parse_patch(Some(MEDIA_TYPE_V21), Some(&v), &s).unwrap();
        assert_eq!(c[0].location_pos(), Some(LocationPos::Index("0")));
        assert_eq!(c[1].path, vec!["x"]);
        assert_eq!(c[1].dialect.draft(), 10);
    }

    #[test]
    fn json_bodies() {
        assert_eq!(
            parse_json_body(b"{").unwrap_err().explanation(),
            "Malformed JSON in request body."
        );
        assert_eq!(
            parse_json_body(b"1").unwrap_err().explanation(),
            "Unexpected body type. Expected list/dict."
        );
        assert!(parse_json_body(b"[]").is_ok());
    }
}
