//! Finding the Python venv with oslo.policy 6.0.1 and Glance 33.

use std::path::PathBuf;
use std::process::Command;

/// The venv's python, or `None` (after a loud SKIPPED line) when no venv
/// with oslo.policy and Glance is available.
pub fn oracle_python(test: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut venvs: Vec<PathBuf> = Vec::new();
    if let Some(v) = std::env::var_os("GLIMPSE_GLANCE_VENV") {
        venvs.push(v.into());
    }
    venvs.push(root.join(".cache/venv"));
    venvs.push(root.join(".cache/bench-venv"));
    for venv in venvs {
        let python = venv.join("bin/python");
        if !python.exists() {
            continue;
        }
        let ok = Command::new(&python)
            .args(["-c", "import oslo_policy, glance.policies"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    loud(&format!(
        "\n*** SKIPPED: {test}: no Python venv with oslo.policy and Glance 33 \
         (set GLIMPSE_GLANCE_VENV, or run scripts/test.sh to build .cache/venv) ***\n"
    ));
    None
}

/// Writes past the test harness's output capture, so the line shows in a
/// plain `cargo test` run.
pub fn loud(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
