//! `GET /v2/schemas/{image,images,member,members,task,tasks}`: the
//! documents Glance 33 serves, byte for byte. The documents themselves are
//! built by `glimpse_domain::schema`; this module takes the format lists
//! from `[image_format]`, the custom properties from `schema-image.json`
//! (found like `CONF.find_file`), renders each document once as Glance's
//! default serializer does (`json.dumps`, ASCII-escaped) and serves them.

use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;
use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_domain::schema::{self, CustomProperties};
use glimpse_http::{Body, Response};
use http::{HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{CharEscape, Formatter, Serializer};

use crate::pyjson::PyFormatter;
use crate::router::Router;

const GROUP: &str = "image_format";

/// Register `[image_format]` (Glance's `image_format_opts`).
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register_group(GROUP, "");
    conf.register_all(
        GROUP,
        [
            Opt::list("container_formats")
                .default(&schema::DEFAULT_CONTAINER_FORMATS.join(","))
                .deprecated(Some("DEFAULT"), Some("container_formats"))
                .help("Supported values for the 'container_format' image attribute"),
            Opt::list("disk_formats")
                .default(&schema::DEFAULT_DISK_FORMATS.join(","))
                .deprecated(Some("DEFAULT"), Some("disk_formats"))
                .help("Supported values for the 'disk_format' image attribute"),
            Opt::list("vmdk_allowed_types")
                .default("streamOptimized,monolithicSparse")
                .help(
                    "A list of strings describing allowed VMDK 'create-type' subformats that will \
                     be allowed. This is recommended to only include \
                     single-file-with-sparse-header variants to avoid potential host file \
                     exposure due to processing named extents. If this list is empty, then no \
                     VDMK image types allowed. Note that this is currently only checked during \
                     image conversion (if enabled), and limits the types of VMDK images we will \
                     convert from.",
                ),
            Opt::bool("require_image_format_match").default("true").help(
                "When enabled, glance will inspect the content of uploads and require that they \
                 match the disk_format set on the image. A mismatch will abort the upload with an \
                 error. Disabling this may be required in the case of false match (or mismatch) \
                 issues, but those are bugs that should be filed and fixed. Enabling this feature \
                 improves security and consistency by ensuring that images claiming to be a given \
                 format have content matching that format.",
            ),
            Opt::list("gpt_safety_checks_nonfatal").default("").help(
                "List of safety check names to consider non-fatal when validating \
                 disk_format=gpt images (or images detected as gpt). Since MBR is very \
                 loosely-defined and GPT (which is strictly defined) depends on the MBR \
                 structure, it is easy to craft a GPT disk image that works, but is not valid \
                 according to the spec. While not recommended, it is possible to disable MBR or \
                 GPT-specific safety checks if necessary for compatibility. This can include \
                 \"mbr\" and/or \"gptmbr\" to avoid failing format validation if those checks \
                 fail. Use this with caution as it makes glance relax its definition of what a \
                 valid GPT disk image looks like and prevents strict adherence to the GPT spec.",
            ),
        ],
    )
}

/// A format list from `[image_format]`; Glance's default when the option
/// is not registered (so the router works before `register_opts` is wired).
fn formats(conf: &ConfigOpts, name: &str, default: &[&str]) -> Result<Vec<String>, String> {
    match conf.get_list(GROUP, name) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Ok(Vec::new()),
        Err(e) if conf.opts().any(|(g, o)| g == GROUP && o.name() == name) => Err(e.to_string()),
        Err(_) => Ok(default.iter().map(|s| s.to_string()).collect()),
    }
}

/// `[image_format] disk_formats` and `container_formats`.
pub fn format_lists(conf: &ConfigOpts) -> Result<(Vec<String>, Vec<String>), String> {
    Ok((
        formats(conf, "disk_formats", schema::DEFAULT_DISK_FORMATS)?,
        formats(conf, "container_formats", schema::DEFAULT_CONTAINER_FORMATS)?,
    ))
}

/// `images.load_custom_properties()`: `schema-image.json` from the config
/// search path, or nothing (with Glance's warning).
pub fn load_custom_properties(conf: &ConfigOpts) -> Result<CustomProperties, String> {
    let name = "schema-image.json";
    let Some(path) = conf.find_file(name) else {
        log::warn!(
            "Could not find schema properties file {name}. Continuing without custom properties"
        );
        return Ok(CustomProperties::default());
    };
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let data: Value =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(CustomProperties::from_file_json(&data))
}

/// The six documents, rendered once.
#[derive(Clone, Debug)]
pub struct Schemas {
    /// The image schema as a value: what requests are validated against
    /// and what decides how NULL extra properties render.
    pub image_value: Value,
    pub image: Bytes,
    pub images: Bytes,
    pub member: Bytes,
    pub members: Bytes,
    pub task: Bytes,
    pub tasks: Bytes,
}

impl Schemas {
    pub fn build(
        disk_formats: &[String],
        container_formats: &[String],
        custom: &CustomProperties,
    ) -> Result<Schemas, String> {
        let image =
            schema::image_schema(disk_formats, container_formats, custom).map_err(|e| match e {
                glimpse_domain::DomainError::Internal(m) => m,
                e => e.explanation(),
            })?;
        let images = schema::collection_raw("images", image.clone());
        Ok(Schemas {
            image: render(&image),
            image_value: image.clone(),
            images: render(&images),
            member: render(&schema::member_schema()),
            members: render(&schema::members_schema()),
            task: render(&schema::task_schema()),
            tasks: render(&schema::tasks_schema()),
        })
    }

    pub fn from_conf(conf: &ConfigOpts) -> Result<Schemas, String> {
        let (disk, container) = format_lists(conf)?;
        let custom = load_custom_properties(conf)?;
        Schemas::build(&disk, &container, &custom)
    }

    pub fn get(&self, name: &str) -> Option<&Bytes> {
        Some(match name {
            "image" => &self.image,
            "images" => &self.images,
            "member" => &self.member,
            "members" => &self.members,
            "task" => &self.task,
            "tasks" => &self.tasks,
            _ => return None,
        })
    }
}

/// Register the schema routes (paths as the router sees them: the urlmap
/// has moved `/v2` into SCRIPT_NAME).
pub fn add_routes(router: &mut Router, schemas: Arc<Schemas>) {
    for name in ["image", "images", "member", "members", "task", "tasks"] {
        let s = schemas.clone();
        router.route(
            Method::GET,
            &format!("/schemas/{name}"),
            move |_req, _params| {
                let body = s.get(name).cloned().unwrap_or_default();
                Box::pin(async move { json_response(body) })
            },
        );
    }
}

/// The metadata-definition schemas (`/v2/schemas/metadefs/*`): static
/// documents, served as Glance 33 serves them (captured from it; they do
/// not depend on configuration). The metadefs API validates bodies against
/// the same documents.
const METADEF_SCHEMAS: [(&str, &[u8]); 10] = [
    (
        "namespace",
        include_bytes!("../../data/metadef-schemas/metadefs-namespace.json"),
    ),
    (
        "namespaces",
        include_bytes!("../../data/metadef-schemas/metadefs-namespaces.json"),
    ),
    (
        "resource_type",
        include_bytes!("../../data/metadef-schemas/metadefs-resource_type.json"),
    ),
    (
        "resource_types",
        include_bytes!("../../data/metadef-schemas/metadefs-resource_types.json"),
    ),
    (
        "property",
        include_bytes!("../../data/metadef-schemas/metadefs-property.json"),
    ),
    (
        "properties",
        include_bytes!("../../data/metadef-schemas/metadefs-properties.json"),
    ),
    (
        "object",
        include_bytes!("../../data/metadef-schemas/metadefs-object.json"),
    ),
    (
        "objects",
        include_bytes!("../../data/metadef-schemas/metadefs-objects.json"),
    ),
    (
        "tag",
        include_bytes!("../../data/metadef-schemas/metadefs-tag.json"),
    ),
    (
        "tags",
        include_bytes!("../../data/metadef-schemas/metadefs-tags.json"),
    ),
];

/// The metadef schema document `name` (`namespace`, `tags`, …) as served.
pub fn metadef_schema(name: &str) -> Option<&'static [u8]> {
    METADEF_SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, doc)| *doc)
}

/// Register `/schemas/metadefs/<name>`.
pub fn add_metadef_routes(router: &mut Router) {
    for (name, doc) in METADEF_SCHEMAS {
        router.route(
            Method::GET,
            &format!("/schemas/metadefs/{name}"),
            move |_req, _params| Box::pin(async move { json_response(Bytes::from_static(doc)) }),
        );
    }
}

fn json_response(body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Glance serves these through `jsonutils.dumps`: Python separators,
/// `ensure_ascii=True`, and Python's float repr (`1e+100`, `1e-07`).
struct SchemaFormatter(PyFormatter);

impl Formatter for SchemaFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, f: &str) -> io::Result<()> {
        self.0.write_string_fragment(w, f)
    }
    fn write_char_escape<W: ?Sized + Write>(&mut self, w: &mut W, e: CharEscape) -> io::Result<()> {
        self.0.write_char_escape(w, e)
    }
    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        w.write_all(py_float_repr(v).as_bytes())
    }
}

/// Python's `repr(float)`: shortest round-trip digits, positional for
/// decimal exponents in [-4, 16), otherwise `d.ddde+XX`.
pub fn py_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sci = format!("{v:e}"); // e.g. "-1.2345e-7"
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mant) = mant.strip_prefix('-').map_or(("", mant), |m| ("-", m));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let m = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let es = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{es}{:02}", exp.abs());
    }
    let n = digits.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else if exp + 1 >= n {
        format!("{digits}{}.0", "0".repeat((exp + 1 - n) as usize))
    } else {
        let (a, b) = digits.split_at((exp + 1) as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{body}")
}

/// `jsonutils.dumps(doc)` bytes.
pub fn render(doc: &Value) -> Bytes {
    let mut out = Vec::with_capacity(4096);
    let mut ser =
        Serializer::with_formatter(&mut out, SchemaFormatter(PyFormatter { ascii: true }));
    if doc.serialize(&mut ser).is_err() {
        out.clear();
    }
    Bytes::from(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn defaults() -> Schemas {
        let d: Vec<String> = schema::DEFAULT_DISK_FORMATS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let c: Vec<String> = schema::DEFAULT_CONTAINER_FORMATS
            .iter()
            .map(|s| s.to_string())
            .collect();
        Schemas::build(&d, &c, &CustomProperties::default()).unwrap()
    }

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    // Captured from Glance 33.0.0 with the stock configuration (no
    // schema-image.json, default format lists).
    #[test]
    fn stock_documents_match_glance_byte_for_byte() {
        let s = defaults();
        for name in ["image", "images", "member", "members", "task", "tasks"] {
            let want = fixture(&format!("schema-{name}.json"));
            let got = s.get(name).unwrap();
            assert_eq!(
                String::from_utf8_lossy(got),
                String::from_utf8_lossy(&want),
                "/v2/schemas/{name}"
            );
        }
    }

    // Captured from Glance 33.0.0 with `[image_format] disk_formats = raw,
    // qcow2,iso`, `container_formats = bare` and the extended-form
    // tests/data/schema-image.custom-input.json as the config dir's
    // schema-image.json.
    #[test]
    fn custom_documents_match_glance_byte_for_byte() {
        let custom: Value =
            serde_json::from_slice(&fixture("schema-image.custom-input.json")).unwrap();
        let custom = CustomProperties::from_file_json(&custom);
        let d: Vec<String> = ["raw", "qcow2", "iso"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = Schemas::build(&d, &["bare".to_string()], &custom).unwrap();
        for name in ["image", "images"] {
            let want = fixture(&format!("custom-schema-{name}.json"));
            assert_eq!(
                String::from_utf8_lossy(s.get(name).unwrap()),
                String::from_utf8_lossy(&want),
                "/v2/schemas/{name}"
            );
        }
    }

    #[test]
    fn python_float_repr() {
        for (v, want) in [
            (0.5, "0.5"),
            (1e100, "1e+100"),
            (1e-7, "1e-07"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (123.456, "123.456"),
            (-2.0, "-2.0"),
        ] {
            assert_eq!(py_float_repr(v), want);
        }
    }

    #[test]
    fn options_register() {
        let mut conf = ConfigOpts::new("glance", "glance-api", "33.0.0").without_env();
        register_opts(&mut conf).unwrap();
        assert_eq!(
            formats(&conf, "disk_formats", &[])
                .unwrap_or_default()
                .len(),
            11
        );
    }
}
