//! The configured stores, by id and by location scheme.
//!
//! Two modes, decided by `[DEFAULT] enabled_backends` exactly as Glance
//! decides at start-up:
//! - **single-store** (legacy): `[glance_store] stores` lists driver types,
//!   `default_store` names the scheme images are added to, driver options
//!   are read from `[glance_store]`. Each store's id is its type name.
//!   The staging store is a filesystem store at `node_staging_uri`.
//! - **multi-store**: one store per `enabled_backends` entry, configured
//!   from the group of the same name (falling back to `[backend_defaults]`),
//!   `[glance_store] default_backend` required, plus the reserved
//!   `os_glance_staging_store` and `os_glance_tasks_store` filesystem stores.
//!
//! Driver types Glimpse does not implement yet are skipped with a warning,
//! as glance_store skips a driver that fails to load.

use std::sync::Arc;

use glimpse_config::ConfigOpts;

use crate::error::{Result, StoreError};
use crate::fs::{FilesystemConfig, FilesystemStore};
use crate::location::uri_scheme;
use crate::opts::{
    BACKEND_DEFAULTS_GROUP, GLANCE_STORE_GROUP, RESERVED_STORES, STAGING_STORE_ID, TASKS_STORE_ID,
    is_file_type,
};
use crate::store::Store;

/// Which configuration style is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Single,
    Multi,
}

/// One configured store.
#[derive(Debug, Clone)]
pub struct StoreEntry {
    /// The store id (multi-store) or type name (single-store).
    pub id: String,
    /// The configured type (`file`, `http`, ...).
    pub type_name: String,
    /// `store_description` (multi-store only).
    pub description: Option<String>,
    /// `weight` (multi-store only; 0 otherwise).
    pub weight: i64,
    /// One of the reserved `os_glance_*` stores (hidden from users).
    pub reserved: bool,
    pub store: Arc<dyn Store>,
}

/// All stores of this service.
#[derive(Debug, Clone)]
pub struct StoreRegistry {
    mode: StoreMode,
    /// User stores in configuration order, then the reserved ones.
    entries: Vec<StoreEntry>,
    default_id: String,
    /// Single-store mode's staging store (from `node_staging_uri`).
    staging: Option<Arc<dyn Store>>,
}

/// Known glance_store driver types Glimpse does not implement yet.
fn is_known_unimplemented(t: &str) -> bool {
    matches!(
        t,
        "http" | "swift" | "s3" | "rbd" | "cinder" | "vmware" | "no_conf"
    ) || (t.starts_with("glance.store.") && t.ends_with(".Store"))
}

/// A driver option of a multi-store group, falling back to
/// `[backend_defaults]` when unset in the group.
struct GroupConf<'a> {
    conf: &'a ConfigOpts,
    group: &'a str,
    /// Single-store mode reads `[glance_store]` without fallback.
    fallback: bool,
}

impl GroupConf<'_> {
    fn str(&self, name: &str) -> Result<Option<String>> {
        let v = self.conf.get_str(self.group, name)?;
        if v.is_none() && self.fallback {
            return Ok(self.conf.get_str(BACKEND_DEFAULTS_GROUP, name)?);
        }
        Ok(v)
    }
    fn int(&self, name: &str) -> Result<Option<i64>> {
        let v = self.conf.get_int(self.group, name)?;
        if v.is_none() && self.fallback {
            return Ok(self.conf.get_int(BACKEND_DEFAULTS_GROUP, name)?);
        }
        Ok(v)
    }
    fn bool(&self, name: &str) -> Result<Option<bool>> {
        let v = self.conf.get_bool(self.group, name)?;
        if v.is_none() && self.fallback {
            return Ok(self.conf.get_bool(BACKEND_DEFAULTS_GROUP, name)?);
        }
        Ok(v)
    }
    fn multi(&self, name: &str) -> Result<Vec<String>> {
        let v = self.conf.get_multi(self.group, name)?;
        if v.is_empty() && self.fallback {
            return Ok(self.conf.get_multi(BACKEND_DEFAULTS_GROUP, name)?);
        }
        Ok(v)
    }

    fn filesystem(&self, backend_id: Option<&str>) -> Result<FilesystemConfig> {
        let chunk = self.int("filesystem_store_chunk_size")?.unwrap_or(65536);
        Ok(FilesystemConfig {
            datadir: self.str("filesystem_store_datadir")?,
            datadirs: self.multi("filesystem_store_datadirs")?,
            file_perm: self.int("filesystem_store_file_perm")?.unwrap_or(0),
            chunk_size: usize::try_from(chunk.max(1)).unwrap_or(usize::MAX),
            metadata_file: self.str("filesystem_store_metadata_file")?,
            thin_provisioning: self.bool("filesystem_thin_provisioning")?.unwrap_or(false),
            backend_id: backend_id.map(str::to_string),
        })
    }
}

fn with_context(e: StoreError, group: &str) -> StoreError {
    match e {
        StoreError::Config(m) => StoreError::Config(format!(
            "{m} (store group [{group}]; was glimpse_store::register_opts called after parsing the configuration?)"
        )),
        other => other,
    }
}

impl StoreRegistry {
    /// Builds every configured store. Errors are start-up failures with
    /// Glance's messages (reserved id used, default store missing, ...).
    /// Call [`crate::register_opts`] after parsing the configuration first.
    pub fn from_conf(conf: &ConfigOpts) -> Result<StoreRegistry> {
        let backends = conf
            .get_dict("DEFAULT", "enabled_backends")?
            .unwrap_or_default();
        if backends.is_empty() {
            Self::single_from_conf(conf)
        } else {
            Self::multi_from_conf(conf, &backends)
        }
    }

    fn single_from_conf(conf: &ConfigOpts) -> Result<StoreRegistry> {
        let types = conf
            .get_list(GLANCE_STORE_GROUP, "stores")?
            .unwrap_or_default();
        let mut entries: Vec<StoreEntry> = Vec::new();
        let gc = GroupConf {
            conf,
            group: GLANCE_STORE_GROUP,
            fallback: false,
        };
        for t in &types {
            if entries.iter().any(|e| &e.type_name == t) {
                continue;
            }
            if is_file_type(t) {
                if entries.iter().any(|e| is_file_type(&e.type_name)) {
                    continue;
                }
                let store = FilesystemStore::new(gc.filesystem(None)?)?;
                entries.push(StoreEntry {
                    id: "file".into(),
                    type_name: t.clone(),
                    description: None,
                    weight: 0,
                    reserved: false,
                    store: Arc::new(store),
                });
            } else if is_known_unimplemented(t) {
                log::warn!("Store type {t} is not implemented by Glimpse yet; it is disabled");
            } else {
                log::warn!("Failed to load driver {t}. The driver will be disabled");
            }
        }
        let default = conf
            .get_str(GLANCE_STORE_GROUP, "default_store")?
            .unwrap_or_default();
        let Some(default_entry) = entries
            .iter()
            .find(|e| e.store.schemes().contains(&default.as_str()))
        else {
            return Err(StoreError::Config(format!(
                "Store for scheme {default} not found"
            )));
        };
        let default_id = default_entry.id.clone();
        let staging_uri = conf
            .get_str("DEFAULT", "node_staging_uri")?
            .unwrap_or_default();
        // Glance slices the first seven characters off whatever is there,
        // but refuses to start unless it is a file:// URI.
        let Some(dir) = staging_uri.strip_prefix("file://") else {
            return Err(StoreError::Config(
                "Unexpected scheme in staging store; unable to scan for residue".into(),
            ));
        };
        let staging = FilesystemStore::new(FilesystemConfig::with_datadir(dir))?;
        Ok(StoreRegistry {
            mode: StoreMode::Single,
            entries,
            default_id,
            staging: Some(Arc::new(staging)),
        })
    }

    fn multi_from_conf(
        conf: &ConfigOpts,
        backends: &glimpse_config::Dict,
    ) -> Result<StoreRegistry> {
        if backends.keys().any(|k| k.starts_with("os_glance_")) {
            return Err(StoreError::Config(
                "'os_glance_' prefix should not be used in enabled_backends config option. It is reserved for internal use only.".into(),
            ));
        }
        let all = backends
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str(), false))
            .chain(RESERVED_STORES.iter().map(|k| (*k, "file", true)));
        let mut entries = Vec::new();
        for (id, ty, reserved) in all {
            if !is_file_type(ty) {
                if is_known_unimplemented(ty) {
                    log::warn!(
                        "Store {id} of type {ty} is not implemented by Glimpse yet; it is disabled"
                    );
                } else {
                    log::warn!("Failed to load driver {ty}. The driver will be disabled");
                }
                continue;
            }
            let gc = GroupConf {
                conf,
                group: id,
                fallback: true,
            };
            let cfg = gc.filesystem(Some(id)).map_err(|e| with_context(e, id))?;
            let store = FilesystemStore::new(cfg)?;
            entries.push(StoreEntry {
                id: id.to_string(),
                type_name: ty.to_string(),
                description: conf
                    .get_str(id, "store_description")
                    .map_err(|e| with_context(e.into(), id))?,
                weight: conf
                    .get_int(id, "weight")
                    .map_err(|e| with_context(e.into(), id))?
                    .unwrap_or(0),
                reserved,
                store: Arc::new(store),
            });
        }
        let Some(default_id) = conf
            .get_str(GLANCE_STORE_GROUP, "default_backend")?
            .filter(|d| !d.is_empty())
        else {
            return Err(StoreError::Config(
                "'default_backend' config option is not set.".into(),
            ));
        };
        if !entries.iter().any(|e| e.id == default_id) {
            return Err(StoreError::Config(format!(
                "Store for identifier {default_id} not found"
            )));
        }
        let user_dirs: Vec<String> = entries
            .iter()
            .filter(|e| !e.reserved)
            .filter_map(|e| data_dir(e.store.as_ref()))
            .collect();
        for e in entries.iter().filter(|e| e.reserved) {
            if let Some(d) = data_dir(e.store.as_ref())
                && user_dirs.contains(&d)
            {
                log::warn!(
                    "Reserved store {} shares its directory {d} with an image store; set [{}] filesystem_store_datadir",
                    e.id,
                    e.id
                );
            }
        }
        Ok(StoreRegistry {
            mode: StoreMode::Multi,
            entries,
            default_id,
            staging: None,
        })
    }

    /// Assembles a registry from ready-made stores (tests, embedding).
    pub fn from_entries(
        mode: StoreMode,
        entries: Vec<StoreEntry>,
        default_id: &str,
        staging: Option<Arc<dyn Store>>,
    ) -> Result<StoreRegistry> {
        if !entries.iter().any(|e| e.id == default_id) {
            return Err(StoreError::Config(format!(
                "Store for identifier {default_id} not found"
            )));
        }
        Ok(StoreRegistry {
            mode,
            entries,
            default_id: default_id.to_string(),
            staging,
        })
    }

    pub fn mode(&self) -> StoreMode {
        self.mode
    }

    pub fn is_multi(&self) -> bool {
        self.mode == StoreMode::Multi
    }

    /// The id uploads go to when no store is named.
    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    pub fn default_store(&self) -> Option<&Arc<dyn Store>> {
        self.get(&self.default_id)
    }

    /// A store by id (user or reserved).
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Store>> {
        self.entry(id).map(|e| &e.store)
    }

    pub fn entry(&self, id: &str) -> Option<&StoreEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// User-visible stores in configuration order (reserved ones hidden).
    pub fn user_stores(&self) -> impl Iterator<Item = &StoreEntry> {
        self.entries.iter().filter(|e| !e.reserved)
    }

    /// User store ids sorted by weight, highest first, ties kept in
    /// configuration order (Glance's `stores` field and download order).
    pub fn ids_by_weight(&self) -> Vec<&str> {
        let mut v: Vec<&StoreEntry> = self.user_stores().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.weight));
        v.into_iter().map(|e| e.id.as_str()).collect()
    }

    /// Where staged (glance-direct) data goes.
    pub fn staging(&self) -> Option<&Arc<dyn Store>> {
        match self.mode {
            StoreMode::Single => self.staging.as_ref(),
            StoreMode::Multi => self.get(STAGING_STORE_ID),
        }
    }

    /// The tasks work store (multi-store mode only; single-store Glance
    /// uses `[task] work_dir` instead).
    pub fn tasks(&self) -> Option<&Arc<dyn Store>> {
        self.get(TASKS_STORE_ID)
    }

    /// The store id a location belongs to by URL prefix, for locations
    /// without `metadata.store` (glance's `_get_store_id_from_uri`).
    pub fn store_id_for_uri(&self, uri: &str) -> Option<&str> {
        let scheme = uri_scheme(uri)?;
        self.user_stores()
            .filter(|e| e.store.schemes().contains(&scheme.as_str()))
            .find(|e| {
                e.store
                    .url_prefix()
                    .is_some_and(|p| uri.starts_with(p.as_str()))
            })
            .map(|e| e.id.as_str())
    }

    /// The store that reads `uri`: the named store in multi-store mode
    /// (which must handle the scheme), else the store whose URL prefix
    /// matches, else the heaviest store handling the scheme.
    pub fn for_location(&self, uri: &str, store_id: Option<&str>) -> Result<&Arc<dyn Store>> {
        let scheme = uri_scheme(uri).ok_or_else(|| StoreError::UnknownScheme(String::new()))?;
        let handles = |e: &&StoreEntry| e.store.schemes().contains(&scheme.as_str());
        if self.mode == StoreMode::Multi
            && let Some(id) = store_id
        {
            return self
                .entries
                .iter()
                .find(|e| e.id == id)
                .filter(handles)
                .map(|e| &e.store)
                .ok_or(StoreError::UnknownScheme(id.to_string()));
        }
        if let Some(s) = self.store_id_for_uri(uri).and_then(|id| self.get(id)) {
            return Ok(s);
        }
        let ids = self.ids_by_weight();
        ids.iter()
            .filter_map(|id| self.entry(id))
            .find(|e| handles(e))
            .map(|e| &e.store)
            .ok_or(StoreError::UnknownScheme(scheme))
    }
}

fn data_dir(store: &dyn Store) -> Option<String> {
    store
        .info()
        .properties
        .get("data_dir")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}
