//! Namespaces (`metadef_namespaces.py`): list with `first`/`next` links,
//! create (with children), show (with children, `?resource_type=` prefixes),
//! update (a full replacement of the namespace's own fields), delete, and
//! the bulk deletes of objects, properties and tags.

use std::sync::Arc;

use glimpse_db::metadefs::{Children, NAMESPACE_SORT_KEYS, NamespaceQuery, NewChildren};
use glimpse_domain::metadefs::{
    Association, NamespaceChildren, NamespaceFields, ObjectFields, READ_ONLY_WITH_LINKS,
    check_4byte, namespace_json, property_map,
};
use glimpse_http::{Request, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use super::{
    Lookup, MetadefPolicy, check_visibility, first, lookup, query_params, read_body, sort_desc,
};
use crate::error::{ApiResult, bad_request, forbidden, not_found};
use crate::router::Params;
use crate::v2::service::{
    ImageService, context, empty_response, json_response, link_query, param, reject_body,
};

const COLLECTION: &str = "/v2/metadefs/namespaces";

pub(crate) async fn index(svc: Arc<ImageService>, req: Request, _p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let params = query_params(&req)?;
    let limits = &svc.settings.limits;
    let limit = match first(&params, "limit") {
        None => limits.limit_param_default,
        Some(v) => super::parse_limit(v)?.min(limits.api_limit_max),
    };
    if limit < 0 {
        return Err(bad_request("limit param must be positive"));
    }
    let sort_key = first(&params, "sort_key")
        .unwrap_or("created_at")
        .to_string();
    if !NAMESPACE_SORT_KEYS.contains(&sort_key.as_str()) {
        return Err(bad_request(format!("Invalid sort key: {sort_key}")));
    }
    let desc = sort_desc(&params)?;
    check_visibility(&params, &["public", "private"])?;
    let visibility = first(&params, "visibility")
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let resource_types: Vec<String> = first(&params, "resource_types")
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let pol = MetadefPolicy::new(&ctx, &svc.enforcer, None);
    pol.enforce("get_metadef_namespaces")?;
    pol.enforce("list_metadef_resource_types")?;
    let repo = svc.repo().await?;
    let md = repo.metadefs();
    let marker = match first(&params, "marker") {
        None => None,
        Some(m) => match md.ns_get(m).await? {
            None => {
                return Err(not_found(format!(
                    "Metadata definition namespace={m} was not found."
                )));
            }
            Some(ns) if !ctx.is_admin && !ns.visible_to(ctx.project_id.as_deref()) => {
                return Err(forbidden(format!(
                    "Forbidding request, metadata definition namespace={m} is not visible."
                )));
            }
            Some(ns) => Some(ns),
        },
    };
    let rows = md
        .ns_list(&NamespaceQuery {
            viewer_project: (!ctx.is_admin).then(|| ctx.project_id.clone()),
            visibility,
            resource_types,
            marker,
            limit,
            sort_key,
            sort_desc: desc,
        })
        .await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|ns| {
            MetadefPolicy::new(&ctx, &svc.enforcer, Some(ns)).check("get_metadef_namespace")
        })
        .collect();
    let ids: Vec<i64> = rows.iter().map(|n| n.id).collect();
    let mut assocs = md.associations(&ids).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|ns| {
            let a = assocs.remove(&ns.id).filter(|a| !a.is_empty());
            namespace_json(
                ns,
                NamespaceChildren {
                    resource_type_associations: a
                        .map(|a| Value::Array(a.iter().map(Association::to_json).collect())),
                    ..Default::default()
                },
            )
        })
        .collect();
    let mut body = Map::new();
    let next = (limit != 0 && !rows.is_empty() && rows.len() as i64 == limit)
        .then(|| rows.last().map(|n| n.namespace.clone()))
        .flatten();
    body.insert("namespaces".into(), Value::Array(items));
    if let Some(last) = next {
        body.insert(
            "next".into(),
            Value::String(format!("{COLLECTION}?{}", link_query(&params, Some(&last)))),
        );
    }
    body.insert(
        "schema".into(),
        Value::String("/v2/schemas/metadefs/namespaces".into()),
    );
    let first_link = match link_query(&params, None) {
        q if q.is_empty() => COLLECTION.to_string(),
        q => format!("{COLLECTION}?{q}"),
    };
    body.insert("first".into(), Value::String(first_link));
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}

/// The children of a create body, converted as Glance's models convert
/// them (a child without a name is refused here; Glance fails with a 500).
fn children(body: &Map<String, Value>) -> ApiResult<NewChildren> {
    let list = |k: &str| {
        body.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut out = NewChildren::default();
    for a in list("resource_type_associations") {
        let a = a.as_object().cloned().unwrap_or_default();
        if !a.get("name").is_some_and(Value::is_string) {
            return Err(bad_request(
                "Invalid input for field/attribute name. Mandatory field missing.",
            ));
        }
        out.associations.push(Association::from_body(&a));
    }
    for o in list("objects") {
        let o = o.as_object().cloned().unwrap_or_default();
        if !o.get("name").is_some_and(Value::is_string) {
            return Err(bad_request(
                "Invalid input for field/attribute name. Mandatory field missing.",
            ));
        }
        out.objects.push(ObjectFields::from_body(&o)?);
    }
    for t in list("tags") {
        match t.get("name") {
            Some(Value::String(n)) => out.tags.push(n.clone()),
            _ => {
                return Err(bad_request(
                    "Invalid input for field/attribute name. Mandatory field missing.",
                ));
            }
        }
    }
    if let Some(p) = body.get("properties") {
        out.properties = property_map(p, true)?
            .into_iter()
            .map(|(k, v)| match v {
                Value::Object(m) => (k, m),
                _ => (k, Map::new()),
            })
            .collect();
    }
    Ok(out)
}

pub(crate) async fn create(
    svc: Arc<ImageService>,
    req: Request,
    _p: Params,
) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let host_url = glimpse_http::ext::host_url(&req);
    let body = read_body(req, "namespace", READ_ONLY_WITH_LINKS).await?;
    let kids = children(&body)?;
    let pol = MetadefPolicy::new(&ctx, &svc.enforcer, None);
    pol.enforce("add_metadef_namespace")?;
    if !kids.associations.is_empty() {
        pol.enforce("add_metadef_resource_type_association")?;
    }
    if !kids.objects.is_empty() {
        pol.enforce("add_metadef_object")?;
    }
    if !kids.properties.is_empty() {
        pol.enforce("add_metadef_property")?;
    }
    if !kids.tags.is_empty() {
        pol.enforce("add_metadef_tag")?;
    }
    let fields = NamespaceFields::for_create(&body, ctx.project_id.as_deref());
    fields.check_4byte("create")?;
    for o in &kids.objects {
        o.check_4byte("create")?;
    }
    for (name, schema) in &kids.properties {
        check_4byte(
            "create",
            "property",
            &[
                ("name", &Value::String(name.clone())),
                ("json_schema", &Value::Object(schema.clone())),
            ],
        )?;
    }
    for t in &kids.tags {
        check_4byte("create", "tag", &[("name", &Value::String(t.clone()))])?;
    }
    let ns = svc
        .repo()
        .await?
        .metadefs()
        .ns_create(&fields, &kids)
        .await?;
    // The response echoes the children as the request gave them.
    let echo = |k: &str, v: Value| body.contains_key(k).then_some(v);
    let json = namespace_json(
        &ns,
        NamespaceChildren {
            resource_type_associations: echo(
                "resource_type_associations",
                Value::Array(kids.associations.iter().map(Association::to_json).collect()),
            ),
            properties: echo(
                "properties",
                Value::Object(
                    kids.properties
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::Object(v.clone())))
                        .collect(),
                ),
            ),
            objects: echo(
                "objects",
                Value::Array(kids.objects.iter().map(object_echo_bare).collect()),
            ),
            tags: echo(
                "tags",
                Value::Array(kids.tags.iter().map(|t| json!({"name": t})).collect()),
            ),
        },
    );
    let mut resp = json_response(StatusCode::CREATED, &json);
    if let Ok(v) = HeaderValue::from_str(&format!("{host_url}{COLLECTION}/{}", ns.namespace)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// An object of a namespace create body, echoed (no timestamps or links).
fn object_echo_bare(o: &ObjectFields) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(o.name.clone()));
    if !o.required.is_empty() {
        m.insert("required".into(), json!(o.required));
    }
    if let Some(d) = &o.description {
        m.insert("description".into(), Value::String(d.clone()));
    }
    if !o.properties.is_empty() {
        m.insert("properties".into(), Value::Object(o.properties.clone()));
    }
    Value::Object(m)
}

pub(crate) async fn show(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let params = query_params(&req)?;
    check_visibility(&params, &["public", "private"])?;
    let resource_type = first(&params, "resource_type").filter(|r| !r.is_empty());
    let repo = svc.repo().await?;
    let md = repo.metadefs();
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Show).await?;
    let pol = MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns));
    pol.enforce("get_metadef_namespace")?;
    for rule in [
        "list_metadef_resource_types",
        "get_metadef_objects",
        "get_metadef_properties",
        "get_metadef_tags",
    ] {
        pol.enforce(rule)?;
    }
    let assocs = md
        .associations(&[ns.id])
        .await?
        .remove(&ns.id)
        .unwrap_or_default();
    // `?resource_type=R`: R's prefix on every property name (and on the
    // objects' `required` entries).
    let prefix = resource_type
        .and_then(|r| assocs.iter().find(|a| a.name == r))
        .and_then(|a| a.prefix.clone())
        .filter(|p| !p.is_empty());
    let pre = prefix.as_deref().unwrap_or("");
    let props = md.properties(&ns).await?;
    let objects = md.objects(&ns).await?;
    let tags = md.tags(&ns, None, None, "created_at", true).await?;
    let non_empty = |v: Vec<Value>| (!v.is_empty()).then_some(Value::Array(v));
    let json = namespace_json(
        &ns,
        NamespaceChildren {
            resource_type_associations: non_empty(
                assocs.iter().map(Association::to_json).collect(),
            ),
            properties: (!props.is_empty()).then(|| {
                Value::Object(
                    props
                        .iter()
                        .map(|p| (format!("{pre}{}", p.name), p.to_json()))
                        .collect(),
                )
            }),
            objects: non_empty(
                objects
                    .iter()
                    .map(|o| o.to_json(&ns.namespace, prefix.as_deref()))
                    .collect(),
            ),
            tags: non_empty(tags.iter().map(|t| json!({"name": t.name})).collect()),
        },
    );
    Ok(json_response(StatusCode::OK, &json))
}

pub(crate) async fn update(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let body = read_body(req, "namespace", READ_ONLY_WITH_LINKS).await?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("modify_metadef_namespace")?;
    let fields = NamespaceFields::for_update(&body, ctx.project_id.as_deref());
    fields.check_4byte("update")?;
    repo.metadefs().ns_update(&ns, &fields).await?;
    // Glance answers with the new fields and the timestamps read before
    // the update.
    let updated = glimpse_domain::metadefs::Namespace {
        namespace: fields.namespace,
        display_name: fields.display_name,
        description: fields.description,
        visibility: Some(fields.visibility),
        protected: Some(fields.protected),
        owner: fields.owner,
        ..ns
    };
    Ok(json_response(
        StatusCode::OK,
        &namespace_json(&updated, NamespaceChildren::default()),
    ))
}

fn protected(ns: &glimpse_domain::metadefs::Namespace) -> ApiResult<()> {
    if ns.is_protected() {
        return Err(forbidden(format!(
            "Metadata definition namespace {} is protected and cannot be deleted.",
            ns.namespace
        )));
    }
    Ok(())
}

pub(crate) async fn delete(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns)).enforce("delete_metadef_namespace")?;
    protected(&ns)?;
    repo.metadefs().ns_delete(&ns).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

async fn delete_children(
    svc: Arc<ImageService>,
    req: Request,
    p: Params,
    which: Children,
) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    let pol = MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns));
    pol.enforce("delete_metadef_namespace")?;
    if which == Children::Tags {
        pol.enforce("delete_metadef_tags")?;
    }
    protected(&ns)?;
    repo.metadefs().ns_delete_children(&ns, which).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub(crate) async fn delete_objects(
    svc: Arc<ImageService>,
    req: Request,
    p: Params,
) -> ApiResult<Response> {
    delete_children(svc, req, p, Children::Objects).await
}

pub(crate) async fn delete_properties(
    svc: Arc<ImageService>,
    req: Request,
    p: Params,
) -> ApiResult<Response> {
    delete_children(svc, req, p, Children::Properties).await
}

pub(crate) async fn delete_tags(
    svc: Arc<ImageService>,
    req: Request,
    p: Params,
) -> ApiResult<Response> {
    delete_children(svc, req, p, Children::Tags).await
}
