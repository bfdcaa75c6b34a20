//! `/v2/metadefs/*` (`glance/api/v2/metadef_*.py`): metadata-definition
//! namespaces and what they hold.
//!
//! Tour:
//! - this module: the route table, the shared request steps (the body
//!   deserializer, the namespace lookup with each route group's 404 text,
//!   [`MetadefPolicy`] with Glance's Forbidden-to-NotFound rule) and query
//!   parameter checks;
//! - [`namespaces`]: list, create, show, update, delete, and the bulk
//!   deletes of a namespace's objects, properties and tags;
//! - [`resource_types`]: the global resource-type list and a namespace's
//!   associations;
//! - [`objects`], [`properties`], [`tags`]: a namespace's children.
//!
//! Order of checks, as in Glance: a body where none belongs (400), then the
//! deserializer (body, read-only keys 403, schema 400), then the namespace
//! (404), then policy, then the row itself.

pub mod namespaces;
pub mod objects;
pub mod properties;
pub mod resource_types;
pub mod tags;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use glimpse_db::images::Repo;
use glimpse_domain::metadefs::{Namespace, check_body};
use glimpse_domain::py;
use glimpse_http::Request;
use glimpse_policy::Values;
use http::Method;
use serde_json::{Map, Value};

pub(crate) use super::service::parse_limit;
use super::service::{ImageService, handler, read_json, require_body};
use crate::context::RequestContext;
use crate::error::{ApiResult, bad_request, not_found, not_found_bare};
use crate::policy::Enforcer;
use crate::router::Router;

pub fn add_routes(router: &mut Router, svc: &Arc<ImageService>) {
    use namespaces as n;
    use objects as o;
    use properties as p;
    use resource_types as r;
    use tags as t;
    let s = || svc.clone();
    let ns = "/metadefs/namespaces/{namespace}";
    router
        .route(
            Method::GET,
            "/metadefs/resource_types",
            handler(s(), r::index),
        )
        .route(
            Method::GET,
            &format!("{ns}/resource_types"),
            handler(s(), r::show),
        )
        .route(
            Method::POST,
            &format!("{ns}/resource_types"),
            handler(s(), r::create),
        )
        .route(
            Method::DELETE,
            &format!("{ns}/resource_types/{{resource_type}}"),
            handler(s(), r::delete),
        )
        .route(Method::GET, "/metadefs/namespaces", handler(s(), n::index))
        .route(
            Method::POST,
            "/metadefs/namespaces",
            handler(s(), n::create),
        )
        .route(Method::GET, ns, handler(s(), n::show))
        .route(Method::PUT, ns, handler(s(), n::update))
        .route(Method::DELETE, ns, handler(s(), n::delete))
        .route(
            Method::GET,
            &format!("{ns}/properties"),
            handler(s(), p::index),
        )
        .route(
            Method::POST,
            &format!("{ns}/properties"),
            handler(s(), p::create),
        )
        .route(
            Method::DELETE,
            &format!("{ns}/properties"),
            handler(s(), n::delete_properties),
        )
        .route(
            Method::GET,
            &format!("{ns}/properties/{{property}}"),
            handler(s(), p::show),
        )
        .route(
            Method::PUT,
            &format!("{ns}/properties/{{property}}"),
            handler(s(), p::update),
        )
        .route(
            Method::DELETE,
            &format!("{ns}/properties/{{property}}"),
            handler(s(), p::delete),
        )
        .route(
            Method::GET,
            &format!("{ns}/objects"),
            handler(s(), o::index),
        )
        .route(
            Method::POST,
            &format!("{ns}/objects"),
            handler(s(), o::create),
        )
        .route(
            Method::DELETE,
            &format!("{ns}/objects"),
            handler(s(), n::delete_objects),
        )
        .route(
            Method::GET,
            &format!("{ns}/objects/{{object}}"),
            handler(s(), o::show),
        )
        .route(
            Method::PUT,
            &format!("{ns}/objects/{{object}}"),
            handler(s(), o::update),
        )
        .route(
            Method::DELETE,
            &format!("{ns}/objects/{{object}}"),
            handler(s(), o::delete),
        )
        .route(Method::GET, &format!("{ns}/tags"), handler(s(), t::index))
        .route(
            Method::POST,
            &format!("{ns}/tags"),
            handler(s(), t::create_many),
        )
        .route(
            Method::DELETE,
            &format!("{ns}/tags"),
            handler(s(), n::delete_tags),
        )
        .route(
            Method::GET,
            &format!("{ns}/tags/{{tag}}"),
            handler(s(), t::show),
        )
        .route(
            Method::POST,
            &format!("{ns}/tags/{{tag}}"),
            handler(s(), t::create),
        )
        .route(
            Method::PUT,
            &format!("{ns}/tags/{{tag}}"),
            handler(s(), t::update),
        )
        .route(
            Method::DELETE,
            &format!("{ns}/tags/{{tag}}"),
            handler(s(), t::delete),
        );
}

/// The published metadef schemas, parsed once, by the name a validation
/// error reports.
static SCHEMAS: LazyLock<HashMap<&'static str, Value>> = LazyLock::new(|| {
    [
        ("namespace", "namespace"),
        ("object", "object"),
        ("property", "property"),
        ("resource_type_association", "resource_type"),
        ("tag", "tag"),
    ]
    .into_iter()
    .map(|(name, doc)| {
        let v = super::schemas::metadef_schema(doc)
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        (name, v)
    })
    .chain([("tags", bulk_tags_schema())])
    .collect()
});

/// The bulk tag create body's schema: not the published `tags` document
/// but a plainer one of its own (`metadef_tags.get_schema_for_list`).
fn bulk_tags_schema() -> Value {
    serde_json::json!({
        "name": "tags",
        "properties": {"tags": {"type": "array", "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
            "additionalProperties": false,
        }}},
        "additionalProperties": false,
    })
}

fn schema(name: &str) -> &'static Value {
    static NULL: Value = Value::Null;
    SCHEMAS.get(name).unwrap_or(&NULL)
}

/// The deserializer of a create/update body: present, JSON, no read-only
/// keys, valid against schema `name`.
pub(crate) async fn read_body(
    req: Request,
    name: &str,
    read_only: &[&str],
) -> ApiResult<Map<String, Value>> {
    let body = require_body(read_json(req).await?)?;
    check_body(&body, name, schema(name), read_only)?;
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(bad_request("Unexpected body type. Expected dict.")),
    }
}

/// Validates `instance` against schema `name` (400 on failure).
pub(crate) fn validate(name: &str, instance: &Value) -> ApiResult<()> {
    check_body(instance, name, schema(name), &[])?;
    Ok(())
}

/// The standalone property schema without `name` among its required keys
/// (how Glance checks each property of an object).
static OBJECT_PROPERTY_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    let mut s = schema("property").clone();
    if let Some(Value::Array(req)) = s.get_mut("required") {
        req.retain(|r| r != "name");
    }
    s
});

pub(crate) fn validate_object_property(def: &Value) -> ApiResult<()> {
    check_body(def, "property", &OBJECT_PROPERTY_SCHEMA, &[])?;
    Ok(())
}

/// Which 404 text a route group gives for a missing or hidden namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// `GET /namespaces/{ns}`: the repository's text when missing, a bare
    /// 404 when hidden.
    Show,
    /// Objects: the repository's text when missing, the controller's when
    /// hidden.
    Objects,
    /// Everything else: `Namespace NS not found` either way.
    Plain,
}

/// The namespace `name` as the caller may see it (Glance's repository
/// hides other projects' private namespaces from non-admins).
pub(crate) async fn lookup(
    repo: &Repo,
    ctx: &RequestContext,
    name: &str,
    how: Lookup,
) -> ApiResult<Namespace> {
    let plain = || not_found(format!("Namespace {name} not found"));
    let missing = || {
        not_found(format!(
            "Metadata definition namespace={name} was not found."
        ))
    };
    match repo.metadefs().ns_get(name).await? {
        None => Err(match how {
            Lookup::Plain => plain(),
            Lookup::Show | Lookup::Objects => missing(),
        }),
        Some(ns) if !ctx.is_admin && !ns.visible_to(ctx.project_id.as_deref()) => Err(match how {
            Lookup::Show => not_found_bare(),
            Lookup::Objects | Lookup::Plain => plain(),
        }),
        Some(ns) => Ok(ns),
    }
}

/// `MetadefAPIPolicy`: rules checked on the namespace (its owner and
/// visibility) or, without one, on the caller's project. A refusal is a
/// bare 404 when the caller could not even read the namespace, else 403.
pub(crate) struct MetadefPolicy<'a> {
    ctx: &'a RequestContext,
    enforcer: &'a Enforcer,
    target: Values,
}

impl<'a> MetadefPolicy<'a> {
    pub(crate) fn new(
        ctx: &'a RequestContext,
        enforcer: &'a Enforcer,
        ns: Option<&Namespace>,
    ) -> Self {
        let mut target = Values::new();
        match ns {
            Some(ns) => {
                target.insert("project_id".into(), Value::String(ns.owner.clone()));
                target.insert(
                    "visibility".into(),
                    Value::String(ns.visibility.clone().unwrap_or_else(|| "private".into())),
                );
            }
            None => {
                target.insert(
                    "project_id".into(),
                    ctx.project_id.clone().map_or(Value::Null, Value::String),
                );
            }
        }
        MetadefPolicy {
            ctx,
            enforcer,
            target,
        }
    }

    /// A soft check (list filtering).
    pub(crate) fn check(&self, rule: &str) -> bool {
        self.enforcer.check_values(self.ctx, rule, &self.target)
    }

    pub(crate) fn enforce(&self, rule: &str) -> ApiResult<()> {
        if self.check(rule) {
            return Ok(());
        }
        if rule == "get_metadef_namespace" || !self.check("get_metadef_namespace") {
            return Err(not_found_bare());
        }
        Err(crate::policy::policy_forbidden(rule))
    }
}

/// The request's query parameters, in order (WebOb's `params`).
pub(crate) fn query_params(req: &Request) -> ApiResult<Vec<(String, String)>> {
    Ok(py::parse_query_string(
        req.uri().query().unwrap_or("").as_bytes(),
    )?)
}

/// The first value of `name` (what the deserializers pop).
pub(crate) fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `sort_dir`: `asc` or `desc` (default `desc`).
pub(crate) fn sort_desc(params: &[(String, String)]) -> ApiResult<bool> {
    match first(params, "sort_dir").unwrap_or("desc") {
        "desc" => Ok(true),
        "asc" => Ok(false),
        other => Err(bad_request(format!("Invalid sort direction: {other}"))),
    }
}

/// `visibility`: when given and not empty, one of `allowed`.
pub(crate) fn check_visibility(params: &[(String, String)], allowed: &[&str]) -> ApiResult<()> {
    match first(params, "visibility") {
        Some(v) if !v.is_empty() && !allowed.contains(&v) => {
            Err(bad_request(format!("Invalid visibility value: {v}")))
        }
        _ => Ok(()),
    }
}
