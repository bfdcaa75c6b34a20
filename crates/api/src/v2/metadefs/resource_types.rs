//! Resource types (`metadef_resource_types.py`): the global list, and a
//! namespace's associations (create makes the resource type when it is
//! new; delete leaves it).

use std::sync::Arc;

use glimpse_domain::metadefs::{Association, READ_ONLY, ResourceType};
use glimpse_http::{Request, Response};
use http::StatusCode;
use serde_json::{Value, json};

use super::{Lookup, MetadefPolicy, lookup, read_body};
use crate::error::{ApiResult, forbidden, not_found};
use crate::router::Params;
use crate::v2::service::{
    ImageService, context, empty_response, json_response, param, reject_body,
};

pub(crate) async fn index(svc: Arc<ImageService>, req: Request, _p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    MetadefPolicy::new(&ctx, &svc.enforcer, None).enforce("list_metadef_resource_types")?;
    let types = svc.repo().await?.metadefs().resource_types().await?;
    let items: Vec<Value> = types.iter().map(ResourceType::to_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"resource_types": items}),
    ))
}

pub(crate) async fn show(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    let pol = MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns));
    pol.enforce("list_metadef_resource_types")?;
    // Glance checks each item on the same namespace target: one answer.
    let may_show = pol.check("get_metadef_resource_type");
    let assocs = repo
        .metadefs()
        .associations(&[ns.id])
        .await?
        .remove(&ns.id)
        .unwrap_or_default();
    let items: Vec<Value> = assocs
        .iter()
        .filter(|_| may_show)
        .map(Association::to_json)
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"resource_type_associations": items}),
    ))
}

pub(crate) async fn create(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let body = read_body(req, "resource_type_association", READ_ONLY).await?;
    let repo = svc.repo().await?;
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns))
        .enforce("add_metadef_resource_type_association")?;
    let a = repo
        .metadefs()
        .assoc_create(&ns, &Association::from_body(&body))
        .await?;
    Ok(json_response(StatusCode::CREATED, &a.to_json()))
}

pub(crate) async fn delete(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let name = param(&p, "resource_type");
    let repo = svc.repo().await?;
    let md = repo.metadefs();
    let ns = lookup(repo, &ctx, param(&p, "namespace"), Lookup::Plain).await?;
    MetadefPolicy::new(&ctx, &svc.enforcer, Some(&ns))
        .enforce("remove_metadef_resource_type_association")?;
    let assocs = md
        .associations(&[ns.id])
        .await?
        .remove(&ns.id)
        .unwrap_or_default();
    if !assocs.iter().any(|a| a.name == name) {
        return Err(not_found(format!(
            "Failed to find resource type {name} to delete"
        )));
    }
    if ns.is_protected() {
        return Err(forbidden(format!(
            "Metadata definition resource-type-association {name} is protected and cannot be \
             deleted."
        )));
    }
    md.assoc_delete(&ns, name).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}
