//! `glimpse manage [--config-file F …] db sync|version|check`: the database
//! part of `glance-manage`, with the same output and exit codes, so scripts
//! written for glance-manage keep working. The legacy spellings `db_sync`,
//! `db_version` and `db_check` are accepted too.

use glimpse_config::{ConfigOpts, Parsed};

use crate::config::{self, GROUP};
use crate::migrate::{self, SchemaState, SyncOutcome};
use crate::schema::{EXPAND_HEAD, HEAD};
use crate::{Db, DbError};

const PROG: &str = "glance-manage";
const ACTIONS: &[&str] = &["check", "load_metadefs", "sync", "version"];

/// Options that take a value, so their value is not mistaken for the
/// command word (`--config-file db db sync`).
fn takes_value(arg: &str) -> bool {
    !arg.contains('=')
        && arg.len() > 3
        && ("--config-file".starts_with(arg) || "--config-dir".starts_with(arg))
        && arg.starts_with("--config")
}

/// Splits argv into oslo options and the positional command words.
fn split_args(args: &[String]) -> (Vec<String>, Vec<String>) {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" || !a.starts_with('-') || a == "-" {
            let rest = if a == "--" {
                &args[i + 1..]
            } else {
                &args[i..]
            };
            return (opts, rest.to_vec());
        }
        opts.push(a.clone());
        if takes_value(a) && i + 1 < args.len() {
            opts.push(args[i + 1].clone());
            i += 1;
        }
        i += 1;
    }
    (opts, Vec::new())
}

fn usage() -> String {
    format!(
        "usage: {PROG} [-h] [--config-dir DIR] [--config-file PATH] [--version]\n\
         {:width$}{{db,db_sync,db_version,db_check,db_load_metadefs,service}} ...\n",
        "",
        width = PROG.len() + 8
    )
}

fn usage_error(message: &str) -> i32 {
    eprint!("{}", usage());
    eprintln!("{PROG}: error: {message}");
    2
}

/// glance-manage reads the default files of both glance-api and
/// glance-manage (`glance.conf`, `glance-api.conf`, `glance.conf`,
/// `glance-manage.conf`, each the first found in oslo's search dirs, and the
/// matching `.conf.d` dirs), so `db sync` needs no `--config-file` on a
/// configured host. The config crate searches one program's names; the
/// others are passed as explicit options, unless the command line has its own.
fn with_default_files(mut opt_args: Vec<String>) -> Vec<String> {
    let given = |flag: &str| {
        opt_args
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    let (files, dirs) = (!given("--config-file"), !given("--config-dir"));
    let search = glimpse_config::SearchPaths::from_env().dirs("glance");
    let first = |name: &str| search.iter().map(|d| d.join(name)).find(|p| p.exists());
    let mut extra = Vec::new();
    for prog in ["glance-api", "glance-manage"] {
        for (wanted, flag, ext) in [
            (files, "--config-file", ".conf"),
            (dirs, "--config-dir", ".conf.d"),
        ] {
            if !wanted {
                continue;
            }
            for name in ["glance", prog] {
                if let Some(p) = first(&format!("{name}{ext}")) {
                    extra.push(flag.to_string());
                    extra.push(p.to_string_lossy().into_owned());
                }
            }
        }
    }
    extra.append(&mut opt_args);
    extra
}

/// Runs `glimpse manage` with `args` (after the word `manage`) and returns
/// the exit status.
pub fn manage_main(args: &[String]) -> i32 {
    let (opt_args, words) = split_args(args);
    let opt_args = with_default_files(opt_args);
    let mut conf = ConfigOpts::new("glance", PROG, env!("CARGO_PKG_VERSION"));
    if let Err(e) =
        config::register_opts(&mut conf).and_then(|_| crate::services::register_opts(&mut conf))
    {
        eprintln!("ERROR: {e}");
        return 99;
    }
    match conf.parse_args(&opt_args) {
        Ok(Parsed::Ready) => {}
        Ok(Parsed::Help(text)) => {
            println!("{}", text.trim_end());
            println!(
                "\ncommands:\n  db sync      create the Glance 33 schema in an empty database\n  \
                 db version   print the database's alembic revision\n  \
                 db check     report whether an upgrade is pending (exit 3 if so)\n  \
                 db load_metadefs [--path DIR] [--merge [--prefer_new|--overwrite]]\n               \
                 load metadata-definition seed files (default [DEFAULT] metadata_source_path)\n  \
                 service list show the nodes' service records, up or down ([DEFAULT] service_down_time)"
            );
            return 0;
        }
        Ok(Parsed::Version(text)) => {
            println!("{}", text.trim_end());
            return 0;
        }
        Err(e) => {
            let code = e.exit_code();
            if e.is_argparse_style() {
                eprintln!("{e}");
            } else {
                eprintln!("ERROR: {e}");
            }
            return code;
        }
    }
    let action = match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => return usage_error("the following arguments are required: command"),
        ["db"] => return usage_error("the following arguments are required: action"),
        ["db", action, rest @ ..]
        | [
            action @ ("db_sync" | "db_version" | "db_check" | "db_load_metadefs"),
            rest @ ..,
        ] => {
            let action = action.trim_start_matches("db_");
            if !ACTIONS.contains(&action) {
                return usage_error(&format!(
                    "argument action: invalid choice: '{action}' (choose from {})",
                    ACTIONS
                        .iter()
                        .map(|a| format!("'{a}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            match (action, rest) {
                ("load_metadefs", rest) => match LoadArgs::parse(rest) {
                    Ok(l) => Action::Load(l),
                    Err(m) => return usage_error(&m),
                },
                (_, []) => Action::Plain(action.to_string()),
                // `db sync <version>` is accepted for the head only.
                ("sync", [v]) if *v == HEAD || *v == "heads" => Action::Plain(action.to_string()),
                ("sync", [v]) => {
                    eprintln!(
                        "Glimpse can only sync to Glance 33's head revision {HEAD}, not {v}."
                    );
                    return 1;
                }
                _ => return usage_error(&format!("unrecognized arguments: {}", rest.join(" "))),
            }
        }
        ["service"] => return usage_error("the following arguments are required: action"),
        ["service", "list"] => Action::Services,
        ["service", other, ..] => {
            return usage_error(&format!(
                "argument action: invalid choice: '{other}' (choose from 'list')"
            ));
        }
        [other, ..] => {
            return usage_error(&format!(
                "argument command: invalid choice: '{other}' (choose from 'db', 'db_sync', 'db_version', 'db_check', 'db_load_metadefs', 'service')"
            ));
        }
    };
    let db_conf = match config::from_conf(&conf) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return 1;
        }
    };
    // Only for the built-in default: create the data directory, so that
    // `glimpse manage db sync` works with no configuration at all.
    let explicit = conf
        .get_str(GROUP, "connection")
        .ok()
        .flatten()
        .is_some_and(|c| c != config::default_connection());
    if !explicit && let Err(e) = std::fs::create_dir_all(config::data_dir()) {
        eprintln!("ERROR: cannot create {}: {e}", config::data_dir().display());
        return 1;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ERROR: cannot start the async runtime: {e}");
            return 1;
        }
    };
    rt.block_on(async {
        let db = match Db::connect(&db_conf).await {
            Ok(db) => db,
            Err(e) => {
                eprintln!("ERROR: {e}");
                return 1;
            }
        };
        let result = match &action {
            Action::Plain(a) => run(&db, a).await,
            Action::Load(l) => load(&db, &conf, l).await,
            Action::Services => services(&db, &conf).await,
        };
        let code = match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("{}", failure_text(action.name(), &e));
                1
            }
        };
        db.close().await;
        code
    })
}

/// A parsed command.
enum Action {
    Plain(String),
    Load(LoadArgs),
    Services,
}

impl Action {
    fn name(&self) -> &str {
        match self {
            Action::Plain(a) => a,
            Action::Load(_) => "load_metadefs",
            Action::Services => "service list",
        }
    }
}

/// `load_metadefs [--path] PATH [--merge] [--prefer_new] [--overwrite]`
/// (glance-manage's options; the legacy form takes the path positionally).
#[derive(Debug, Default, PartialEq)]
struct LoadArgs {
    path: Option<String>,
    mode: crate::metadefs::load::MergeMode,
}

impl LoadArgs {
    fn parse(words: &[&str]) -> Result<LoadArgs, String> {
        let mut out = LoadArgs::default();
        let mut i = 0;
        while i < words.len() {
            match words[i] {
                "--merge" => out.mode.merge = true,
                "--prefer_new" => out.mode.prefer_new = true,
                "--overwrite" => out.mode.overwrite = true,
                "--path" => {
                    i += 1;
                    out.path = Some(
                        words
                            .get(i)
                            .ok_or("argument --path: expected one argument")?
                            .to_string(),
                    );
                }
                w if w.starts_with("--path=") => out.path = Some(w["--path=".len()..].to_string()),
                w if !w.starts_with('-') && out.path.is_none() => out.path = Some(w.to_string()),
                w => return Err(format!("unrecognized arguments: {w}")),
            }
            i += 1;
        }
        Ok(out)
    }
}

async fn load(db: &Db, conf: &ConfigOpts, args: &LoadArgs) -> Result<i32, DbError> {
    let m = args.mode;
    if (m.prefer_new || m.overwrite) && !m.merge {
        eprintln!("\"--prefer_new\" and \"--overwrite\" need \"--merge\"; nothing loaded.");
        return Ok(1);
    }
    if m.prefer_new && m.overwrite {
        eprintln!("\"--prefer_new\" and \"--overwrite\" cannot be used together; nothing loaded.");
        return Ok(1);
    }
    let path = args
        .path
        .clone()
        .or_else(|| {
            conf.get_str("DEFAULT", "metadata_source_path")
                .ok()
                .flatten()
        })
        .unwrap_or_else(|| "/etc/glance/metadefs/".into());
    let repo = crate::images::Repo::new(db.clone());
    let report = repo
        .metadefs()
        .load_metadefs(std::path::Path::new(&path), m)
        .await?;
    for (file, why) in &report.failed {
        eprintln!("Skipping {file}: {why}");
    }
    for ns in &report.skipped {
        println!("Skipping namespace {ns}. It already exists in the database.");
    }
    println!(
        "Metadata definitions from {path}: {} loaded, {} merged, {} skipped, {} unreadable.",
        report.loaded.len(),
        report.merged.len(),
        report.skipped.len(),
        report.failed.len()
    );
    Ok(0)
}

/// `service list`: every recorded node, up or down.
async fn services(db: &Db, conf: &ConfigOpts) -> Result<i32, DbError> {
    let down_after = conf
        .get_int("DEFAULT", "service_down_time")
        .map_err(|e| DbError::Config(e.to_string()))?
        .unwrap_or(60);
    let repo = crate::images::Repo::new(db.clone());
    let records = repo.services().list().await?;
    print!(
        "{}",
        crate::services::list_table(&records, crate::images::now(), down_after)
    );
    Ok(0)
}

fn failure_text(action: &str, e: &DbError) -> String {
    match action {
        "sync" => format!("Failed to sync database: ERROR: {e}"),
        _ => format!("ERROR: {e}"),
    }
}

async fn run(db: &Db, action: &str) -> Result<i32, DbError> {
    match action {
        "sync" => {
            match migrate::sync(db).await? {
                SyncOutcome::UpToDate => {
                    println!("Database is up to date. No migrations needed.");
                }
                // Glance reports its three phases; one step does all of
                // them here, but the transcript stays the same.
                SyncOutcome::Created => {
                    println!(
                        "Upgraded database to: {EXPAND_HEAD}, current revision(s): {EXPAND_HEAD}"
                    );
                    println!("Database migration is up to date. No migration needed.");
                    println!("Upgraded database to: {HEAD}, current revision(s): {HEAD}");
                    println!("Database is synced successfully.");
                }
            }
            Ok(0)
        }
        "version" => {
            let heads = migrate::heads(db).await?;
            if heads.is_empty() {
                println!(
                    "Database is either not under migration control or under legacy \
                     migration control, please run \"glance-manage db sync\" to place \
                     the database under alembic migration control."
                );
            }
            for h in heads {
                println!("{h}");
            }
            Ok(0)
        }
        "check" => Ok(match migrate::state(db).await? {
            SchemaState::Current => {
                println!("Database is up to date. No upgrades needed.");
                0
            }
            SchemaState::Older(heads) if heads.iter().any(|h| h == EXPAND_HEAD) => {
                println!(
                    "Your database is not up to date. Your next step is to run \
                     `glance-manage db contract`."
                );
                5
            }
            _ => {
                println!(
                    "Your database is not up to date. Your first step is to run \
                     `glance-manage db expand`."
                );
                3
            }
        }),
        _ => Ok(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_options_from_command_words() {
        let (o, w) = split_args(&s(&["--config-file", "db", "db", "sync"]));
        assert_eq!((o, w), (s(&["--config-file", "db"]), s(&["db", "sync"])));
        let (o, w) = split_args(&s(&["--config-file=x", "--config-dir", "d", "db_sync"]));
        assert_eq!(o, s(&["--config-file=x", "--config-dir", "d"]));
        assert_eq!(w, s(&["db_sync"]));
        let (o, w) = split_args(&s(&["--config-f", "c", "db", "version"]));
        assert_eq!((o.len(), w.len()), (2, 2));
    }
}
