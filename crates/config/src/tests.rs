//! Behaviour tests for the C1–C12 rules (see runtime-behaviour.md §1).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::{ConfigError, ConfigOpts, Location, Opt, Parsed, SearchPaths, Value};

// ---- helpers -------------------------------------------------------------

struct Tmp(PathBuf);

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Tmp {
    fn new() -> Tmp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "glimpse-config-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("home")).unwrap();
        std::fs::create_dir_all(p.join("etc")).unwrap();
        Tmp(p)
    }
    fn write(&self, rel: &str, text: &str) -> String {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }
    fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
    fn conf(&self) -> ConfigOpts {
        self.conf_env(&[])
    }
    fn conf_env(&self, env: &[(&str, &str)]) -> ConfigOpts {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConfigOpts::new("probe", "probe-api", "1.2.3")
            .with_env(env)
            .with_search_paths(SearchPaths::rooted(self.0.join("home"), self.0.join("etc")))
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// Captures log records so deprecation warnings can be asserted.
struct Capture;
static LOGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        LOGS.lock()
            .unwrap()
            .push(format!("{}: {}", r.level(), r.args()));
    }
    fn flush(&self) {}
}

fn logs_matching(needle: &str) -> Vec<String> {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = log::set_boxed_logger(Box::new(Capture));
        log::set_max_level(log::LevelFilter::Trace);
    });
    LOGS.lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(needle))
        .cloned()
        .collect()
}

fn init_logs() {
    let _ = logs_matching("");
}

// ---- C2 default file search ---------------------------------------------

#[test]
fn c2_default_search_takes_first_existing_per_name() {
    let t = Tmp::new();
    t.write("home/.probe/probe.conf", "[DEFAULT]\ns = dot-project\n");
    t.write("home/probe.conf", "[DEFAULT]\ns = home\nonly_home = yes\n");
    t.write("etc/probe-api.conf", "[DEFAULT]\nt = etc-prog\n");
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("s")).unwrap();
    c.register("DEFAULT", Opt::str("t")).unwrap();
    c.register("DEFAULT", Opt::str("only_home")).unwrap();
    assert_eq!(c.parse_args(&[]).unwrap(), Parsed::Ready);
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("dot-project"));
    assert_eq!(c.get_str("DEFAULT", "t").unwrap(), s("etc-prog"));
    assert_eq!(c.get_str("DEFAULT", "only_home").unwrap(), None);
    assert_eq!(
        c.config_files(),
        vec![
            PathBuf::from(t.path("home/.probe/probe.conf")),
            PathBuf::from(t.path("etc/probe-api.conf"))
        ]
    );
}

#[test]
fn c2_default_dir_wins_even_with_config_file() {
    let t = Tmp::new();
    t.write("home/.probe/probe.conf", "[DEFAULT]\ns = file\n");
    t.write(
        "home/.probe/probe.conf.d/x.conf",
        "[DEFAULT]\ns = dir\nd = dir\n",
    );
    let cf = t.write("given.conf", "[DEFAULT]\ns = given\n");
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("s")).unwrap();
    c.register("DEFAULT", Opt::str("d")).unwrap();
    c.parse_args(&[]).unwrap();
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("dir"));

    // The default dir is still read with --config-file, but (as in oslo)
    // before argv, so the explicit file overrides what both set.
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("s")).unwrap();
    c.register("DEFAULT", Opt::str("d")).unwrap();
    c.parse_args(&args(&["--config-file", &cf])).unwrap();
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("given"));
    assert_eq!(c.get_str("DEFAULT", "d").unwrap(), s("dir"));
    assert_eq!(c.config_files(), vec![PathBuf::from(&cf)]);
    assert_eq!(
        c.config_dirs(),
        vec![PathBuf::from(t.path("home/.probe/probe.conf.d"))]
    );

    // An explicit --config-dir replaces the default dirs.
    let d = t.path("empty.d");
    std::fs::create_dir_all(&d).unwrap();
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("s")).unwrap();
    c.register("DEFAULT", Opt::str("d")).unwrap();
    c.parse_args(&args(&["--config-file", &cf, "--config-dir", &d]))
        .unwrap();
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("given"));
    assert_eq!(c.get_str("DEFAULT", "d").unwrap(), None);
}

#[test]
fn c2_project_equal_to_prog_lists_file_twice() {
    let t = Tmp::new();
    t.write("etc/probe.conf", "[DEFAULT]\nm = x\n");
    let mut c = ConfigOpts::new("probe", "probe", "")
        .without_env()
        .with_search_paths(SearchPaths::rooted(t.0.join("home"), t.0.join("etc")));
    c.register("DEFAULT", Opt::multi_str("m")).unwrap();
    c.parse_args(&[]).unwrap();
    assert_eq!(c.config_files().len(), 2);
    assert_eq!(c.get_multi("DEFAULT", "m").unwrap(), ["x", "x"]);
}

// ---- C3 / C4 files and dirs ------------------------------------------------

#[test]
fn c3_later_file_wins_and_last_occurrence_in_file() {
    let t = Tmp::new();
    let a = t.write("a.conf", "[DEFAULT]\ns = a\n");
    let b = t.write("b.conf", "[DEFAULT]\ns = b0\ns = b\n");
    for (order, want) in [([&a, &b], "b"), ([&b, &a], "a")] {
        let mut c = t.conf();
        c.register("DEFAULT", Opt::str("s")).unwrap();
        c.parse_args(&args(&[
            "--config-file",
            order[0],
            &format!("--config-file={}", order[1]),
        ]))
        .unwrap();
        assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s(want));
    }
}

#[test]
fn c4_config_dir_sorted_lexicographically_and_positional() {
    let t = Tmp::new();
    t.write("d/10-x.conf", "[DEFAULT]\ns = ten\nm = 10\n");
    t.write("d/2-y.conf", "[DEFAULT]\ns = two\nm = 2\n");
    t.write("d/9-z.txt", "[DEFAULT]\ns = txt\n");
    t.write("d/.hidden.conf", "[DEFAULT]\ns = hidden\n");
    let after = t.write("after.conf", "[DEFAULT]\ns = after\n");
    let d = t.path("d");
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("s")).unwrap();
    c.register("DEFAULT", Opt::multi_str("m")).unwrap();
    c.parse_args(&args(&["--config-dir", &d])).unwrap();
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("two"));
    assert_eq!(c.get_multi("DEFAULT", "m").unwrap(), ["10", "2"]);
    assert_eq!(c.config_dirs(), vec![PathBuf::from(&d)]);

    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("s")).unwrap();
    c.parse_args(&args(&["--config-dir", &d, "--config-file", &after]))
        .unwrap();
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("after"));

    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("s")).unwrap();
    c.parse_args(&args(&[
        "--config-file",
        &after,
        &format!("--config-dir={d}"),
    ]))
    .unwrap();
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("two"));
}

#[test]
fn c4_missing_config_dir() {
    let t = Tmp::new();
    let mut c = t.conf();
    let e = c
        .parse_args(&args(&["--config-dir", "/x/nonexistent"]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failed to read config file directory: /x/nonexistent"
    );
    assert_eq!(e.exit_code(), 99);
}

// ---- C5 precedence ---------------------------------------------------------

#[test]
fn c5_precedence_chain() {
    let t = Tmp::new();
    let f = t.write("f.conf", "[DEFAULT]\ns = file\nclio = file\nsd = file\n");
    let mut c = t.conf_env(&[
        ("OS_DEFAULT__S", "env"),
        ("OS_DEFAULT__CLIO", "env"),
        ("OS_DEFAULT__OV", "env"),
    ]);
    c.register("DEFAULT", Opt::str("s").default("dflt"))
        .unwrap();
    c.register("DEFAULT", Opt::str("clio").cli()).unwrap();
    c.register("DEFAULT", Opt::str("sd").default("dflt"))
        .unwrap();
    c.register("DEFAULT", Opt::str("only_default").default("dflt"))
        .unwrap();
    c.register("DEFAULT", Opt::str("setdef").default("dflt"))
        .unwrap();
    c.register("DEFAULT", Opt::str("ov").cli()).unwrap();
    c.set_default("DEFAULT", "sd", "sd").unwrap();
    c.set_default("DEFAULT", "setdef", "sd").unwrap();
    c.set_override("DEFAULT", "ov", "override").unwrap();
    c.parse_args(&args(&[
        "--config-file",
        &f,
        "--clio",
        "cli",
        "--ov",
        "cli",
    ]))
    .unwrap();
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("env"));
    assert_eq!(c.get_str("DEFAULT", "clio").unwrap(), s("cli"));
    assert_eq!(c.get_str("DEFAULT", "sd").unwrap(), s("file"));
    assert_eq!(c.get_str("DEFAULT", "setdef").unwrap(), s("sd"));
    assert_eq!(c.get_str("DEFAULT", "only_default").unwrap(), s("dflt"));
    assert_eq!(c.get_str("DEFAULT", "ov").unwrap(), s("override"));
}

#[test]
fn c5_env_beats_file_value_of_cli_opt_and_groups_are_uppercased() {
    let t = Tmp::new();
    let f = t.write(
        "f.conf",
        "[DEFAULT]\nclio = file\n[paste_deploy]\nflavor = file\n",
    );
    let mut c = t.conf_env(&[
        ("OS_DEFAULT__CLIO", "env"),
        ("OS_PASTE_DEPLOY__FLAVOR", "keystone"),
    ]);
    c.register("DEFAULT", Opt::str("clio").cli()).unwrap();
    c.register("paste_deploy", Opt::str("flavor")).unwrap();
    c.parse_args(&args(&["--config-file", &f])).unwrap();
    assert_eq!(c.get_str("DEFAULT", "clio").unwrap(), s("env"));
    assert_eq!(c.get_str("paste_deploy", "flavor").unwrap(), s("keystone"));
}

#[test]
fn c5_cli_vs_config_file_follows_argv_order() {
    let t = Tmp::new();
    let f = t.write("f.conf", "[DEFAULT]\nclio = file\n");
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("clio").cli()).unwrap();
    c.parse_args(&args(&["--clio", "cli", "--config-file", &f]))
        .unwrap();
    assert_eq!(c.get_str("DEFAULT", "clio").unwrap(), s("file"));
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("clio").cli()).unwrap();
    c.parse_args(&args(&["--config-file", &f, "--clio=cli"]))
        .unwrap();
    assert_eq!(c.get_str("DEFAULT", "clio").unwrap(), s("cli"));
}

#[test]
fn c5_env_disabled() {
    let t = Tmp::new();
    let mut c = t.conf_env(&[("OS_DEFAULT__S", "env")]).without_env();
    c.register("DEFAULT", Opt::str("s").default("d")).unwrap();
    c.parse_args(&[]).unwrap();
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("d"));
}

// ---- C6 ini semantics in context ---------------------------------------------

#[test]
fn c6_section_matching_and_unknowns_ignored() {
    let t = Tmp::new();
    let f = t.write(
        "f.conf",
        "[GRP]\nx = upper\n[default]\ns = lower-default\n[DEFAULT]\nunknown_key = 1\n[nosuch]\ny = 2\n[DEFAULT]\nq = \"quoted\"\ncont = a\n  b\n",
    );
    let mut c = t.conf();
    c.register("grp", Opt::str("x")).unwrap();
    c.register("DEFAULT", Opt::str("s").default("d")).unwrap();
    c.register("DEFAULT", Opt::str("q")).unwrap();
    c.register("DEFAULT", Opt::str("cont")).unwrap();
    c.parse_args(&args(&["--config-file", &f])).unwrap();
    assert_eq!(c.get_str("grp", "x").unwrap(), s("upper"));
    assert_eq!(c.get_str("DEFAULT", "s").unwrap(), s("d"));
    assert_eq!(c.get_str("DEFAULT", "q").unwrap(), s("quoted"));
    assert_eq!(c.get_str("DEFAULT", "cont").unwrap(), s("a\nb"));
    c.validate_all().unwrap();
}

#[test]
fn c6_parse_error_uses_absolute_path() {
    let t = Tmp::new();
    let f = t.write("bad.conf", "[DEFAULT]\nbogus\n");
    let mut c = t.conf();
    let e = c.parse_args(&args(&["--config-file", &f])).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Failed to parse {f}: at {f}:2, No ':' or '=' found in assignment: 'bogus'")
    );
    assert_eq!(e.exit_code(), 99);
}

// ---- C7 types and interpolation -------------------------------------------

#[test]
fn c7_interpolation() {
    let t = Tmp::new();
    let f = t.write(
        "f.conf",
        "[DEFAULT]\ns = base\ntmpl = ${s}-t\nesc = $$s \\$s\ncross = ${g.gs}/$s\ninvalid = $1 ${ $\nnum = $n\n[g]\ngs = gval\nuse_default = $s+$gs\n",
    );
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("s")).unwrap();
    c.register("DEFAULT", Opt::str("tmpl")).unwrap();
    c.register("DEFAULT", Opt::str("esc")).unwrap();
    c.register("DEFAULT", Opt::str("cross")).unwrap();
    c.register("DEFAULT", Opt::str("invalid")).unwrap();
    c.register("DEFAULT", Opt::str("num")).unwrap();
    c.register("DEFAULT", Opt::int("n").default("3")).unwrap();
    c.register("DEFAULT", Opt::str("dflt").default("${s}.d"))
        .unwrap();
    c.register("g", Opt::str("gs")).unwrap();
    c.register("g", Opt::str("use_default")).unwrap();
    c.parse_args(&args(&["--config-file", &f])).unwrap();
    assert_eq!(c.get_str("DEFAULT", "tmpl").unwrap(), s("base-t"));
    assert_eq!(c.get_str("DEFAULT", "esc").unwrap(), s("$s $s"));
    assert_eq!(c.get_str("DEFAULT", "cross").unwrap(), s("gval/base"));
    assert_eq!(c.get_str("DEFAULT", "invalid").unwrap(), s("$1 ${ $"));
    assert_eq!(c.get_str("DEFAULT", "num").unwrap(), s("3"));
    assert_eq!(c.get_str("DEFAULT", "dflt").unwrap(), s("base.d"));
    assert_eq!(c.get_str("g", "use_default").unwrap(), s("base+gval"));
}

#[test]
fn c7_interpolation_errors() {
    let t = Tmp::new();
    let f = t.write(
        "f.conf",
        "[DEFAULT]\na = $nonexist\nloop1 = $loop2\nloop2 = $loop1\nbh = not_an_ip!\nuse_bh = $bh\n",
    );
    let mut c = t.conf();
    for n in ["a", "loop1", "loop2", "use_bh"] {
        c.register("DEFAULT", Opt::str(n)).unwrap();
    }
    c.register("DEFAULT", Opt::host_address("bh")).unwrap();
    c.parse_args(&args(&["--config-file", &f])).unwrap();
    assert_eq!(
        c.get("DEFAULT", "a").unwrap_err().to_string(),
        "no such option nonexist in group [DEFAULT]"
    );
    assert!(matches!(
        c.get("DEFAULT", "loop1").unwrap_err(),
        ConfigError::TemplateSubstitution(_)
    ));
    let loc = format!("LocationInfo(location=<Locations.user: (4, True)>, detail='{f}')");
    assert_eq!(
        c.get("DEFAULT", "use_bh").unwrap_err().to_string(),
        format!(
            "Value for option use_bh from {loc} is not valid: Value for option bh from {loc} is not valid: not_an_ip! is not a valid host address"
        )
    );
}

#[test]
fn c7_typed_values_from_file() {
    let t = Tmp::new();
    let f = t.write(
        "f.conf",
        "[DEFAULT]\nli = a, b ,\nil = 1,2\ndi = a:1, b:\nfl = 2.5\nbo = Yes\npo = 9292\nemptyint =\n",
    );
    let mut c = t.conf();
    c.register("DEFAULT", Opt::list("li")).unwrap();
    c.register("DEFAULT", Opt::int_list("il")).unwrap();
    c.register("DEFAULT", Opt::dict("di")).unwrap();
    c.register("DEFAULT", Opt::float("fl")).unwrap();
    c.register("DEFAULT", Opt::bool("bo")).unwrap();
    c.register("DEFAULT", Opt::port("po")).unwrap();
    c.register("DEFAULT", Opt::int("emptyint").default("4"))
        .unwrap();
    c.parse_args(&args(&["--config-file", &f])).unwrap();
    assert_eq!(
        c.get_list("DEFAULT", "li").unwrap(),
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(c.get_int_list("DEFAULT", "il").unwrap(), Some(vec![1, 2]));
    let d = c.get_dict("DEFAULT", "di").unwrap().unwrap();
    assert_eq!(d.get("a").map(String::as_str), Some("1"));
    assert_eq!(d.get("b").map(String::as_str), Some(""));
    assert_eq!(c.get_float("DEFAULT", "fl").unwrap(), Some(2.5));
    assert_eq!(c.get_bool("DEFAULT", "bo").unwrap(), Some(true));
    assert_eq!(c.get_int("DEFAULT", "po").unwrap(), Some(9292));
    assert_eq!(c.get_int("DEFAULT", "emptyint").unwrap(), None);
    assert!(matches!(
        c.get_int("DEFAULT", "li").unwrap_err(),
        ConfigError::WrongType { .. }
    ));
    assert!(matches!(
        c.get_str("DEFAULT", "nosuch").unwrap_err(),
        ConfigError::NoSuchOpt { .. }
    ));
    assert!(matches!(
        c.get_str("nogroup", "x").unwrap_err(),
        ConfigError::NoSuchGroup(_)
    ));
}

#[test]
fn c7_multistr_across_files() {
    let t = Tmp::new();
    let a = t.write("a.conf", "[DEFAULT]\nm = m1\nm = m2\n");
    let b = t.write("b.conf", "[DEFAULT]\nm = m3\n");
    let mut c = t.conf();
    c.register("DEFAULT", Opt::multi_str("m")).unwrap();
    c.register("DEFAULT", Opt::multi_str("unset")).unwrap();
    c.parse_args(&args(&["--config-file", &a, "--config-file", &b]))
        .unwrap();
    assert_eq!(c.get_multi("DEFAULT", "m").unwrap(), ["m1", "m2", "m3"]);
    assert!(c.get_multi("DEFAULT", "unset").unwrap().is_empty());
}

#[test]
fn c7_multistr_cli_appends() {
    let t = Tmp::new();
    let a = t.write("a.conf", "[DEFAULT]\nm = f1\n");
    let mut c = t.conf();
    c.register("DEFAULT", Opt::multi_str("m").cli()).unwrap();
    c.parse_args(&args(&["--m", "c0", "--config-file", &a, "--m", "c1"]))
        .unwrap();
    assert_eq!(c.get_multi("DEFAULT", "m").unwrap(), ["c0", "f1", "c1"]);
}

// ---- C8 value errors ----------------------------------------------------------

fn glance_like(t: &Tmp, env: &[(&str, &str)]) -> ConfigOpts {
    let mut c = t.conf_env(env);
    c.register(
        "DEFAULT",
        Opt::int("workers").min(0).help("Number of workers"),
    )
    .unwrap();
    c.register("DEFAULT", Opt::port("bind_port").default("9292"))
        .unwrap();
    c.register("DEFAULT", Opt::host_address("bind_host").default("0.0.0.0"))
        .unwrap();
    c.register("DEFAULT", Opt::int("backlog").min(1).default("4096"))
        .unwrap();
    c.register(
        "DEFAULT",
        Opt::bool("debug").short('d').default("false").mutable(),
    )
    .unwrap();
    c
}

#[test]
fn c8_file_value_errors_have_oslo_text_and_exit_5() {
    let t = Tmp::new();
    let cases = [
        (
            "workers = -1",
            "workers",
            "Should be greater than or equal to 0",
        ),
        (
            "workers = abc",
            "workers",
            "invalid literal for int() with base 10: 'abc'",
        ),
        (
            "bind_port = 70000",
            "bind_port",
            "Should be less than or equal to 65535",
        ),
        (
            "backlog = 0",
            "backlog",
            "Should be greater than or equal to 1",
        ),
        (
            "bind_host = not_an_ip!",
            "bind_host",
            "not_an_ip! is not a valid host address",
        ),
    ];
    for (line, opt, msg) in cases {
        let f = t.write("v.conf", &format!("[DEFAULT]\n{line}\n"));
        let mut c = glance_like(&t, &[]);
        assert_eq!(
            c.parse_args(&args(&["--config-file", &f])).unwrap(),
            Parsed::Ready,
            "parse is lazy for {line}"
        );
        let errs = c.validate_all().unwrap_err();
        assert_eq!(errs.len(), 1);
        let want = format!(
            "Value for option {opt} from LocationInfo(location=<Locations.user: (4, True)>, detail='{f}') is not valid: {msg}"
        );
        assert_eq!(errs[0].to_string(), want);
        assert_eq!(errs[0].exit_code(), 5);
        assert_eq!(
            c.get("DEFAULT", opt).unwrap_err(),
            errs[0],
            "lazy getter gives the same error"
        );
    }
}

#[test]
fn c8_env_value_error_location() {
    let t = Tmp::new();
    let mut c = glance_like(&t, &[("OS_DEFAULT__WORKERS", "-2")]);
    c.parse_args(&[]).unwrap();
    let e = c.get_int("DEFAULT", "workers").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Value for option workers from LocationInfo(location=<Locations.environment: (6, True)>, detail='OS_DEFAULT__WORKERS') is not valid: Should be greater than or equal to 0"
    );
    assert!(matches!(
        e,
        ConfigError::Value {
            location: Location::Environment(_),
            ..
        }
    ));
}

#[test]
fn c8_validate_all_collects_every_error() {
    let t = Tmp::new();
    let f = t.write("v.conf", "[DEFAULT]\nworkers = abc\nbind_port = 70000\n");
    let mut c = glance_like(&t, &[]);
    c.parse_args(&args(&["--config-file", &f])).unwrap();
    assert_eq!(c.validate_all().unwrap_err().len(), 2);
}

#[test]
fn c8_cli_opt_in_file_validated_eagerly() {
    let t = Tmp::new();
    let f = t.write("v.conf", "[DEFAULT]\ndebug = maybe\n");
    let mut c = glance_like(&t, &[]);
    let e = c.parse_args(&args(&["--config-file", &f])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "argument --debug: Invalid Boolean value: maybe"
    );
    assert_eq!(e.exit_code(), 1);
}

#[test]
fn c8_cli_opt_bad_on_command_line() {
    let t = Tmp::new();
    let mut c = t.conf();
    c.register("DEFAULT", Opt::int("workers").min(0).cli())
        .unwrap();
    let e = c.parse_args(&args(&["--workers", "-1"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "argument --workers: Invalid Integer(min=0) value: -1"
    );
    assert_eq!(e.exit_code(), 1);
}

// ---- C9 deprecated names --------------------------------------------------

#[test]
fn c9_deprecated_names_and_groups() {
    init_logs();
    let t = Tmp::new();
    let old = t.write(
        "old.conf",
        "[DEFAULT]\nold_dn = from-old-name\n[oldgrp]\ndg_opt = from-old-group\n",
    );
    let both = t.write(
        "both.conf",
        "[DEFAULT]\nnew_dn = current\nold_dn = deprecated\n",
    );
    let mut c = t.conf();
    c.register(
        "DEFAULT",
        Opt::str("new_dn").deprecated(None, Some("old_dn")),
    )
    .unwrap();
    c.register(
        "DEFAULT",
        Opt::str("dg_opt").deprecated(Some("oldgrp"), None),
    )
    .unwrap();
    c.parse_args(&args(&["--config-file", &old])).unwrap();
    assert_eq!(c.get_str("DEFAULT", "new_dn").unwrap(), s("from-old-name"));
    assert_eq!(c.get_str("DEFAULT", "dg_opt").unwrap(), s("from-old-group"));
    assert_eq!(c.get_str("DEFAULT", "new_dn").unwrap(), s("from-old-name"));
    let w = logs_matching("Option \"old_dn\" from group \"DEFAULT\" is deprecated");
    assert_eq!(
        w,
        [
            "WARN: Deprecated: Option \"old_dn\" from group \"DEFAULT\" is deprecated. Use option \"new_dn\" from group \"DEFAULT\"."
        ]
    );
    assert_eq!(
        logs_matching("\"dg_opt\" from group \"oldgrp\""),
        [
            "WARN: Deprecated: Option \"dg_opt\" from group \"oldgrp\" is deprecated. Use option \"dg_opt\" from group \"DEFAULT\"."
        ]
    );

    // Current name beats the old one inside a file; the newest file wins
    // even when it only has the old name.
    let mut c = t.conf();
    c.register(
        "DEFAULT",
        Opt::str("new_dn").deprecated(None, Some("old_dn")),
    )
    .unwrap();
    c.parse_args(&args(&["--config-file", &both])).unwrap();
    assert_eq!(c.get_str("DEFAULT", "new_dn").unwrap(), s("current"));
    let mut c = t.conf();
    c.register(
        "DEFAULT",
        Opt::str("new_dn").deprecated(None, Some("old_dn")),
    )
    .unwrap();
    c.parse_args(&args(&["--config-file", &both, "--config-file", &old]))
        .unwrap();
    assert_eq!(c.get_str("DEFAULT", "new_dn").unwrap(), s("from-old-name"));
}

#[test]
fn c9_deprecated_for_removal_logged_once_when_set() {
    init_logs();
    let t = Tmp::new();
    let f = t.write("f.conf", "[DEFAULT]\nremoval_probe = 1\n");
    let mut c = t.conf();
    c.register(
        "DEFAULT",
        Opt::str("removal_probe").deprecated_for_removal("no longer used"),
    )
    .unwrap();
    c.register(
        "DEFAULT",
        Opt::str("removal_unset").deprecated_for_removal("gone"),
    )
    .unwrap();
    c.parse_args(&args(&["--config-file", &f])).unwrap();
    c.validate_all().unwrap();
    c.validate_all().unwrap();
    assert_eq!(
        logs_matching("\"removal_probe\""),
        [
            "WARN: Deprecated: Option \"removal_probe\" from group \"DEFAULT\" is deprecated for removal (no longer used).  Its value may be silently ignored in the future."
        ]
    );
    assert!(logs_matching("\"removal_unset\"").is_empty());
}

#[test]
fn c9_deprecated_cli_alias() {
    let t = Tmp::new();
    let mut c = t.conf();
    c.register(
        "DEFAULT",
        Opt::str("log-file")
            .metavar("PATH")
            .deprecated(None, Some("logfile"))
            .cli(),
    )
    .unwrap();
    c.parse_args(&args(&["--logfile", "/tmp/x.log"])).unwrap();
    assert_eq!(c.get_str("DEFAULT", "log_file").unwrap(), s("/tmp/x.log"));
    let mut c = t.conf();
    c.register(
        "DEFAULT",
        Opt::str("log_dir").deprecated(None, Some("logdir")).cli(),
    )
    .unwrap();
    c.parse_args(&args(&["--log-dir=/var/log"])).unwrap();
    assert_eq!(c.get_str("DEFAULT", "log-dir").unwrap(), s("/var/log"));
}

// ---- C10 required ------------------------------------------------------------

#[test]
fn c10_required() {
    let t = Tmp::new();
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("req").required()).unwrap();
    let e = c.parse_args(&[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "value required for option req in group [DEFAULT]"
    );
    assert_eq!(e.exit_code(), 99);

    let mut c = t.conf_env(&[("OS_DEFAULT__REQ", "x")]);
    c.register("DEFAULT", Opt::str("req").required()).unwrap();
    assert_eq!(c.parse_args(&[]).unwrap(), Parsed::Ready);

    let f = t.write("f.conf", "[DEFAULT]\nreq =\n");
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("req").required()).unwrap();
    assert_eq!(
        c.parse_args(&args(&["--config-file", &f])).unwrap(),
        Parsed::Ready
    );
}

// ---- C11 / E16 other parse errors --------------------------------------------------

#[test]
fn c11_missing_files_listed_together() {
    let t = Tmp::new();
    let mut c = t.conf();
    let e = c
        .parse_args(&args(&[
            "--config-file",
            "/nonexist",
            "--config-file",
            "/nx2",
        ]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failed to find some config files: /nonexist,/nx2"
    );
    assert_eq!(e.exit_code(), 99);
}

#[test]
fn c11_unreadable_file() {
    let t = Tmp::new();
    let f = t.write("locked.conf", "[DEFAULT]\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&f).is_ok() {
        eprintln!("running as root: cannot test permission denied");
        return;
    }
    let mut c = t.conf();
    let e = c.parse_args(&args(&["--config-file", &f])).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Failed to open some config files: {f}")
    );
}

#[test]
fn c11_argparse_errors() {
    let t = Tmp::new();
    let mut c = glance_like(&t, &[]);
    c.register("DEFAULT", Opt::int("cw").cli()).unwrap();
    let e = c.parse_args(&args(&["--bogus", "x"])).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let text = e.to_string();
    assert!(text.starts_with("usage: probe-api [-h]"), "{text}");
    assert!(
        text.ends_with("\nprobe-api: error: unrecognized arguments: --bogus x"),
        "{text}"
    );

    let e = c.parse_args(&args(&["--cw"])).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("probe-api: error: argument --cw: expected one argument")
    );
    let e = c.parse_args(&args(&["--cw", "--debug"])).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("probe-api: error: argument --cw: expected one argument")
    );
    let e = c.parse_args(&args(&["--debug=maybe"])).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("probe-api: error: argument --debug/-d: ignored explicit argument 'maybe'")
    );
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn c11_cli_forms() {
    let t = Tmp::new();
    let mut c = glance_like(&t, &[]);
    c.register("DEFAULT", Opt::int("cw").short('w').cli())
        .unwrap();
    c.register("grp", Opt::str("flavor").cli()).unwrap();
    c.parse_args(&args(&["-d", "-w5", "--grp-flavor", "k"]))
        .unwrap();
    assert_eq!(c.get_bool("DEFAULT", "debug").unwrap(), Some(true));
    assert_eq!(c.get_int("DEFAULT", "cw").unwrap(), Some(5));
    assert_eq!(c.get_str("grp", "flavor").unwrap(), s("k"));
    c.parse_args(&args(&["--debug", "--nodebug", "--cw=-3", "--grp-fl", "x"]))
        .unwrap();
    assert_eq!(c.get_bool("DEFAULT", "debug").unwrap(), Some(false));
    assert_eq!(c.get_int("DEFAULT", "cw").unwrap(), Some(-3));
    assert_eq!(c.get_str("grp", "flavor").unwrap(), s("x"));
}

#[test]
fn c1_help_and_version() {
    let t = Tmp::new();
    let mut c = glance_like(&t, &[]);
    c.register(
        "DEFAULT",
        Opt::str("log-file")
            .metavar("PATH")
            .deprecated(None, Some("logfile"))
            .cli()
            .help("(Optional) Name of log file."),
    )
    .unwrap();
    c.register(
        "DEFAULT",
        Opt::int("workers2").cli().help("Number of workers"),
    )
    .unwrap();
    c.register(
        "paste_deploy",
        Opt::str("flavor").cli().help("Paste flavor"),
    )
    .unwrap();
    assert_eq!(
        c.parse_args(&args(&["--version"])).unwrap(),
        Parsed::Version("1.2.3".into())
    );
    let Parsed::Help(h) = c.parse_args(&args(&["--bogus", "-h"])).unwrap() else {
        panic!("expected help")
    };
    let expected_head = "usage: probe-api [-h] [--config-dir DIR] [--config-file PATH] [--debug]
                 [--log-file PATH] [--nodebug] [--version]
                 [--workers2 WORKERS2]
                 [--paste_deploy-flavor PASTE_DEPLOY_FLAVOR]

options:
  -h, --help            Show this help message and exit.
";
    assert!(h.starts_with(expected_head), "{h}");
    assert!(h.contains("\n  --debug, -d\n  --log-file PATH, --logfile PATH\n                        (Optional) Name of log file.\n"), "{h}");
    assert!(
        h.contains("\n  --nodebug             The inverse of --debug\n"),
        "{h}"
    );
    assert!(h.ends_with("\npaste_deploy options:\n  --paste_deploy-flavor PASTE_DEPLOY_FLAVOR\n                        Paste flavor\n"), "{h}");
}

// ---- C12 reload ------------------------------------------------------------

#[test]
fn c12_reload_and_changes() {
    let t = Tmp::new();
    let f = t.write("f.conf", "[DEFAULT]\nmarker = a\nworkers = 2\n");
    let mut c = t.conf();
    c.register("DEFAULT", Opt::str("marker").mutable()).unwrap();
    c.register("DEFAULT", Opt::int("workers")).unwrap();
    c.register("DEFAULT", Opt::str("same").default("x"))
        .unwrap();
    c.parse_args(&args(&["--config-file", &f])).unwrap();
    t.write("f.conf", "[DEFAULT]\nmarker = b\nworkers = 3\n");
    let n = c.reload().unwrap();
    assert_eq!(c.get_str("DEFAULT", "marker").unwrap(), s("a"));
    assert_eq!(n.get_str("DEFAULT", "marker").unwrap(), s("b"));
    let changes = c.changed_options(&n);
    let msgs: Vec<String> = changes.iter().map(|c| c.message()).collect();
    assert_eq!(
        msgs,
        [
            "Option DEFAULT.marker changed from [a] to [b]",
            "Ignoring change to immutable option DEFAULT.workers"
        ]
    );

    std::fs::remove_file(&f).unwrap();
    let e = c.reload().unwrap_err();
    assert!(matches!(e, ConfigError::FilesNotFound(_)));
    assert_eq!(c.get_str("DEFAULT", "marker").unwrap(), s("a"));
}

// ---- registry ----------------------------------------------------------------

#[test]
fn duplicate_registration() {
    let mut c = ConfigOpts::new("p", "p", "");
    c.register("DEFAULT", Opt::int("w").min(0)).unwrap();
    c.register("DEFAULT", Opt::int("w").min(0)).unwrap();
    assert_eq!(
        c.register("DEFAULT", Opt::int("w").min(1)).unwrap_err(),
        ConfigError::DuplicateOpt("w".into())
    );
    assert!(matches!(
        c.register("DEFAULT", Opt::int("bad").default("x"))
            .unwrap_err(),
        ConfigError::InvalidOpt { .. }
    ));
    assert!(c.set_override("DEFAULT", "w", "abc").is_err());
    assert!(c.set_default("DEFAULT", "nosuch", "1").is_err());
}

#[test]
fn find_file_semantics() {
    let t = Tmp::new();
    let f = t.write("conf/main.conf", "[DEFAULT]\n");
    let paste = t.write("conf/probe-paste.ini", "");
    let etc_only = t.write("etc/probe/policy.yaml", "");
    let mut c = t.conf();
    c.parse_args(&args(&["--config-file", &f])).unwrap();
    assert_eq!(c.find_file("probe-paste.ini"), Some(PathBuf::from(&paste)));
    assert_eq!(c.find_file("policy.yaml"), Some(PathBuf::from(&etc_only)));
    assert_eq!(c.find_file("nope.ini"), None);
    assert_eq!(c.find_file(&paste), Some(PathBuf::from(&paste)));
}

#[test]
fn sample_output() {
    let mut c = ConfigOpts::new("p", "p", "");
    c.register(
        "DEFAULT",
        Opt::int("workers").min(0).help("Number of workers."),
    )
    .unwrap();
    c.register(
        "DEFAULT",
        Opt::bool("debug").default("False").mutable().help("Debug."),
    )
    .unwrap();
    c.register(
        "DEFAULT",
        Opt::str("log_file")
            .deprecated(None, Some("logfile"))
            .help("Log file."),
    )
    .unwrap();
    c.register_group("paste_deploy", "Paste options.");
    c.register("paste_deploy", Opt::str("flavor").choices(["keystone", ""]))
        .unwrap();
    let out = c.sample();
    let want = "[DEFAULT]

# Number of workers. (integer value)
# Minimum value: 0
#workers = <None>

# Debug. (boolean value)
# Note: This option can be changed without restarting.
#debug = false

# Log file. (string value)
# Deprecated group/name - [DEFAULT]/logfile
#log_file = <None>

[paste_deploy]
# Paste options.

# (string value)
# Possible values:
# keystone - <No description provided>
# '' - <No description provided>
#flavor = <None>
";
    assert_eq!(out, want);
}

#[test]
fn opt_values_masks_secrets() {
    let mut c = ConfigOpts::new("p", "p", "").without_env();
    c.register("DEFAULT", Opt::str("password").secret().default("hunter2"))
        .unwrap();
    c.register("DEFAULT", Opt::int("n").default("1")).unwrap();
    let v = c.opt_values();
    assert_eq!(v[0], ("DEFAULT".into(), "password".into(), "****".into()));
    assert_eq!(v[1].2, "1");
    assert_eq!(c.get("DEFAULT", "n").unwrap(), Value::Int(1));
}

#[test]
fn stock_glance_api_conf_loads() {
    let path = Path::new("/tmp/g33/glance-33.0.0.data/data/etc/glance/glance-api.conf");
    if !path.exists() {
        eprintln!(
            "!!! SKIPPED: stock Glance 33 glance-api.conf not found at {} !!!",
            path.display()
        );
        return;
    }
    let t = Tmp::new();
    let mut c = glance_like(&t, &[]);
    c.register(
        "DEFAULT",
        Opt::str("log-file").deprecated(None, Some("logfile")).cli(),
    )
    .unwrap();
    c.register("paste_deploy", Opt::str("flavor")).unwrap();
    c.parse_args(&args(&["--config-file", &path.to_string_lossy()]))
        .unwrap();
    c.validate_all().unwrap();
    assert_eq!(c.get_int("DEFAULT", "bind_port").unwrap(), Some(9292));
    let text = std::fs::read_to_string(path).unwrap();
    let parsed = crate::parse_ini_str("glance-api.conf", &text).unwrap();
    assert!(parsed.sections.len() > 20);
}

#[test]
fn config_opts_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ConfigOpts>();
    check::<ConfigError>();
}

#[test]
fn deprecated_group_cli_alias_and_unknown_template_group() {
    let t = Tmp::new();
    let f = t.write("f.conf", "[DEFAULT]\nt = ${nog.x}\n");
    let mut c = t.conf();
    c.register(
        "paste",
        Opt::str("flavor").deprecated(Some("oldpaste"), None).cli(),
    )
    .unwrap();
    c.register(
        "DEFAULT",
        Opt::bool("verbose").deprecated(None, Some("chatty")).cli(),
    )
    .unwrap();
    c.register("DEFAULT", Opt::str("t")).unwrap();
    c.parse_args(&args(&[
        "--oldpaste-flavor",
        "k",
        "--chatty",
        "--nochatty",
        "--config-file",
        &f,
    ]))
    .unwrap();
    assert_eq!(c.get_str("paste", "flavor").unwrap(), s("k"));
    assert_eq!(c.get_bool("DEFAULT", "verbose").unwrap(), Some(false));
    assert_eq!(
        c.get("DEFAULT", "t").unwrap_err(),
        ConfigError::NoSuchGroup("nog".into())
    );
}
