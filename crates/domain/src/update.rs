//! Applying one validated PATCH change to an [`Image`]: the
//! `_do_add`/`_do_replace`/`_do_remove` semantics of Glance's
//! `ImagesController` for everything but `locations` (which needs the
//! stores, so the API layer handles it), through the same setters
//! (`status`-dependent formats, `min_*` ranges, tag sets).
//!
//! Authorization (`update_property`, owner changes) is the caller's, as it
//! is in Glance's controller; this module only knows the image.

use serde_json::Value;

use crate::error::DomainError;
use crate::image::{FormatField, Image, Visibility};
use crate::patch::{PatchChange, PatchDialect, PatchOp};
use crate::props;

/// Base attributes of the domain image that a PATCH may set (anything the
/// image object has as an attribute and the deserializer lets through).
pub const SETTABLE: &[&str] = &[
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_ram",
    "min_disk",
    "owner",
    "disk_format",
    "container_format",
    "tags",
];

/// True when `name` is an attribute of the domain image (so `remove` is
/// refused and `add` overwrites it).
pub fn is_attribute(name: &str) -> bool {
    SETTABLE.contains(&name) || props::READ_ONLY.contains(&name) || name == "locations"
}

fn bad(m: String) -> DomainError {
    DomainError::BadRequest(m)
}

/// Apply one non-`locations` change.
pub fn apply_change(image: &mut Image, change: &PatchChange) -> Result<(), DomainError> {
    let root = change.root().to_string();
    let value = change.value.clone().unwrap_or(Value::Null);
    match change.op {
        PatchOp::Replace => {
            if SETTABLE.contains(&root.as_str()) {
                set_attribute(image, &root, &value)
            } else if image.extra_properties.contains(&root) {
                image.extra_properties.set(&root, property_value(&value));
                Ok(())
            } else {
                Err(DomainError::ConflictDetail(format!(
                    "Property {root} does not exist."
                )))
            }
        }
        PatchOp::Add => {
            let present =
                SETTABLE.contains(&root.as_str()) || image.extra_properties.contains(&root);
            if present && change.dialect == PatchDialect::V20 {
                return Err(DomainError::ConflictDetail(format!(
                    "Property {root} already present."
                )));
            }
            if SETTABLE.contains(&root.as_str()) {
                set_attribute(image, &root, &value)
            } else {
                image.extra_properties.set(&root, property_value(&value));
                Ok(())
            }
        }
        PatchOp::Remove => {
            if is_attribute(&root) {
                Err(DomainError::ForbiddenDetail(format!(
                    "Property {root} may not be removed."
                )))
            } else if image.extra_properties.remove(&root).is_some() {
                Ok(())
            } else {
                Err(DomainError::ConflictDetail(format!(
                    "Property {root} does not exist."
                )))
            }
        }
    }
}

/// Extra properties are strings (the schema made sure); a custom-schema
/// property may be null.
fn property_value(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn opt_str(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// The domain image's setters, after schema validation.
fn set_attribute(image: &mut Image, name: &str, value: &Value) -> Result<(), DomainError> {
    match name {
        "name" => image.name = opt_str(value),
        "owner" => image.owner = opt_str(value),
        "visibility" => {
            image.visibility = value.as_str().and_then(Visibility::from_str).ok_or_else(|| {
                bad(
                    "Visibility must be one of \"community\", \"public\", \"private\", or \"shared\""
                        .into(),
                )
            })?;
        }
        "protected" => image.protected = value.as_bool().unwrap_or(false),
        "os_hidden" => image.os_hidden = value.as_bool().unwrap_or(false),
        "min_ram" => image.min_ram = props::check_min("min_ram", value)?,
        "min_disk" => image.min_disk = props::check_min("min_disk", value)?,
        "disk_format" => image.set_format(FormatField::Disk, opt_str(value))?,
        "container_format" => image.set_format(FormatField::Container, opt_str(value))?,
        "tags" => {
            let mut tags: Vec<String> = Vec::new();
            for t in value.as_array().into_iter().flatten() {
                if let Some(t) = t.as_str()
                    && !tags.iter().any(|x| x == t)
                {
                    tags.push(t.to_string());
                }
            }
            image.tags = tags;
        }
        other => {
            return Err(DomainError::Internal(format!(
                "{other} is not a settable image attribute"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::image::ImageStatus;
    use crate::py::Timestamp;
    use serde_json::json;

    fn change(op: PatchOp, path: &str, value: Option<Value>, dialect: PatchDialect) -> PatchChange {
        PatchChange {
            op,
            path: vec![path.to_string()],
            value,
            dialect,
        }
    }

    #[test]
    fn add_replace_remove() {
        let mut i = Image::new("i".into(), Timestamp::default());
        let v21 = PatchDialect::V21;
        apply_change(&mut i, &change(PatchOp::Add, "foo", Some(json!("1")), v21)).unwrap();
        apply_change(&mut i, &change(PatchOp::Add, "foo", Some(json!("2")), v21)).unwrap();
        assert_eq!(i.extra_properties.get("foo"), Some(&Some("2".into())));
        let e = apply_change(
            &mut i,
            &change(PatchOp::Add, "foo", Some(json!("3")), PatchDialect::V20),
        )
        .unwrap_err();
        assert_eq!(e.detail().as_deref(), Some("Property foo already present."));
        let e = apply_change(
            &mut i,
            &change(PatchOp::Replace, "bar", Some(json!("3")), v21),
        )
        .unwrap_err();
        assert_eq!(
            (e.status(), e.detail()),
            (409, Some("Property bar does not exist.".into()))
        );
        let e = apply_change(&mut i, &change(PatchOp::Remove, "name", None, v21)).unwrap_err();
        assert_eq!(
            (e.status(), e.detail()),
            (403, Some("Property name may not be removed.".into()))
        );
        apply_change(&mut i, &change(PatchOp::Remove, "foo", None, v21)).unwrap();
        assert!(i.extra_properties.is_empty());
        apply_change(
            &mut i,
            &change(PatchOp::Replace, "name", Some(json!("n")), v21),
        )
        .unwrap();
        assert_eq!(i.name.as_deref(), Some("n"));
        apply_change(
            &mut i,
            &change(PatchOp::Replace, "tags", Some(json!(["a", "a", "b"])), v21),
        )
        .unwrap();
        assert_eq!(i.tags, vec!["a", "b"]);
        let e = apply_change(
            &mut i,
            &change(PatchOp::Replace, "min_ram", Some(json!(-1)), v21),
        )
        .unwrap_err();
        assert_eq!(e.status(), 400);
        i.status = ImageStatus::Active;
        let e = apply_change(
            &mut i,
            &change(PatchOp::Replace, "disk_format", Some(json!("raw")), v21),
        )
        .unwrap_err();
        assert_eq!(e.status(), 403);
    }
}
