//! Property protection files checked against Python itself, the language
//! Glance reads them with: thousands of generated section patterns and
//! property names go through `re.compile(p).search(name)` and through
//! [`Pattern`], and generated files through `configparser` (with Glance's
//! `os_glance` rewrite) and [`ini`]; the answers must agree.
//!
//! Needs Python 3.11 (Glance 33's): `GLIMPSE_PYTHON`, else the test venv's
//! (scripts/test-env.sh), else `python3` on PATH; skips loudly without one. Cases are generated from a fixed seed, so a failure
//! reproduces; `GLIMPSE_PP_SEED` picks another seed.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use glimpse_domain::protections::{Pattern, PatternError, ini};
use serde_json::{Value, json};

fn python() -> Option<String> {
    // Glance's own interpreter (scripts/test-env.sh's venv) when present.
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.cache/venv/bin/python");
    let exe = std::env::var("GLIMPSE_PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new(venv).exists() {
            venv.to_string()
        } else {
            "python3".to_string()
        }
    });
    let ok = Command::new(&exe)
        .args(["-c", "import sys; assert sys.version_info >= (3, 11)"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(exe)
    } else {
        eprintln!(
            "\n*** SKIPPING: no python3 >= 3.11 (GLIMPSE_PYTHON, .cache/venv or PATH) to compare property protection parsing with ***\n"
        );
        None
    }
}

/// Run `script` with `input` as JSON on stdin; its JSON answer.
fn run_python(exe: &str, script: &str, input: &Value) -> Value {
    let mut child = Command::new(exe)
        .args(["-W", "ignore", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// xorshift64*: small, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

fn seed() -> u64 {
    std::env::var("GLIMPSE_PP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0042)
}

const ATOMS: &[&str] = &[
    "a", "b", "c", "_", "0", "1", "-", ".", "é", "٣", " ", "x_", "os_", r"\d", r"\D", r"\s", r"\S",
    r"\w", r"\W", r"\b", r"\B", r"\A", r"\Z", r"\.", r"\-", r"\x41", r"\u00e9", r"\0", r"\12",
    r"\101", r"\q", r"\1", r"\\", "[abc]", "[^a]", "[a-c]", "[]a]", r"[\d_]", "[a-]", r"[\s]",
    r"[^\W]", "[c-a]", "[", "]", "[[]", r"[\b]", "[^]", "{", "}", "^", "$", "|", "(", ")", "(?:",
    "(?P<n>", "(?i:", "(?-i:", "(?#c)", "(?=", "(?x)", "(?i)", "(?s)", "(?m)", "(?a)", "(?u)",
    "(?L)", "(?<", "\\",
];
const QUANTS: &[&str] = &[
    "*", "+", "?", "{2}", "{1,3}", "{,2}", "{2,}", "*?", "+?", "{x}", "{}", "{3,1}", "*+", "**",
];

fn gen_pattern(r: &mut Rng) -> String {
    let mut p = String::new();
    let parts = 1 + r.below(6);
    let mut open = 0;
    for _ in 0..parts {
        let a = r.pick(ATOMS);
        if a.starts_with('(') && !a.ends_with(')') {
            open += 1;
        }
        p.push_str(a);
        if r.below(3) == 0 {
            p.push_str(r.pick(QUANTS));
        }
    }
    // Mostly balanced, sometimes not.
    for _ in 0..open {
        if r.below(5) != 0 {
            p.push(')');
        }
    }
    p
}

const NAME_CHARS: &[&str] = &[
    "a", "b", "c", "_", "0", "1", "-", ".", "é", "٣", " ", "\u{2003}", "A", "x", "o", "s", "{", "}",
];

fn gen_name(r: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..r.below(7) {
        s.push_str(r.pick(NAME_CHARS));
    }
    if r.below(8) == 0 {
        s.push('\n');
    }
    s
}

/// Where Glimpse deliberately differs (see `pattern`'s docs): word
/// characters, word boundaries and case folding are ASCII only.
fn ascii_only_semantics(p: &str) -> bool {
    ["\\w", "\\W", "\\b", "\\B", "(?i", "i:"]
        .iter()
        .any(|x| p.contains(x))
}

const PATTERN_SCRIPT: &str = r#"
import json, re, sys
out = []
for p, names in json.load(sys.stdin):
    try:
        c = re.compile(p)
    except Exception as e:
        out.append({"error": str(e)})
        continue
    out.append({"matches": [c.search(n) is not None for n in names]})
print(json.dumps(out))
"#;

#[test]
fn patterns_match_like_python() {
    let Some(py) = python() else { return };
    let mut r = Rng(seed());
    let mut cases = Vec::new();
    for _ in 0..4000 {
        let p = gen_pattern(&mut r);
        let names: Vec<String> = (0..8).map(|_| gen_name(&mut r)).collect();
        cases.push((p, names));
    }
    // Hand-picked cases next to the generated ones.
    for p in [
        "^x_owner_.*",
        "x_foo_*",
        ".*",
        "os_glance.*",
        "^spl_.*$",
        "a{,}",
        "(?x) a b",
    ] {
        cases.push((
            p.to_string(),
            vec!["x_owner_1".into(), "x_foo".into(), "".into(), "ab".into()],
        ));
    }
    let answers = run_python(&py, PATTERN_SCRIPT, &json!(cases));
    let mut failures = Vec::new();
    let (mut compared, mut unsupported) = (0, 0);
    for ((p, names), want) in cases.iter().zip(answers.as_array().unwrap()) {
        let ours = Pattern::new(p);
        match (&ours, want.get("error")) {
            (Err(PatternError::Unsupported(_)), _) => unsupported += 1,
            (Err(_), Some(_)) => {}
            (Err(e), None) => failures.push(format!("{p:?}: Python accepts it, Glimpse says {e}")),
            (Ok(_), Some(e)) => failures.push(format!(
                "{p:?}: Python refuses it ({e}), Glimpse accepts it"
            )),
            (Ok(pat), None) => {
                let ascii = ascii_only_semantics(p);
                for (n, m) in names.iter().zip(want["matches"].as_array().unwrap()) {
                    if ascii && !n.is_ascii() {
                        continue;
                    }
                    compared += 1;
                    if pat.search(n) != m.as_bool().unwrap() {
                        failures.push(format!(
                            "{p:?} on {n:?}: Python {m}, Glimpse {}",
                            !m.as_bool().unwrap()
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "{} patterns, {compared} searches compared, {unsupported} unsupported",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

const LINES: &[&str] = &[
    "[x]",
    "[.*]",
    "[^x_.*]",
    "[DEFAULT]",
    "[a]b]",
    "[]",
    "[ s ]",
    "[os_glance_x]",
    "create = admin",
    "Read: member, admin",
    "update=",
    "delete = @",
    "create = !",
    "  continued",
    "\tmore",
    "",
    "# comment",
    "; comment",
    "  # indented comment",
    "novalue",
    "= v",
    "read = %(create)s",
    "update = 5%",
    "update = 100%%",
    "delete = %(nope)s",
    "READ = dup",
    "x = %(x)s",
    "create : a:b=c",
    "[x]",
    "   [y]",
];

const INI_SCRIPT: &str = r#"
import configparser, io, json, sys
OPS = ["create", "read", "update", "delete"]
out = []
for text in json.load(sys.stdin):
    try:
        c = configparser.ConfigParser()
        c.read_file(io.StringIO(text, newline=None))
        # Glance's _inject_os_glance_section, minus the injected section.
        for s in c.sections():
            if s.startswith("os_glance"):
                c.remove_section(s)
        buf = io.StringIO()
        c.write(buf)
        c = configparser.ConfigParser()
        c.read_string(buf.getvalue())
    except Exception as e:
        out.append({"error": type(e).__name__})
        continue
    secs = []
    for s in c.sections():
        vals = []
        for op in OPS:
            try:
                vals.append(c.get(s, op))
            except configparser.NoOptionError:
                vals.append(None)
            except Exception as e:
                vals.append({"error": type(e).__name__})
        secs.append([s, vals])
    out.append({"sections": secs})
print(json.dumps(out))
"#;

#[test]
fn ini_files_read_like_configparser() {
    let Some(py) = python() else { return };
    let mut r = Rng(seed() ^ 0xa5a5);
    let mut texts = Vec::new();
    for _ in 0..3000 {
        let mut t = String::new();
        if r.below(4) != 0 {
            t.push_str("[s]\n");
        }
        for _ in 0..r.below(9) {
            t.push_str(r.pick(LINES));
            t.push_str(r.pick(&["\n", "\n", "\n", "\r\n", "\r"]));
        }
        texts.push(t);
    }
    let answers = run_python(&py, INI_SCRIPT, &json!(texts));
    let mut failures = Vec::new();
    for (text, want) in texts.iter().zip(answers.as_array().unwrap()) {
        let ours = ini::parse(text);
        let got = match &ours {
            Err(_) => json!({"error": true}),
            Ok(parsed) => {
                let secs: Vec<Value> = parsed
                    .section_names()
                    .filter(|s| !s.starts_with("os_glance"))
                    .map(|s| {
                        let vals: Vec<Value> = ["create", "read", "update", "delete"]
                            .iter()
                            .map(|op| match parsed.get(s, op) {
                                Ok(Some(v)) => json!(v),
                                Ok(None) => Value::Null,
                                Err(_) => json!({"error": true}),
                            })
                            .collect();
                        json!([s, vals])
                    })
                    .collect();
                json!({ "sections": secs })
            }
        };
        // Error kinds are not compared, only that there is one.
        let norm = |v: &Value| -> Value {
            let s = v.to_string();
            let re = regex_lite::Regex::new(r#"\{"error":("[A-Za-z]+"|true)\}"#).unwrap();
            serde_json::from_str(&re.replace_all(&s, r#"{"error":true}"#)).unwrap()
        };
        if norm(want) != norm(&got) {
            failures.push(format!("{text:?}\n  python:  {want}\n  glimpse: {got}"));
        }
    }
    let refused = answers
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.get("error").is_some())
        .count();
    eprintln!(
        "{} files compared ({refused} refused by Python)",
        texts.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}
