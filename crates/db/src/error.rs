//! [`DbError`]: the one error type of the database layer.
//!
//! The variants are the distinctions the API layer needs to choose a status
//! code; the driver's own error stays attached as text only, so callers never
//! match on sqlx types.

use std::fmt;

/// An error from the database layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// The row asked for does not exist (→ 404).
    NotFound(String),
    /// The row exists but the caller may not use it (→ 403; e.g. a list
    /// marker the caller cannot see).
    Forbidden(String),
    /// A unique constraint rejected the write (→ 409).
    Duplicate(String),
    /// Another constraint (foreign key, check, not-null) rejected the write
    /// (→ 409 or 400, the caller knows which).
    Conflict(String),
    /// The database cannot be reached or did not answer in time: connection
    /// refused or lost, pool exhausted, SQLite busy past its timeout,
    /// deadlock (→ 503; retrying may help).
    Unavailable(String),
    /// The connection failed while the database was committing: the
    /// transaction may or may not have been committed (→ 503). Whoever acts
    /// on the outcome (removing data, say) must read it back first.
    InDoubt(String),
    /// The schema is not the one Glimpse serves: empty, an older or newer
    /// Glance revision, or some other application's tables.
    Schema(String),
    /// The `[database]` configuration is unusable (bad connection URL …).
    Config(String),
    /// Anything else.
    Other(String),
}

impl DbError {
    /// Whether the caller may retry the whole transaction.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }

    /// A failed `COMMIT` on a network backend: the connection lost (or the
    /// server going away) after the statement may have reached it leaves
    /// the outcome unknown ([`DbError::InDoubt`]); an error the server
    /// answered (a serialization failure, a deadlock) means rolled back.
    pub fn from_commit(e: sqlx::Error) -> DbError {
        use sqlx::Error as E;
        let lost = match &e {
            E::Io(_) | E::Tls(_) | E::WorkerCrashed | E::Protocol(_) => true,
            E::Database(db) => lost_connection(db.as_ref()),
            _ => false,
        };
        if lost {
            DbError::InDoubt(format!(
                "the connection failed during COMMIT, which may or may not have taken effect: {e}"
            ))
        } else {
            DbError::from(e)
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::NotFound(m)
            | DbError::Forbidden(m)
            | DbError::Duplicate(m)
            | DbError::Conflict(m)
            | DbError::Unavailable(m)
            | DbError::InDoubt(m)
            | DbError::Schema(m)
            | DbError::Config(m)
            | DbError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DbError {}

// Codes meaning "unreachable, going away, or retry": PostgreSQL SQLSTATE
// classes 08 (connection), 53 (resources), 57P (shutdown), 40001/40P01
// (serialization failure, deadlock); MySQL lock-wait timeout, deadlock,
// too many connections, server gone/lost.
const PG_UNAVAILABLE_PREFIXES: &[&str] = &["08", "53", "57P", "40001", "40P01"];
const MYSQL_UNAVAILABLE_NUMBERS: &[u16] = &[1040, 1205, 1213, 2002, 2003, 2006, 2013];

/// A server error meaning the session itself ended (PostgreSQL classes
/// 08 and 57P, MySQL's "server has gone away" and "lost connection").
fn lost_connection(db: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(my.number(), 2006 | 2013);
    }
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    code.starts_with("08") || code.starts_with("57P")
}

fn is_unavailable(db: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return MYSQL_UNAVAILABLE_NUMBERS.contains(&my.number());
    }
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLITE_BUSY (5) / SQLITE_LOCKED (6), extended codes included.
        return code.parse::<i64>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
    }
    PG_UNAVAILABLE_PREFIXES.iter().any(|p| code.starts_with(p))
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> DbError {
        use sqlx::Error as E;
        let text = e.to_string();
        match &e {
            E::RowNotFound => DbError::NotFound(text),
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
                DbError::Unavailable(text)
            }
            E::Configuration(_) => DbError::Config(text),
            E::Database(db) => {
                if db.is_unique_violation() {
                    DbError::Duplicate(text)
                } else if db.is_foreign_key_violation()
                    || db.is_check_violation()
                    || matches!(db.kind(), sqlx::error::ErrorKind::NotNullViolation)
                {
                    DbError::Conflict(text)
                } else if is_unavailable(db.as_ref()) {
                    DbError::Unavailable(text)
                } else {
                    DbError::Other(text)
                }
            }
            _ => DbError::Other(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_is_in_doubt_only_when_the_connection_failed() {
        let lost = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(matches!(DbError::from_commit(lost), DbError::InDoubt(_)));
        let closed = sqlx::Error::Protocol("unexpected end of stream".into());
        assert!(matches!(DbError::from_commit(closed), DbError::InDoubt(_)));
        // Answered by the server, or never sent: the outcome is known.
        assert!(matches!(
            DbError::from_commit(sqlx::Error::PoolTimedOut),
            DbError::Unavailable(_)
        ));
        assert!(matches!(
            DbError::from_commit(sqlx::Error::RowNotFound),
            DbError::NotFound(_)
        ));
    }
}
