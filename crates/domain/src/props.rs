//! Property rules: read-only and reserved keys, the create-body checks,
//! Glance's 4-byte UTF-8 ban, the 32-bit limits on `min_ram`/`min_disk`,
//! hidden properties, and the property, tag and member quotas.

use serde_json::{Map, Value};

use crate::error::DomainError;
use crate::image::{ExtraProperties, Image, Visibility};
use crate::schema;

/// Prefix Glance reserves for its own properties (`GLANCE_RESERVED_NS`).
pub const RESERVED_NAMESPACE: &str = "os_glance";

/// Keys refused on create before anything else (`_disallowed_properties`).
pub const CREATE_DISALLOWED: &[&str] = &["direct_url", "self", "file", "schema", "stores"];

/// Keys a PATCH may not touch (`RequestDeserializer._readonly_properties`).
pub const READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
];

/// Keys that are reserved for Glance (`_reserved_properties`).
pub const RESERVED: &[&str] = &["location", "deleted", "deleted_at"];

/// `ImageFactory._readonly_properties`, checked in this order on create.
pub const FACTORY_READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
];

/// `ImageFactory._reserved_properties` (checked against extra properties).
pub const FACTORY_RESERVED: &[&str] = &[
    "owner",
    "locations",
    "deleted",
    "deleted_at",
    "direct_url",
    "self",
    "file",
    "schema",
];

/// Base attributes a create body may carry (`_base_properties`).
pub const BASE: &[&str] = &[
    "checksum",
    "created_at",
    "container_format",
    "disk_format",
    "id",
    "min_disk",
    "min_ram",
    "name",
    "size",
    "virtual_size",
    "status",
    "tags",
    "owner",
    "updated_at",
    "visibility",
    "protected",
    "os_hidden",
];

/// Extra properties never shown in responses.
pub const HIDDEN: &[&str] = &["os_glance_stage_host", "os_glance_hash_op_host"];

/// The largest `min_ram`/`min_disk` (a 4-byte DB integer).
pub const MAX_DB_INT: i64 = (1 << 31) - 1;

pub fn is_reserved_key(key: &str) -> bool {
    RESERVED.contains(&key) || key.starts_with(RESERVED_NAMESPACE)
}

pub fn is_hidden(key: &str) -> bool {
    HIDDEN.contains(&key)
}

fn read_only(key: &str) -> DomainError {
    DomainError::Forbidden(format!("Attribute '{key}' is read-only."))
}

fn reserved(key: &str) -> DomainError {
    DomainError::Forbidden(format!("Attribute '{key}' is reserved."))
}

/// The deserializer raises `HTTPForbidden(msg)`, which makes the text the
/// WebOb *detail* under the stock "Access was denied" explanation.
fn reserved_detail(key: &str) -> DomainError {
    DomainError::ForbiddenDetail(format!("Attribute '{key}' is reserved."))
}

/// A validated `POST /v2/images` body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewImage {
    pub id: Option<String>,
    pub name: Option<String>,
    pub visibility: Option<Visibility>,
    pub protected: Option<bool>,
    pub os_hidden: Option<bool>,
    pub owner: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_ram: Option<i64>,
    pub min_disk: Option<i64>,
    pub tags: Vec<String>,
    pub extra_properties: ExtraProperties,
}

/// `RequestDeserializer.create` plus `ImageFactory.new_image`'s checks and
/// the setters' range checks, in Glance's order: disallowed keys (403),
/// schema (400), custom-key length (400), reserved keys (403 detail),
/// factory read-only (403), factory reserved (403), min_* (400).
/// `image_schema` is the served image schema (with custom properties).
///
/// The controller's own checks (policy, property protections) come between
/// the two halves: [`deserialize_create`] and [`CreateBody::into_new_image`].
pub fn parse_create(body: &Value, image_schema: &Value) -> Result<NewImage, DomainError> {
    deserialize_create(body, image_schema)?.into_new_image()
}

/// A `POST /v2/images` body the deserializer accepted: base attributes and
/// extra properties, each in body order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreateBody {
    base: Map<String, Value>,
    extra: Map<String, Value>,
}

/// `RequestDeserializer.create`: disallowed keys (403), schema (400),
/// custom-key length (400), reserved keys (403 detail).
pub fn deserialize_create(body: &Value, image_schema: &Value) -> Result<CreateBody, DomainError> {
    let Value::Object(obj) = body else {
        // A JSON list gets as far as `key in body` and then fails inside
        // Glance with a bare 500; scalars are refused by the JSON decoder.
        return Err(match body {
            Value::Array(_) => DomainError::Internal("image body is a list".into()),
            _ => DomainError::BadRequest("Unexpected body type. Expected list/dict.".into()),
        });
    };
    if let Some(k) = CREATE_DISALLOWED.iter().find(|k| obj.contains_key(**k)) {
        return Err(read_only(k));
    }
    schema::validate(image_schema, body)
        .map_err(|v| DomainError::BadRequest(v.glance_message("image")))?;
    let mut rest: Map<String, Value> = obj.clone();
    let mut base = Map::new();
    for k in BASE {
        if let Some(v) = rest.shift_remove(*k) {
            base.insert((*k).to_string(), v);
        }
    }
    for key in rest.keys() {
        if key.chars().count() > 255 {
            return Err(DomainError::BadRequest(
                "Custom property should not be greater than 255 characters.".into(),
            ));
        }
        if is_reserved_key(key) {
            return Err(reserved_detail(key));
        }
    }
    Ok(CreateBody { base, extra: rest })
}

impl CreateBody {
    /// The `owner` given, if a string.
    pub fn owner(&self) -> Option<&str> {
        self.base.get("owner").and_then(Value::as_str)
    }

    pub fn visibility(&self) -> Option<Visibility> {
        self.base
            .get("visibility")
            .and_then(Value::as_str)
            .and_then(Visibility::from_str)
    }

    /// The extra properties' names, in body order.
    pub fn extra_keys(&self) -> impl Iterator<Item = &str> {
        self.extra.keys().map(String::as_str)
    }

    /// `ImageFactory.new_image`: read-only attributes (403), reserved
    /// properties (403), then the `min_*` setters (400).
    pub fn into_new_image(self) -> Result<NewImage, DomainError> {
        let CreateBody { base, extra: rest } = self;
        if let Some(k) = FACTORY_READ_ONLY.iter().find(|k| base.contains_key(**k)) {
            return Err(read_only(k));
        }
        if let Some(k) = FACTORY_RESERVED.iter().find(|k| rest.contains_key(**k)) {
            return Err(reserved(k));
        }
        let s = |k: &str| base.get(k).and_then(Value::as_str).map(str::to_string);
        let b = |k: &str| base.get(k).and_then(Value::as_bool);
        let mut out = NewImage {
            id: s("id"),
            name: s("name"),
            visibility: base
                .get("visibility")
                .and_then(Value::as_str)
                .and_then(Visibility::from_str),
            protected: b("protected"),
            os_hidden: b("os_hidden"),
            owner: s("owner"),
            disk_format: s("disk_format"),
            container_format: s("container_format"),
            ..NewImage::default()
        };
        for (k, slot) in [
            ("min_ram", &mut out.min_ram),
            ("min_disk", &mut out.min_disk),
        ] {
            if let Some(v) = base.get(k) {
                *slot = Some(check_min(k, v)?);
            }
        }
        if let Some(Value::Array(tags)) = base.get("tags") {
            for t in tags.iter().filter_map(Value::as_str) {
                if !out.tags.iter().any(|x| x == t) {
                    out.tags.push(t.to_string());
                }
            }
        }
        for (k, v) in rest {
            // The schema guarantees strings here (additionalProperties) for
            // everything but custom-schema properties, which may be null.
            let v = match v {
                Value::String(s) => Some(s),
                Value::Null => None,
                other => Some(other.to_string()),
            };
            out.extra_properties.set(&k, v);
        }
        Ok(out)
    }
}

/// The `min_ram`/`min_disk` setters and `_validate_db_int`: not negative
/// (400 `InvalidParameterValue`), not above 2^31-1 (400 `Invalid`).
pub fn check_min(param: &str, v: &Value) -> Result<i64, DomainError> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|_| i64::MAX)),
        _ => None,
    };
    let Some(n) = n else {
        return Err(DomainError::BadRequest(format!(
            "Invalid value '{}' for parameter '{param}': not an integer",
            crate::py::str_of(v)
        )));
    };
    if n < 0 {
        return Err(DomainError::BadRequest(format!(
            "Invalid value '{n}' for parameter '{param}': Cannot be a negative value"
        )));
    }
    if n > MAX_DB_INT {
        return Err(DomainError::BadRequest(format!(
            "'{param}' value out of range, must not exceed {MAX_DB_INT}."
        )));
    }
    Ok(n)
}

fn has_4byte(s: &str) -> bool {
    s.chars().any(|c| c as u32 >= 0x10000)
}

/// `utils.no_4byte_params` over the values the DB layer receives for an
/// image, in the order Glance builds that dict (`_format_image_to_db`).
pub fn check_no_4byte(image: &Image) -> Result<(), DomainError> {
    let value = |k: &str, v: Option<&str>| -> Result<(), DomainError> {
        if v.is_some_and(has_4byte) {
            return Err(DomainError::BadRequest(format!(
                "{} can't contain 4 byte unicode characters.",
                crate::py::title(k)
            )));
        }
        Ok(())
    };
    value("id", Some(&image.id))?;
    value("name", image.name.as_deref())?;
    for (k, v) in [
        ("checksum", &image.checksum),
        ("os_hash_algo", &image.os_hash_algo),
        ("os_hash_value", &image.os_hash_value),
        ("owner", &image.owner),
        ("disk_format", &image.disk_format),
        ("container_format", &image.container_format),
    ] {
        value(k, v.as_deref())?;
    }
    for (k, v) in &image.extra_properties.0 {
        if has_4byte(k) {
            return Err(DomainError::BadRequest(
                "Property names can't contain 4 byte unicode.".into(),
            ));
        }
        value(k, v.as_deref())?;
    }
    for t in &image.tags {
        check_tag_4byte(t)?;
    }
    Ok(())
}

/// Tags reach the DB as plain arguments: a different message.
pub fn check_tag_4byte(tag: &str) -> Result<(), DomainError> {
    if has_4byte(tag) {
        return Err(DomainError::BadRequest(
            "Param values can't contain 4 byte unicode.".into(),
        ));
    }
    Ok(())
}

/// `image_property_quota` (negative means unlimited; `os_glance*` keys do
/// not count).
pub fn check_property_quota(props: &ExtraProperties, quota: i64) -> Result<(), DomainError> {
    if quota < 0 {
        return Ok(());
    }
    let attempted = props
        .keys()
        .filter(|k| !k.starts_with(RESERVED_NAMESPACE))
        .count();
    if attempted as i64 > quota {
        return Err(DomainError::TooLarge(format!(
            "The limit has been exceeded on the number of allowed image properties. \
             Attempted: {attempted}, Maximum: {quota}"
        )));
    }
    Ok(())
}

/// `image_tag_quota` on the full tag set.
pub fn check_tag_quota(tag_count: usize, quota: i64) -> Result<(), DomainError> {
    if quota >= 0 && tag_count as i64 > quota {
        return Err(DomainError::TooLarge(format!(
            "The limit has been exceeded on the number of allowed image tags. \
             Attempted: {tag_count}, Maximum: {quota}"
        )));
    }
    Ok(())
}

/// `image_member_quota` when adding one member to `current` existing ones.
pub fn check_member_quota(current: usize, quota: i64) -> Result<(), DomainError> {
    let attempted = current + 1;
    if quota >= 0 && attempted as i64 > quota {
        return Err(DomainError::TooLarge(format!(
            "The limit has been exceeded on the number of allowed image members for this \
             image. Attempted: {attempted}, Maximum: {quota}"
        )));
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

    fn err(body: Value) -> (u16, String, Option<String>) {
        let e = parse_create(&body, &sch()).unwrap_err();
        (e.status(), e.explanation(), e.detail())
    }

    // Texts and statuses captured from Glance 33 (POST /v2/images).
    #[test]
    fn create_errors_match_glance() {
        assert_eq!(
            err(json!({"status": "queued", "size": 1})).1,
            "Attribute 'status' is read-only."
        );
        assert_eq!(
            err(json!({"size": 1, "checksum": "x"})).1,
            "Attribute 'checksum' is read-only."
        );
        assert_eq!(
            err(json!({"locations": []})),
            (403, "Attribute 'locations' is reserved.".into(), None)
        );
        assert_eq!(
            err(json!({"owner": "x", "location": "y"})),
            (
                403,
                "Access was denied to this resource.".into(),
                Some("Attribute 'location' is reserved.".into())
            )
        );
        assert_eq!(
            err(json!({"stores": "x", "self": "y"})).1,
            "Attribute 'self' is read-only."
        );
        assert_eq!(
            err(json!({"min_ram": -1})),
            (
                400,
                "Invalid value '-1' for parameter 'min_ram': Cannot be a negative value".into(),
                None
            )
        );
        assert_eq!(
            err(json!({"min_ram": 2147483648_i64})).1,
            "'min_ram' value out of range, must not exceed 2147483647."
        );
        assert_eq!(
            err(json!({"os_glance_x": "1", "deleted": "1"}))
                .2
                .as_deref(),
            Some("Attribute 'os_glance_x' is reserved.")
        );
        assert_eq!(err(json!(1)).0, 400);
        assert_eq!(err(json!([])).0, 500);
        assert_eq!(err(json!({"a": 1})).0, 400);
        let long = "k".repeat(256);
        assert_eq!(
            err(json!({long: "v"})).1,
            "Custom property should not be greater than 255 characters."
        );
    }

    #[test]
    fn create_keeps_order_and_dedups_tags() {
        let n = parse_create(&json!({"name": "a", "zeta": "1", "alpha": "2", "tags": ["b", "a", "b"], "os_hash_algo": "x"}), &sch()).unwrap();
        assert_eq!(n.name.as_deref(), Some("a"));
        assert_eq!(n.tags, vec!["b", "a"]);
        let keys: Vec<&str> = n.extra_properties.keys().collect();
        // Glance lets os_hash_algo through as an extra property (it is not
        // a base key on create); the rendering then shows the attribute.
        assert_eq!(keys, vec!["zeta", "alpha", "os_hash_algo"]);
    }

    #[test]
    fn four_byte_messages() {
        let mut i = Image::new("x".into(), Default::default());
        i.name = Some("😀".into());
        assert_eq!(
            check_no_4byte(&i).unwrap_err().explanation(),
            "Name can't contain 4 byte unicode characters."
        );
        i.name = None;
        i.extra_properties.set("os_distro", Some("😀".into()));
        assert_eq!(
            check_no_4byte(&i).unwrap_err().explanation(),
            "Os_Distro can't contain 4 byte unicode characters."
        );
        i.extra_properties = ExtraProperties::default();
        i.extra_properties.set("😀", Some("a".into()));
        assert_eq!(
            check_no_4byte(&i).unwrap_err().explanation(),
            "Property names can't contain 4 byte unicode."
        );
        i.extra_properties = ExtraProperties::default();
        i.tags.push("😀".into());
        assert_eq!(
            check_no_4byte(&i).unwrap_err().explanation(),
            "Param values can't contain 4 byte unicode."
        );
    }

    #[test]
    fn quotas() {
        let mut p = ExtraProperties::default();
        p.set("a", None);
        p.set("os_glance_import_task", None);
        assert!(check_property_quota(&p, 1).is_ok());
        assert_eq!(check_property_quota(&p, 0).unwrap_err().status(), 413);
        assert!(check_property_quota(&p, -1).is_ok());
        assert!(check_tag_quota(128, 128).is_ok());
        assert_eq!(
            check_tag_quota(129, 128).unwrap_err().explanation(),
            "The limit has been exceeded on the number of allowed image tags. Attempted: 129, Maximum: 128"
        );
        assert_eq!(check_member_quota(128, 128).unwrap_err().status(), 413);
        assert!(check_member_quota(127, 128).is_ok());
    }
}
