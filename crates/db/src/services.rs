//! Service records and heartbeats (the nova/cinder `services` pattern):
//! each running Glimpse node keeps one row (host, binary, the URL other
//! nodes reach it at) whose `updated_at` its heartbeat refreshes every
//! `report_interval`; a node is up while that is younger than
//! `service_down_time`. The node URL is also registered in Glance's own
//! `node_reference` table, which the centralized image cache routes by.
//!
//! The table (`glimpse_services`) is Glimpse's own, created on first use
//! with `CREATE TABLE IF NOT EXISTS`, outside Glance's schema: Python
//! Glance never reads it, and `db sync`/`db check` keep comparing equal to
//! Glance's schema.

use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_domain::py::Timestamp;

use crate::images::Repo;
use crate::images::sql::{Conn, Dialect, Kind, Sql, Val, fetch, now, run};
use crate::{Backend, DbError};

/// `[DEFAULT] service_down_time`, read by the API and by `manage service
/// list`.
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register(
        "DEFAULT",
        Opt::int("service_down_time")
            .default("60")
            .min(1)
            .help("Seconds after its last heartbeat that a node counts as down."),
    )
}

/// `glimpse manage service list`'s table: binary, host, node URL, up or
/// down at `at`, last heartbeat, heartbeats recorded.
pub fn list_table(records: &[ServiceRecord], at: Timestamp, down_after_secs: i64) -> String {
    let mut rows = vec![[
        "Binary".to_string(),
        "Host".to_string(),
        "Node URL".to_string(),
        "Status".to_string(),
        "Updated At".to_string(),
        "Reports".to_string(),
    ]];
    for r in records {
        let status = if r.disabled {
            "disabled"
        } else if r.is_up(at, down_after_secs) {
            "up"
        } else {
            "down"
        };
        rows.push([
            r.binary.clone(),
            r.host.clone(),
            r.node_url.clone().unwrap_or_default(),
            status.to_string(),
            r.updated_at
                .map(|t| t.isoformat().replacen('T', " ", 1))
                .unwrap_or_default(),
            r.report_count.to_string(),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// One service record.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceRecord {
    pub host: String,
    pub binary: String,
    pub node_url: Option<String>,
    pub report_count: i64,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

impl ServiceRecord {
    /// Up when its last heartbeat (or its creation) is at most
    /// `down_after_secs` old at `at`.
    pub fn is_up(&self, at: Timestamp, down_after_secs: i64) -> bool {
        let last = self.updated_at.unwrap_or(self.created_at);
        at.micros.saturating_sub(last.micros) <= down_after_secs.saturating_mul(1_000_000)
    }
}

fn create_table(d: Dialect) -> &'static str {
    match d.0 {
        Backend::Sqlite => {
            "CREATE TABLE IF NOT EXISTS glimpse_services (\
             id INTEGER PRIMARY KEY AUTOINCREMENT, host VARCHAR(255) NOT NULL, \
             binary_name VARCHAR(255) NOT NULL, node_url VARCHAR(255), \
             report_count INTEGER NOT NULL DEFAULT 0, disabled BOOLEAN NOT NULL DEFAULT 0, \
             created_at DATETIME NOT NULL, updated_at DATETIME, \
             CONSTRAINT uq_glimpse_services_host_binary UNIQUE (host, binary_name))"
        }
        Backend::Postgres => {
            "CREATE TABLE IF NOT EXISTS glimpse_services (\
             id SERIAL PRIMARY KEY, host VARCHAR(255) NOT NULL, \
             binary_name VARCHAR(255) NOT NULL, node_url VARCHAR(255), \
             report_count BIGINT NOT NULL DEFAULT 0, disabled BOOLEAN NOT NULL DEFAULT false, \
             created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, \
             updated_at TIMESTAMP WITHOUT TIME ZONE, \
             CONSTRAINT uq_glimpse_services_host_binary UNIQUE (host, binary_name))"
        }
        Backend::MySql => {
            "CREATE TABLE IF NOT EXISTS glimpse_services (\
             id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY, host VARCHAR(255) NOT NULL, \
             binary_name VARCHAR(255) NOT NULL, node_url VARCHAR(255), \
             report_count BIGINT NOT NULL DEFAULT 0, disabled BOOL NOT NULL DEFAULT 0, \
             created_at DATETIME NOT NULL, updated_at DATETIME, \
             CONSTRAINT uq_glimpse_services_host_binary UNIQUE (host, binary_name)\
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8"
        }
    }
}

/// The service half of the repository: `repo.services()`.
#[derive(Clone, Copy, Debug)]
pub struct Services<'a>(&'a Repo);

impl Repo {
    pub fn services(&self) -> Services<'_> {
        Services(self)
    }
}

impl Services<'_> {
    fn d(&self) -> Dialect {
        self.0.d()
    }

    /// Creates the table if it is missing.
    pub async fn ensure_table(&self) -> Result<(), DbError> {
        let q = Sql::new(self.d(), create_table(self.d()));
        run(Conn::Pool(self.0.db()), &q).await.map(|_| ())
    }

    /// One heartbeat: the record's `updated_at` and `report_count` move on
    /// (the record is created, and the node URL registered in
    /// `node_reference`, the first time). Safe to run from several workers
    /// or nodes at once.
    pub async fn heartbeat(
        &self,
        host: &str,
        binary: &str,
        node_url: Option<&str>,
    ) -> Result<(), DbError> {
        // Concurrent first beats of one node race: another worker may
        // insert the row first (a duplicate), or InnoDB may pick this
        // transaction as a deadlock victim (gap locks); both are resolved
        // by beating again.
        let mut attempt = 0;
        loop {
            match self.beat(host, binary, node_url).await {
                Err(DbError::Duplicate(_) | DbError::Unavailable(_)) if attempt < 4 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn beat(&self, host: &str, binary: &str, node_url: Option<&str>) -> Result<(), DbError> {
        let d = self.d();
        let t = now();
        let mut up = Sql::new(
            d,
            "UPDATE glimpse_services SET report_count = report_count + 1, updated_at = ",
        );
        up.ts(t)
            .push(", node_url = ")
            .opt_text(node_url)
            .push(" WHERE host = ")
            .text(host)
            .push(" AND binary_name = ")
            .text(binary);
        let mut tx = self.0.db().begin_write().await?;
        if run(Conn::Tx(&mut tx), &up).await? == 0 {
            let mut ins = Sql::new(
                d,
                "INSERT INTO glimpse_services (host, binary_name, node_url, report_count, \
                 disabled, created_at, updated_at) VALUES (",
            );
            ins.text(host)
                .push(", ")
                .text(binary)
                .push(", ")
                .opt_text(node_url)
                .push(", 1, ")
                .bool(false)
                .push(", ")
                .ts(t)
                .push(", ")
                .ts(t)
                .push(")");
            run(Conn::Tx(&mut tx), &ins).await?;
        }
        if let Some(url) = node_url {
            let mut find = Sql::new(
                d,
                "SELECT 1 FROM node_reference WHERE node_reference_url = ",
            );
            find.text(url);
            if fetch(Conn::Tx(&mut tx), &find, &[Kind::Int32])
                .await?
                .is_empty()
            {
                let mut ins = Sql::new(
                    d,
                    "INSERT INTO node_reference (node_reference_url) VALUES (",
                );
                ins.text(url).push(")");
                run(Conn::Tx(&mut tx), &ins).await?;
            }
        }
        tx.commit().await
    }

    /// Every record, by binary then host (none when the table is missing).
    pub async fn list(&self) -> Result<Vec<ServiceRecord>, DbError> {
        self.ensure_table().await?;
        let d = self.d();
        let q = Sql::new(
            d,
            &format!(
                "SELECT host, binary_name, node_url, {}, {}, {}, {} FROM glimpse_services \
                 ORDER BY binary_name, host",
                d.bigint("report_count"),
                d.bigint("CASE WHEN disabled THEN 1 ELSE 0 END"),
                d.ts_out("created_at"),
                d.ts_out("updated_at")
            ),
        );
        let kinds = [
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Int64,
            Kind::Int64,
            Kind::Text,
            Kind::Text,
        ];
        fetch(Conn::Pool(self.0.db()), &q, &kinds)
            .await?
            .iter()
            .map(|r| record(r))
            .collect()
    }
}

fn record(r: &[Val]) -> Result<ServiceRecord, DbError> {
    Ok(ServiceRecord {
        host: r[0].text().unwrap_or_default(),
        binary: r[1].text().unwrap_or_default(),
        node_url: r[2].text(),
        report_count: r[3].int().unwrap_or(0),
        disabled: r[4].int().unwrap_or(0) != 0,
        created_at: r[5].ts()?.unwrap_or_default(),
        updated_at: r[6].ts()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_while_the_heartbeat_is_recent() {
        let at = |s: i64| Timestamp {
            micros: s * 1_000_000,
        };
        let r = ServiceRecord {
            host: "h".into(),
            binary: "glimpse-api".into(),
            node_url: None,
            report_count: 3,
            disabled: false,
            created_at: at(0),
            updated_at: Some(at(100)),
        };
        assert!(r.is_up(at(160), 60));
        assert!(!r.is_up(at(161), 60));
        let never = ServiceRecord {
            updated_at: None,
            ..r
        };
        assert!(never.is_up(at(30), 60));
    }
}
