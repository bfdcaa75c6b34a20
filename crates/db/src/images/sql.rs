//! The small SQL toolkit the image repository is written in: statements
//! are built once as text with `?` placeholders plus typed arguments
//! ([`Sql`]), and [`run`]/[`fetch`] send them to whichever backend the
//! [`Conn`] holds. The backend differences live here and nowhere else:
//! PostgreSQL's `$n` placeholders, its named `image_visibility` ENUM and
//! strict timestamp/text typing, MySQL's second-precision `DATETIME`, and
//! SQLAlchemy's text format for SQLite datetimes.

use glimpse_domain::py::Timestamp;
use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, Db, DbError, Tx, on_backend, on_tx};

/// A bound argument.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
}

/// How to decode one result column.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// Any textual column (also enums and the timestamps, which
    /// [`Dialect::ts_out`] turns into text).
    Text,
    /// A 32-bit `Integer` column.
    Int32,
    /// A 64-bit value (`BigInteger`, `COUNT(*)`, [`Dialect::bigint`]).
    Int64,
    Bool,
}

/// A decoded result value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

impl Val {
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Val::Text(t) => t.clone(),
            Val::Int(i) => i.map(|i| i.to_string()),
            Val::Bool(b) => b.map(|b| b.to_string()),
        }
    }
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => *i,
            Val::Bool(b) => b.map(i64::from),
            Val::Text(t) => t.as_deref().and_then(|t| t.parse().ok()),
        }
    }
    pub(crate) fn bool(&self) -> bool {
        match self {
            Val::Bool(b) => b.unwrap_or(false),
            Val::Int(i) => i.is_some_and(|i| i != 0),
            Val::Text(t) => matches!(t.as_deref(), Some("1" | "true" | "t")),
        }
    }
    pub(crate) fn ts(&self) -> Result<Option<Timestamp>, DbError> {
        match self.text() {
            None => Ok(None),
            Some(t) => parse_ts(&t)
                .map(Some)
                .ok_or_else(|| DbError::Other(format!("unreadable timestamp {t:?}"))),
        }
    }
}

/// Per-backend spellings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dialect(pub Backend);

impl Dialect {
    /// A timestamp argument's placeholder.
    pub(crate) fn ts_in(self) -> &'static str {
        match self.0 {
            Backend::Postgres => "CAST(? AS TIMESTAMP)",
            _ => "?",
        }
    }
    /// A visibility argument's placeholder (PostgreSQL's column is a named
    /// ENUM, which a text parameter does not convert to implicitly).
    pub(crate) fn vis_in(self) -> &'static str {
        match self.0 {
            Backend::Postgres => "CAST(? AS image_visibility)",
            _ => "?",
        }
    }
    /// A timestamp column as text in SQLAlchemy's SQLite format.
    pub(crate) fn ts_out(self, col: &str) -> String {
        match self.0 {
            Backend::Sqlite => col.to_string(),
            Backend::Postgres => format!("to_char({col}, 'YYYY-MM-DD HH24:MI:SS.US')"),
            Backend::MySql => format!("DATE_FORMAT({col}, '%Y-%m-%d %H:%i:%s.%f')"),
        }
    }
    /// An enum column as text.
    pub(crate) fn vis_out(self, col: &str) -> String {
        match self.0 {
            Backend::Postgres => format!("CAST({col} AS TEXT)"),
            _ => col.to_string(),
        }
    }
    /// An aggregate as a 64-bit integer (SUM is NUMERIC/DECIMAL elsewhere).
    pub(crate) fn bigint(self, expr: &str) -> String {
        match self.0 {
            Backend::Sqlite => expr.to_string(),
            Backend::Postgres => format!("CAST({expr} AS BIGINT)"),
            Backend::MySql => format!("CAST({expr} AS SIGNED)"),
        }
    }
    /// A text argument compared with an integer column: PostgreSQL will not
    /// compare `integer = text`, so the text is cast (and a non-number
    /// fails there, as it does under Glance with psycopg2).
    pub(crate) fn int_from_text_in(self) -> &'static str {
        match self.0 {
            Backend::Postgres => "CAST(? AS BIGINT)",
            _ => "?",
        }
    }
    /// The suffix that makes a `SELECT` lock the rows it reads until the
    /// transaction ends. SQLite has none and needs none: a write
    /// transaction there holds the database's write lock from its start.
    /// (On MySQL, mind the order InnoDB takes index-record locks in; see
    /// `Repo::update`.)
    pub(crate) fn for_update(self) -> &'static str {
        match self.0 {
            Backend::Sqlite => "",
            _ => " FOR UPDATE",
        }
    }
    /// A column reference the SQLite planner must not pick an index for
    /// (`+col`): low-cardinality columns (deleted, os_hidden, visibility)
    /// would otherwise win over the sort order's index without statistics.
    pub(crate) fn no_index(self, col: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("+{col}"),
            _ => col.to_string(),
        }
    }
    /// An ORDER BY term giving the order rows were inserted in, for a
    /// table without an id column, where the backend can tell (SQLite's
    /// `rowid`, PostgreSQL's `ctid`); on MySQL, `fallback`: the order the
    /// caller knows InnoDB returns them in for the same query.
    pub(crate) fn insertion_order(self, alias: &str, fallback: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("{alias}.rowid"),
            Backend::Postgres => format!("{alias}.ctid"),
            Backend::MySql => fallback.to_string(),
        }
    }
    /// A timestamp as the argument text for this backend. MySQL's
    /// `DATETIME` keeps whole seconds: the fraction is dropped here so that
    /// MySQL (which would round) and MariaDB (which truncates) agree.
    pub(crate) fn ts_arg(self, t: Timestamp) -> Arg {
        let t = if self.0 == Backend::MySql {
            Timestamp {
                micros: t.micros - t.micros.rem_euclid(1_000_000),
            }
        } else {
            t
        };
        Arg::Text(Some(format_ts(t)))
    }
}

/// SQLAlchemy's SQLite storage format, `YYYY-MM-DD HH:MM:SS.ffffff` (also
/// what PostgreSQL and MySQL accept as a literal).
pub(crate) fn format_ts(t: Timestamp) -> String {
    // isoformat() drops a zero fraction; always write six digits.
    let iso = t.isoformat();
    let (main, frac) = iso.split_once('.').unwrap_or((&iso, "000000"));
    format!("{}.{frac}", main.replacen('T', " ", 1))
}

/// Reads `YYYY-MM-DD[ T]HH:MM:SS[.f…]` (what the three backends and
/// SQLAlchemy write); `None` otherwise.
pub(crate) fn parse_ts(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, t),
        None => (s, "00:00:00"),
    };
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (h, mi) = (t.next()??, t.next()??);
    let sec = t.next().unwrap_or(Some(0))?;
    let frac: String = frac.chars().take(6).collect();
    let us = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse::<i64>().ok()?
    };
    Timestamp::from_utc(y, mo, day, h, mi, sec, us)
}

/// The current time (UTC, microseconds), as Glance's `utcnow()`.
pub(crate) fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 1_000_000),
        d.subsec_micros(),
    )
}

/// A statement under construction.
#[derive(Clone, Debug)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
    pub d: Dialect,
}

impl Sql {
    pub(crate) fn new(d: Dialect, text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
            d,
        }
    }
    /// Appends text (no arguments).
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }
    /// Appends `placeholder` (containing one `?`) and binds `arg`.
    pub(crate) fn arg(&mut self, placeholder: &str, arg: Arg) -> &mut Self {
        self.text.push_str(placeholder);
        self.args.push(arg);
        self
    }
    pub(crate) fn text(&mut self, v: impl Into<String>) -> &mut Self {
        self.arg("?", Arg::Text(Some(v.into())))
    }
    pub(crate) fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        self.arg("?", Arg::Text(v.map(str::to_string)))
    }
    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        self.arg("?", Arg::Int(Some(v)))
    }
    pub(crate) fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        self.arg("?", Arg::Int(v))
    }
    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.arg("?", Arg::Bool(v))
    }
    pub(crate) fn ts(&mut self, t: Timestamp) -> &mut Self {
        let d = self.d;
        self.arg(d.ts_in(), d.ts_arg(t))
    }
    pub(crate) fn opt_ts(&mut self, t: Option<Timestamp>) -> &mut Self {
        match t {
            Some(t) => self.ts(t),
            None => {
                let d = self.d;
                self.arg(d.ts_in(), Arg::Text(None))
            }
        }
    }
    /// `(?, ?, …)` binding every value as text.
    pub(crate) fn text_list<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(v);
        }
        self.push(")")
    }

    /// The text with this backend's placeholders (`$1…` on PostgreSQL).
    fn final_text(&self) -> String {
        if self.d.0 != Backend::Postgres {
            return self.text.clone();
        }
        let mut out = String::with_capacity(self.text.len() + 16);
        let mut n = 0;
        let mut in_str = false;
        for c in self.text.chars() {
            match c {
                '\'' => {
                    in_str = !in_str;
                    out.push(c);
                }
                '?' if !in_str => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                c => out.push(c),
            }
        }
        out
    }
}

/// oslo.db's `paginate_query` keyset condition for keys sorted one way,
/// each column name behind `prefix` (a table alias and dot, or nothing):
/// ` AND ((k1 > m1) OR (k1 = m1 AND k2 > m2) OR …)`.
pub(crate) fn keyset(
    q: &mut Sql,
    prefix: &str,
    keys: &[&str],
    desc: bool,
    bind: &dyn Fn(&mut Sql, &str),
) {
    let op = if desc { " < " } else { " > " };
    q.push(" AND (");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        q.push("(");
        for prev in &keys[..i] {
            q.push(prefix).push(prev).push(" = ");
            bind(q, prev);
            q.push(" AND ");
        }
        q.push(prefix).push(k).push(op);
        bind(q, k);
        q.push(")");
    }
    q.push(")");
}

/// ` ORDER BY` every key one way.
pub(crate) fn order_by(q: &mut Sql, prefix: &str, keys: &[&str], desc: bool) {
    let dir = if desc { " DESC" } else { " ASC" };
    q.push(" ORDER BY ");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push(prefix).push(k).push(dir);
    }
}

/// Where statements run: the pool (one statement, autocommit) or an open
/// transaction.
pub(crate) enum Conn<'a> {
    Pool(&'a Db),
    Tx(&'a mut Tx),
}

macro_rules! with_exec {
    ($conn:expr, |$e:ident| $body:expr) => {
        match $conn {
            Conn::Pool(db) => on_backend!(db, Db, |$e| $body),
            Conn::Tx(tx) => on_tx!(tx, |t| {
                let $e = &mut **t;
                $body
            }),
        }
    };
}

macro_rules! build_query {
    ($sql:expr) => {{
        let mut q = sqlx::query(AssertSqlSafe($sql.final_text()));
        for a in &$sql.args {
            q = match a {
                Arg::Text(v) => q.bind(v.clone()),
                Arg::Int(v) => q.bind(*v),
                Arg::Bool(v) => q.bind(*v),
            };
        }
        q
    }};
}

macro_rules! decode_row {
    ($row:expr, $kinds:expr) => {{
        let mut out = Vec::with_capacity($kinds.len());
        for (i, k) in $kinds.iter().enumerate() {
            out.push(match k {
                Kind::Text => Val::Text($row.try_get_unchecked::<Option<String>, _>(i)?),
                Kind::Int32 => Val::Int($row.try_get::<Option<i32>, _>(i)?.map(i64::from)),
                Kind::Int64 => Val::Int($row.try_get::<Option<i64>, _>(i)?),
                Kind::Bool => Val::Bool($row.try_get::<Option<bool>, _>(i)?),
            });
        }
        out
    }};
}

/// Runs a statement; returns the number of rows it changed.
pub(crate) async fn run(conn: Conn<'_>, sql: &Sql) -> Result<u64, DbError> {
    Ok(with_exec!(conn, |e| {
        build_query!(sql).execute(e).await?.rows_affected()
    }))
}

/// Runs a query and decodes every row as `kinds` says.
pub(crate) async fn fetch(
    conn: Conn<'_>,
    sql: &Sql,
    kinds: &[Kind],
) -> Result<Vec<Vec<Val>>, DbError> {
    Ok(with_exec!(conn, |e| {
        let rows = build_query!(sql).fetch_all(e).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(decode_row!(r, kinds));
        }
        out
    }))
}

/// The single integer a `SELECT COUNT(*)` returns (0 without a row).
pub(crate) async fn count_rows(conn: Conn<'_>, sql: &Sql) -> Result<i64, DbError> {
    Ok(fetch(conn, sql, &[Kind::Int64])
        .await?
        .first()
        .and_then(|r| r.first())
        .and_then(Val::int)
        .unwrap_or(0))
}

impl<'a> Conn<'a> {
    /// Reborrows, so one `Conn` can run several statements.
    pub(crate) fn re(&mut self) -> Conn<'_> {
        match self {
            Conn::Pool(db) => Conn::Pool(db),
            Conn::Tx(tx) => Conn::Tx(tx),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_in_sqlalchemy_format() {
        let t = Timestamp::from_utc(2024, 2, 29, 23, 5, 9, 42).unwrap();
        assert_eq!(format_ts(t), "2024-02-29 23:05:09.000042");
        assert_eq!(parse_ts("2024-02-29 23:05:09.000042"), Some(t));
        let z = Timestamp::from_utc(2024, 2, 29, 23, 5, 9, 0).unwrap();
        assert_eq!(format_ts(z), "2024-02-29 23:05:09.000000");
        assert_eq!(parse_ts("2024-02-29 23:05:09"), Some(z));
        assert_eq!(
            parse_ts("2024-02-29T23:05:09.5").unwrap().micros % 1_000_000,
            500_000
        );
        assert_eq!(parse_ts("garbage"), None);
        assert_eq!(parse_ts("2024-13-01 00:00:00"), None);
    }

    #[test]
    fn postgres_placeholders_are_numbered_outside_literals() {
        let mut s = Sql::new(Dialect(Backend::Postgres), "SELECT '?' WHERE a = ");
        s.text("x").push(" AND b = ").int(1);
        assert_eq!(s.final_text(), "SELECT '?' WHERE a = $1 AND b = $2");
        let mut m = Sql::new(Dialect(Backend::MySql), "a = ");
        m.ts(Timestamp::from_utc(2020, 1, 1, 0, 0, 0, 999_999).unwrap());
        assert!(matches!(&m.args[0], Arg::Text(Some(t)) if t == "2020-01-01 00:00:00.000000"));
    }
}
