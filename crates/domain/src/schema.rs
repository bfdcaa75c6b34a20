//! The JSON-schema documents Glance publishes under `/v2/schemas/*` (key
//! order matters: they are served byte-for-byte as Python builds them) and
//! a small validator for the subset of JSON Schema the image schema uses.

use serde_json::{Map, Value, json};

use crate::error::DomainError;
use crate::py;

/// `[image_format] container_formats` default.
pub const DEFAULT_CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];
/// `[image_format] disk_formats` default.
pub const DEFAULT_DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];

const UUID_PATTERN: &str =
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";

fn format_enum(formats: &[String]) -> Value {
    let mut v = vec![Value::Null];
    v.extend(formats.iter().map(|f| Value::String(f.clone())));
    Value::Array(v)
}

/// `images.get_base_properties()`.
pub fn image_base_properties(
    disk_formats: &[String],
    container_formats: &[String],
) -> Map<String, Value> {
    let v = json!({
        "id": {"type": "string", "description": "An identifier for the image", "pattern": UUID_PATTERN},
        "name": {"type": ["null", "string"], "description": "Descriptive name for the image", "maxLength": 255},
        "status": {"type": "string", "readOnly": true, "description": "Status of the image",
            "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"]},
        "visibility": {"type": "string", "description": "Scope of image accessibility",
            "enum": ["community", "public", "private", "shared"]},
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
        "checksum": {"type": ["null", "string"], "readOnly": true, "description": "md5 hash of image contents.", "maxLength": 32},
        "os_hash_algo": {"type": ["null", "string"], "readOnly": true, "description": "Algorithm to calculate the os_hash_value", "maxLength": 64},
        "os_hash_value": {"type": ["null", "string"], "readOnly": true,
            "description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo", "maxLength": 128},
        "owner": {"type": ["null", "string"], "description": "Owner of the image", "maxLength": 255},
        "size": {"type": ["null", "integer"], "readOnly": true, "description": "Size of image file in bytes"},
        "virtual_size": {"type": ["null", "integer"], "readOnly": true, "description": "Virtual size of image in bytes"},
        "container_format": {"type": ["null", "string"], "description": "Format of the container", "enum": format_enum(container_formats)},
        "disk_format": {"type": ["null", "string"], "description": "Format of the disk", "enum": format_enum(disk_formats)},
        "created_at": {"type": "string", "readOnly": true, "description": "Date and time of image registration"},
        "updated_at": {"type": "string", "readOnly": true, "description": "Date and time of the last image modification"},
        "tags": {"type": "array", "description": "List of strings related to the image", "items": {"type": "string", "maxLength": 255}},
        "direct_url": {"type": "string", "readOnly": true, "description": "URL to access the image file kept in external store"},
        "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
        "self": {"type": "string", "readOnly": true, "description": "An image self url"},
        "file": {"type": "string", "readOnly": true, "description": "An image file url"},
        "stores": {"type": "string", "readOnly": true, "description": "Store in which image data resides.  Only present when the operator has enabled multiple stores.  May be a comma-separated list of store identifiers."},
        "schema": {"type": "string", "readOnly": true, "description": "An image schema url"},
        "locations": {"type": "array", "items": {"type": "object", "properties": {
            "url": {"type": "string", "maxLength": 255},
            "metadata": {"type": "object"},
            "validation_data": {
                "description": "Values to be used to populate the corresponding image properties. If the image status is not 'queued', values must exactly match those already contained in the image properties.",
                "type": "object", "writeOnly": true, "additionalProperties": false,
                "properties": {
                    "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
                    "os_hash_algo": {"type": "string", "maxLength": 64},
                    "os_hash_value": {"type": "string", "maxLength": 128}},
                "required": ["os_hash_algo", "os_hash_value"]}},
            "required": ["url", "metadata"]},
            "description": "A set of URLs to access the image file kept in external store"}
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The custom properties of `schema-image.json`, in either of its forms:
/// flat (`{"prop": {..}}`) or extended (`{"properties": {..}, "required": [..]}`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomProperties {
    pub properties: Map<String, Value>,
    pub required: Option<Vec<Value>>,
}

impl CustomProperties {
    /// `load_custom_properties` on already-parsed file contents.
    pub fn from_file_json(data: &Value) -> CustomProperties {
        match data {
            Value::Object(m) if m.contains_key("properties") => CustomProperties {
                properties: m
                    .get("properties")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                required: m.get("required").and_then(Value::as_array).cloned(),
            },
            Value::Object(m) => CustomProperties {
                properties: m.clone(),
                required: None,
            },
            _ => CustomProperties::default(),
        }
    }
}

/// The image schema as `get_schema(custom).raw()` builds it. Fails like
/// Glance's `SchemaLoadError` when a custom property redefines a base one
/// (every overlap conflicts, since custom properties gain `is_base`).
pub fn image_schema(
    disk_formats: &[String],
    container_formats: &[String],
    custom: &CustomProperties,
) -> Result<Value, DomainError> {
    let mut props = image_base_properties(disk_formats, container_formats);
    let mut custom_props = custom.properties.clone();
    for v in custom_props.values_mut() {
        if let Value::Object(o) = v {
            o.insert("is_base".into(), Value::Bool(false));
        }
    }
    let conflicts: Vec<&str> = custom_props
        .iter()
        .filter(|(k, v)| props.get(*k).is_some_and(|b| b != *v))
        .map(|(k, _)| k.as_str())
        .collect();
    if !conflicts.is_empty() {
        return Err(DomainError::Internal(format!(
            "Unable to load schema: custom properties ({}) conflict with base properties",
            conflicts.join(", ")
        )));
    }
    for (k, v) in custom_props {
        props.insert(k, v);
    }
    let mut raw = Map::new();
    raw.insert("name".into(), "image".into());
    raw.insert("properties".into(), Value::Object(props));
    raw.insert("additionalProperties".into(), json!({"type": "string"}));
    if let Some(req) = custom.required.as_ref().filter(|r| !r.is_empty()) {
        raw.insert("required".into(), Value::Array(req.clone()));
    }
    raw.insert(
        "links".into(),
        json!([
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"}
        ]),
    );
    Ok(Value::Object(raw))
}

/// `CollectionSchema(name, item).raw()`.
pub fn collection_raw(name: &str, item: Value) -> Value {
    let mut props = Map::new();
    props.insert(name.into(), json!({"type": "array", "items": item}));
    props.insert("first".into(), json!({"type": "string"}));
    props.insert("next".into(), json!({"type": "string"}));
    props.insert("schema".into(), json!({"type": "string"}));
    let mut raw = Map::new();
    raw.insert("name".into(), name.into());
    raw.insert("properties".into(), Value::Object(props));
    raw.insert(
        "links".into(),
        json!([
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"}
        ]),
    );
    Value::Object(raw)
}

/// `CollectionSchema(name, item).minimal()`.
pub fn collection_minimal(name: &str, item: Value) -> Value {
    let mut props = Map::new();
    props.insert(name.into(), json!({"type": "array", "items": item}));
    props.insert("schema".into(), json!({"type": "string"}));
    let mut raw = Map::new();
    raw.insert("name".into(), name.into());
    raw.insert("properties".into(), Value::Object(props));
    raw.insert(
        "links".into(),
        json!([{"rel": "describedby", "href": "{schema}"}]),
    );
    Value::Object(raw)
}

fn minimal(name: &str, properties: Value) -> Value {
    let mut raw = Map::new();
    raw.insert("name".into(), name.into());
    raw.insert("properties".into(), properties);
    Value::Object(raw)
}

/// `image_members.get_schema().minimal()`.
pub fn member_schema() -> Value {
    minimal(
        "member",
        json!({
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "image_id": {"type": "string", "description": "An identifier for the image", "pattern": UUID_PATTERN},
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "status": {"type": "string", "description": "The status of this image member", "enum": ["pending", "accepted", "rejected"]},
            "schema": {"readOnly": true, "type": "string"}
        }),
    )
}

/// The `members` collection, minimal form.
pub fn members_schema() -> Value {
    collection_minimal("members", member_schema())
}

fn task_properties(partial: bool) -> Value {
    let mut v = json!({
        "id": {"description": "An identifier for the task", "pattern": UUID_PATTERN, "type": "string"},
        "type": {"description": "The type of task represented by this content", "enum": ["import", "api_image_import", "location_import"], "type": "string"},
        "status": {"description": "The current status of this task", "enum": ["pending", "processing", "success", "failure"], "type": "string"},
        "input": {"description": "The parameters required by task, JSON blob", "type": ["null", "object"]},
        "result": {"description": "The result of current task, JSON blob", "type": ["null", "object"]},
        "owner": {"description": "An identifier for the owner of this task", "type": "string"},
        "message": {"description": "Human-readable informative message only included when appropriate (usually on failure)", "type": "string"},
        "image_id": {"description": "Image associated with the task", "type": "string"},
        "request_id": {"description": "Human-readable informative request-id", "type": "string"},
        "user_id": {"description": "User associated with the task", "type": "string"},
        "expires_at": {"description": "Datetime when this resource would be subject to removal", "type": ["null", "string"]},
        "created_at": {"description": "Datetime when this resource was created", "type": "string"},
        "updated_at": {"description": "Datetime when this resource was updated", "type": "string"},
        "self": {"readOnly": true, "type": "string"},
        "schema": {"readOnly": true, "type": "string"}
    });
    if partial && let Value::Object(m) = &mut v {
        for k in ["input", "result", "message"] {
            m.shift_remove(k);
        }
    }
    v
}

/// `tasks.get_task_schema().raw()`: what a create body is checked against.
pub fn task_validation_schema() -> Value {
    let mut raw = Map::new();
    raw.insert("name".into(), "task".into());
    raw.insert("properties".into(), task_properties(false));
    raw.insert("additionalProperties".into(), Value::Bool(false));
    Value::Object(raw)
}

/// `tasks.get_task_schema().minimal()`.
pub fn task_schema() -> Value {
    minimal("task", task_properties(false))
}

/// `tasks.get_collection_schema().minimal()` (stub tasks: no input,
/// result or message).
pub fn tasks_schema() -> Value {
    collection_minimal("tasks", minimal("task", task_properties(true)))
}

// ---------------------------------------------------------------------
// Validation

/// A step of a path into a schema or an instance: jsonschema prints keys
/// quoted and array indices bare (`instance['tags'][0]`).
#[derive(Clone, Debug, PartialEq)]
pub enum PathElem {
    Key(String),
    Index(usize),
}

fn key(k: &str) -> PathElem {
    PathElem::Key(k.to_string())
}

/// One validation failure, in jsonschema's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaViolation {
    /// jsonschema's message, e.g. `1 is not of type 'string'`.
    pub message: String,
    /// The keyword that failed (`type`, `enum`, `maxLength`, ...).
    pub validator: String,
    /// Path of the failing sub-schema (keywords and names).
    pub schema_path: Vec<PathElem>,
    /// Path of the failing value in the instance.
    pub instance_path: Vec<PathElem>,
    pub schema: Value,
    pub instance: Value,
}

impl SchemaViolation {
    /// `InvalidObject(schema=name, reason=str(e))` as Glance words it, the
    /// schema and instance pretty-printed as jsonschema does
    /// (`pprint.pformat(width=72)`, indented by four).
    pub fn glance_message(&self, schema_name: &str) -> String {
        let idx = |word: &str, path: &[PathElem]| {
            let mut s = word.to_string();
            for p in path {
                s.push('[');
                match p {
                    PathElem::Key(k) => s.push_str(&py::repr_str(k)),
                    PathElem::Index(i) => s.push_str(&i.to_string()),
                }
                s.push(']');
            }
            s
        };
        format!(
            "Provided object does not match schema '{schema_name}': {}\n\nFailed validating {} in {}:\n{}\n\nOn {}:\n{}",
            self.message,
            py::repr_str(&self.validator),
            idx("schema", &self.schema_path),
            indent4(&py::pformat(&self.schema, 72)),
            idx("instance", &self.instance_path),
            indent4(&py::pformat(&self.instance, 72)),
        )
    }
}

/// `textwrap.indent(text, "    ")`: blank lines stay unindented.
fn indent4(text: &str) -> String {
    text.split('\n')
        .map(|l| {
            if l.trim().is_empty() {
                l.to_string()
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        _ => true,
    }
}

/// Validate `instance` against `schema` (keywords: type, enum, pattern,
/// minLength, maxLength, minimum, maximum, properties, required,
/// additionalProperties, items), returning the first violation in schema
/// keyword order.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), Box<SchemaViolation>> {
    let mut sp = Vec::new();
    let mut ip = Vec::new();
    let mut errs = Errors::first();
    check(schema, schema, instance, &mut sp, &mut ip, &mut errs);
    errs.best()
}

/// Like [`validate`], but every violation is collected and the one
/// jsonschema's `best_match` picks is returned: the shallowest in the
/// instance, the first found among equals. Also knows `$ref` (to
/// `#/definitions/…`), `allOf`, `uniqueItems`, `minItems` and `maxItems`,
/// which the metadata-definition schemas use.
pub fn validate_best_match(schema: &Value, instance: &Value) -> Result<(), Box<SchemaViolation>> {
    let mut sp = Vec::new();
    let mut ip = Vec::new();
    let mut errs = Errors {
        all: Vec::new(),
        stop_at_first: false,
    };
    check(schema, schema, instance, &mut sp, &mut ip, &mut errs);
    errs.best()
}

/// The violations found so far.
struct Errors {
    all: Vec<SchemaViolation>,
    stop_at_first: bool,
}

impl Errors {
    fn first() -> Errors {
        Errors {
            all: Vec::new(),
            stop_at_first: true,
        }
    }
    fn done(&self) -> bool {
        self.stop_at_first && !self.all.is_empty()
    }
    fn best(self) -> Result<(), Box<SchemaViolation>> {
        let mut best: Option<SchemaViolation> = None;
        for e in self.all {
            if best
                .as_ref()
                .is_none_or(|b| e.instance_path.len() < b.instance_path.len())
            {
                best = Some(e);
            }
        }
        best.map_or(Ok(()), |b| Err(Box::new(b)))
    }
}

fn violation(
    message: String,
    kw: &str,
    schema: &Value,
    instance: &Value,
    sp: &[PathElem],
    ip: &[PathElem],
) -> SchemaViolation {
    SchemaViolation {
        message,
        validator: kw.to_string(),
        schema_path: sp.to_vec(),
        instance_path: ip.to_vec(),
        schema: schema.clone(),
        instance: instance.clone(),
    }
}

fn check(
    root: &Value,
    schema: &Value,
    inst: &Value,
    sp: &mut Vec<PathElem>,
    ip: &mut Vec<PathElem>,
    errs: &mut Errors,
) {
    let Value::Object(s) = schema else {
        return;
    };
    // Draft 4: `$ref` stands in for the whole schema, siblings ignored;
    // jsonschema leaves it out of the schema path.
    if let Some(Value::String(r)) = s.get("$ref") {
        if let Some(target) = resolve_ref(root, r) {
            check(root, target, inst, sp, ip, errs);
        }
        return;
    }
    for (kw, arg) in s {
        if errs.done() {
            return;
        }
        // Records the keyword's violation and moves on to the next
        // keyword (or, inside `required`'s loop, the next name).
        macro_rules! fail {
            ($message:expr) => {{
                errs.all.push(violation($message, kw, schema, inst, sp, ip));
                continue;
            }};
        }
        match kw.as_str() {
            "type" => {
                let types: Vec<&str> = match arg {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => continue,
                };
                if !types.iter().any(|t| type_matches(t, inst)) {
                    let list: Vec<String> = types.iter().map(|t| py::repr_str(t)).collect();
                    fail!(format!(
                        "{} is not of type {}",
                        py::repr(inst),
                        list.join(", ")
                    ));
                }
            }
            "enum" => {
                if let Value::Array(a) = arg
                    && !a.iter().any(|x| json_eq(x, inst))
                {
                    fail!(format!(
                        "{} is not one of {}",
                        py::repr(inst),
                        py::str_of(arg)
                    ));
                }
            }
            "maxLength" | "minLength" => {
                if let (Value::String(st), Some(n)) = (inst, arg.as_u64()) {
                    let len = st.chars().count() as u64;
                    if kw == "maxLength" && len > n {
                        fail!(format!("{} is too long", py::repr(inst)));
                    }
                    if kw == "minLength" && len < n {
                        fail!(format!("{} is too short", py::repr(inst)));
                    }
                }
            }
            "pattern" => {
                if let (Value::String(st), Value::String(p)) = (inst, arg)
                    && let Ok(re) = regex_lite::Regex::new(p)
                    && !re.is_match(st)
                {
                    fail!(format!(
                        "{} does not match {}",
                        py::repr(inst),
                        py::repr_str(p)
                    ));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(x), Some(lim)) = (inst.as_f64(), arg.as_f64())
                    && !inst.is_boolean()
                {
                    if kw == "minimum" && x < lim {
                        fail!(format!(
                            "{} is less than the minimum of {}",
                            py::repr(inst),
                            py::repr(arg)
                        ));
                    }
                    if kw == "maximum" && x > lim {
                        fail!(format!(
                            "{} is greater than the maximum of {}",
                            py::repr(inst),
                            py::repr(arg)
                        ));
                    }
                }
            }
            "properties" => {
                if let (Value::Object(props), Value::Object(obj)) = (arg, inst) {
                    for (name, sub) in props {
                        if let Some(v) = obj.get(name) {
                            sp.extend([key("properties"), key(name)]);
                            ip.push(key(name));
                            check(root, sub, v, sp, ip, errs);
                            sp.truncate(sp.len() - 2);
                            ip.pop();
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Value::Object(obj) = inst {
                    let known = s.get("properties").and_then(Value::as_object);
                    let extras: Vec<&String> = obj
                        .keys()
                        .filter(|k| known.is_none_or(|p| !p.contains_key(*k)))
                        .collect();
                    match arg {
                        Value::Bool(false) if !extras.is_empty() => {
                            let names: Vec<String> =
                                extras.iter().map(|k| py::repr_str(k)).collect();
                            let verb = if extras.len() == 1 { "was" } else { "were" };
                            fail!(format!(
                                "Additional properties are not allowed ({} {verb} unexpected)",
                                names.join(", ")
                            ));
                        }
                        Value::Object(_) => {
                            for k in extras {
                                if let Some(v) = obj.get(k) {
                                    sp.push(key("additionalProperties"));
                                    ip.push(key(k));
                                    check(root, arg, v, sp, ip, errs);
                                    sp.pop();
                                    ip.pop();
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            "required" => {
                if let (Value::Array(req), Value::Object(obj)) = (arg, inst) {
                    for r in req {
                        if let Value::String(name) = r
                            && !obj.contains_key(name)
                        {
                            fail!(format!("{} is a required property", py::repr_str(name)));
                        }
                    }
                }
            }
            "items" => {
                if let Value::Array(items) = inst {
                    for (i, v) in items.iter().enumerate() {
                        sp.push(key("items"));
                        ip.push(PathElem::Index(i));
                        check(root, arg, v, sp, ip, errs);
                        sp.pop();
                        ip.pop();
                    }
                }
            }
            "allOf" => {
                if let Value::Array(subs) = arg {
                    for (i, sub) in subs.iter().enumerate() {
                        sp.extend([key("allOf"), PathElem::Index(i)]);
                        check(root, sub, inst, sp, ip, errs);
                        sp.truncate(sp.len() - 2);
                    }
                }
            }
            "uniqueItems" => {
                if let (Value::Array(items), Value::Bool(true)) = (inst, arg)
                    && items
                        .iter()
                        .enumerate()
                        .any(|(i, a)| items[..i].iter().any(|b| json_eq(a, b)))
                {
                    fail!(format!("{} has non-unique elements", py::repr(inst)));
                }
            }
            "minItems" | "maxItems" => {
                if let (Value::Array(items), Some(n)) = (inst, arg.as_u64()) {
                    let len = items.len() as u64;
                    let message = if kw == "minItems" && len < n {
                        // jsonschema ≥ 4.21 words the common case apart.
                        Some(if n == 1 {
                            format!("{} should be non-empty", py::repr(inst))
                        } else {
                            format!("{} is too short", py::repr(inst))
                        })
                    } else if kw == "maxItems" && len > n {
                        Some(if n == 0 {
                            format!("{} is expected to be empty", py::repr(inst))
                        } else {
                            format!("{} is too long", py::repr(inst))
                        })
                    } else {
                        None
                    };
                    if let Some(m) = message {
                        fail!(m);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `#/definitions/name` (the only references Glance's schemas hold).
fn resolve_ref<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let path = r.strip_prefix("#/")?;
    path.split('/').try_fold(root, |v, part| v.get(part))
}

/// JSON equality with Python's numeric rules (`1 == 1.0`, but `True != 1`
/// is not modelled: jsonschema treats booleans apart from numbers too).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn defaults() -> (Vec<String>, Vec<String>) {
        (
            DEFAULT_DISK_FORMATS.iter().map(|s| s.to_string()).collect(),
            DEFAULT_CONTAINER_FORMATS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
    }

    #[test]
    fn custom_conflicts_fail_like_glance() {
        let (d, c) = defaults();
        let custom = CustomProperties::from_file_json(&json!({"min_ram": {"type": "integer"}}));
        let e = image_schema(&d, &c, &custom).unwrap_err();
        assert_eq!(
            e.explanation(),
            "The server has either erred or is incapable of performing the requested operation."
        );
        match e {
            DomainError::Internal(m) => assert_eq!(
                m,
                "Unable to load schema: custom properties (min_ram) conflict with base properties"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validator_messages() {
        let (d, c) = defaults();
        let s = image_schema(&d, &c, &CustomProperties::default()).unwrap();
        let e = validate(&s, &json!({"a": 1})).unwrap_err();
        assert_eq!(e.message, "1 is not of type 'string'");
        assert_eq!(
            e.glance_message("image"),
            "Provided object does not match schema 'image': 1 is not of type 'string'\n\nFailed validating 'type' in schema['additionalProperties']:\n    {'type': 'string'}\n\nOn instance['a']:\n    1"
        );
        let e = validate(&s, &json!({"visibility": "x"})).unwrap_err();
        assert_eq!(
            e.message,
            "'x' is not one of ['community', 'public', 'private', 'shared']"
        );
        let e = validate(&s, &json!({"locations": [{}]})).unwrap_err();
        assert_eq!(e.message, "'url' is a required property");
        let e = validate(&s, &json!({"min_ram": "1"})).unwrap_err();
        assert_eq!(e.message, "'1' is not of type 'integer'");
        let e = validate(&s, &json!({"disk_format": "x"})).unwrap_err();
        assert!(e.message.starts_with("'x' is not one of [None, 'ami'"));
        let e = validate(&s, &json!({"id": "x"})).unwrap_err();
        assert!(e.message.starts_with("'x' does not match '^([0-9a-fA-F])"));
        assert!(validate(&s, &json!({"name": null, "tags": ["a"], "protected": true})).is_ok());
        let e = validate(&s, &json!({"name": "x".repeat(256)})).unwrap_err();
        assert!(e.message.ends_with("' is too long"));
    }
}
