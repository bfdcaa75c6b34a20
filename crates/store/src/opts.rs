//! Option registration: glance_store's names, groups and defaults.
//!
//! Single-store options live in `[glance_store]`. In multi-store mode each
//! `enabled_backends` id gets its own group whose driver options have *no*
//! default: an unset value falls back to `[backend_defaults]`, as
//! glance_store's `BackendGroupConfiguration` does. That includes the
//! reserved `os_glance_*` stores, so their datadir really defaults to
//! `[backend_defaults] filesystem_store_datadir` (/var/lib/glance/images),
//! not to the `/var/lib/glance/<name>` their help text promises.

use glimpse_config::{ConfigError, ConfigOpts, Opt};

use crate::fs::{DEFAULT_CHUNK_SIZE, DEFAULT_DATADIR};

/// The single-store / global store group.
pub const GLANCE_STORE_GROUP: &str = "glance_store";
/// Where per-backend driver options fall back to in multi-store mode.
pub const BACKEND_DEFAULTS_GROUP: &str = "backend_defaults";
/// Glance's reserved internal stores (multi-store mode).
pub const STAGING_STORE_ID: &str = "os_glance_staging_store";
pub const TASKS_STORE_ID: &str = "os_glance_tasks_store";
pub const RESERVED_STORES: [&str; 2] = [STAGING_STORE_ID, TASKS_STORE_ID];
/// Glance's `node_staging_uri` default.
pub const DEFAULT_NODE_STAGING_URI: &str = "file:///tmp/staging/";

/// The filesystem driver's options, with upstream defaults or none.
fn filesystem_opts(with_defaults: bool) -> Vec<Opt> {
    let d = |o: Opt, v: &str| if with_defaults { o.default(v) } else { o };
    vec![
        d(
            Opt::str("filesystem_store_datadir")
                .help("Directory to which the filesystem backend store writes images."),
            DEFAULT_DATADIR,
        ),
        Opt::multi_str("filesystem_store_datadirs").help(
            "Directories (path:priority) the filesystem store writes images to; exclusive with filesystem_store_datadir.",
        ),
        Opt::str("filesystem_store_metadata_file")
            .help("JSON file whose object(s) {id, mountpoint} are returned as location metadata."),
        d(
            Opt::int("filesystem_store_file_perm")
                .help("Permissions (octal digits) of image files; <= 0 leaves them alone."),
            "0",
        ),
        d(
            Opt::int("filesystem_store_chunk_size")
                .min(1)
                .help("Chunk size, in bytes, used when reading or writing image files."),
            &DEFAULT_CHUNK_SIZE.to_string(),
        ),
        d(
            Opt::bool("filesystem_thin_provisioning")
                .help("Do not write runs of null bytes; leave holes instead."),
            "false",
        ),
    ]
}

fn backend_common_opts() -> Vec<Opt> {
    vec![
        Opt::str("store_description")
            .help("A description of this store for end users (GET /v2/info/stores)."),
        Opt::int("weight")
            .default("0")
            .help("Relative weight of this store: stores are listed and read highest first."),
    ]
}

fn has_opt(conf: &ConfigOpts, group: &str, name: &str) -> bool {
    conf.opts().any(|(g, o)| g == group && o.name() == name)
}

/// Store types this crate knows (`enabled_backends` values and `stores`
/// entries, as glance_store's entry points name them).
pub(crate) fn is_file_type(t: &str) -> bool {
    matches!(t, "file" | "glance.store.filesystem.Store")
}

/// Registers the store options. Idempotent; call it before parsing the
/// command line (for the static groups) and **again after parsing**, when
/// `[DEFAULT] enabled_backends` is known, to add one group per backend and
/// the reserved `os_glance_*` groups — the order Glance itself uses.
///
/// `[DEFAULT] enabled_backends` and `node_staging_uri` belong to Glance;
/// they are registered here only if nobody registered them yet.
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    if !has_opt(conf, "DEFAULT", "enabled_backends") {
        conf.register(
            "DEFAULT",
            Opt::dict("enabled_backends")
                .help("Store identifiers and types (id:type,...); enables multi-store."),
        )?;
    }
    if !has_opt(conf, "DEFAULT", "node_staging_uri") {
        conf.register(
            "DEFAULT",
            Opt::str("node_staging_uri")
                .default(DEFAULT_NODE_STAGING_URI)
                .help("file:// URI of the staging area for interoperable image import."),
        )?;
    }
    conf.register_all(
        GLANCE_STORE_GROUP,
        [
            Opt::list("stores")
                .default("file,http")
                .deprecated_for_removal("Use enabled_backends (multi-store) instead.")
                .help("List of enabled stores (single-store mode)."),
            Opt::str("default_store")
                .default("file")
                .deprecated_for_removal("Use default_backend (multi-store) instead.")
                .help("Scheme of the store images are added to (single-store mode)."),
            Opt::str("default_backend")
                .help("Store id (a key of enabled_backends) images are added to by default."),
        ],
    )?;
    conf.register_all(GLANCE_STORE_GROUP, filesystem_opts(true))?;
    conf.register_all(BACKEND_DEFAULTS_GROUP, filesystem_opts(true))?;

    // Per-backend groups need the parsed enabled_backends; before parsing
    // this reads the (empty) default and does nothing.
    let backends = conf
        .get_dict("DEFAULT", "enabled_backends")
        .ok()
        .flatten()
        .unwrap_or_default();
    if backends.is_empty() {
        return Ok(());
    }
    for (id, ty) in &backends {
        conf.register_all(id, backend_common_opts())?;
        if is_file_type(ty) {
            conf.register_all(id, filesystem_opts(false))?;
        }
    }
    for id in RESERVED_STORES {
        conf.register_all(id, backend_common_opts())?;
        conf.register_all(id, filesystem_opts(false))?;
    }
    Ok(())
}
