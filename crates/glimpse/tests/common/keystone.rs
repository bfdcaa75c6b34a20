//! A real Keystone (PyPI `keystone` 30, fernet tokens, SQLite, served by
//! gunicorn on loopback; `conformance/keystone.py`) and Glimpse behind it
//! with Glance's stock `keystone` paste flavor and the secure-RBAC defaults.
//! Used by `keystone.rs` and `osc.rs` through
//! `#[path = "common/keystone.rs"] mod ks;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Server, TempDir, free_port, request, signal, start, stdout_of};

/// The Keystone venv (`.cache/keystone-venv` from scripts/test-env.sh, or
/// `$GLIMPSE_KEYSTONE_VENV`); None (and a loud message) when absent.
pub fn keystone_venv() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache");
    let venv = std::env::var_os("GLIMPSE_KEYSTONE_VENV")
        .map(PathBuf::from)
        .unwrap_or(root.join("keystone-venv"));
    if venv.join("bin/keystone-manage").exists() && venv.join("bin/gunicorn").exists() {
        return Some(venv);
    }
    eprintln!(
        "\n*** SKIPPING: no Keystone venv at {} (scripts/test-env.sh makes it; or set GLIMPSE_KEYSTONE_VENV). ***\n",
        venv.display()
    );
    None
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/keystone.py")
}

/// A Keystone on a free loopback port, its files in a scratch directory;
/// stopped (by PID) on drop.
pub struct Keystone {
    pub venv: PathBuf,
    pub dir: TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Keystone {
    /// Runs `keystone.py ARGS` in the venv; its stdout.
    pub fn py(&self, args: &[&str]) -> String {
        let out = stdout_of(
            Command::new(self.venv.join("bin/python"))
                .arg(script())
                .args(args),
            &format!("keystone.py {args:?}"),
        );
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Config, database, keys and bootstrap; tokens live `token_seconds`.
    pub fn setup(venv: PathBuf, token_seconds: u64) -> Keystone {
        let ks = Keystone {
            venv,
            dir: TempDir::new("keystone"),
            port: free_port(),
            child: None,
        };
        let (dir, port) = (ks.dir.path().display().to_string(), ks.port.to_string());
        ks.py(&[
            "setup",
            &dir,
            &port,
            "--expiration",
            &token_seconds.to_string(),
        ]);
        ks
    }

    pub fn start(&mut self) {
        let child = Command::new(self.venv.join("bin/python"))
            .arg(script())
            .args([
                "serve",
                &self.dir.path().display().to_string(),
                &self.port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            if request(self.port, "GET", "/v3", &[], b"").is_ok_and(|r| r.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Keystone did not answer on {}", self.port);
    }

    /// Stops gunicorn (its master, which takes its workers along).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id() as i32, "TERM");
            let end = Instant::now() + Duration::from_secs(30);
            while Instant::now() < end {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The identity endpoint, `http://127.0.0.1:PORT/v3`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v3", self.port)
    }

    /// The fixture projects and users (`keystone.py users`: admin, glance,
    /// alice = p1 member, bob = p1 reader, carol = p2 member, dave = p2
    /// service), with the image service at `image_url` in the catalog.
    pub fn users(&self, image_url: &str) -> Value {
        let out = self.py(&[
            "users",
            &self.dir.path().display().to_string(),
            &self.port.to_string(),
            "--image-url",
            image_url,
        ]);
        serde_json::from_str(&out).unwrap()
    }

    /// A project-scoped token for a fixture user.
    pub fn token(&self, user: &Value) -> String {
        let body = serde_json::json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user["name"], "domain": {"id": "default"}, "password": user["password"]}}},
            "scope": {"project": {"name": user["project"], "domain": {"id": "default"}}}}});
        let r = request(
            self.port,
            "POST",
            "/v3/auth/tokens",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        r.header("x-subject-token").unwrap().to_string()
    }

    pub fn revoke(&self, admin: &str, token: &str) {
        let r = request(
            self.port,
            "DELETE",
            "/v3/auth/tokens",
            &[("X-Auth-Token", admin), ("X-Subject-Token", token)],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 204, "{}", r.text());
    }
}

impl Drop for Keystone {
    fn drop(&mut self) {
        self.stop();
    }
}

/// glance-api.conf for Glimpse on `port` behind `ks` (the `keystone`
/// flavor, secure-RBAC defaults), with its database and images in `data`.
pub fn glimpse_conf(port: u16, ks: &Keystone, data: &Path) -> String {
    format!(
        "[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\nworkers = 2\n\
         [paste_deploy]\nflavor = keystone\n\
         [keystone_authtoken]\nwww_authenticate_uri = {url}\nauth_url = http://127.0.0.1:{kp}\n\
         auth_type = password\nusername = glance\npassword = glance-pass\nproject_name = service\n\
         user_domain_name = Default\nproject_domain_name = Default\nhttp_request_max_retries = 2\n\
         [oslo_policy]\nenforce_new_defaults = true\n\
         [database]\nconnection = sqlite:///{d}/glance.sqlite\n\
         [glance_store]\nfilesystem_store_datadir = {d}/images\n",
        url = ks.url(),
        kp = ks.port,
        d = data.display()
    )
}

/// Keystone running with the fixture users and Glimpse (the image service
/// in its catalog at `http://127.0.0.1:PORT`) running behind it. Fields
/// drop in order: Glimpse, its data, then Keystone.
pub struct Stack {
    pub srv: Server,
    pub data: TempDir,
    pub ks: Keystone,
    pub users: Value,
    /// Glimpse's port.
    pub port: u16,
}

/// Starts a [`Stack`] whose tokens live `token_seconds`; None (after a loud
/// message) when the Keystone venv is missing.
pub fn stack(token_seconds: u64) -> Option<Stack> {
    let venv = keystone_venv()?;
    let mut ks = Keystone::setup(venv, token_seconds);
    ks.start();
    let port = free_port();
    let users = ks.users(&format!("http://127.0.0.1:{port}"));
    let data = TempDir::new("ks-data");
    let srv = start(&glimpse_conf(port, &ks, data.path()));
    Some(Stack {
        srv,
        data,
        ks,
        users,
        port,
    })
}
