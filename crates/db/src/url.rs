//! `[database] connection` URLs, read the way SQLAlchemy's `make_url` reads
//! them, so every URL that works in a glance-api.conf works here.
//!
//! Shape: `dialect[+driver]://[user[:password]@][host][:port][/database][?k=v&…]`.
//! SQLite puts the file path in the database part: `sqlite:////abs/path`
//! (absolute), `sqlite:///rel/path` (relative to the working directory),
//! `sqlite://` or `sqlite:///:memory:` (in memory).
//!
//! Error messages always show the URL with its password replaced by `***`.

use std::fmt;
use std::path::PathBuf;

use glimpse_domain::py::unquote;

use crate::DbError;

/// The SQL dialect a connection speaks. All dialect differences in this crate
/// (DDL, placeholders, error codes) are keyed on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    /// The name SQLAlchemy gives the dialect (`engine.name`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
            Backend::MySql => "mysql",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlitePath {
    Memory,
    File(PathBuf),
}

/// A parsed connection URL.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    pub backend: Backend,
    /// The `+driver` part as written (`pymysql`, `psycopg2`, …), if any. It
    /// selects a Python DBAPI module in Glance; Glimpse accepts the known
    /// ones and otherwise ignores it.
    pub driver: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// The database name (the file path for SQLite), percent-decoded.
    pub database: Option<String>,
    /// Query options in order; a key may repeat, as in SQLAlchemy.
    pub query: Vec<(String, String)>,
    /// The URL as given, for messages (see [`DbUrl::masked`]).
    raw: String,
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password, even in debug output.
        f.debug_struct("DbUrl")
            .field("url", &self.masked())
            .finish_non_exhaustive()
    }
}

const KNOWN_DRIVERS: &[(&str, Backend, &[&str])] = &[
    ("sqlite", Backend::Sqlite, &["pysqlite"]),
    (
        "postgresql",
        Backend::Postgres,
        &["psycopg2", "psycopg", "psycopg2cffi", "pg8000", "asyncpg"],
    ),
    // Not a SQLAlchemy name, but what sqlx and libpq users type.
    ("postgres", Backend::Postgres, &[]),
    (
        "mysql",
        Backend::MySql,
        &[
            "pymysql",
            "mysqldb",
            "mysqlconnector",
            "mariadbconnector",
            "aiomysql",
        ],
    ),
    (
        "mariadb",
        Backend::MySql,
        &["pymysql", "mysqldb", "mysqlconnector", "mariadbconnector"],
    ),
];

impl DbUrl {
    /// Parses a connection URL.
    pub fn parse(url: &str) -> Result<DbUrl, DbError> {
        let url = url.trim();
        let bad = |what: String| {
            DbError::Config(format!(
                "Invalid [database] connection URL {:?}: {what}",
                mask(url)
            ))
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(DbError::Config(format!(
                "Could not parse the [database] connection URL {:?}: expected \
                 dialect[+driver]://[user[:password]@]host[:port]/database",
                mask(url)
            )));
        };
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
        {
            return Err(bad(format!("malformed dialect {scheme:?}")));
        }
        let (dialect, driver) = match scheme.split_once('+') {
            Some((d, drv)) => (d, Some(drv)),
            None => (scheme, None),
        };
        let dialect_lc = dialect.to_ascii_lowercase();
        let Some((_, backend, drivers)) = KNOWN_DRIVERS.iter().find(|(n, _, _)| *n == dialect_lc)
        else {
            return Err(bad(format!(
                "unsupported database {dialect:?} (Glimpse supports sqlite, postgresql and mysql)"
            )));
        };
        if let Some(drv) = driver
            && !drivers.contains(&drv.to_ascii_lowercase().as_str())
        {
            return Err(bad(format!(
                "unknown driver {drv:?} for {dialect} (known: {})",
                drivers.join(", ")
            )));
        }
        let (before_query, query_str) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        // Authority ends at the first '/'; the database is everything after.
        let (authority, database) = match before_query.split_once('/') {
            Some((a, d)) => (a, Some(d)),
            None => (before_query, None),
        };
        // The last '@' splits userinfo from the host, so an unescaped '@' in
        // a password still works (SQLAlchemy 2 behaves the same).
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (Some(unquote(u)), Some(unquote(p))),
                None => (Some(unquote(ui)), None),
            },
        };
        let (host, port) = split_host_port(hostport).map_err(bad)?;
        let mut query = Vec::new();
        for pair in query_str.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            // parse_qsl semantics: `+` is a space in query strings only.
            query.push((unquote(&k.replace('+', " ")), unquote(&v.replace('+', " "))));
        }
        let database = database
            .filter(|d| !d.is_empty())
            .map(glimpse_domain::py::unquote);
        Ok(DbUrl {
            backend: *backend,
            driver: driver.map(str::to_string),
            username: username.filter(|u| !u.is_empty()),
            password,
            host,
            port,
            database,
            query,
            raw: url.to_string(),
        })
    }

    /// The URL with the password replaced by `***`, for messages and logs.
    pub fn masked(&self) -> String {
        mask(&self.raw)
    }

    /// The last value given for a query option.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// For SQLite URLs: the file (relative paths stay relative, to the
    /// working directory, as in SQLAlchemy) or memory.
    pub fn sqlite_path(&self) -> Option<SqlitePath> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        Some(match self.database.as_deref() {
            None | Some(":memory:") => SqlitePath::Memory,
            Some(p) => SqlitePath::File(PathBuf::from(p)),
        })
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

fn split_host_port(hp: &str) -> Result<(Option<String>, Option<u16>), String> {
    if hp.is_empty() {
        return Ok((None, None));
    }
    let (host, port) = if let Some(rest) = hp.strip_prefix('[') {
        let Some((h, after)) = rest.split_once(']') else {
            return Err(format!("unterminated IPv6 address in {hp:?}"));
        };
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(format!("unexpected {after:?} after IPv6 address")),
        }
    } else {
        match hp.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hp, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("port {p:?} is not a number between 0 and 65535"))?,
        ),
    };
    Ok(((!host.is_empty()).then(|| unquote(host)), port))
}

/// Replaces the password in `scheme://user:password@host…` with `***`.
fn mask(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str) -> DbUrl {
        DbUrl::parse(s).unwrap()
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            p("sqlite:////var/lib/glance/glance.sqlite").sqlite_path(),
            Some(SqlitePath::File("/var/lib/glance/glance.sqlite".into()))
        );
        assert_eq!(
            p("sqlite:///glance.sqlite").sqlite_path(),
            Some(SqlitePath::File("glance.sqlite".into()))
        );
        assert_eq!(p("sqlite://").sqlite_path(), Some(SqlitePath::Memory));
        assert_eq!(
            p("sqlite:///:memory:").sqlite_path(),
            Some(SqlitePath::Memory)
        );
        assert_eq!(p("sqlite+pysqlite:///x.db").backend, Backend::Sqlite);
    }

    #[test]
    fn server_urls() {
        let u = p("postgresql+psycopg2://glance:s%40cret@db.example:6543/glance?sslmode=require");
        assert_eq!(u.backend, Backend::Postgres);
        assert_eq!(u.driver.as_deref(), Some("psycopg2"));
        assert_eq!(u.username.as_deref(), Some("glance"));
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert_eq!(u.host.as_deref(), Some("db.example"));
        assert_eq!(u.port, Some(6543));
        assert_eq!(u.database.as_deref(), Some("glance"));
        assert_eq!(u.query_value("sslmode"), Some("require"));
        let m = p("mysql+pymysql://root:pw@127.0.0.1/glance?charset=utf8");
        assert_eq!(m.backend, Backend::MySql);
        assert_eq!(m.query_value("charset"), Some("utf8"));
        assert_eq!(m.port, None);
        let v6 = p("mysql://u@[::1]:3307/g");
        assert_eq!(v6.host.as_deref(), Some("::1"));
        assert_eq!(v6.port, Some(3307));
        assert_eq!(
            p("postgresql://u:p@w@h/db").password.as_deref(),
            Some("p@w")
        );
        assert_eq!(p("postgresql:///glance").host, None);
    }

    #[test]
    fn errors_mask_the_password() {
        let e = DbUrl::parse("mysql+pymysql://root:hunter2@h:xx/g").unwrap_err();
        let t = e.to_string();
        assert!(t.contains("root:***@h:xx/g"), "{t}");
        assert!(!t.contains("hunter2"), "{t}");
        assert!(t.contains("port \"xx\""), "{t}");
        let e = DbUrl::parse("oracle://u:hunter2@h/g")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported database \"oracle\"") && !e.contains("hunter2"),
            "{e}"
        );
        let e = DbUrl::parse("mysql+nosuch://h/g").unwrap_err().to_string();
        assert!(e.contains("unknown driver \"nosuch\""), "{e}");
        let e = DbUrl::parse("glance.sqlite").unwrap_err().to_string();
        assert!(e.contains("Could not parse"), "{e}");
        assert_eq!(
            format!("{:?}", p("postgresql://a:hunter2@h/d")),
            "DbUrl { url: \"postgresql://a:***@h/d\", .. }"
        );
    }
}
