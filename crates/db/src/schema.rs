//! Glance 33's schema at its alembic head, described once, as data.
//!
//! The description records what Glance's migrations actually leave in the
//! database, which is not always what `models.py` says: on SQLite, alembic's
//! batch rebuild of `images` (ocata contract) dropped that table's CHECK
//! constraints, and columns added by later migrations (`os_hidden`,
//! `tasks.image_id` …) sit after the original ones. The differential tests
//! compare the result against databases made by `glance-manage db sync`.
//!
//! [`crate::ddl`] turns this into CREATE statements per [`crate::Backend`].

/// The alembic revision Glance 33's `db sync` ends at (contract branch).
pub const HEAD: &str = "2024_1_contract01";

/// The expand-branch head; `db check` accepts a database at [`HEAD`] only,
/// this is kept to recognise half-done rolling upgrades.
pub const EXPAND_HEAD: &str = "2024_1_expand01";

/// Every revision id Glance's migrations have ever written to
/// `alembic_version` (plus the two pre-branch spellings Glance still
/// rewrites). A database at one of these is an older Glance database.
pub const KNOWN_REVISIONS: &[&str] = &[
    "liberty",
    "mitaka01",
    "mitaka02",
    "ocata01",
    "ocata_expand01",
    "ocata_contract01",
    "pike01",
    "pike_expand01",
    "pike_contract01",
    "queens_expand01",
    "queens_contract01",
    "rocky_expand01",
    "rocky_expand02",
    "rocky_contract01",
    "rocky_contract02",
    "train_expand01",
    "train_contract01",
    "ussuri_expand01",
    "ussuri_contract01",
    "wallaby_expand01",
    "wallaby_contract01",
    "xena_expand01",
    "xena_contract01",
    "yoga_expand01",
    "yoga_contract01",
    "zed_expand01",
    "zed_contract01",
    "2023_1_expand01",
    "2023_1_contract01",
    "2024_1_expand01",
    "2024_1_contract01",
];

/// Column types, named after the SQLAlchemy types Glance declares; each
/// backend renders them as SQLAlchemy's dialect would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// `String(n)`.
    Str(u32),
    /// `Text` (also Glance's JSON-encoded columns).
    Text,
    /// `Integer`.
    Int,
    /// `BigInteger().with_variant(Integer, "sqlite")`: 64-bit, but INTEGER on
    /// SQLite so that it can alias the rowid.
    BigIntSqliteInt,
    /// Plain `BigInteger` (BIGINT even on SQLite).
    BigInt,
    /// `Boolean`.
    Bool,
    /// `DateTime` (naive, UTC by convention).
    DateTime,
    /// `Enum(..., name=...)`: a named type on PostgreSQL, `ENUM(...)` on
    /// MySQL, a VARCHAR as long as the longest value on SQLite.
    Enum {
        name: &'static str,
        values: &'static [&'static str],
    },
}

impl ColType {
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            ColType::Int | ColType::BigInt | ColType::BigIntSqliteInt
        )
    }
}

/// A server-side default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    False,
    Str(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColType,
    pub nullable: bool,
    pub default: Option<DefaultValue>,
    /// A Boolean created with a `CHECK (col IN (0, 1))` (SQLAlchemy's
    /// non-native boolean constraint; SQLite and MySQL only). Columns added
    /// by later migrations (`os_hidden`) have none.
    pub bool_check: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub columns: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unique {
    pub name: &'static str,
    pub columns: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignKey {
    pub column: &'static str,
    pub ref_table: &'static str,
    pub ref_column: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub primary_key: &'static [&'static str],
    /// An explicit primary-key constraint name (only `alembic_version_pkc`);
    /// otherwise the backend's default name.
    pub pk_name: Option<&'static str>,
    pub uniques: &'static [Unique],
    pub foreign_keys: &'static [ForeignKey],
    /// Indexes created after the table, in Glance's order.
    pub indexes: &'static [Index],
    /// MySQL: `CHARSET=utf8` (Glance's `mysql_charset`); `false` keeps the
    /// server default (alembic_version).
    pub mysql_utf8: bool,
    /// SQLite: whether the Boolean CHECKs survived Glance's migrations.
    pub sqlite_checks: bool,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column that auto-increments, following SQLAlchemy's rule: the
    /// table's primary key is one integer column that is not a foreign key.
    pub fn autoincrement_column(&self) -> Option<&Column> {
        let [pk] = self.primary_key else { return None };
        let col = self.column(pk)?;
        (col.ty.is_integer() && !self.foreign_keys.iter().any(|f| f.column == *pk)).then_some(col)
    }
}

// --- builders, to keep the table list below readable ---------------------

const fn col(name: &'static str, ty: ColType, nullable: bool) -> Column {
    Column {
        name,
        ty,
        nullable,
        default: None,
        bool_check: false,
    }
}
const fn req(name: &'static str, ty: ColType) -> Column {
    col(name, ty, false)
}
const fn opt(name: &'static str, ty: ColType) -> Column {
    col(name, ty, true)
}
const fn with_default(mut c: Column, d: DefaultValue) -> Column {
    c.default = Some(d);
    c
}
/// A Boolean with its CHECK constraint.
const fn boolean(name: &'static str, nullable: bool) -> Column {
    let mut c = col(name, ColType::Bool, nullable);
    c.bool_check = true;
    c
}
const fn idx(name: &'static str, columns: &'static [&'static str]) -> Index {
    Index { name, columns }
}
const fn uq(name: &'static str, columns: &'static [&'static str]) -> Unique {
    Unique { name, columns }
}
const fn fk(column: &'static str, ref_table: &'static str, ref_column: &'static str) -> ForeignKey {
    ForeignKey {
        column,
        ref_table,
        ref_column,
    }
}
const fn table(
    name: &'static str,
    columns: &'static [Column],
    primary_key: &'static [&'static str],
) -> Table {
    Table {
        name,
        columns,
        primary_key,
        pk_name: None,
        uniques: &[],
        foreign_keys: &[],
        indexes: &[],
        mysql_utf8: true,
        sqlite_checks: true,
    }
}

use ColType::*;

const S36: ColType = Str(36);
const CREATED: Column = req("created_at", DateTime);
const UPDATED: Column = opt("updated_at", DateTime);
const DELETED_AT: Column = opt("deleted_at", DateTime);
const DELETED: Column = boolean("deleted", false);

const VISIBILITY: ColType = Enum {
    name: "image_visibility",
    values: &["private", "public", "shared", "community"],
};

/// Every table, in creation order (parents before children).
pub const TABLES: &[Table] = &[
    Table {
        pk_name: Some("alembic_version_pkc"),
        mysql_utf8: false,
        ..table(
            "alembic_version",
            &[req("version_num", Str(32))],
            &["version_num"],
        )
    },
    Table {
        indexes: &[
            idx("checksum_image_idx", &["checksum"]),
            idx("ix_images_deleted", &["deleted"]),
            idx("owner_image_idx", &["owner"]),
            idx("created_at_image_idx", &["created_at"]),
            idx("updated_at_image_idx", &["updated_at"]),
            idx("visibility_image_idx", &["visibility"]),
            idx("os_hidden_image_idx", &["os_hidden"]),
            idx("os_hash_value_image_idx", &["os_hash_value"]),
        ],
        sqlite_checks: false,
        ..table(
            "images",
            &[
                req("id", S36),
                opt("name", Str(255)),
                opt("size", BigIntSqliteInt),
                req("status", Str(30)),
                CREATED,
                UPDATED,
                DELETED_AT,
                DELETED,
                opt("disk_format", Str(20)),
                opt("container_format", Str(20)),
                opt("checksum", Str(32)),
                opt("owner", Str(255)),
                req("min_disk", Int),
                req("min_ram", Int),
                with_default(boolean("protected", false), DefaultValue::False),
                opt("virtual_size", BigIntSqliteInt),
                with_default(req("visibility", VISIBILITY), DefaultValue::Str("shared")),
                with_default(req("os_hidden", Bool), DefaultValue::False),
                opt("os_hash_algo", Str(64)),
                opt("os_hash_value", Str(128)),
            ],
            &["id"],
        )
    },
    Table {
        uniques: &[uq(
            "ix_image_properties_image_id_name",
            &["image_id", "name"],
        )],
        foreign_keys: &[fk("image_id", "images", "id")],
        indexes: &[
            idx("ix_image_properties_deleted", &["deleted"]),
            idx("ix_image_properties_image_id", &["image_id"]),
        ],
        ..table(
            "image_properties",
            &[
                req("id", Int),
                req("image_id", S36),
                req("name", Str(255)),
                opt("value", Text),
                CREATED,
                UPDATED,
                DELETED_AT,
                DELETED,
            ],
            &["id"],
        )
    },
    Table {
        foreign_keys: &[fk("image_id", "images", "id")],
        indexes: &[
            idx("ix_image_locations_deleted", &["deleted"]),
            idx("ix_image_locations_image_id", &["image_id"]),
        ],
        ..table(
            "image_locations",
            &[
                req("id", Int),
                req("image_id", S36),
                req("value", Text),
                CREATED,
                UPDATED,
                DELETED_AT,
                DELETED,
                opt("meta_data", Text),
                with_default(req("status", Str(30)), DefaultValue::Str("active")),
            ],
            &["id"],
        )
    },
    Table {
        uniques: &[uq(
            "image_members_image_id_member_deleted_at_key",
            &["image_id", "member", "deleted_at"],
        )],
        foreign_keys: &[fk("image_id", "images", "id")],
        indexes: &[
            idx("ix_image_members_deleted", &["deleted"]),
            idx("ix_image_members_image_id", &["image_id"]),
            idx("ix_image_members_image_id_member", &["image_id", "member"]),
        ],
        ..table(
            "image_members",
            &[
                req("id", Int),
                req("image_id", S36),
                req("member", Str(255)),
                boolean("can_share", false),
                CREATED,
                UPDATED,
                DELETED_AT,
                DELETED,
                with_default(req("status", Str(20)), DefaultValue::Str("pending")),
            ],
            &["id"],
        )
    },
    Table {
        foreign_keys: &[fk("image_id", "images", "id")],
        indexes: &[
            idx("ix_image_tags_image_id", &["image_id"]),
            idx("ix_image_tags_image_id_tag_value", &["image_id", "value"]),
        ],
        ..table(
            "image_tags",
            &[
                req("id", Int),
                req("image_id", S36),
                req("value", Str(255)),
                CREATED,
                UPDATED,
                DELETED_AT,
                DELETED,
            ],
            &["id"],
        )
    },
    Table {
        indexes: &[
            idx("ix_tasks_deleted", &["deleted"]),
            idx("ix_tasks_owner", &["owner"]),
            idx("ix_tasks_status", &["status"]),
            idx("ix_tasks_type", &["type"]),
            idx("ix_tasks_updated_at", &["updated_at"]),
            idx("ix_tasks_image_id", &["image_id"]),
        ],
        ..table(
            "tasks",
            &[
                req("id", S36),
                req("type", Str(30)),
                req("status", Str(30)),
                req("owner", Str(255)),
                opt("expires_at", DateTime),
                CREATED,
                UPDATED,
                DELETED_AT,
                DELETED,
                opt("image_id", S36),
                opt("request_id", Str(64)),
                opt("user_id", Str(64)),
            ],
            &["id"],
        )
    },
    Table {
        foreign_keys: &[fk("task_id", "tasks", "id")],
        ..table(
            "task_info",
            &[
                req("task_id", S36),
                opt("input", Text),
                opt("result", Text),
                opt("message", Text),
            ],
            &["task_id"],
        )
    },
    Table {
        uniques: &[uq("uq_metadef_namespaces_namespace", &["namespace"])],
        indexes: &[idx("ix_metadef_namespaces_owner", &["owner"])],
        ..table(
            "metadef_namespaces",
            &[
                req("id", Int),
                req("namespace", Str(80)),
                opt("display_name", Str(80)),
                opt("description", Text),
                opt("visibility", Str(32)),
                boolean("protected", true),
                req("owner", Str(255)),
                CREATED,
                UPDATED,
            ],
            &["id"],
        )
    },
    Table {
        uniques: &[uq("uq_metadef_resource_types_name", &["name"])],
        ..table(
            "metadef_resource_types",
            &[
                req("id", Int),
                req("name", Str(80)),
                boolean("protected", false),
                CREATED,
                UPDATED,
            ],
            &["id"],
        )
    },
    Table {
        foreign_keys: &[
            fk("namespace_id", "metadef_namespaces", "id"),
            fk("resource_type_id", "metadef_resource_types", "id"),
        ],
        indexes: &[idx(
            "ix_metadef_ns_res_types_namespace_id",
            &["namespace_id"],
        )],
        ..table(
            "metadef_namespace_resource_types",
            &[
                req("resource_type_id", Int),
                req("namespace_id", Int),
                opt("properties_target", Str(80)),
                opt("prefix", Str(80)),
                CREATED,
                UPDATED,
            ],
            &["resource_type_id", "namespace_id"],
        )
    },
    Table {
        uniques: &[uq(
            "uq_metadef_objects_namespace_id_name",
            &["namespace_id", "name"],
        )],
        foreign_keys: &[fk("namespace_id", "metadef_namespaces", "id")],
        indexes: &[idx("ix_metadef_objects_name", &["name"])],
        ..table(
            "metadef_objects",
            &[
                req("id", Int),
                req("namespace_id", Int),
                req("name", Str(80)),
                opt("description", Text),
                opt("required", Text),
                req("json_schema", Text),
                CREATED,
                UPDATED,
            ],
            &["id"],
        )
    },
    Table {
        uniques: &[uq(
            "uq_metadef_properties_namespace_id_name",
            &["namespace_id", "name"],
        )],
        foreign_keys: &[fk("namespace_id", "metadef_namespaces", "id")],
        indexes: &[idx("ix_metadef_properties_name", &["name"])],
        ..table(
            "metadef_properties",
            &[
                req("id", Int),
                req("namespace_id", Int),
                req("name", Str(80)),
                req("json_schema", Text),
                CREATED,
                UPDATED,
            ],
            &["id"],
        )
    },
    Table {
        uniques: &[uq(
            "uq_metadef_tags_namespace_id_name",
            &["namespace_id", "name"],
        )],
        foreign_keys: &[fk("namespace_id", "metadef_namespaces", "id")],
        indexes: &[idx("ix_metadef_tags_name", &["name"])],
        ..table(
            "metadef_tags",
            &[
                req("id", Int),
                req("namespace_id", Int),
                req("name", Str(80)),
                CREATED,
                UPDATED,
            ],
            &["id"],
        )
    },
    Table {
        uniques: &[uq(
            "uq_node_reference_node_reference_url",
            &["node_reference_url"],
        )],
        ..table(
            "node_reference",
            &[
                req("node_reference_id", BigIntSqliteInt),
                req("node_reference_url", Str(255)),
            ],
            &["node_reference_id"],
        )
    },
    Table {
        uniques: &[uq(
            "ix_cached_images_image_id_node_reference_id",
            &["image_id", "node_reference_id"],
        )],
        foreign_keys: &[fk(
            "node_reference_id",
            "node_reference",
            "node_reference_id",
        )],
        ..table(
            "cached_images",
            &[
                req("id", BigIntSqliteInt),
                req("image_id", S36),
                req("last_accessed", DateTime),
                req("last_modified", DateTime),
                req("size", BigInt),
                req("hits", Int),
                opt("checksum", Str(32)),
                req("node_reference_id", BigIntSqliteInt),
            ],
            &["id"],
        )
    },
];

/// Looks a table up by name.
pub fn table_named(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_is_self_consistent() {
        let mut names = std::collections::HashSet::new();
        for t in TABLES {
            assert!(names.insert(t.name), "duplicate table {}", t.name);
            let cols: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
            let mentioned = t
                .primary_key
                .iter()
                .chain(t.uniques.iter().flat_map(|u| u.columns))
                .chain(t.indexes.iter().flat_map(|i| i.columns))
                .chain(t.foreign_keys.iter().map(|f| &f.column));
            for c in mentioned {
                assert!(cols.contains(c), "{}.{c} is not a column", t.name);
            }
            for f in t.foreign_keys {
                // Parents come first, so CREATE order satisfies references.
                let parent = TABLES.iter().position(|p| p.name == f.ref_table);
                let me = TABLES.iter().position(|p| p.name == t.name);
                assert!(
                    parent < me,
                    "{} references later table {}",
                    t.name,
                    f.ref_table
                );
                assert!(
                    table_named(f.ref_table)
                        .and_then(|p| p.column(f.ref_column))
                        .is_some()
                );
            }
        }
        assert_eq!(TABLES.len(), 16);
        assert!(KNOWN_REVISIONS.contains(&HEAD) && KNOWN_REVISIONS.contains(&EXPAND_HEAD));
    }

    #[test]
    fn autoincrement_follows_sqlalchemy() {
        let ai = |t: &str| {
            table_named(t)
                .and_then(|t| t.autoincrement_column())
                .map(|c| c.name)
        };
        assert_eq!(ai("image_properties"), Some("id"));
        assert_eq!(ai("cached_images"), Some("id"));
        assert_eq!(ai("node_reference"), Some("node_reference_id"));
        assert_eq!(ai("images"), None); // text key
        assert_eq!(ai("task_info"), None);
        assert_eq!(ai("metadef_namespace_resource_types"), None); // composite
    }
}
