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
use crate::protections::{self, Operation, PropertyGuard};

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
    apply_change_guarded(image, change, None)
}

/// [`apply_change`] under property protections: `guard` is the caller's
/// view of the rules, and `image.extra_properties` must hold only the
/// properties the caller may read (Glance's protected image proxy), so an
/// unreadable property behaves as if it did not exist. Setting a readable
/// property that exists needs `update` (one whose value is null is left
/// alone, as Glance's proxy does), setting any other needs `create`,
/// removing needs `delete`; a refusal is 403 "Attribute '…' is reserved.".
pub fn apply_change_guarded(
    image: &mut Image,
    change: &PatchChange,
    guard: Option<&dyn PropertyGuard>,
) -> Result<(), DomainError> {
    let root = change.root().to_string();
    let value = change.value.clone().unwrap_or(Value::Null);
    match change.op {
        PatchOp::Replace => {
            if SETTABLE.contains(&root.as_str()) {
                set_attribute(image, &root, &value)
            } else if image.extra_properties.contains(&root) {
                set_property(image, &root, &value, guard)
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
                set_property(image, &root, &value, guard)
            }
        }
        PatchOp::Remove => {
            if is_attribute(&root) {
                Err(DomainError::ForbiddenDetail(format!(
                    "Property {root} may not be removed."
                )))
            } else if image.extra_properties.contains(&root) {
                if let Some(g) = guard
                    && !g.allows(&root, Operation::Delete)
                {
                    return Err(protections::refused(&root));
                }
                image.extra_properties.remove(&root);
                Ok(())
            } else {
                Err(DomainError::ConflictDetail(format!(
                    "Property {root} does not exist."
                )))
            }
        }
    }
}

/// `image.extra_properties[name] = value`, through Glance's protected
/// proxy when there is a guard.
fn set_property(
    image: &mut Image,
    name: &str,
    value: &Value,
    guard: Option<&dyn PropertyGuard>,
) -> Result<(), DomainError> {
    if let Some(g) = guard {
        let op = match image.extra_properties.get(name) {
            // Glance's proxy only updates a property whose current value
            // is not None; a null one is silently left as it is.
            Some(None) => return Ok(()),
            Some(Some(_)) => Operation::Update,
            None => Operation::Create,
        };
        if !g.allows(name, op) {
            return Err(protections::refused(name));
        }
    }
    image.extra_properties.set(name, property_value(value));
    Ok(())
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

    /// Allows what the table says; everything else is refused.
    struct Table(&'static [(&'static str, Operation)]);

    impl PropertyGuard for Table {
        fn allows(&self, name: &str, op: Operation) -> bool {
            self.0.iter().any(|(n, o)| *n == name && *o == op)
        }
    }

    #[test]
    fn guarded_changes() {
        let v21 = PatchDialect::V21;
        let mut i = Image::new("i".into(), Timestamp::default());
        i.extra_properties.set("upd", Some("1".into()));
        i.extra_properties.set("del", Some("1".into()));
        i.extra_properties.set("nul", None);
        let guard = Table(&[
            ("upd", Operation::Update),
            ("del", Operation::Delete),
            ("new", Operation::Create),
        ]);
        let g: Option<&dyn PropertyGuard> = Some(&guard);
        let apply = |i: &mut Image, op, path: &str, v: Option<Value>| {
            apply_change_guarded(i, &change(op, path, v, v21), g)
        };
        let refused = |r: Result<(), DomainError>| {
            let e = r.unwrap_err();
            (e.status(), e.explanation())
        };
        apply(&mut i, PatchOp::Replace, "upd", Some(json!("2"))).unwrap();
        apply(&mut i, PatchOp::Add, "upd", Some(json!("3"))).unwrap();
        assert_eq!(i.extra_properties.get("upd"), Some(&Some("3".into())));
        assert_eq!(
            refused(apply(&mut i, PatchOp::Replace, "del", Some(json!("2")))),
            (403, "Attribute 'del' is reserved.".to_string())
        );
        apply(&mut i, PatchOp::Add, "new", Some(json!("n"))).unwrap();
        assert_eq!(
            refused(apply(&mut i, PatchOp::Add, "other", Some(json!("n")))),
            (403, "Attribute 'other' is reserved.".to_string())
        );
        assert_eq!(refused(apply(&mut i, PatchOp::Remove, "upd", None)).0, 403);
        apply(&mut i, PatchOp::Remove, "del", None).unwrap();
        assert!(!i.extra_properties.contains("del"));
        // A null property is left alone rather than updated (or refused).
        apply(&mut i, PatchOp::Replace, "nul", Some(json!("x"))).unwrap();
        assert_eq!(i.extra_properties.get("nul"), Some(&None));
        // Base attributes are not protected; a missing property is 409
        // before any protection check.
        apply(&mut i, PatchOp::Replace, "name", Some(json!("n"))).unwrap();
        assert_eq!(
            refused(apply(&mut i, PatchOp::Replace, "gone", Some(json!("x")))).0,
            409
        );
        assert_eq!(refused(apply(&mut i, PatchOp::Remove, "gone", None)).0, 409);
        // Without a guard a null property is simply set.
        apply_change(
            &mut i,
            &change(PatchOp::Replace, "nul", Some(json!("x")), v21),
        )
        .unwrap();
        assert_eq!(i.extra_properties.get("nul"), Some(&Some("x".into())));
    }
}
