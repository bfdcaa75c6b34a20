//! Start-up errors and configuration loading, black-box.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::*;

fn run_api(dir: &TempDir, conf: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let cfg = dir.write("glance-api.conf", conf);
    if !dir.path().join("glance-api-paste.ini").exists() && !conf.contains("[paste_deploy]") {
        dir.write("glance-api-paste.ini", PASTE);
    }
    let cfg = cfg.to_string_lossy().into_owned();
    let mut args = vec!["api", "--config-file", cfg.as_str()];
    args.extend_from_slice(extra);
    run(&args, dir.path())
}

#[test]
fn bad_option_values_exit_5_naming_option_file_and_reason() {
    let cases = [
        (
            "workers = abc",
            "workers",
            "invalid literal for int() with base 10: 'abc'",
        ),
        (
            "workers = -1",
            "workers",
            "Should be greater than or equal to 0",
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
            "tcp_keepidle = 0",
            "tcp_keepidle",
            "Should be greater than or equal to 1",
        ),
        (
            "bind_host = not_an_ip!",
            "bind_host",
            "not_an_ip! is not a valid host address",
        ),
        (
            "http_keepalive = maybe",
            "http_keepalive",
            "Unexpected boolean value 'maybe'",
        ),
    ];
    for (line, opt, reason) in cases {
        let dir = TempDir::new("bad");
        let (code, _, err) = run_api(
            &dir,
            &format!("[DEFAULT]\nbind_port = {}\n{line}\n", free_port()),
            &[],
        );
        assert_eq!(code, Some(5), "{line}: {err}");
        assert!(
            err.contains(&format!("Value for option {opt} from LocationInfo")),
            "{line}: {err}"
        );
        assert!(err.contains("glance-api.conf"), "{line}: {err}");
        assert!(err.contains(reason), "{line}: {err}");
        assert!(err.starts_with("ERROR: "), "{err}");
    }
}

#[test]
fn cli_option_with_bad_value_in_file_exits_1() {
    let dir = TempDir::new("dbg");
    let (code, _, err) = run_api(&dir, "[DEFAULT]\ndebug = maybe\n", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("argument --debug: Invalid Boolean value: maybe"),
        "{err}"
    );
}

#[test]
fn unknown_cli_flag_exits_2() {
    let dir = TempDir::new("flag");
    let (code, _, err) = run(&["api", "--bogus"], dir.path());
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: unrecognized arguments: --bogus"),
        "{err}"
    );
}

#[test]
fn missing_config_file_exits_99() {
    let dir = TempDir::new("nofile");
    let (code, _, err) = run(&["api", "--config-file", "/nonexistent/x.conf"], dir.path());
    assert_eq!(code, Some(99), "{err}");
    assert!(
        err.contains("Failed to find some config files: /nonexistent/x.conf"),
        "{err}"
    );
}

#[test]
fn missing_paste_file_exits_1() {
    let dir = TempDir::new("nopaste");
    let cfg = dir.write("glance-api.conf", "[DEFAULT]\n");
    let (code, _, err) = run(&["api", "--config-file", cfg.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Unable to locate paste config file for glance-api."),
        "{err}"
    );
}

#[test]
fn unknown_flavor_and_unknown_factory_exit_1() {
    let dir = TempDir::new("flavor");
    let (code, _, err) = run_api(&dir, "[paste_deploy]\nflavor = bogus\n", &[]);
    // run_api skips the paste file when [paste_deploy] is present: write it.
    let _ = (code, err);
    dir.write("glance-api-paste.ini", PASTE);
    let (code, _, err) = run_api(&dir, "[paste_deploy]\nflavor = bogus\n", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Unable to load glance-api-bogus from configuration file"),
        "{err}"
    );

    let dir = TempDir::new("factory");
    dir.write(
        "glance-api-paste.ini",
        &PASTE.replace(
            "glance.api.versions:create_resource",
            "glance.api.nosuch:factory",
        ),
    );
    let (code, _, err) = run_api(&dir, "[DEFAULT]\n", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("apiversions") && err.contains("glance.api.nosuch:factory"),
        "{err}"
    );
}

#[test]
fn port_in_use_exits_1_after_retrying() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let dir = TempDir::new("inuse");
    let t = std::time::Instant::now();
    let (code, _, err) = run_api(
        &dir,
        &format!("[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\nbind_retry_timeout = 2\n"),
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "Could not bind to 127.0.0.1:{port} after trying for 2 seconds"
        )),
        "{err}"
    );
    assert!(t.elapsed() >= Duration::from_secs(2));
}

#[test]
fn version_and_help() {
    let dir = TempDir::new("ver");
    let (code, out, _) = run(&["api", "--version"], dir.path());
    assert_eq!(code, Some(0));
    assert_eq!(out.trim(), env!("CARGO_PKG_VERSION"));
    let (code, out, _) = run(&["api", "--help"], dir.path());
    assert_eq!(code, Some(0));
    assert!(
        out.contains("--config-file") && out.contains("--config-dir"),
        "{out}"
    );
}

#[test]
fn stock_glance_33_files_load() {
    let Some(etc) = glance_etc() else { return };
    let dir = TempDir::new("stock");
    std::fs::copy(
        etc.join("glance-api-paste.ini"),
        dir.path().join("glance-api-paste.ini"),
    )
    .unwrap();
    let conf = std::fs::read_to_string(etc.join("glance-api.conf")).unwrap();
    // The stock file sets nothing (every option is commented out); add only
    // where to listen.
    let port = free_port();
    let conf = conf.replacen(
        "[DEFAULT]\n",
        &format!("[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\nworkers = 1\n"),
        1,
    );
    let srv = start_in(dir, &conf, &[], true);
    assert_eq!(srv.get("/versions").status, 200);
    assert_eq!(srv.get("/healthcheck").status, 200);
    assert_eq!(srv.get("/").status, 300);
}

#[test]
fn embedded_defaults_without_any_config_file() {
    let dir = TempDir::new("embedded");
    let port = free_port();
    let child = std::process::Command::new(bin())
        .arg("api")
        .env("HOME", dir.path())
        .env("OS_DEFAULT__BIND_PORT", port.to_string())
        .env("OS_DEFAULT__WORKERS", "1")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ok = wait_until(Duration::from_secs(20), || {
        request(port, "GET", "/versions", &[], b"").is_ok_and(|r| r.status == 200)
    });
    let pid = child.id() as i32;
    let workers = children_of(pid);
    signal(pid, "TERM");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    for w in workers {
        signal(w, "KILL");
    }
    assert!(ok, "embedded server did not answer: {err}");
    assert!(err.contains("authentication is OFF"), "{err}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn configuration_reference_matches_the_binary() {
    let dir = TempDir::new("sample");
    let (code, out, err) = run(&["sample-config"], dir.path());
    assert_eq!(code, Some(0), "{err}");
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    assert!(
        doc.contains(&format!("```ini\n{out}```")),
        "docs/configuration.md is stale: regenerate it with `glimpse sample-config`"
    );
}

#[test]
fn unknown_hashing_algorithm_is_refused_at_start_up() {
    let dir = TempDir::new("hash");
    let (code, _, err) = run_api(
        &dir,
        &format!(
            "[DEFAULT]\nbind_port = {}\nhashing_algorithm = sha123\n",
            free_port()
        ),
        &[],
    );
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("Unknown hashing algorithm identifier: sha123"),
        "{err}"
    );
}

#[test]
fn policy_sample_lists_every_default_rule() {
    let dir = TempDir::new("policy");
    let (code, out, err) = run(&["policy", "sample"], dir.path());
    assert_eq!(code, Some(0), "{err}");
    for rule in [
        "context_is_admin",
        "add_image",
        "get_images",
        "publicize_image",
        "modify_member",
        "stores_info_detail",
    ] {
        assert!(out.contains(&format!("#\"{rule}\": ")), "{rule} missing");
    }
    let (code, _, _) = run(&["policy", "nonsense"], dir.path());
    assert_eq!(code, Some(2));
}
