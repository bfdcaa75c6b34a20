//! `glimpse api`: assemble the image API service from configuration and
//! hand it to the launcher. Also what SIGHUP re-runs (minus the fork).
//!
//! Order, as Glance's start-up: parse options (exit on error with Glance's
//! codes), validate every option (Glance finds some bad values only in a
//! worker; we refuse to start), set up logging, load the paste pipeline,
//! bind, fork.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use glimpse_background::heartbeat::Heartbeat;
use glimpse_config::{ConfigError, ConfigOpts, Opt, Parsed};
use glimpse_http::SharedHandler;
use glimpse_http::server::{ServerConfig, Shutdown, serve};
use glimpse_http::socket::BindOptions;
use glimpse_runtime::launcher::{self, Generation, LauncherSettings, ServiceSpec, WorkerFn};
use glimpse_runtime::logging::{self, LogSettings};
use glimpse_runtime::paste;

use crate::factories;

const LOG: &str = "glimpse.api";
/// The built-in paste file, used only when no config file exists at all.
const EMBEDDED_PASTE: &str = include_str!("../../../etc/glimpse-api-paste.ini");
/// The main service's name: its paste app and its options' owner.
const MAIN_API: &str = "glance-api";

/// Run `glimpse api ARGS...`; returns the process exit code.
pub fn api_main(args: &[String]) -> i32 {
    glimpse_runtime::launcher::prepare_process();
    let loaded = match load(args) {
        Ok(Some(l)) => l,
        Ok(None) => return 0,
        Err(e) => {
            eprintln!("{}", e.message);
            return e.code;
        }
    };
    if let Err(e) = logging::init(&log_settings(&loaded.conf)) {
        eprintln!("ERROR: {e}");
        return 1;
    }
    if loaded.embedded {
        let host = loaded
            .conf
            .get_str("DEFAULT", "bind_host")
            .ok()
            .flatten()
            .unwrap_or_default();
        let port = loaded
            .conf
            .get_int("DEFAULT", "bind_port")
            .ok()
            .flatten()
            .unwrap_or(9292);
        log::warn!(target: LOG,
            "No configuration file found: running on embedded defaults ({host}:{port}, built-in paste pipeline, data in {}, Glance's legacy policy defaults)",
            embedded_data_dir().display());
    }
    let generation = match build_generation(&loaded, true) {
        Ok(g) => g,
        Err(e) => {
            log::error!(target: LOG, "{}", e.message.trim_start_matches("ERROR: "));
            eprintln!("{}", e.message);
            return e.code;
        }
    };
    let args = args.to_vec();
    let mut current = loaded;
    let reloader = Box::new(move || -> Result<Generation, String> {
        let next = match load(&args) {
            Ok(Some(l)) => l,
            Ok(None) => return Err("unexpected --help/--version on reload".into()),
            Err(e) => return Err(e.message.trim_start_matches("ERROR: ").to_string()),
        };
        let g = build_generation(&next, false)
            .map_err(|e| e.message.trim_start_matches("ERROR: ").to_string())?;
        // Every option takes effect: the new generation is built from scratch.
        for change in current.conf.changed_options(&next.conf) {
            log::info!(target: LOG, "Option {}.{} changed from [{}] to [{}]", change.group, change.name, change.old, change.new);
        }
        if let Err(e) = logging::init(&log_settings(&next.conf)) {
            log::error!(target: LOG, "Cannot reopen the log: {e}; keeping the previous log output");
        }
        current = next;
        Ok(g)
    });
    match launcher::run(generation, reloader) {
        Ok(code) => code,
        Err(e) => {
            log::error!(target: LOG, "{e}");
            eprintln!("ERROR: {e}");
            e.exit_code()
        }
    }
}

/// `glimpse sample-config`: every option `glimpse api` reads, in
/// oslo-config-generator's sample format.
pub fn sample_config() -> Result<String, ConfigError> {
    let mut conf = ConfigOpts::new("glance", "glance-api", env!("CARGO_PKG_VERSION"));
    register_options(&mut conf)?;
    Ok(conf.sample())
}

/// A start-up failure: what to print on stderr and the exit code.
#[derive(Debug)]
pub struct Fatal {
    pub message: String,
    pub code: i32,
}

impl Fatal {
    fn new(message: impl Into<String>, code: i32) -> Self {
        Fatal {
            message: message.into(),
            code,
        }
    }
}

impl From<ConfigError> for Fatal {
    fn from(e: ConfigError) -> Self {
        Fatal {
            message: e.to_string(),
            code: e.exit_code(),
        }
    }
}

/// Parsed and validated configuration.
pub struct Loaded {
    pub conf: Arc<ConfigOpts>,
    /// No config file anywhere: embedded defaults.
    pub embedded: bool,
}

/// Every option Glimpse's API service reads, with Glance's names and defaults.
pub fn register_options(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    let d = "DEFAULT";
    // oslo.log registers its command-line options with dashes (--log-file);
    // files and getters use the underscore form.
    let opts = [
        Opt::host_address("bind_host").default("0.0.0.0").help("Address to bind the server to."),
        Opt::port("bind_port").default("9292").help("Port number on which the server will listen."),
        Opt::int("backlog").min(1).default("4096").help("Number of backlog requests for the listening socket."),
        Opt::int("tcp_keepidle").min(1).default("600").help("Idle time (s) before the first TCP keepalive probe."),
        Opt::int("workers").min(0).help("Number of API worker processes; default min(CPU count, 8); 0 serves in one process."),
        Opt::int("max_header_line").min(0).default("16384").help("Maximum length of a message header line (0 = unlimited)."),
        Opt::bool("http_keepalive").default("true").help("Keep client connections open between requests."),
        Opt::int("client_socket_timeout").min(0).default("900").help("Idle client connection timeout in seconds (0 = forever)."),
        Opt::str("cert_file").help("PEM certificate chain; with key_file, serve HTTPS."),
        Opt::str("key_file").help("PEM private key for cert_file."),
        Opt::str("ca_file").help("PEM CA bundle; when set, clients must present a certificate signed by it."),
        Opt::int("graceful_shutdown_timeout").min(0).default("60").help("Seconds to let in-flight requests finish on SIGTERM or reload (0 = wait forever)."),
        Opt::int("bind_retry_timeout").min(0).default("30").help("Seconds to keep retrying a bind while the address is in use."),
        Opt::int("worker_threads").min(1).default("2").help("Threads per worker process."),
        Opt::list("enabled_apis").default(MAIN_API).help("Services this master runs; each other than glance-api reads <name>_listen, <name>_listen_port, <name>_workers and <name>_paste_app."),
        Opt::str("public_endpoint").help("Public URL used in the versions document instead of the request's host."),
        Opt::str("image_cache_dir").help("Base directory of the image cache; enables the cache API versions."),
        Opt::dict("enabled_backends").help("Store identifiers and types (id:type,...); enables multi-store."),
        Opt::str("hashing_algorithm").default("sha512").help("Secure hash algorithm for os_hash_value (any of md5, sha1, sha224, sha256, sha384, sha512)."),
        Opt::int("image_size_cap").min(1).default("1099511627776").help("Maximum size of image data in bytes (default 1 TiB)."),
        Opt::int("max_request_id_length").min(0).default("64").help("Maximum length of an inbound X-OpenStack-Request-ID."),
        Opt::bool("debug").short('d').cli().mutable().default("false").help("If set to true, the logging level will be set to DEBUG instead of the default INFO level."),
        Opt::str("log-file").cli().deprecated(None, Some("logfile")).help("Name of log file to send logging output to."),
        Opt::str("log-dir").cli().deprecated(None, Some("logdir")).help("Base directory for log_file."),
        Opt::bool("use-stderr").cli().default("false").help("Log output to standard error."),
        Opt::bool("use-syslog").cli().default("false").help("Accepted for compatibility; syslog output is not supported, use stderr or a file."),
        Opt::bool("use-journal").cli().default("false").help("Accepted for compatibility; journald picks up stderr under systemd."),
        Opt::bool("use-json").cli().default("false").help("Accepted for compatibility; lines are always in oslo.log's text format."),
    ];
    for o in opts {
        conf.register(d, o)?;
    }
    conf.register(
        "paste_deploy",
        Opt::str("flavor").help("Partial name of a pipeline in the paste file (e.g. keystone)."),
    )?;
    conf.register(
        "paste_deploy",
        Opt::str("config_file").help("Name of the paste configuration file."),
    )?;
    glimpse_runtime::middleware::register_all_opts(conf)?;
    glimpse_runtime::middleware::cors::set_glance_defaults(conf)?;
    crate::v2::schemas::register_opts(conf)?;
    crate::v2::info::register_opts(conf)?;
    crate::v2::service::register_opts(conf)?;
    crate::v2::tasks::register_opts(conf)?;
    glimpse_background::heartbeat::register_opts(conf)?;
    crate::protections::register_opts(conf)?;
    crate::context::ContextSettings::register_opts(conf)?;
    glimpse_store::register_opts(conf)?;
    glimpse_db::config::register_opts(conf)?;
    Ok(())
}

/// Where embedded mode keeps its data: the database layer's rule
/// (`$GLIMPSE_DATA_DIR`, else `./glimpse-data`), so the SQLite file and the
/// image directory sit side by side.
pub fn embedded_data_dir() -> PathBuf {
    glimpse_db::config::data_dir()
}

/// Extra services' option names (nova's `<api>_listen` pattern); dashes in
/// a service name become underscores, as in every oslo option name.
fn extra_api_options(name: &str) -> [Opt; 4] {
    let name = option_prefix(name);
    [
        Opt::host_address(&format!("{name}_listen"))
            .default("0.0.0.0")
            .help("Address the service listens on."),
        Opt::port(&format!("{name}_listen_port")).help("Port the service listens on."),
        Opt::int(&format!("{name}_workers"))
            .min(0)
            .help("Worker processes for the service."),
        Opt::str(&format!("{name}_paste_app"))
            .help("Paste app name for the service (default: its name)."),
    ]
}

fn option_prefix(api: &str) -> String {
    api.replace('-', "_")
}

/// Parse the command line and files, validate everything. `Ok(None)` after
/// printing --help/--version.
pub fn load(args: &[String]) -> Result<Option<Loaded>, Fatal> {
    let mut conf = ConfigOpts::new("glance", "glance-api", env!("CARGO_PKG_VERSION"));
    register_options(&mut conf).map_err(|e| Fatal::new(format!("ERROR: {e}"), 99))?;
    match conf.parse_args(args) {
        Ok(Parsed::Ready) => {}
        Ok(Parsed::Help(text)) | Ok(Parsed::Version(text)) => {
            println!("{}", text.trim_end());
            return Ok(None);
        }
        Err(e) => return Err(cli_error(e)),
    }
    let embedded = conf.config_files().is_empty() && conf.config_dirs().is_empty();
    if embedded {
        conf.set_default("DEFAULT", "bind_host", "127.0.0.1")
            .map_err(cli_error)?;
        conf.set_default("DEFAULT", "use_stderr", "true")
            .map_err(cli_error)?;
        let data = embedded_data_dir();
        conf.set_default(
            "glance_store",
            "filesystem_store_datadir",
            &format!("{}/images/", data.display()),
        )
        .map_err(cli_error)?;
        conf.set_default(
            "DEFAULT",
            "node_staging_uri",
            &format!("file://{}/staging", data.display()),
        )
        .map_err(cli_error)?;
        conf.set_default("glance_store", "stores", "file")
            .map_err(cli_error)?;
        // The no-auth context has no roles, so the secure-RBAC defaults
        // would refuse it every write (as Glance 33 does); embedded mode
        // uses the legacy defaults so it is usable out of the box.
        conf.set_default("oslo_policy", "enforce_new_defaults", "false")
            .map_err(cli_error)?;
    }
    // Per-store groups are known only once enabled_backends is parsed.
    glimpse_store::register_opts(&mut conf).map_err(cli_error)?;
    // Extra services' options can only be registered once enabled_apis is known.
    let apis = conf
        .get_list("DEFAULT", "enabled_apis")
        .map_err(cli_error)?
        .unwrap_or_default();
    for api in apis.iter().filter(|a| a.as_str() != MAIN_API) {
        for o in extra_api_options(api) {
            conf.register("DEFAULT", o).map_err(cli_error)?;
        }
    }
    if let Err(errors) = conf.validate_all() {
        // Report the first like Glance does; the rest are logged too.
        let mut it = errors.into_iter();
        if let Some(first) = it.next() {
            for e in it {
                eprintln!("ERROR: {e}");
            }
            return Err(cli_error(first));
        }
    }
    Ok(Some(Loaded {
        conf: Arc::new(conf),
        embedded,
    }))
}

/// Map a configuration error to Glance's output: argparse errors as they
/// are, everything else `ERROR: ...`.
fn cli_error(e: ConfigError) -> Fatal {
    let code = e.exit_code();
    let text = e.to_string();
    if e.is_argparse_style() {
        Fatal::new(text, code)
    } else {
        Fatal::new(format!("ERROR: {text}"), code)
    }
}

fn log_settings(conf: &ConfigOpts) -> LogSettings {
    LogSettings::from_options(
        conf.get_bool("DEFAULT", "debug")
            .ok()
            .flatten()
            .unwrap_or(false),
        conf.get_str("DEFAULT", "log_file")
            .ok()
            .flatten()
            .as_deref(),
        conf.get_str("DEFAULT", "log_dir").ok().flatten().as_deref(),
        conf.get_bool("DEFAULT", "use_stderr")
            .ok()
            .flatten()
            .unwrap_or(false),
        "glance-api",
    )
}

fn get_int(conf: &ConfigOpts, name: &str) -> Result<Option<i64>, Fatal> {
    conf.get_int("DEFAULT", name).map_err(Fatal::from)
}

fn get_str(conf: &ConfigOpts, name: &str) -> Result<Option<String>, Fatal> {
    conf.get_str("DEFAULT", name).map_err(Fatal::from)
}

/// Where the paste file is, and its text.
fn paste_source(l: &Loaded) -> Result<(PathBuf, Option<String>), Fatal> {
    let explicit = l
        .conf
        .get_str("paste_deploy", "config_file")
        .map_err(Fatal::from)?;
    if l.embedded && explicit.is_none() {
        return Ok((
            PathBuf::from("<built-in glimpse-api-paste.ini>"),
            Some(EMBEDDED_PASTE.to_string()),
        ));
    }
    let files = l.conf.config_files();
    let path = paste::locate_paste_file(
        explicit.as_deref(),
        &files,
        |n| l.conf.find_file(n),
        "glance-api",
    )
    .map_err(|e| Fatal::new(format!("ERROR: {e}"), e.exit_code()))?;
    Ok((path, None))
}

/// Build everything a generation of workers needs: handlers (validated by
/// building them here, in the master), sockets to bind, server settings.
/// `initial` is false on a SIGHUP reload: the database is then tried once,
/// not `max_retries` times, so a database outage cannot hold the master
/// (which also reaps and respawns workers) for minutes; a failed check
/// keeps the old generation serving.
pub fn build_generation(l: &Loaded, initial: bool) -> Result<Generation, Fatal> {
    let conf = &l.conf;
    let flavor = conf
        .get_str("paste_deploy", "flavor")
        .map_err(Fatal::from)?;
    // Glance discovers a bad hashing algorithm at the first upload; refuse
    // to start instead.
    if let Some(algo) = get_str(conf, "hashing_algorithm")? {
        crate::v2::data::HashAlgo::from_name(&algo)
            .map_err(|e| Fatal::new(format!("ERROR: {e}"), 5))?;
    }
    // Glance refuses to start on a bad store configuration (exit 3).
    let stores = glimpse_store::StoreRegistry::from_conf(conf)
        .map_err(|e| Fatal::new(format!("ERROR: {e}"), 3))?;
    log::debug!(target: LOG, "Stores: {:?}", stores.user_stores().map(|e| e.id.clone()).collect::<Vec<_>>());
    let state: Arc<dyn std::any::Any + Send + Sync> = conf.clone();
    let registry = factories::registry();
    let (paste_path, paste_text) = paste_source(l)?;
    let server = server_config(conf)?;
    let settings = LauncherSettings {
        graceful_shutdown_timeout: match get_int(conf, "graceful_shutdown_timeout")? {
            Some(0) => None,
            Some(n) => Some(Duration::from_secs(n as u64)),
            None => Some(Duration::from_secs(60)),
        },
        worker_threads: get_int(conf, "worker_threads")?.unwrap_or(2).max(1) as usize,
    };
    let retry = Duration::from_secs(get_int(conf, "bind_retry_timeout")?.unwrap_or(30) as u64);
    let backlog = get_int(conf, "backlog")?.unwrap_or(4096) as i32;
    let keepidle = get_int(conf, "tcp_keepidle")?.unwrap_or(600) as u32;
    let default_workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);

    let mut services = Vec::new();
    let apis = conf
        .get_list("DEFAULT", "enabled_apis")
        .map_err(Fatal::from)?
        .unwrap_or_default();
    if apis.is_empty() {
        return Err(Fatal::new(
            "ERROR: No APIs were started. Check the enabled_apis config option.",
            1,
        ));
    }
    for api in apis {
        let (host, port, workers, app_name) = if api == MAIN_API {
            (
                get_str(conf, "bind_host")?.unwrap_or_else(|| "0.0.0.0".into()),
                get_int(conf, "bind_port")?.unwrap_or(9292),
                get_int(conf, "workers")?,
                MAIN_API.to_string(),
            )
        } else {
            let p = option_prefix(&api);
            (
                get_str(conf, &format!("{p}_listen"))?.unwrap_or_else(|| "0.0.0.0".into()),
                get_int(conf, &format!("{p}_listen_port"))?.ok_or_else(|| {
                    Fatal::new(
                        format!("ERROR: {p}_listen_port must be set for the {api} service"),
                        5,
                    )
                })?,
                get_int(conf, &format!("{p}_workers"))?,
                get_str(conf, &format!("{p}_paste_app"))?.unwrap_or_else(|| api.clone()),
            )
        };
        let handler = load_handler(
            &paste_path,
            paste_text.as_deref(),
            &app_name,
            flavor.as_deref(),
            &registry,
            state.clone(),
        )?;
        warn_if_noauth(&api, flavor.as_deref());
        let workers = workers.map(|w| w as usize).unwrap_or(default_workers);
        // The main API's first worker keeps the node's service record.
        let heartbeat = if api == MAIN_API {
            Heartbeat::from_conf(conf, port).map_err(|e| Fatal::new(format!("ERROR: {e}"), 1))?
        } else {
            None
        };
        services.push(ServiceSpec {
            name: api,
            workers,
            bind: Some(BindOptions {
                host,
                port: port as u16,
                backlog,
                tcp_keepidle: keepidle,
                retry_for: retry,
            }),
            worker: http_worker(handler, server.clone(), heartbeat),
        });
    }
    // Last, so that configuration and paste errors are reported first.
    prepare_database(conf, initial)?;
    Ok(Generation { settings, services })
}

/// Check the database before forking: reachable (with `[database]
/// max_retries`), and at Glance 33's schema. An empty database gets the
/// schema created, so the embedded defaults (and a fresh SQLite file) need
/// no separate `db sync`; anything else must be migrated by an operator.
///
/// It runs in a forked child (see `glimpse_runtime::isolate`), so no
/// runtime, thread or connection ever exists in the master.
fn prepare_database(conf: &ConfigOpts, retry: bool) -> Result<(), Fatal> {
    let mut cfg =
        glimpse_db::config::from_conf(conf).map_err(|e| Fatal::new(format!("ERROR: {e}"), 1))?;
    if !retry {
        cfg.max_retries = 0;
    }
    let url = cfg.url.masked();
    // The default SQLite file lives in the data directory, which may not
    // exist yet on a first run.
    if let Some(glimpse_db::SqlitePath::File(path)) = cfg.url.sqlite_path()
        && path.starts_with(glimpse_db::config::data_dir())
        && let Some(parent) = path.parent()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            Fatal::new(format!("ERROR: cannot create {}: {e}", parent.display()), 1)
        })?;
    }
    // In a throwaway child: a runtime with I/O in the master would leave
    // tokio's process-wide signal pipe to be shared by every worker.
    let res = glimpse_runtime::isolate::run_isolated(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let db = glimpse_db::Db::connect(&cfg)
                .await
                .map_err(|e| e.to_string())?;
            let out = match glimpse_db::state(&db).await {
                Ok(glimpse_db::SchemaState::Current) => Ok(String::new()),
                Ok(glimpse_db::SchemaState::Empty) => match glimpse_db::sync(&db).await {
                    Ok(glimpse_db::SyncOutcome::Created) => Ok("created".to_string()),
                    Ok(_) => Ok(String::new()),
                    Err(e) => Err(e.to_string()),
                },
                Ok(other) => Err(glimpse_db::migrate::state_error(&other)
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| format!("{other:?}"))),
                Err(e) => Err(e.to_string()),
            };
            db.close().await;
            out
        })
    });
    match res {
        Ok(Ok(done)) => {
            if done == "created" {
                log::info!(target: LOG, "Created Glance 33's schema ({}) in the empty database {url}", glimpse_db::HEAD);
            }
            Ok(())
        }
        Ok(Err(e)) => Err(Fatal::new(format!("ERROR: database {url}: {e}"), 1)),
        Err(e) => Err(Fatal::new(format!("ERROR: database {url}: {e}"), 1)),
    }
}

fn load_handler(
    path: &Path,
    text: Option<&str>,
    app: &str,
    flavor: Option<&str>,
    registry: &paste::FactoryRegistry,
    state: Arc<dyn std::any::Any + Send + Sync>,
) -> Result<SharedHandler, Fatal> {
    let r = match text {
        Some(t) => paste::load_app_from_str(path, t, app, flavor, registry, state),
        None => paste::load_app(path, app, flavor, registry, state),
    };
    r.map_err(|e| Fatal::new(format!("ERROR: {e}"), e.exit_code()))
}

fn warn_if_noauth(api: &str, flavor: Option<&str>) {
    if !flavor.is_some_and(|f| f.starts_with("keystone")) {
        let msg = format!(
            "Keystone authentication is OFF for {api} ([paste_deploy] flavor = {}): every caller is treated as an admin. Set flavor = keystone for production.",
            flavor.unwrap_or("<unset>")
        );
        log::warn!(target: LOG, "{msg}");
    }
}

fn server_config(conf: &ConfigOpts) -> Result<ServerConfig, Fatal> {
    let cert = get_str(conf, "cert_file")?;
    let key = get_str(conf, "key_file")?;
    let ca = get_str(conf, "ca_file")?;
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some(
            glimpse_http::tls::load_server_config(
                Path::new(&c),
                Path::new(&k),
                ca.as_deref().map(Path::new),
            )
            .map_err(|e| Fatal::new(format!("ERROR: {e}"), 1))?,
        ),
        (None, None) => None,
        _ => {
            return Err(Fatal::new(
                "ERROR: When running server in SSL mode, you must specify both a cert_file and key_file option value in your configuration file",
                1,
            ));
        }
    };
    Ok(ServerConfig {
        max_header_line: get_int(conf, "max_header_line")?.unwrap_or(16384) as usize,
        http_keepalive: conf
            .get_bool("DEFAULT", "http_keepalive")
            .map_err(Fatal::from)?
            .unwrap_or(true),
        client_socket_timeout: match get_int(conf, "client_socket_timeout")? {
            Some(0) => None,
            Some(n) => Some(Duration::from_secs(n as u64)),
            None => Some(Duration::from_secs(900)),
        },
        tls,
        ..ServerConfig::default()
    })
}

/// The worker body of an HTTP service: serve until told to drain.
fn http_worker(
    handler: SharedHandler,
    cfg: ServerConfig,
    heartbeat: Option<Heartbeat>,
) -> WorkerFn {
    Arc::new(move |ctx| {
        let handler = handler.clone();
        let cfg = cfg.clone();
        if ctx.index == 0
            && let Some(h) = heartbeat.clone()
        {
            tokio::spawn(h.run(ctx.shutdown.clone()));
        }
        Box::pin(async move {
            let Some(listener) = ctx.listener else {
                log::error!(target: LOG, "{} worker started without a socket", ctx.service);
                return 1;
            };
            let (trigger, shutdown) = Shutdown::new();
            let mut stop = ctx.shutdown;
            tokio::spawn(async move {
                let _ = stop.wait_for(|v| *v).await;
                trigger.trigger();
            });
            match serve(listener, handler, cfg, shutdown).await {
                Ok(()) => 0,
                Err(e) => {
                    log::error!(target: LOG, "{} worker {}: server failed: {e}", ctx.service, ctx.index);
                    1
                }
            }
        })
    })
}

/// `glimpse policy sample`: Glance 33's default policies as
/// `oslopolicy-sample-generator --namespace glance` prints them (every rule
/// commented out, with its operations, scope and deprecation notes): a
/// starting point for `policy.yaml`.
pub fn policy_main(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("sample") if args.len() == 1 => {
            print!("{}", glimpse_policy::sample_yaml());
            0
        }
        Some("-h" | "--help") => {
            println!(
                "usage: glimpse policy sample\n\nPrint Glance 33's default policy rules as a commented policy.yaml."
            );
            0
        }
        _ => {
            eprintln!("usage: glimpse policy sample");
            2
        }
    }
}
