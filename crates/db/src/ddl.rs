//! DDL for one [`Backend`], generated from [`crate::schema::TABLES`].
//!
//! The rendering copies what SQLAlchemy's dialects emit for Glance's column
//! types (e.g. `BOOL` + CHECK on MySQL, `SERIAL` on PostgreSQL, a named
//! ENUM type for `images.visibility`), because the goal is a database that
//! Python Glance cannot tell from one it made itself.

use crate::Backend;
use crate::schema::{ColType, Column, DefaultValue, TABLES, Table};

/// Quotes an identifier for `backend` (all Glance names are plain, but
/// `type`, `size`, `value` … are keywords somewhere).
pub fn quote(backend: Backend, ident: &str) -> String {
    match backend {
        Backend::MySql => format!("`{ident}`"),
        Backend::Sqlite | Backend::Postgres => format!("\"{ident}\""),
    }
}

fn quote_list(backend: Backend, cols: &[&str]) -> String {
    cols.iter()
        .map(|c| quote(backend, c))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn type_sql(backend: Backend, table: &Table, col: &Column) -> String {
    let serial = table.autoincrement_column().map(|c| c.name) == Some(col.name);
    match (backend, col.ty) {
        (_, ColType::Str(n)) => format!("VARCHAR({n})"),
        (_, ColType::Text) => "TEXT".into(),
        (Backend::Postgres, ColType::Int) if serial => "SERIAL".into(),
        (Backend::Postgres, ColType::BigInt | ColType::BigIntSqliteInt) if serial => {
            "BIGSERIAL".into()
        }
        (_, ColType::Int) | (Backend::Sqlite, ColType::BigIntSqliteInt) => "INTEGER".into(),
        (_, ColType::BigInt | ColType::BigIntSqliteInt) => "BIGINT".into(),
        (Backend::MySql, ColType::Bool) => "BOOL".into(),
        (_, ColType::Bool) => "BOOLEAN".into(),
        (Backend::Postgres, ColType::DateTime) => "TIMESTAMP WITHOUT TIME ZONE".into(),
        (_, ColType::DateTime) => "DATETIME".into(),
        (Backend::Postgres, ColType::Enum { name, .. }) => quote(backend, name),
        (Backend::MySql, ColType::Enum { values, .. }) => format!(
            "ENUM({})",
            values
                .iter()
                .map(|v| sql_str(v))
                .collect::<Vec<_>>()
                .join(",")
        ),
        (Backend::Sqlite, ColType::Enum { values, .. }) => format!(
            "VARCHAR({})",
            values.iter().map(|v| v.len()).max().unwrap_or(1)
        ),
    }
}

fn default_sql(backend: Backend, d: DefaultValue) -> String {
    match (backend, d) {
        (Backend::Postgres, DefaultValue::False) => "false".into(),
        (_, DefaultValue::False) => "0".into(),
        (_, DefaultValue::Str(s)) => sql_str(s),
    }
}

fn column_sql(backend: Backend, table: &Table, col: &Column) -> String {
    let mut s = format!(
        "{} {}",
        quote(backend, col.name),
        type_sql(backend, table, col)
    );
    if let Some(d) = col.default {
        s.push_str(" DEFAULT ");
        s.push_str(&default_sql(backend, d));
    }
    if !col.nullable {
        s.push_str(" NOT NULL");
    }
    if backend == Backend::MySql && table.autoincrement_column().map(|c| c.name) == Some(col.name) {
        s.push_str(" AUTO_INCREMENT");
    }
    s
}

/// `CREATE TABLE` for one table (without its separate indexes).
pub fn create_table(backend: Backend, table: &Table) -> String {
    let mut parts: Vec<String> = table
        .columns
        .iter()
        .map(|c| column_sql(backend, table, c))
        .collect();
    let pk = format!("PRIMARY KEY ({})", quote_list(backend, table.primary_key));
    parts.push(match table.pk_name {
        Some(n) => format!("CONSTRAINT {} {pk}", quote(backend, n)),
        None => pk,
    });
    for f in table.foreign_keys {
        parts.push(format!(
            "FOREIGN KEY({}) REFERENCES {} ({})",
            quote(backend, f.column),
            quote(backend, f.ref_table),
            quote(backend, f.ref_column)
        ));
    }
    for u in table.uniques {
        parts.push(format!(
            "CONSTRAINT {} UNIQUE ({})",
            quote(backend, u.name),
            quote_list(backend, u.columns)
        ));
    }
    // Non-native booleans carry a CHECK on SQLite and MySQL, as SQLAlchemy
    // created them; PostgreSQL has a real boolean type.
    let checks = match backend {
        Backend::Postgres => false,
        Backend::Sqlite => table.sqlite_checks,
        Backend::MySql => true,
    };
    if checks {
        for c in table.columns.iter().filter(|c| c.bool_check) {
            parts.push(format!("CHECK ({} IN (0, 1))", quote(backend, c.name)));
        }
    }
    let mut sql = format!(
        "CREATE TABLE {} (\n\t{}\n)",
        quote(backend, table.name),
        parts.join(",\n\t")
    );
    if backend == Backend::MySql {
        sql.push_str(" ENGINE=InnoDB");
        if table.mysql_utf8 {
            sql.push_str(" CHARSET=utf8");
        }
    }
    sql
}

/// Every statement that creates Glance 33's schema, in order. The caller
/// records [`crate::schema::HEAD`] in `alembic_version` afterwards.
pub fn create_schema(backend: Backend) -> Vec<String> {
    let mut out = Vec::new();
    if backend == Backend::Postgres {
        // Named enum types must exist before the tables using them.
        let mut seen = Vec::new();
        for c in TABLES.iter().flat_map(|t| t.columns) {
            if let ColType::Enum { name, values } = c.ty
                && !seen.contains(&name)
            {
                seen.push(name);
                out.push(format!(
                    "CREATE TYPE {} AS ENUM ({})",
                    quote(backend, name),
                    values
                        .iter()
                        .map(|v| sql_str(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    for t in TABLES {
        out.push(create_table(backend, t));
        for i in t.indexes {
            out.push(format!(
                "CREATE INDEX {} ON {} ({})",
                quote(backend, i.name),
                quote(backend, t.name),
                quote_list(backend, i.columns)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::table_named;

    #[test]
    fn renders_per_dialect() {
        let Some(images) = table_named("images") else {
            panic!("no images table")
        };
        let lite = create_table(Backend::Sqlite, images);
        assert!(
            lite.contains("\"visibility\" VARCHAR(9) DEFAULT 'shared' NOT NULL"),
            "{lite}"
        );
        assert!(lite.contains("\"size\" INTEGER,"), "{lite}");
        assert!(!lite.contains("CHECK"), "{lite}");
        let pg = create_table(Backend::Postgres, images);
        assert!(pg.contains("\"visibility\" \"image_visibility\" DEFAULT 'shared' NOT NULL"));
        assert!(
            pg.contains("\"protected\" BOOLEAN DEFAULT false NOT NULL"),
            "{pg}"
        );
        let my = create_table(Backend::MySql, images);
        assert!(
            my.contains("ENUM('private','public','shared','community')"),
            "{my}"
        );
        assert!(my.contains("CHECK (`deleted` IN (0, 1))") && my.ends_with("CHARSET=utf8"));
        let Some(nr) = table_named("node_reference") else {
            panic!("no node_reference")
        };
        assert!(create_table(Backend::Postgres, nr).contains("BIGSERIAL NOT NULL"));
        assert!(create_table(Backend::MySql, nr).contains("BIGINT NOT NULL AUTO_INCREMENT"));
        assert!(create_table(Backend::Sqlite, nr).contains("INTEGER NOT NULL"));
        let pg_all = create_schema(Backend::Postgres);
        assert!(pg_all[0].starts_with("CREATE TYPE \"image_visibility\" AS ENUM"));
        assert_eq!(create_schema(Backend::Sqlite).len(), 16 + 28);
    }
}
