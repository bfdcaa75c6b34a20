//! Metadata definitions (`/v2/metadefs/*`) as pure rules: the request
//! checks Glance's deserializers make (read-only keys, the published JSON
//! schemas), the conversions its WSME models apply on the way in and out,
//! and the JSON each resource renders as, key for key.
//!
//! Glance quirks kept because clients see them:
//! - a property's `default` is a string on the wire (`2` → `"2"`, `true` →
//!   `"True"`), `minimum`/`maximum` are whole numbers (`2.7` → `2`);
//! - the objects list names its schema `v2/schemas/metadefs/objects`
//!   (no leading slash);
//! - stored rows without `updated_at` (seed data) render without it.
//!
//! Where Glance fails with a 500 on input its schema admitted (an `enum`
//! of numbers, `items` without `type`, a property carrying `required`),
//! these rules answer 400 with WSME's wording instead.

use serde_json::{Map, Value};

use crate::error::DomainError;
use crate::py::{self, Timestamp};
use crate::schema::validate_best_match;

/// Attributes a request may not set (`self`/`schema` only exist on
/// namespaces and objects).
pub const READ_ONLY_WITH_LINKS: &[&str] = &["self", "schema", "created_at", "updated_at"];
pub const READ_ONLY: &[&str] = &["created_at", "updated_at"];

/// The deserializer's checks on a body, in Glance's order: a read-only key
/// (403), then the JSON schema named `schema_name` (400, jsonschema's
/// `best_match` wording).
pub fn check_body(
    body: &Value,
    schema_name: &str,
    schema: &Value,
    read_only: &[&str],
) -> Result<(), DomainError> {
    let Value::Object(obj) = body else {
        return Err(DomainError::BadRequest(
            "Unexpected body type. Expected dict.".into(),
        ));
    };
    if let Some(k) = read_only.iter().find(|k| obj.contains_key(**k)) {
        return Err(DomainError::Forbidden(format!(
            "Attribute '{k}' is read-only."
        )));
    }
    validate_best_match(schema, body)
        .map_err(|v| DomainError::BadRequest(v.glance_message(schema_name)))
}

/// WSME's `InvalidInput` wording.
fn invalid_input(field: &str, value: &Value, reason: &str) -> DomainError {
    DomainError::BadRequest(format!(
        "Invalid input for field/attribute {field}. Value: '{}'. {reason}",
        py::str_of(value)
    ))
}

/// The `PropertyType` attributes in declaration order (the order they are
/// rendered and stored in).
const PROPERTY_FIELDS: &[&str] = &[
    "name",
    "type",
    "title",
    "description",
    "operators",
    "default",
    "readonly",
    "minimum",
    "maximum",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "confidential",
    "items",
    "uniqueItems",
    "minItems",
    "maxItems",
    "additionalItems",
];

/// Python's `str()` of a JSON scalar, as WSME's `bytes` type stores a
/// property default; lists and objects become `null`.
fn default_text(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::String(if *b { "True" } else { "False" }.into()),
        Value::Number(_) => Value::String(py::repr(v)),
        Value::String(s) => Value::String(s.clone()),
        Value::Array(_) | Value::Object(_) => Value::Null,
    }
}

/// WSME's `int`: a number truncated toward zero.
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64)
        }),
        _ => None,
    }
}

fn string_list(field: &str, v: &Value) -> Result<Value, DomainError> {
    match v {
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(v.clone()),
        _ => Err(invalid_input(field, v, "Wrong type. Expected '[str]'.")),
    }
}

/// A property definition through WSME's `PropertyType`: known attributes in
/// model order, each converted as the model converts it. `strict` (request
/// bodies) refuses what the model cannot hold; otherwise (stored rows,
/// possibly written by Glance's seed loader) such values are dropped.
pub fn property_type(
    def: &Map<String, Value>,
    strict: bool,
) -> Result<Map<String, Value>, DomainError> {
    if strict && let Some(k) = def.keys().find(|k| !PROPERTY_FIELDS.contains(&k.as_str())) {
        return Err(DomainError::BadRequest(format!(
            "Unknown attribute for argument property: {k}"
        )));
    }
    let mut out = Map::new();
    for &f in PROPERTY_FIELDS {
        let Some(v) = def.get(f) else { continue };
        let converted = match f {
            "default" => Ok(default_text(v)),
            "minimum" | "maximum" | "minLength" | "maxLength" | "minItems" | "maxItems" => {
                match (v, int_of(v)) {
                    (Value::Null, _) => Ok(Value::Null),
                    (_, Some(i)) => Ok(Value::from(i)),
                    _ => Err(invalid_input(f, v, "Wrong type. Expected 'int'.")),
                }
            }
            "readonly" | "confidential" | "uniqueItems" | "additionalItems" => match v {
                Value::Bool(_) | Value::Null => Ok(v.clone()),
                _ => Err(invalid_input(f, v, "Wrong type. Expected 'bool'.")),
            },
            "operators" | "enum" => string_list(f, v),
            "items" => item_type(v),
            _ => match v {
                Value::String(_) | Value::Null => Ok(v.clone()),
                _ => Err(invalid_input(f, v, "Wrong type. Expected 'str'.")),
            },
        };
        match converted {
            // An explicit null is rendered only for `default` (WSME keeps
            // it there; every other attribute drops it).
            Ok(Value::Null) if f != "default" => {}
            Ok(v) => {
                out.insert(f.to_string(), v);
            }
            Err(e) if strict => return Err(e),
            Err(_) => {}
        }
    }
    Ok(out)
}

/// `ItemType`: `type` (mandatory) and `enum` (strings).
fn item_type(v: &Value) -> Result<Value, DomainError> {
    let Value::Object(o) = v else {
        return Err(invalid_input(
            "items",
            v,
            "Wrong type. Expected 'ItemType'.",
        ));
    };
    let mut out = Map::new();
    match o.get("type") {
        Some(Value::String(t)) => {
            out.insert("type".into(), Value::String(t.clone()));
        }
        _ => return Err(invalid_input("items", v, "Mandatory field missing.")),
    }
    if let Some(e) = o.get("enum")
        && !e.is_null()
    {
        out.insert("enum".into(), string_list("enum", e)?);
    }
    Ok(Value::Object(out))
}

/// A map of property definitions (`{name: def}`) through [`property_type`].
pub fn property_map(defs: &Value, strict: bool) -> Result<Map<String, Value>, DomainError> {
    let mut out = Map::new();
    if let Value::Object(m) = defs {
        for (name, def) in m {
            let Value::Object(d) = def else {
                if strict {
                    return Err(invalid_input(
                        name,
                        def,
                        "Wrong type. Expected 'PropertyType'.",
                    ));
                }
                continue;
            };
            out.insert(name.clone(), Value::Object(property_type(d, strict)?));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// 4-byte UTF-8 (`glance.common.utils.no_4byte_params`)

fn has_4byte(s: &str) -> bool {
    s.chars().any(|c| c as u32 >= 0x10000)
}

/// Why Glance's `no_4byte_params` would refuse these column values, if it
/// would: `"<Key> can't contain 4 byte unicode characters."` for a string,
/// `"Property names can't contain 4 byte unicode."` for a key of a nested
/// object (lists are not inspected, as in Glance).
pub fn four_byte_reason(values: &[(&str, &Value)]) -> Option<String> {
    fn walk(key: &str, v: &Value) -> Option<String> {
        match v {
            Value::String(s) if has_4byte(s) => Some(format!(
                "{} can't contain 4 byte unicode characters.",
                py::title(key)
            )),
            Value::Object(m) => m.iter().find_map(|(k, v)| {
                if has_4byte(k) {
                    Some("Property names can't contain 4 byte unicode.".into())
                } else {
                    walk(k, v)
                }
            }),
            _ => None,
        }
    }
    values.iter().find_map(|(k, v)| walk(k, v))
}

/// `Couldn't <op> metadata <kind>: <reason>` as a 400.
pub fn check_4byte(op: &str, kind: &str, values: &[(&str, &Value)]) -> Result<(), DomainError> {
    match four_byte_reason(values) {
        Some(r) => Err(DomainError::BadRequest(format!(
            "Couldn't {op} metadata {kind}: {r}"
        ))),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Stored rows and their JSON

/// A `metadef_namespaces` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Namespace {
    pub id: i64,
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// NULL for some seeded rows; read as private.
    pub visibility: Option<String>,
    pub protected: Option<bool>,
    pub owner: String,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

impl Namespace {
    pub fn is_public(&self) -> bool {
        self.visibility.as_deref() == Some("public")
    }
    pub fn is_protected(&self) -> bool {
        self.protected == Some(true)
    }
    /// Whether a non-admin project may see it (the repository's rule:
    /// public, or owned).
    pub fn visible_to(&self, project: Option<&str>) -> bool {
        self.is_public() || project == Some(self.owner.as_str())
    }
    pub fn self_link(&self) -> String {
        format!("/v2/metadefs/namespaces/{}", self.namespace)
    }
}

/// The namespace-level fields a create or update writes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NamespaceFields {
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: String,
    pub protected: bool,
    pub owner: String,
}

fn opt_str(o: &Map<String, Value>, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_string)
}

impl NamespaceFields {
    /// From a schema-checked create body: `visibility` defaults to private,
    /// `protected` to false, `owner` (only when absent) to the caller's
    /// project.
    pub fn for_create(body: &Map<String, Value>, project: Option<&str>) -> NamespaceFields {
        NamespaceFields {
            namespace: opt_str(body, "namespace").unwrap_or_default(),
            display_name: opt_str(body, "display_name"),
            description: opt_str(body, "description"),
            visibility: opt_str(body, "visibility").unwrap_or_else(|| "private".into()),
            protected: body
                .get("protected")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            owner: match body.get("owner") {
                Some(Value::String(o)) => o.clone(),
                _ => project.unwrap_or_default().to_string(),
            },
        }
    }

    /// From a schema-checked update body: a full replacement, Glance's way
    /// (omitted names and descriptions become NULL; visibility, protection
    /// and owner take `x or default`, so an omitted or empty owner becomes
    /// the caller's project).
    pub fn for_update(body: &Map<String, Value>, project: Option<&str>) -> NamespaceFields {
        let nonempty = |k: &str| opt_str(body, k).filter(|s| !s.is_empty());
        NamespaceFields {
            namespace: opt_str(body, "namespace").unwrap_or_default(),
            display_name: opt_str(body, "display_name"),
            description: opt_str(body, "description"),
            visibility: nonempty("visibility").unwrap_or_else(|| "private".into()),
            protected: body
                .get("protected")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            owner: nonempty("owner").unwrap_or_else(|| project.unwrap_or_default().to_string()),
        }
    }

    /// The values the 4-byte guard looks at.
    pub fn check_4byte(&self, op: &str) -> Result<(), DomainError> {
        let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        check_4byte(
            op,
            "namespace",
            &[
                ("namespace", &Value::String(self.namespace.clone())),
                ("display_name", &s(&self.display_name)),
                ("description", &s(&self.description)),
                ("visibility", &Value::String(self.visibility.clone())),
                ("owner", &Value::String(self.owner.clone())),
            ],
        )
    }
}

fn put_ts(m: &mut Map<String, Value>, k: &str, t: Option<Timestamp>) {
    if let Some(t) = t {
        m.insert(k.into(), Value::String(t.isotime()));
    }
}

fn put_opt(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.into(), Value::String(v.clone()));
    }
}

/// The parts of a namespace body after its own fields.
#[derive(Debug, Default)]
pub struct NamespaceChildren {
    pub resource_type_associations: Option<Value>,
    pub properties: Option<Value>,
    pub objects: Option<Value>,
    pub tags: Option<Value>,
}

/// The namespace JSON (`Namespace` model order), children each only when
/// given.
pub fn namespace_json(ns: &Namespace, children: NamespaceChildren) -> Value {
    let mut m = Map::new();
    m.insert("namespace".into(), Value::String(ns.namespace.clone()));
    put_opt(&mut m, "display_name", &ns.display_name);
    put_opt(&mut m, "description", &ns.description);
    m.insert(
        "visibility".into(),
        Value::String(ns.visibility.clone().unwrap_or_else(|| "private".into())),
    );
    if let Some(p) = ns.protected {
        m.insert("protected".into(), Value::Bool(p));
    }
    m.insert("owner".into(), Value::String(ns.owner.clone()));
    put_ts(&mut m, "created_at", Some(ns.created_at));
    put_ts(&mut m, "updated_at", ns.updated_at);
    for (k, v) in [
        (
            "resource_type_associations",
            children.resource_type_associations,
        ),
        ("properties", children.properties),
        ("objects", children.objects),
        ("tags", children.tags),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    }
    m.insert("self".into(), Value::String(ns.self_link()));
    m.insert(
        "schema".into(),
        Value::String("/v2/schemas/metadefs/namespace".into()),
    );
    Value::Object(m)
}

/// A `metadef_namespace_resource_types` row joined with its type's name.
#[derive(Clone, Debug, PartialEq)]
pub struct Association {
    pub name: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

impl Association {
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        put_opt(&mut m, "prefix", &self.prefix);
        put_opt(&mut m, "properties_target", &self.properties_target);
        put_ts(&mut m, "created_at", self.created_at);
        put_ts(&mut m, "updated_at", self.updated_at);
        Value::Object(m)
    }

    /// From a schema-checked body (`name` required there).
    pub fn from_body(body: &Map<String, Value>) -> Association {
        Association {
            name: opt_str(body, "name").unwrap_or_default(),
            prefix: opt_str(body, "prefix"),
            properties_target: opt_str(body, "properties_target"),
            created_at: None,
            updated_at: None,
        }
    }
}

/// A row that is a name with timestamps: a `metadef_resource_types` or a
/// `metadef_tags` row.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedRow {
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

impl NamedRow {
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        put_ts(&mut m, "created_at", Some(self.created_at));
        put_ts(&mut m, "updated_at", self.updated_at);
        Value::Object(m)
    }
}

pub type ResourceType = NamedRow;
pub type Tag = NamedRow;

/// A `metadef_objects` row.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaObject {
    pub name: String,
    pub description: Option<String>,
    pub required: Vec<String>,
    /// `{property name: PropertyType}` as stored.
    pub properties: Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

/// The columns of an object a create or update writes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectFields {
    pub name: String,
    pub description: Option<String>,
    pub required: Vec<String>,
    pub properties: Map<String, Value>,
}

impl ObjectFields {
    /// From a schema-checked body; property definitions through the
    /// `PropertyType` model.
    pub fn from_body(body: &Map<String, Value>) -> Result<ObjectFields, DomainError> {
        let required = match body.get("required") {
            Some(v @ Value::Array(_)) => match string_list("required", v)? {
                Value::Array(a) => a
                    .into_iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        Ok(ObjectFields {
            name: opt_str(body, "name").unwrap_or_default(),
            description: opt_str(body, "description"),
            required,
            properties: property_map(body.get("properties").unwrap_or(&Value::Null), true)?,
        })
    }

    /// The `required` column: comma-joined, NULL when empty.
    pub fn required_column(&self) -> Option<String> {
        (!self.required.is_empty()).then(|| self.required.join(","))
    }

    pub fn check_4byte(&self, op: &str) -> Result<(), DomainError> {
        let d = self.description.clone().map_or(Value::Null, Value::String);
        check_4byte(
            op,
            "object",
            &[
                ("name", &Value::String(self.name.clone())),
                ("description", &d),
                ("json_schema", &Value::Object(self.properties.clone())),
            ],
        )
    }
}

/// The `required` column read back (`split(",")`; NULL is none).
pub fn required_from_column(c: Option<&str>) -> Vec<String> {
    c.map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

fn object_link(ns: &str, name: &str) -> String {
    format!("/v2/metadefs/namespaces/{ns}/objects/{name}")
}

impl MetaObject {
    /// The object as read back: `required` and `properties` always there.
    pub fn to_json(&self, ns: &str, prefix: Option<&str>) -> Value {
        let pre = prefix.unwrap_or("");
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert(
            "required".into(),
            Value::Array(
                self.required
                    .iter()
                    .map(|r| Value::String(format!("{pre}{r}")))
                    .collect(),
            ),
        );
        put_opt(&mut m, "description", &self.description);
        let props: Map<String, Value> = self
            .properties
            .iter()
            .map(|(k, v)| {
                let def = v
                    .as_object()
                    .and_then(|d| property_type(d, false).ok())
                    .map_or(Value::Object(Map::new()), Value::Object);
                (format!("{pre}{k}"), def)
            })
            .collect();
        m.insert("properties".into(), Value::Object(props));
        put_ts(&mut m, "created_at", Some(self.created_at));
        put_ts(&mut m, "updated_at", self.updated_at);
        m.insert("self".into(), Value::String(object_link(ns, &self.name)));
        m.insert(
            "schema".into(),
            Value::String("/v2/schemas/metadefs/object".into()),
        );
        Value::Object(m)
    }
}

/// An object as the create/update response echoes it: `required`,
/// `description` and `properties` only when the request had them.
pub fn object_echo(
    ns: &str,
    body: &Map<String, Value>,
    fields: &ObjectFields,
    created_at: Timestamp,
    updated_at: Option<Timestamp>,
) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(fields.name.clone()));
    if body.contains_key("required") {
        m.insert(
            "required".into(),
            Value::Array(fields.required.iter().cloned().map(Value::String).collect()),
        );
    }
    put_opt(&mut m, "description", &fields.description);
    if body.contains_key("properties") {
        m.insert(
            "properties".into(),
            Value::Object(fields.properties.clone()),
        );
    }
    put_ts(&mut m, "created_at", Some(created_at));
    put_ts(&mut m, "updated_at", updated_at);
    m.insert("self".into(), Value::String(object_link(ns, &fields.name)));
    m.insert(
        "schema".into(),
        Value::String("/v2/schemas/metadefs/object".into()),
    );
    Value::Object(m)
}

/// A `metadef_properties` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Property {
    pub name: String,
    /// The stored `json_schema` (a `PropertyType` as JSON).
    pub schema: Map<String, Value>,
}

impl Property {
    /// The property's JSON as read back (its stored attributes through the
    /// model; `name` only if it was stored).
    pub fn to_json(&self) -> Value {
        Value::Object(property_type(&self.schema, false).unwrap_or_default())
    }
    /// Shown alone, the property always carries its (row) name.
    pub fn to_json_named(&self, name: &str) -> Value {
        // `name` leads in model order.
        let mut out = Map::new();
        out.insert("name".into(), Value::String(name.to_string()));
        let m = property_type(&self.schema, false).unwrap_or_default();
        out.extend(m.into_iter().filter(|(k, _)| k != "name"));
        Value::Object(out)
    }
}

/// Tag names from a schema-checked bulk body (`{"tags": [{"name": …}]}`).
pub fn bulk_tag_names(body: &Map<String, Value>) -> Result<Vec<String>, DomainError> {
    match body.get("tags") {
        Some(Value::Array(items)) => Ok(items
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_string))
            .collect()),
        // Glance fails with a 500 here (a KeyError).
        _ => Err(DomainError::BadRequest(
            "The body must hold a 'tags' list.".into(),
        )),
    }
}

/// Whether a header value is one of oslo's true strings.
pub fn bool_from_string(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "t" | "true" | "on" | "y" | "yes"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn property_type_converts_like_wsme() {
        let p = property_type(
            &obj(json!({"title": "CPU", "maximum": 8.9, "type": "integer", "default": 2, "minimum": 1})),
            true,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"type":"integer","title":"CPU","default":"2","minimum":1,"maximum":8}"#
        );
        let d = |v: Value| default_text(&v);
        assert_eq!(d(json!(true)), json!("True"));
        assert_eq!(d(json!(1.5)), json!("1.5"));
        assert_eq!(d(json!([1])), Value::Null);
        let p = property_type(
            &obj(json!({"type": "string", "title": "t", "default": null})),
            true,
        )
        .unwrap();
        assert_eq!(p.get("default"), Some(&Value::Null));
        assert!(
            property_type(
                &obj(json!({"type": "string", "title": "t", "enum": [1]})),
                true
            )
            .is_err()
        );
        assert!(
            property_type(
                &obj(json!({"type": "array", "title": "t", "items": {}})),
                true
            )
            .is_err()
        );
        assert!(
            property_type(
                &obj(json!({"type": "string", "title": "t", "required": ["a"]})),
                true
            )
            .is_err()
        );
        // Stored rows are read leniently.
        let p = property_type(&obj(json!({"type": "string", "enum": [1], "x": 1})), false).unwrap();
        assert_eq!(Value::Object(p), json!({"type": "string"}));
    }

    #[test]
    fn four_byte_reasons_name_the_field() {
        let s = Value::String("a\u{1F600}".into());
        assert_eq!(
            four_byte_reason(&[("display_name", &s)]).unwrap(),
            "Display_Name can't contain 4 byte unicode characters."
        );
        let m = json!({"\u{1F600}": {}});
        assert_eq!(
            four_byte_reason(&[("json_schema", &m)]).unwrap(),
            "Property names can't contain 4 byte unicode."
        );
        assert!(four_byte_reason(&[("x", &json!(["\u{1F600}"]))]).is_none());
    }

    #[test]
    fn namespace_update_resets_like_glance() {
        let f =
            NamespaceFields::for_update(&obj(json!({"namespace": "n", "owner": ""})), Some("p"));
        assert_eq!(f.visibility, "private");
        assert_eq!(f.owner, "p");
        assert!(!f.protected);
        let c =
            NamespaceFields::for_create(&obj(json!({"namespace": "n", "owner": ""})), Some("p"));
        assert_eq!(c.owner, "");
    }

    #[test]
    fn required_column_round_trip() {
        assert_eq!(required_from_column(Some("a,b")), vec!["a", "b"]);
        assert!(required_from_column(None).is_empty());
        assert!(bool_from_string(" Yes"));
        assert!(!bool_from_string("nope"));
    }
}
