//! The image model (`glance.domain.Image`) and its status machine.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::DomainError;
use crate::py::Timestamp;

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $( #[serde(rename = $s)] $v ),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),* } }
            #[allow(clippy::should_implement_trait)]
            pub fn from_str(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$v),)* _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// Image status, in the order of the schema's enum.
    ImageStatus {
        Queued = "queued",
        Saving = "saving",
        Active = "active",
        Killed = "killed",
        Deleted = "deleted",
        Uploading = "uploading",
        Importing = "importing",
        PendingDelete = "pending_delete",
        Deactivated = "deactivated",
    }
);

str_enum!(
    /// Image visibility, in the order of the schema's enum.
    Visibility {
        Community = "community",
        Public = "public",
        Private = "private",
        Shared = "shared",
    }
);

str_enum!(
    /// Image member status.
    MemberStatus {
        Pending = "pending",
        Accepted = "accepted",
        Rejected = "rejected",
    }
);

impl ImageStatus {
    /// `Image.valid_state_targets`: where each status may go next.
    pub fn valid_targets(self) -> &'static [ImageStatus] {
        use ImageStatus::*;
        match self {
            Queued => &[Saving, Uploading, Importing, Active, Deleted],
            Saving => &[Active, Killed, Deleted, Queued],
            Uploading => &[Importing, Queued, Deleted],
            Importing => &[Active, Deleted, Queued],
            Active => &[PendingDelete, Deleted, Deactivated],
            Killed => &[Deleted],
            PendingDelete => &[Deleted, Active],
            Deleted => &[],
            Deactivated => &[Active, Deleted],
        }
    }
}

/// One image location (`{url, metadata}` on the wire; the DB's row id and
/// status stay internal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub url: String,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// `active`, `pending_delete`, `deleted`: only active ones are shown.
    #[serde(default = "active")]
    pub status: String,
    #[serde(default)]
    pub id: Option<i64>,
}

fn active() -> String {
    "active".to_string()
}

/// An image member row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub image_id: String,
    pub member_id: String,
    pub status: MemberStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Member {
    /// The member JSON (`image_members.py` serializer), keys in Glance's order.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("member_id".into(), self.member_id.clone().into());
        m.insert("image_id".into(), self.image_id.clone().into());
        m.insert("status".into(), self.status.as_str().into());
        m.insert("created_at".into(), self.created_at.isotime().into());
        m.insert("updated_at".into(), self.updated_at.isotime().into());
        m.insert("schema".into(), "/v2/schemas/member".into());
        Value::Object(m)
    }
}

/// Extra (non-base) properties in insertion order. Values are strings; a
/// `None` is a legacy v1 NULL, rendered as `""`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtraProperties(pub Vec<(String, Option<String>)>);

impl ExtraProperties {
    pub fn get(&self, key: &str) -> Option<&Option<String>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
    /// Insert or overwrite in place (a dict assignment keeps the position).
    pub fn set(&mut self, key: &str, value: Option<String>) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }
    pub fn remove(&mut self, key: &str) -> Option<Option<String>> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl Serialize for ExtraProperties {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ExtraProperties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExtraProperties;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of string properties")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = ExtraProperties::default();
                while let Some((k, v)) = a.next_entry::<String, Option<String>>()? {
                    out.set(&k, v);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// `glance.domain.Image`: core fields, extra properties, tags, locations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: ImageStatus,
    pub visibility: Visibility,
    pub protected: bool,
    pub os_hidden: bool,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub owner: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_ram: i64,
    pub min_disk: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// A set in Glance; kept in insertion order here (Glance's own order is
    /// Python set order, which varies between processes).
    pub tags: Vec<String>,
    pub extra_properties: ExtraProperties,
    pub locations: Vec<Location>,
}

impl Image {
    /// `ImageFactory.new_image` defaults: queued, shared, not protected.
    pub fn new(id: String, now: Timestamp) -> Image {
        Image {
            id,
            name: None,
            status: ImageStatus::Queued,
            visibility: Visibility::Shared,
            protected: false,
            os_hidden: false,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            owner: None,
            size: None,
            virtual_size: None,
            disk_format: None,
            container_format: None,
            min_ram: 0,
            min_disk: 0,
            created_at: now,
            updated_at: now,
            tags: Vec::new(),
            extra_properties: ExtraProperties::default(),
            locations: Vec::new(),
        }
    }

    /// The `status` setter: checks the transition table and the format
    /// precondition, and clears the sizes when going back to `queued`.
    /// Setting the same status is a no-op check-wise in Glance only when it
    /// is a valid target; here too.
    pub fn set_status(&mut self, to: ImageStatus) -> Result<(), DomainError> {
        let from = self.status;
        if !from.valid_targets().contains(&to) {
            return Err(DomainError::InvalidStatusTransition { from, to });
        }
        if matches!(from, ImageStatus::Queued | ImageStatus::Uploading)
            && matches!(
                to,
                ImageStatus::Saving | ImageStatus::Active | ImageStatus::Importing
            )
        {
            let missing: Vec<&str> = [
                ("disk_format", &self.disk_format),
                ("container_format", &self.container_format),
            ]
            .iter()
            .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
            .map(|(k, _)| *k)
            .collect();
            match missing.len() {
                0 => {}
                1 => {
                    return Err(DomainError::MissingFormats(format!(
                        "Property {} must be set prior to saving data.",
                        missing[0]
                    )));
                }
                _ => {
                    return Err(DomainError::MissingFormats(format!(
                        "Properties {} must be set prior to saving data.",
                        missing.join(", ")
                    )));
                }
            }
        }
        if to == ImageStatus::Queued {
            self.size = None;
            self.virtual_size = None;
        }
        self.status = to;
        Ok(())
    }

    /// `Image.delete()`: protected images refuse; with `delayed_delete` and
    /// locations the image goes to `pending_delete`.
    pub fn delete(&mut self, delayed_delete: bool) -> Result<(), DomainError> {
        if self.protected {
            return Err(DomainError::Forbidden(format!(
                "Image {} is protected and cannot be deleted.",
                self.id
            )));
        }
        let to = if delayed_delete && !self.locations.is_empty() {
            ImageStatus::PendingDelete
        } else {
            ImageStatus::Deleted
        };
        self.set_status(to).map_err(DomainError::as_bad_request)
    }

    /// `Image.deactivate()`: idempotent from `deactivated`, 403 elsewhere.
    pub fn deactivate(&mut self) -> Result<(), DomainError> {
        match self.status {
            ImageStatus::Active => self.set_status(ImageStatus::Deactivated),
            ImageStatus::Deactivated => Ok(()),
            s => Err(DomainError::Forbidden(format!(
                "Not allowed to deactivate image in status '{s}'"
            ))),
        }
    }

    /// `Image.reactivate()`: idempotent from `active`, 403 elsewhere.
    pub fn reactivate(&mut self) -> Result<(), DomainError> {
        match self.status {
            ImageStatus::Deactivated => self.set_status(ImageStatus::Active),
            ImageStatus::Active => Ok(()),
            s => Err(DomainError::Forbidden(format!(
                "Not allowed to reactivate image in status '{s}'"
            ))),
        }
    }

    /// The `disk_format`/`container_format` setters: only while queued or
    /// importing.
    pub fn set_format(
        &mut self,
        which: FormatField,
        value: Option<String>,
    ) -> Result<(), DomainError> {
        if !matches!(self.status, ImageStatus::Queued | ImageStatus::Importing) {
            return Err(DomainError::Forbidden(format!(
                "Attribute {} can be only replaced for a queued image.",
                which.as_str()
            )));
        }
        match which {
            FormatField::Disk => self.disk_format = value,
            FormatField::Container => self.container_format = value,
        }
        Ok(())
    }

    /// Add a tag (tags are a set).
    pub fn add_tag(&mut self, tag: &str) {
        if !self.tags.iter().any(|t| t == tag) {
            self.tags.push(tag.to_string());
        }
    }

    /// Locations Glance shows (status `active`).
    pub fn active_locations(&self) -> impl Iterator<Item = &Location> {
        self.locations.iter().filter(|l| l.status == "active")
    }
}

/// Which format attribute [`Image::set_format`] changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatField {
    Disk,
    Container,
}

impl FormatField {
    pub fn as_str(self) -> &'static str {
        match self {
            FormatField::Disk => "disk_format",
            FormatField::Container => "container_format",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn img() -> Image {
        Image::new("i".into(), Timestamp::default())
    }

    #[test]
    fn every_transition_matches_the_table() {
        for &from in ImageStatus::ALL {
            for &to in ImageStatus::ALL {
                let mut i = img();
                i.status = from;
                i.disk_format = Some("raw".into());
                i.container_format = Some("bare".into());
                let ok = i.set_status(to).is_ok();
                assert_eq!(ok, from.valid_targets().contains(&to), "{from} -> {to}");
            }
        }
        let mut i = img();
        assert_eq!(
            i.set_status(ImageStatus::Killed),
            Err(DomainError::InvalidStatusTransition {
                from: ImageStatus::Queued,
                to: ImageStatus::Killed
            })
        );
    }

    #[test]
    fn formats_must_be_set_before_data() {
        let mut i = img();
        let e = i.set_status(ImageStatus::Saving).unwrap_err();
        assert_eq!(
            e.explanation(),
            "Properties disk_format, container_format must be set prior to saving data."
        );
        assert_eq!(e.status(), 400);
        i.disk_format = Some("raw".into());
        let e = i.set_status(ImageStatus::Importing).unwrap_err();
        assert_eq!(
            e.explanation(),
            "Property container_format must be set prior to saving data."
        );
        // uploading is reachable without formats (stage), deleted too.
        let mut i = img();
        assert!(i.set_status(ImageStatus::Uploading).is_ok());
        assert!(i.set_status(ImageStatus::Importing).is_err());
    }

    #[test]
    fn queued_clears_sizes() {
        let mut i = img();
        i.status = ImageStatus::Saving;
        i.size = Some(5);
        i.virtual_size = Some(9);
        i.set_status(ImageStatus::Queued).unwrap();
        assert_eq!((i.size, i.virtual_size), (None, None));
    }

    #[test]
    fn deactivate_reactivate_delete() {
        let mut i = img();
        assert_eq!(i.deactivate().unwrap_err().status(), 403);
        assert_eq!(
            i.reactivate().unwrap_err().explanation(),
            "Not allowed to reactivate image in status 'queued'"
        );
        i.status = ImageStatus::Active;
        i.deactivate().unwrap();
        i.deactivate().unwrap();
        assert_eq!(i.status, ImageStatus::Deactivated);
        i.reactivate().unwrap();
        i.protected = true;
        assert_eq!(
            i.delete(false).unwrap_err().explanation(),
            "Image i is protected and cannot be deleted."
        );
        i.protected = false;
        i.locations.push(Location {
            url: "file:///x".into(),
            metadata: Map::new(),
            status: "active".into(),
            id: None,
        });
        i.delete(true).unwrap();
        assert_eq!(i.status, ImageStatus::PendingDelete);
        let mut k = img();
        k.status = ImageStatus::Deleted;
        assert_eq!(k.delete(false).unwrap_err().status(), 400);
    }

    #[test]
    fn formats_only_while_queued() {
        let mut i = img();
        i.set_format(FormatField::Disk, Some("raw".into())).unwrap();
        i.status = ImageStatus::Active;
        assert_eq!(
            i.set_format(FormatField::Container, None)
                .unwrap_err()
                .explanation(),
            "Attribute container_format can be only replaced for a queued image."
        );
    }

    #[test]
    fn serde_round_trip_keeps_property_order() {
        let mut i = img();
        i.extra_properties.set("zeta", Some("1".into()));
        i.extra_properties.set("alpha", None);
        let j = serde_json::to_string(&i).unwrap();
        let back: Image = serde_json::from_str(&j).unwrap();
        assert_eq!(back, i);
        assert!(j.contains(r#""extra_properties":{"zeta":"1","alpha":null}"#));
    }
}
