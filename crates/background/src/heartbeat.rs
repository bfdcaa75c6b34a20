//! The heartbeat: one task per node (in its first worker) that records the
//! node in `glimpse_services` and refreshes the record every
//! `[DEFAULT] report_interval` seconds, until the worker drains. Database
//! trouble is logged and retried at the next beat; it never stops the
//! worker.
//!
//! The node URL other nodes should use for this one is
//! `[DEFAULT] worker_self_reference_url` (Glance's option), else
//! `http://<host>:<bind_port>`.

use std::time::Duration;

use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_db::images::Repo;
use glimpse_db::{Db, DbConfig};
use tokio::sync::watch;

const LOG: &str = "glimpse.heartbeat";

/// The service binary name recorded for the API service.
pub const API_BINARY: &str = "glimpse-api";

pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    let opts = [
        Opt::str("host")
            .sample_default("<the machine's host name>")
            .help("Name of this node in service records (default: the host name)."),
        Opt::int("report_interval")
            .default("10")
            .min(0)
            .help("Seconds between a node's heartbeats in the database (0 = none)."),
        Opt::str("worker_self_reference_url")
            .help("URL other nodes reach this one at (default: http://<host>:<bind_port>)."),
    ];
    for o in opts {
        conf.register("DEFAULT", o)?;
    }
    glimpse_db::services::register_opts(conf)
}

/// What a node's heartbeat records.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    pub db: DbConfig,
    pub host: String,
    pub binary: String,
    pub node_url: Option<String>,
    pub interval: Duration,
}

impl Heartbeat {
    /// From the configuration; `None` when `report_interval` is 0.
    pub fn from_conf(conf: &ConfigOpts, bind_port: i64) -> Result<Option<Heartbeat>, String> {
        let e = |e: ConfigError| e.to_string();
        let interval = conf
            .get_int("DEFAULT", "report_interval")
            .map_err(e)?
            .unwrap_or(10);
        if interval <= 0 {
            return Ok(None);
        }
        let host = conf
            .get_str("DEFAULT", "host")
            .map_err(e)?
            .filter(|h| !h.is_empty())
            .or_else(glimpse_config::hostname)
            .unwrap_or_else(|| "localhost".into());
        let node_url = conf
            .get_str("DEFAULT", "worker_self_reference_url")
            .map_err(e)?
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| format!("http://{host}:{bind_port}"));
        let mut db = glimpse_db::config::from_conf(conf).map_err(|e| e.to_string())?;
        // One connection is plenty for one statement every few seconds.
        db.max_pool_size = 1;
        db.max_overflow = 0;
        Ok(Some(Heartbeat {
            db,
            host,
            binary: API_BINARY.into(),
            node_url: Some(node_url),
            interval: Duration::from_secs(interval as u64),
        }))
    }

    /// Beats until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut repo: Option<Repo> = None;
        let mut table_ready = false;
        loop {
            if repo.is_none() {
                match Db::open(&self.db) {
                    Ok(db) => repo = Some(Repo::new(db)),
                    Err(e) => log::warn!(target: LOG, "Heartbeat: cannot open the database: {e}"),
                }
            }
            if let Some(r) = &repo {
                let s = r.services();
                let beat = async {
                    if !table_ready {
                        s.ensure_table().await?;
                    }
                    s.heartbeat(&self.host, &self.binary, self.node_url.as_deref())
                        .await
                };
                match beat.await {
                    Ok(()) => table_ready = true,
                    Err(e) => {
                        log::warn!(target: LOG, "Heartbeat of {} on {} not recorded: {e}", self.binary, self.host)
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = shutdown.wait_for(|v| *v) => break,
            }
        }
        if let Some(r) = repo {
            r.db().close().await;
        }
    }
}
