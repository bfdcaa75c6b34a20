//! Paste loader tests. Expected error texts were produced by PasteDeploy
//! 3.1.0 / Python 3.11 on the same inputs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use glimpse_http::ext::ScriptName;
use glimpse_http::{Body, Request, Response, SharedHandler, handler_fn};
use http::{HeaderValue, StatusCode};

use super::ini::IniFile;
use super::*;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory of paste files, removed when dropped; derefs to
/// `path` (the directory, or the one ini file in it).
struct Scratch {
    dir: PathBuf,
    path: PathBuf,
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh temp dir holding `files`.
fn temp_dir_with(files: &[(&str, &str)]) -> Scratch {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("glimpse-paste-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
    Scratch {
        path: dir.clone(),
        dir,
    }
}

fn write_ini(text: &str) -> Scratch {
    let mut s = temp_dir_with(&[("test-paste.ini", text)]);
    s.path = s.dir.join("test-paste.ini");
    s
}

/// An app answering 200 with headers describing what it saw.
fn echo_app(name: &'static str) -> SharedHandler {
    handler_fn(move |req: Request| async move {
        let script = req
            .extensions()
            .get::<ScriptName>()
            .map(|s| s.0.clone())
            .unwrap_or_default();
        let mut resp = Response::new(Body::from(name));
        let h = resp.headers_mut();
        h.insert("x-app", HeaderValue::from_static(name));
        h.insert("x-script-name", HeaderValue::from_str(&script).expect("hv"));
        h.insert(
            "x-path",
            HeaderValue::from_str(req.uri().path()).expect("hv"),
        );
        h.insert(
            "x-query",
            HeaderValue::from_str(req.uri().query().unwrap_or("")).expect("hv"),
        );
        resp
    })
}

/// A filter that appends its name to `x-trace` on the way out, so the
/// header lists filters innermost first.
fn trace_filter(name: String) -> Filter {
    Arc::new(move |next: SharedHandler| {
        let name = name.clone();
        handler_fn(move |req: Request| {
            let next = next.clone();
            let name = name.clone();
            async move {
                let mut resp = next.call(req).await;
                resp.headers_mut()
                    .append("x-trace", HeaderValue::from_str(&name).expect("hv"));
                resp
            }
        })
    })
}

/// A registry with stand-ins: `test:app` answers with its `name` local
/// conf (or "app"), `test:filter` traces its `name` (or the section name).
fn test_registry() -> FactoryRegistry {
    let mut r = FactoryRegistry::new();
    r.register_app("test:app", |_ctx, local| {
        let name: &'static str = Box::leak(
            local
                .get("name")
                .unwrap_or("app")
                .to_string()
                .into_boxed_str(),
        );
        Ok(echo_app(name))
    });
    r.register_filter("test:filter", |ctx, local| {
        let name = local
            .get("name")
            .map(str::to_string)
            .unwrap_or_else(|| ctx.section.clone());
        Ok(trace_filter(name))
    });
    r
}

fn state() -> Arc<dyn std::any::Any + Send + Sync> {
    Arc::new(())
}

async fn get(app: &SharedHandler, uri: &str) -> Response {
    let req = http::Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    app.call(req).await
}

fn header(resp: &Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn trace(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all("x-trace")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(String::from)
        .collect()
}

fn load_err(text: &str, name: &str) -> (PasteError, Scratch) {
    let path = write_ini(text);
    match loader::loadapp(&path, name, &test_registry(), state(), None) {
        Ok(_) => panic!("expected an error loading {name}"),
        Err(e) => (e, path),
    }
}

// ---------------------------------------------------------------- ini

#[test]
fn ini_matches_configparser() {
    let text = "[DEFAULT]\nhere2 = %(here)s/x\n\n[app:y]\nKey: first\n   second\n\n   third\n# c\n   \
                fourth\n\nother = a%%b %(here2)s\n  ; not comment? \nempty =\nsp = \t v \t \n";
    let mut ini = IniFile::parse(text, "/tmp/pt/multi2.ini").expect("parse");
    ini.prepend_defaults(&[("here", "/tmp/pt"), ("__file__", "/tmp/pt/multi2.ini")]);
    let got: Vec<(String, String)> = ini
        .options("app:y")
        .into_iter()
        .map(|o| {
            let v = ini.get("app:y", &o).expect("get").expect("present");
            (o, v)
        })
        .collect();
    let want = [
        ("Key", "first\nsecond\n\nthird\nfourth"),
        ("other", "a%b /tmp/pt/x"),
        ("empty", ""),
        ("sp", "v"),
        ("here", "/tmp/pt"),
        ("__file__", "/tmp/pt/multi2.ini"),
        ("here2", "/tmp/pt/x"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn ini_crlf_and_cr_line_endings() {
    let ini = IniFile::parse("[a]\r\nk = v\r\n  w\rx = 1", "f").expect("parse");
    assert_eq!(ini.get("a", "k").expect("get").as_deref(), Some("v\nw"));
    assert_eq!(ini.get("a", "x").expect("get").as_deref(), Some("1"));
}

#[test]
fn ini_section_header_takes_last_bracket() {
    let ini = IniFile::parse("[a]b] trailing\nk=v\n", "f").expect("parse");
    assert_eq!(ini.sections().collect::<Vec<_>>(), vec!["a]b"]);
}

#[test]
fn ini_error_texts() {
    let cases = [
        (
            "k = v\n[app:x]\n",
            "File contains no section headers.\nfile: '/f.ini', line: 1\n'k = v\\n'",
        ),
        (
            "[app:x]\nk = v\nbad line\n= x\n",
            "Source contains parsing errors: '/f.ini'\n\t[line  3]: 'bad line\\n'\n\t[line  4]: '= x\\n'",
        ),
        (
            "[app:x]\nk = v\n[app:x]\n",
            "While reading from '/f.ini' [line  3]: section 'app:x' already exists",
        ),
        (
            "[app:x]\nk = v\nk = w\n",
            "While reading from '/f.ini' [line  3]: option 'k' in section 'app:x' already exists",
        ),
    ];
    for (text, want) in cases {
        let err = IniFile::parse(text, "/f.ini").expect_err(text);
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn ini_interpolation_errors() {
    let cases = [
        (
            "[app:x]\nk = %(nope)s\n",
            "Error in file /f.ini: Bad value substitution: option 'k' in section 'app:x' contains an \
             interpolation key 'nope' which is not a valid option name. Raw value: '%(nope)s'",
        ),
        (
            "[app:x]\nk = 50%\n",
            "Error in file /f.ini: '%' must be followed by '%' or '(', found: '%'",
        ),
        (
            "[app:x]\nk = %(a)s\na = %(k)s\n",
            "Error in file /f.ini: Recursion limit exceeded in value substitution: option 'k' in section \
             'app:x' contains an interpolation key which cannot be substituted in 10 steps. Raw value: '%(a)s'",
        ),
        (
            "[app:x]\nk = %(x\n",
            "Error in file /f.ini: bad interpolation variable reference '%(x'",
        ),
    ];
    for (text, want) in cases {
        let ini = IniFile::parse(text, "/f.ini").expect("parse");
        assert_eq!(ini.get("app:x", "k").expect_err(text).to_string(), want);
    }
}

#[test]
fn py_repr_quotes_like_python() {
    assert_eq!(py_repr("a"), "'a'");
    assert_eq!(py_repr("it's"), "\"it's\"");
    assert_eq!(py_repr("it's \"q\""), "'it\\'s \"q\"'");
    assert_eq!(py_repr("a\nb\\"), "'a\\nb\\\\'");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ini_reader_never_panics(text in "(\\PC|[\\[\\]=:%()#; \t\r\n]){0,400}") {
            if let Ok(ini) = IniFile::parse(&text, "f") {
                let sections: Vec<String> = ini.sections().map(String::from).collect();
                for s in sections.iter().map(String::as_str).chain(["DEFAULT"]) {
                    for o in ini.options(s) {
                        let _ = ini.get(s, &o);
                    }
                }
                let _ = ini.interpolated_defaults();
            }
        }

        #[test]
        fn ini_reader_never_panics_on_ini_like_lines(
            lines in proptest::collection::vec(
                prop_oneof![
                    "\\[[a-z:%()-]{0,8}\\]",
                    "[ \t]{0,3}[a-z%()]{0,6}[ \t]?[=:][ \t]?[a-z%()s]{0,10}",
                    "[ \t]{1,4}[a-z%()s]{0,8}",
                    "[#;].{0,5}",
                    "",
                ],
                0..30,
            )
        ) {
            let text = lines.join("\n");
            if let Ok(ini) = IniFile::parse(&text, "f") {
                let sections: Vec<String> = ini.sections().map(String::from).collect();
                for s in &sections {
                    for o in ini.options(s) {
                        let _ = ini.get(s, &o);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- loading

#[tokio::test]
async fn pipeline_first_filter_is_outermost() {
    let path = write_ini(
        "[pipeline:main]\npipeline = f1 f2 f3 myapp\n\
         [filter:f1]\npaste.filter_factory = test:filter\n\
         [filter:f2]\npaste.filter_factory = test:filter\n\
         [filter:f3]\npaste.filter_factory = test:filter\n\
         [app:myapp]\npaste.app_factory = test:app\nname = the-app\n",
    );
    let app = loader::loadapp(&path, "main", &test_registry(), state(), None).expect("load");
    let resp = get(&app, "/x").await;
    assert_eq!(header(&resp, "x-app"), "the-app");
    assert_eq!(trace(&resp), vec!["filter:f3", "filter:f2", "filter:f1"]);
}

#[tokio::test]
async fn urlmap_dispatch_moves_prefix_to_script_name() {
    let path = write_ini(
        "[composite:main]\nuse = egg:Paste#urlmap\n/: root\n/v2/: v2\n/v2/images: images\n\
         domain example.com /v2: v2dom\n\
         [app:root]\npaste.app_factory = test:app\nname = root\n\
         [app:v2]\npaste.app_factory = test:app\nname = v2\n\
         [app:v2dom]\npaste.app_factory = test:app\nname = v2dom\n\
         [app:images]\npaste.app_factory = test:app\nname = images\n",
    );
    let app = loader::loadapp(&path, "main", &test_registry(), state(), None).expect("load");
    let cases = [
        ("/v2/images/abc?x=1", "images", "/v2/images", "/abc", "x=1"),
        ("/v2/imagesX", "v2", "/v2", "/imagesX", ""),
        ("/v2", "v2", "/v2", "/", ""),
        ("/v2/", "v2", "/v2", "/", ""),
        ("//v2//images?q", "images", "/v2/images", "/", "q"),
        ("/v22", "root", "", "/v22", ""),
        ("/", "root", "", "/", ""),
        ("/healthcheck", "root", "", "/healthcheck", ""),
    ];
    for (uri, want_app, want_script, want_path, want_query) in cases {
        let resp = get(&app, uri).await;
        assert_eq!(header(&resp, "x-app"), want_app, "{uri}");
        assert_eq!(header(&resp, "x-script-name"), want_script, "{uri}");
        assert_eq!(header(&resp, "x-path"), want_path, "{uri}");
        assert_eq!(header(&resp, "x-query"), want_query, "{uri}");
    }
    // The host-specific entry wins for its host.
    let req = http::Request::builder()
        .uri("/v2/x")
        .header("host", "Example.com:80")
        .body(Body::empty())
        .expect("req");
    assert_eq!(header(&app.call(req).await, "x-app"), "v2dom");
    // An existing SCRIPT_NAME is appended to.
    let mut req = http::Request::builder()
        .uri("/v2/images/1")
        .body(Body::empty())
        .expect("req");
    req.extensions_mut().insert(ScriptName("/prefix".into()));
    assert_eq!(
        header(&app.call(req).await, "x-script-name"),
        "/prefix/v2/images"
    );
}

#[tokio::test]
async fn urlmap_without_match_is_404() {
    let path = write_ini(
        "[composite:main]\npaste.composite_factory = paste.urlmap:urlmap_factory\n/v2: v2\n\
         [app:v2]\npaste.app_factory = test:app\n",
    );
    let app = loader::loadapp(&path, "main", &test_registry(), state(), None).expect("load");
    let resp = get(&app, "/v3/x").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = get(&app, "/v2/x").await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn urlmap_not_found_app() {
    let path = write_ini(
        "[composite:main]\nuse = egg:Paste#urlmap\nnot_found_app = nf\n/v2: v2\n\
         [app:v2]\npaste.app_factory = test:app\n\
         [app:nf]\npaste.app_factory = test:app\nname = nf\n",
    );
    let app = loader::loadapp(&path, "main", &test_registry(), state(), None).expect("load");
    assert_eq!(header(&get(&app, "/zzz").await, "x-app"), "nf");
}

#[test]
fn urlmap_path_expressions() {
    use super::urlmap::parse_path_expression as p;
    assert_eq!(p("/v2").as_deref(), Ok("/v2"));
    assert_eq!(
        p("domain h.com port 81 /x").as_deref(),
        Ok("http://h.com:81//x")
    );
    assert_eq!(p("domain h.com").as_deref(), Ok("http://h.com"));
    assert_eq!(
        p("port 81 /x"),
        Err("If you give a port, you must also give a domain".to_string())
    );
    assert_eq!(
        p("/a /b"),
        Err("more than one path given (have '/a', got '/b')".to_string())
    );
    assert_eq!(
        p("domain"),
        Err("'domain' must be followed with a domain name".to_string())
    );
    let mut m = UrlMap::new();
    assert!(m.insert("v2", echo_app("x")).is_err());
    m.insert("/a//b///", echo_app("x")).expect("insert");
    m.insert("/", echo_app("x")).expect("insert");
    m.insert("http://h/x", echo_app("x")).expect("insert");
    assert_eq!(
        m.keys(),
        vec![
            (Some("h".to_string()), "/x".to_string()),
            (None, "/a/b".to_string()),
            (None, String::new())
        ]
    );
}

#[tokio::test]
async fn set_get_and_default_keys() {
    let reg = {
        let mut r = test_registry();
        r.register_app("test:conf", |ctx, local| {
            let dump = format!(
                "local={:?} global_x={:?} global_y={:?}",
                local.iter().collect::<Vec<_>>(),
                ctx.global_conf.get("x"),
                ctx.global_conf.get("y")
            );
            let dump: &'static str = Box::leak(dump.into_boxed_str());
            Ok(handler_fn(move |_req: Request| async move {
                Response::new(Body::from(dump))
            }))
        });
        r
    };
    let path = write_ini(
        "[DEFAULT]\nx = gx\ny = gy\n\
         [app:main]\npaste.app_factory = test:conf\nset x = sx\nget mine = y\nx = ignored\nkeep = %(x)s\n",
    );
    let app = loader::loadapp(&path, "main", &reg, state(), None).expect("load");
    let body = get(&app, "/")
        .await
        .into_body()
        .collect(1 << 16)
        .await
        .expect("body");
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"local=[("keep", "ignored"), ("mine", "gy")] global_x=Some("sx") global_y=Some("gy")"#
    );
}

#[tokio::test]
async fn use_section_egg_call_and_config() {
    let dir = temp_dir_with(&[
        (
            "main.ini",
            "[pipeline:main]\npipeline = f-use f-call other app-config\n\
             [filter:f-use]\nuse = base\nname = overridden\n\
             [filter:base]\npaste.filter_factory = test:filter\nname = base\n\
             [filter:f-call]\nuse = call:test:filter\n\
             [filter:other]\nuse = config:sub.ini#subf\n\
             [app:app-config]\nuse = config:sub.ini\n",
        ),
        (
            "sub.ini",
            "[app:main]\npaste.app_factory = test:app\nname = sub-app\n\
             [filter:subf]\npaste.filter_factory = test:filter\nname = sub-filter\n",
        ),
    ]);
    let app = loader::loadapp(
        &dir.join("main.ini"),
        "main",
        &test_registry(),
        state(),
        None,
    )
    .expect("load");
    let resp = get(&app, "/").await;
    assert_eq!(header(&resp, "x-app"), "sub-app");
    assert_eq!(
        trace(&resp),
        vec!["sub-filter", "filter:f-call", "overridden"]
    );
}

#[tokio::test]
async fn filter_with_and_filter_app() {
    let path = write_ini(
        "[app:main]\npaste.app_factory = test:app\nfilter-with = outer\n\
         [filter:outer]\npaste.filter_factory = test:filter\nfilter-with = outermost\n\
         [filter:outermost]\npaste.filter_factory = test:filter\n\
         [filter-app:fa]\npaste.filter_factory = test:filter\nname = fa\nnext = main\n",
    );
    let reg = test_registry();
    let app = loader::loadapp(&path, "main", &reg, state(), None).expect("load");
    assert_eq!(
        trace(&get(&app, "/").await),
        vec!["filter:outer", "filter:outermost"]
    );
    let app = loader::loadapp(&path, "fa", &reg, state(), None).expect("load");
    assert_eq!(
        trace(&get(&app, "/").await),
        vec!["filter:outer", "filter:outermost", "fa"]
    );
}

#[test]
fn loader_error_texts() {
    let (e, p) = load_err("[app:x]\npaste.app_factory = test:app\n", "bogus");
    assert_eq!(
        e.to_string(),
        format!(
            "No section 'bogus' (prefixed by 'app' or 'application' or 'composite' or 'composit' or \
             'pipeline' or 'filter-app') found in config {}",
            p.display()
        )
    );
    let (e, p) = load_err("[app:x]\nfoo = 1\n[pipeline:x]\npipeline = x\n", "x");
    assert_eq!(
        e.to_string(),
        format!(
            "Ambiguous section names ['app:x', 'pipeline:x'] for section 'x' (prefixed by 'app' or \
             'application' or 'composite' or 'composit' or 'pipeline' or 'filter-app') found in config {}",
            p.display()
        )
    );
    let (e, p) = load_err("[pipeline:main]\npipeline = a b\nfoo = bar\n", "main");
    assert_eq!(
        e.to_string(),
        format!(
            "The [pipeline:main] pipeline section in {} has extra (disallowed) settings: foo",
            p.display()
        )
    );
    let (e, p) = load_err("[pipeline:main]\nfoo = bar\n", "main");
    assert_eq!(
        e.to_string(),
        format!(
            "The [pipeline:main] section in {} is missing a 'pipeline' setting",
            p.display()
        )
    );
    let (e, p) = load_err(
        "[filter-app:main]\npaste.filter_factory = test:filter\n",
        "main",
    );
    assert_eq!(
        e.to_string(),
        format!(
            "The [filter-app:main] section in {} is missing a 'next' setting",
            p.display()
        )
    );
    let (e, _) = load_err(
        "[app:x]\npaste.app_factory = a:b\npaste.composite_factory = c:d\n",
        "x",
    );
    assert_eq!(
        e.to_string(),
        "Multiple protocols given in section 'app:x': [('paste.app_factory', 'a:b'), ('paste.composite_factory', 'c:d')]"
    );
    let (e, _) = load_err("[app:x]\nfoo = 1\n", "x");
    assert_eq!(e.to_string(), "No loader given in section 'app:x'");
    let (e, _) = load_err(
        "[pipeline:main]\npipeline = nofilter app\n[app:app]\npaste.app_factory = test:app\n",
        "main",
    );
    assert!(
        e.to_string()
            .starts_with("No section 'nofilter' (prefixed by 'filter') found in config "),
        "{e}"
    );
    let (e, p) = load_err("[app:x]\npaste.app_factory = nowhere.module:factory\n", "x");
    assert!(e.is_lookup());
    assert_eq!(
        e.to_string(),
        format!(
            "No factory registered for 'nowhere.module:factory' (section [app:x] in {})",
            p.display()
        )
    );
    let (e, _) = load_err("[app:x]\npaste.app_factory = test:filter\n", "x");
    assert_eq!(
        e.to_string(),
        "Factory 'test:filter' used in section [app:x] is not an app or composite factory"
    );
    let (e, _) = load_err(
        "[app:x]\npaste.app_factory = test:app\nget k = missing\n",
        "x",
    );
    assert_eq!(e, PasteError::Key("missing".into()));
    let (e, _) = load_err("[app:x]\nuse = ftp:whatever\n", "x");
    assert_eq!(
        e.to_string(),
        "URI scheme not known: 'ftp' (from config, egg, call)"
    );
    let (e, _) = load_err("[app:x]\nuse = egg:Paste#nothing\n", "x");
    assert!(matches!(e, PasteError::UnknownFactory { .. }), "{e:?}");
    let (e, _) = load_err("[app:x]\nuse = y\n[app:y]\nuse = x\n", "x");
    assert!(
        e.to_string().contains("maximum recursion depth exceeded"),
        "{e}"
    );
    let (e, _) = load_err("[pipeline:main]\npipeline = main\n", "main");
    assert!(
        e.to_string().contains("maximum recursion depth exceeded"),
        "{e}"
    );
    let (e, _) = load_err(
        "[composite:main]\nuse = egg:Paste#urlmap\n/: main\n",
        "main",
    );
    assert!(
        e.to_string().contains("maximum recursion depth exceeded"),
        "{e}"
    );
    let (e, _) = load_err(
        "[composite:main]\nuse = egg:Paste#urlmap\nv2: other\n[app:other]\npaste.app_factory = test:app\n",
        "main",
    );
    assert_eq!(
        e.to_string(),
        "Error loading section [composite:main]: URL fragments must start with / or http:// (you gave 'v2')"
    );
}

#[test]
fn load_app_wraps_lookup_errors_like_glance() {
    let path = write_ini("[composite:glance-api]\nuse = egg:Paste#urlmap\n");
    let e = match load_app(
        &path,
        "glance-api",
        Some("bogus"),
        &test_registry(),
        state(),
    ) {
        Ok(_) => panic!("expected error"),
        Err(e) => e,
    };
    let f = path.display();
    assert_eq!(
        e.to_string(),
        format!(
            "Unable to load glance-api-bogus from configuration file {f}.\nGot: LookupError(\"No section \
             'glance-api-bogus' (prefixed by 'app' or 'application' or 'composite' or 'composit' or \
             'pipeline' or 'filter-app') found in config {f}\")"
        )
    );
    assert_eq!(e.exit_code(), 1);
    // Non-lookup errors (here a config syntax error) pass through unwrapped.
    let path = write_ini("no header\n");
    let e = load_app(&path, "x", None, &test_registry(), state())
        .err()
        .expect("error");
    assert!(matches!(e, PasteError::Config(_)), "{e:?}");
    // A missing file is an I/O error.
    let e = load_app(
        Path::new("/nonexistent/x-paste.ini"),
        "x",
        None,
        &test_registry(),
        state(),
    )
    .err()
    .expect("error");
    assert_eq!(
        e.to_string(),
        "[Errno 2] No such file or directory: '/nonexistent/x-paste.ini'"
    );
}

#[tokio::test]
async fn pipeline_factory_flavors_and_unknown_flavor() {
    let text = "[composite:main]\npaste.composite_factory = glance.api:pipeline_factory\n\
                default = f1 app\nkeystone = f2 f1 app\n\
                [filter:f1]\npaste.filter_factory = test:filter\n\
                [filter:f2]\npaste.filter_factory = test:filter\n\
                [app:app]\npaste.app_factory = test:app\n";
    let path = write_ini(text);
    let reg = test_registry();
    let app = loader::loadapp(&path, "main", &reg, state(), None).expect("load");
    assert_eq!(trace(&get(&app, "/").await), vec!["filter:f1"]);
    let app = loader::loadapp(&path, "main", &reg, state(), Some("keystone")).expect("load");
    assert_eq!(trace(&get(&app, "/").await), vec!["filter:f1", "filter:f2"]);
    let e = loader::loadapp(&path, "main", &reg, state(), Some("nope"))
        .err()
        .expect("error");
    assert_eq!(e, PasteError::Key("nope".into()));
    assert_eq!(e.python_repr(), "KeyError('nope')");
}

#[test]
fn factory_context_carries_state_flavor_and_here() {
    struct MyState(u32);
    let seen = Arc::new(std::sync::Mutex::new(None));
    let mut reg = FactoryRegistry::new();
    let seen2 = seen.clone();
    reg.register_app("test:state", move |ctx, _local| {
        *seen2.lock().expect("lock") = Some((
            ctx.state::<MyState>().map(|s| s.0),
            ctx.state::<String>().is_some(),
            ctx.flavor.clone(),
            ctx.here.clone(),
            ctx.global_conf.get("here").map(String::from),
            ctx.section.clone(),
        ));
        Ok(echo_app("s"))
    });
    let path = write_ini("[app:main-x]\npaste.app_factory = test:state\n");
    load_app(&path, "main", Some("x"), &reg, Arc::new(MyState(7))).expect("load");
    let here = path.parent().expect("dir").to_path_buf();
    assert_eq!(
        seen.lock().expect("lock").clone(),
        Some((
            Some(7),
            false,
            Some("x".into()),
            here.clone(),
            Some(here.display().to_string()),
            "app:main-x".into()
        ))
    );
}

#[test]
fn factory_name_normalisation() {
    use super::registry::normalize_factory_name as n;
    assert_eq!(
        n(" oslo_middleware.cors : filter_factory "),
        "oslo_middleware.cors:filter_factory"
    );
    assert_eq!(n("egg:Paste#urlmap"), "egg:paste#urlmap");
    assert_eq!(n("egg:oslo.middleware#cors"), "egg:oslo-middleware#cors");
    assert_eq!(n("egg:My_Dist"), "egg:my-dist#main");
    assert_eq!(n("call:a.b:c"), "a.b:c");
    assert_eq!(n("a.b:c [extra]"), "a.b:c");
    let r = FactoryRegistry::new();
    assert!(r.contains("egg:paste#urlmap"));
    assert!(r.contains("glance.api:pipeline_factory"));
}

#[test]
fn locate_paste_file_follows_glance_rules() {
    let dir = temp_dir_with(&[
        ("glance-api-paste.ini", "[app:x]\n"),
        ("custom.ini", "[app:x]\n"),
    ]);
    let find = |name: &str| {
        let p = dir.join(name);
        p.exists().then_some(p)
    };
    let custom = dir.join("custom.ini");
    // [paste_deploy] config_file wins.
    assert_eq!(
        locate_paste_file(
            Some(custom.to_str().expect("utf8")),
            &[],
            find,
            "glance-api"
        )
        .expect("found"),
        custom
    );
    // Else the last --config-file with .conf → -paste.ini, by base name.
    let confs = [
        PathBuf::from("/etc/other.conf"),
        PathBuf::from("/somewhere/glance-api.conf"),
    ];
    assert_eq!(
        locate_paste_file(None, &confs, find, "x").expect("found"),
        dir.join("glance-api-paste.ini")
    );
    // Else <prog>-paste.ini.
    assert_eq!(
        locate_paste_file(Some(""), &[], find, "glance-api").expect("found"),
        dir.join("glance-api-paste.ini")
    );
    let e = locate_paste_file(None, &[], find, "nova-api").expect_err("missing");
    assert_eq!(
        e.to_string(),
        "Unable to locate paste config file for nova-api."
    );
    let e =
        locate_paste_file(Some("/nonexistent.ini"), &[], find, "glance-api").expect_err("missing");
    assert_eq!(
        e.to_string(),
        "Unable to locate paste config file for glance-api."
    );
}

// ---------------------------------------------------------------- stock glance file

/// The stock Glance 33 paste file, from `$GLIMPSE_GLANCE_ETC`.
fn stock_paste_file() -> Option<PathBuf> {
    match std::env::var_os("GLIMPSE_GLANCE_ETC") {
        Some(dir) => Some(PathBuf::from(dir).join("glance-api-paste.ini")),
        None => {
            eprintln!(
                "*** SKIPPED: set GLIMPSE_GLANCE_ETC to the Glance etc/ dir to test the stock paste file ***"
            );
            None
        }
    }
}

/// Stand-ins for every factory the stock file names.
fn glance_stock_registry() -> FactoryRegistry {
    let mut r = FactoryRegistry::new();
    for name in [
        "glance.api.versions:create_resource",
        "glance.api.v2.router:API.factory",
    ] {
        r.register_app(name, move |_ctx, _local| Ok(echo_app(name)));
    }
    r.register_app("oslo_middleware:Healthcheck.app_factory", |_ctx, local| {
        assert_eq!(local.get("backends"), Some("disable_by_file"));
        assert_eq!(
            local.get("disable_by_file_path"),
            Some("/etc/glance/healthcheck_disable")
        );
        Ok(echo_app("healthcheck"))
    });
    for name in [
        "glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory",
        "glance.api.middleware.cache:CacheFilter.factory",
        "glance.api.middleware.cache_manage:CacheManageFilter.factory",
        "glance.api.middleware.context:ContextMiddleware.factory",
        "glance.api.middleware.context:UnauthenticatedContextMiddleware.factory",
        "keystonemiddleware.auth_token:filter_factory",
        "glance.api.middleware.gzip:GzipMiddleware.factory",
        "osprofiler.web:WsgiMiddleware.factory",
        "oslo_middleware.cors:filter_factory",
        "oslo_middleware:HTTPProxyToWSGI.factory",
    ] {
        r.register_filter(name, |ctx, _local| {
            Ok(trace_filter(
                ctx.section.trim_start_matches("filter:").to_string(),
            ))
        });
    }
    r
}

#[tokio::test]
async fn stock_glance_paste_file_loads_for_every_flavor() {
    let Some(path) = stock_paste_file() else {
        return;
    };
    let reg = glance_stock_registry();
    let head = [
        "cors",
        "http_proxy_to_wsgi",
        "versionnegotiation",
        "osprofiler",
    ];
    let flavors: [(Option<&str>, &[&str]); 6] = [
        (None, &["unauthenticated-context"]),
        (Some("caching"), &["unauthenticated-context", "cache"]),
        (
            Some("cachemanagement"),
            &["unauthenticated-context", "cache", "cachemanage"],
        ),
        (Some("keystone"), &["authtoken", "context"]),
        (Some("keystone+caching"), &["authtoken", "context", "cache"]),
        (
            Some("keystone+cachemanagement"),
            &["authtoken", "context", "cache", "cachemanage"],
        ),
    ];
    for (flavor, tail) in flavors {
        let app = load_app(&path, "glance-api", flavor, &reg, state()).expect("stock file loads");
        let mut want: Vec<String> = head
            .iter()
            .chain(tail.iter())
            .map(|s| s.to_string())
            .collect();
        want.reverse();
        let resp = get(&app, "/v2/images").await;
        assert_eq!(
            header(&resp, "x-app"),
            "glance.api.v2.router:API.factory",
            "{flavor:?}"
        );
        assert_eq!(header(&resp, "x-script-name"), "/v2");
        assert_eq!(header(&resp, "x-path"), "/images");
        assert_eq!(trace(&resp), want, "{flavor:?}");
        let resp = get(&app, "/versions").await;
        assert_eq!(
            header(&resp, "x-app"),
            "glance.api.versions:create_resource"
        );
        let resp = get(&app, "/healthcheck").await;
        assert_eq!(header(&resp, "x-app"), "healthcheck");
        assert_eq!(header(&resp, "x-script-name"), "/healthcheck");
        assert!(trace(&resp).is_empty());
    }
    let e = load_app(&path, "glance-api", Some("bogus"), &reg, state())
        .err()
        .expect("error");
    assert!(
        e.to_string().starts_with(&format!(
            "Unable to load glance-api-bogus from configuration file {}.\nGot: LookupError(\"No section 'glance-api-bogus'",
            path.display()
        )),
        "{e}"
    );
    // Missing factory: a clear error naming section and factory.
    let e = load_app(&path, "glance-api", None, &FactoryRegistry::new(), state())
        .err()
        .expect("error");
    assert!(e.to_string().contains("No factory registered for "), "{e}");
}
