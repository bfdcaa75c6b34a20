//! `/v2/images`: create, list, show, PATCH, delete, deactivate/reactivate
//! and tags (`glance/api/v2/images.py`, `image_actions.py`,
//! `image_tags.py`), with each controller's checks in Glance's order so
//! the first error reported is Glance's first error.

use std::sync::Arc;

use glimpse_db::DbError;
use glimpse_db::images::{Repo, Update, Viewer};
use glimpse_domain::patch::{PatchOp, parse_patch};
use glimpse_domain::props::{self, deserialize_create};
use glimpse_domain::protections::{self, Operation};
use glimpse_domain::render::{image_json_readable, list_json};
use glimpse_domain::{
    DomainError, Image, ImageStatus, Location, parse_list_query, py, schema, update,
};
use glimpse_http::{Request, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use super::in_doubt::{self, Doubt, Settled};
use super::service::{
    ImageService, context, empty_response, handler, json_response, param, read_json, reject_body,
    require_body,
};
use crate::context::RequestContext;
use crate::error::{
    ApiError, ApiResult, bad_request, conflict, forbidden, forbidden_detail, not_found, too_large,
};
use crate::policy::ImagePolicy;
use crate::protections::Caller;
use crate::router::{Params, Router};

/// Register the image routes, in Glance's order (it decides `Allow`).
pub fn add_routes(router: &mut Router, svc: &Arc<ImageService>) {
    router.route(Method::GET, "/images", handler(svc.clone(), index));
    router.route(Method::POST, "/images", handler(svc.clone(), create));
    router.route(
        Method::GET,
        "/images/{image_id}",
        handler(svc.clone(), show),
    );
    router.route(
        Method::PATCH,
        "/images/{image_id}",
        handler(svc.clone(), patch),
    );
    router.route(
        Method::DELETE,
        "/images/{image_id}",
        handler(svc.clone(), delete),
    );
    router.route(
        Method::POST,
        "/images/{image_id}/actions/deactivate",
        handler(svc.clone(), deactivate),
    );
    router.route(
        Method::POST,
        "/images/{image_id}/actions/reactivate",
        handler(svc.clone(), reactivate),
    );
    router.route(
        Method::PUT,
        "/images/{image_id}/tags/{tag_value}",
        handler(svc.clone(), tag_add),
    );
    router.route(
        Method::DELETE,
        "/images/{image_id}/tags/{tag_value}",
        handler(svc.clone(), tag_delete),
    );
}

/// Who the repository should show images to.
pub fn viewer(ctx: &RequestContext) -> Viewer {
    Viewer {
        project_id: ctx.project_id.clone(),
        is_admin: ctx.is_admin,
    }
}

/// The image JSON as the serializer writes it, with only the extra
/// properties the caller may read.
///
/// A deactivated image shows no locations to a caller who is not an
/// admin: Glance's DB API empties them when it loads such an image for
/// such a caller (`_normalize_locations`), so its `locations` is `[]` and
/// it has no `direct_url` (or `stores`). Glimpse hides them here only,
/// where they are shown: the image it loaded keeps its locations, so that
/// deleting it still deletes its data (Glance's delete, finding none,
/// leaves the file behind).
pub fn render(svc: &ImageService, caller: &Caller<'_>, image: &Image) -> Value {
    let readable = |k: &str| caller.can_read(k);
    if image.status == ImageStatus::Deactivated && !caller.is_admin() && !image.locations.is_empty()
    {
        let mut shown = image.clone();
        shown.locations.clear();
        return image_json_readable(&shown, svc.schema(), svc.settings.render, &readable);
    }
    image_json_readable(image, svc.schema(), svc.settings.render, &readable)
}

/// `image_repo.get`: 404 "No image found with ID …" when missing or not
/// visible.
pub async fn get_image(svc: &ImageService, ctx: &RequestContext, id: &str) -> ApiResult<Image> {
    Ok(svc.repo().await?.get(id, &viewer(ctx)).await?)
}

/// The checks `ImageRepo.add`/`save` make before writing (`image_size_cap`
/// on a preset size, 4-byte UTF-8).
fn check_before_write(svc: &ImageService, image: &Image) -> ApiResult<()> {
    if image
        .size
        .is_some_and(|s| s as u64 > svc.settings.image_size_cap)
    {
        return Err(too_large("The provided image is too large."));
    }
    props::check_no_4byte(image)?;
    Ok(())
}

/// `ImageFactory.new_image` and `ImageRepo.add` for a checked create body
/// (policy already applied): quotas, then the row.
pub async fn create_image(
    svc: &ImageService,
    new: glimpse_domain::props::NewImage,
    owner: Option<String>,
) -> ApiResult<Image> {
    props::check_tag_quota(new.tags.len(), svc.settings.tag_quota)?;
    let id = match new.id {
        Some(id) => id,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let mut image = Image::new(id, glimpse_db::images::now());
    image.name = new.name;
    if let Some(v) = new.visibility {
        image.visibility = v;
    }
    image.protected = new.protected.unwrap_or(false);
    image.os_hidden = new.os_hidden.unwrap_or(false);
    image.owner = owner;
    image.disk_format = new.disk_format;
    image.container_format = new.container_format;
    image.min_ram = new.min_ram.unwrap_or(0);
    image.min_disk = new.min_disk.unwrap_or(0);
    image.tags = new.tags;
    image.extra_properties = new.extra_properties;
    props::check_property_quota(&image.extra_properties, svc.settings.property_quota)?;
    check_before_write(svc, &image)?;
    Ok(svc.repo().await?.create(&image).await?)
}

async fn create(svc: Arc<ImageService>, req: Request, _p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let host_url = glimpse_http::ext::host_url(&req);
    let body = require_body(read_json(req).await?)?;
    let body = deserialize_create(&body, svc.schema())?;
    let owner = body
        .owner()
        .map(str::to_string)
        .or_else(|| ctx.project_id.clone());
    ImagePolicy::proposed(&ctx, &svc.enforcer, owner.as_deref(), body.visibility()).add_image()?;
    // The protected image factory: every extra property needs `create`,
    // checked before the factory's own checks.
    let caller = svc.protections.caller(&ctx);
    if let Some(k) = body
        .extra_keys()
        .find(|k| !caller.allows(k, Operation::Create))
    {
        return Err(protections::refused(k).into());
    }
    let new = body.into_new_image()?;
    let stored = create_image(&svc, new, owner).await?;
    let mut resp = json_response(StatusCode::CREATED, &render(&svc, &caller, &stored));
    let h = resp.headers_mut();
    // Glance sets a relative Location; WebOb absolutizes it.
    if let Ok(v) = HeaderValue::from_str(&format!("{host_url}/v2/images/{}", stored.id)) {
        h.insert(header::LOCATION, v);
    }
    if let Some(m) = &svc.settings.import_methods {
        h.insert("OpenStack-image-import-methods", m.clone());
    }
    if let Some(s) = &svc.settings.store_ids {
        h.insert("OpenStack-image-store-ids", s.clone());
    }
    Ok(resp)
}

async fn index(svc: Arc<ImageService>, req: Request, _p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let pairs = py::parse_query_string(req.uri().query().unwrap_or("").as_bytes())?;
    let q = parse_list_query(&pairs, svc.settings.limits)?;
    // "May you list images at all"; each image is then checked on its own.
    let target = crate::policy::ImageTarget {
        owner: ctx.project_id.clone(),
        ..Default::default()
    };
    if !svc.enforcer.check(&ctx, "get_images", &target) {
        return Err(forbidden(
            "You are not authorized to complete get_images action.",
        ));
    }
    let repo = svc.repo().await?;
    let images = match repo.list(&q, &viewer(&ctx)).await {
        Ok(v) => v,
        // Glance's index answers a marker it cannot find with 400.
        Err(DbError::NotFound(m)) => return Err(bad_request(m)),
        Err(e) => return Err(e.into()),
    };
    let db_count = images.len() as i64;
    let shown: Vec<&Image> = images
        .iter()
        .filter(|i| ImagePolicy::new(&ctx, &svc.enforcer, i).check("get_image"))
        .collect();
    let caller = svc.protections.caller(&ctx);
    let next = match shown.last() {
        Some(last) if db_count == q.limit => Some(last.id.as_str()),
        _ => None,
    };
    let body = list_json(
        shown.iter().map(|i| render(&svc, &caller, i)).collect(),
        &pairs,
        next,
    );
    Ok(json_response(StatusCode::OK, &body))
}

async fn show(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let image = get_image(&svc, &ctx, param(&p, "image_id")).await?;
    ImagePolicy::new(&ctx, &svc.enforcer, &image).get_image()?;
    let caller = svc.protections.caller(&ctx);
    Ok(json_response(
        StatusCode::OK,
        &render(&svc, &caller, &image),
    ))
}

async fn patch(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    // The media type is checked before the body is read (415 first).
    glimpse_domain::patch::PatchDialect::from_content_type(ct.as_deref())?;
    let body = read_json(req).await?;
    let changes = parse_patch(ct.as_deref(), body.as_ref(), svc.schema())?;
    // Applied to the image under its row lock, so that a concurrent change
    // (another PATCH, an upload finishing, on any node) is neither undone
    // nor lost; Glance saves what it read and changed unconditionally.
    let id = param(&p, "image_id");
    let repo = svc.repo().await?;
    // The locations the patch removes, kept in case the commit is in doubt.
    let mut removed = Vec::new();
    let patched = repo
        .update(id, Some(&viewer(&ctx)), |image| {
            // A caller of its own: its memo is not Sync, and the closure
            // runs inside the handler's Send future.
            let caller = svc.protections.caller(&ctx);
            removed = apply_patch(&svc, &ctx, &caller, image, &changes)?;
            Ok::<_, ApiError>(if changes.is_empty() {
                Update::Keep(())
            } else {
                Update::Save(())
            })
        })
        .await;
    let stored = match patched {
        Ok((stored, ())) => stored,
        Err(ApiError::Db(DbError::InDoubt(m))) => {
            // Answered 503 even when committed: the image to show would be
            // one more read away from a database that just failed.
            removal_settled(&svc, repo, id, &removed).await;
            return Err(DbError::InDoubt(m).into());
        }
        Err(e) => return Err(e),
    };
    // A removed location's data goes once the image no longer points at it.
    for loc in &removed {
        delete_location_data(&svc, &stored.id, loc).await;
    }
    let caller = svc.protections.caller(&ctx);
    Ok(json_response(
        StatusCode::OK,
        &render(&svc, &caller, &stored),
    ))
}

/// PATCH's changes applied to `image` in Glance's order, with every check
/// (policy, protections, quotas, size cap); returns the locations the patch
/// removed, whose data goes once the image is saved.
fn apply_patch(
    svc: &ImageService,
    ctx: &RequestContext,
    caller: &Caller<'_>,
    image: &mut Image,
    changes: &[glimpse_domain::PatchChange],
) -> ApiResult<Vec<glimpse_domain::Location>> {
    let pol = ImagePolicy::new(ctx, &svc.enforcer, image);
    // Glance's protected repository hands the controller only what the
    // caller may read, so an unreadable property "does not exist" here.
    // It is kept aside and saved unchanged (Glance 33 deletes it).
    let unreadable = caller.take_unreadable(&mut image.extra_properties);
    let props_before: Vec<String> = image.extra_properties.keys().map(str::to_string).collect();
    let tags_before = image.tags.clone();
    let mut removed = Vec::new();
    for change in changes {
        let root = change.root();
        if root == "locations" {
            if change.op == PatchOp::Replace
                && change.value.as_ref().is_none_or(|v| match v {
                    Value::Array(a) => a.is_empty(),
                    Value::Null | Value::Bool(false) => true,
                    Value::String(s) => s.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    Value::Number(n) => n.as_f64() == Some(0.0),
                    Value::Bool(true) => false,
                })
            {
                return Err(forbidden_detail("Cannot set locations to empty list."));
            }
            match change.op {
                PatchOp::Remove => pol.delete_locations()?,
                _ => pol.update_locations()?,
            }
            apply_location_change(svc, image, change, &mut removed)?;
            continue;
        }
        match change.op {
            PatchOp::Replace if root == "owner" && !ctx.is_admin => {
                return Err(forbidden_detail("Owner can't be updated by non admin."));
            }
            PatchOp::Remove => pol.update_property(root, None)?,
            _ => pol.update_property(root, change.value.as_ref().and_then(Value::as_str))?,
        }
        update::apply_change_guarded(image, change, caller.guard())?;
    }
    if changes.is_empty() {
        return Ok(removed);
    }
    if image
        .extra_properties
        .keys()
        .any(|k| !props_before.iter().any(|b| b == k))
    {
        props::check_property_quota(&image.extra_properties, svc.settings.property_quota)?;
    }
    if image.tags != tags_before {
        props::check_tag_quota(image.tags.len(), svc.settings.tag_quota)?;
    }
    // A property the caller re-created through PATCH keeps its new value.
    for (k, v) in unreadable.0 {
        if !image.extra_properties.contains(&k) {
            image.extra_properties.0.push((k, v));
        }
    }
    check_before_write(svc, image)?;
    Ok(removed)
}

/// PATCH on `/locations` (`_do_*_locations` and the location proxy).
/// Adding a location needs a store that can size the URL: glance_store
/// refuses `file://` from clients (the restricted-scheme check) and
/// Glimpse has no HTTP store yet, so every new URL is "Invalid location"
/// (400), as Glance answers for a scheme it has no store for. Replacing
/// with the same URLs (a metadata change) and removing a location work.
fn apply_location_change(
    svc: &ImageService,
    image: &mut Image,
    change: &glimpse_domain::PatchChange,
    removed: &mut Vec<glimpse_domain::Location>,
) -> ApiResult<()> {
    use glimpse_domain::patch::LocationPos;
    let (verb, allowed): (&str, &[ImageStatus]) = match change.op {
        PatchOp::Replace => ("update", &[ImageStatus::Active, ImageStatus::Queued]),
        PatchOp::Add => ("add", &[ImageStatus::Active, ImageStatus::Queued]),
        PatchOp::Remove => ("remove", &[ImageStatus::Active]),
    };
    if !svc.settings.render.show_multiple_locations {
        return Err(forbidden(format!(
            "It's not allowed to {verb} locations if locations are invisible."
        )));
    }
    if !allowed.contains(&image.status) {
        let verb = if verb == "update" { "replace" } else { verb };
        return Err(conflict(format!(
            "It's not allowed to {verb} locations if image status is {}.",
            image.status
        )));
    }
    let active: Vec<usize> = image
        .locations
        .iter()
        .enumerate()
        .filter(|(_, l)| l.status == "active")
        .map(|(i, _)| i)
        .collect();
    let invalid = || bad_request("Invalid location");
    match change.op {
        PatchOp::Replace => {
            let Some(Value::Array(items)) = &change.value else {
                return Err(bad_request("Invalid locations"));
            };
            let mut new_urls: Vec<&str> = items
                .iter()
                .map(|v| v.get("url").and_then(Value::as_str).unwrap_or(""))
                .collect();
            let mut cur_urls: Vec<&str> = active
                .iter()
                .map(|&i| image.locations[i].url.as_str())
                .collect();
            new_urls.sort_unstable();
            cur_urls.sort_unstable();
            if new_urls != cur_urls {
                if !cur_urls.is_empty() {
                    return Err(bad_request(format!(
                        "Original locations is not empty: {}",
                        py::str_of(&Value::Array(
                            active
                                .iter()
                                .map(|&i| json!({
                                    "url": image.locations[i].url,
                                    "metadata": image.locations[i].metadata,
                                }))
                                .collect()
                        ))
                    )));
                }
                return Err(invalid());
            }
            // Same URLs: only the metadata changes.
            for item in items {
                let url = item.get("url").and_then(Value::as_str).unwrap_or("");
                let meta = item
                    .get("metadata")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                if let Some(l) = image
                    .locations
                    .iter_mut()
                    .find(|l| l.status == "active" && l.url == url)
                {
                    l.metadata = meta;
                }
            }
            Ok(())
        }
        PatchOp::Add => {
            let pos_ok = match change.location_pos() {
                Some(LocationPos::End) => true,
                Some(LocationPos::Index(p)) => {
                    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
                }
                None => false,
            };
            if !pos_ok {
                return Err(bad_request("Invalid position for adding a location."));
            }
            Err(invalid())
        }
        PatchOp::Remove => {
            if active.len() == 1 {
                return Err(forbidden("Cannot remove last location in the image."));
            }
            let pos = match change.location_pos() {
                Some(LocationPos::End) => active.len().checked_sub(1),
                Some(LocationPos::Index(p))
                    if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    p.parse::<usize>().ok().filter(|n| *n < active.len())
                }
                _ => None,
            };
            let Some(pos) = pos else {
                return Err(bad_request("Invalid position for removing a location."));
            };
            let loc = image.locations.remove(active[pos]);
            removed.push(loc);
            Ok(())
        }
    }
}

async fn delete(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let id = param(&p, "image_id").to_string();
    let not_found_msg = || not_found(format!("Failed to find image {id} to delete"));
    let repo = svc.repo().await?;
    // The data going with the image, kept in case the commit is in doubt.
    let mut doomed = Vec::new();
    // Checked and deleted under the image's row lock: the checks see the
    // image as it is when it goes (not a `protected` set a moment before),
    // and the data deleted is that of the locations it has then (an upload
    // finishing on another node in between leaves no orphaned file).
    let deleted = repo
        .update(&id, Some(&viewer(&ctx)), |image| {
            ImagePolicy::new(&ctx, &svc.enforcer, image).delete_image()?;
            let mut gone = image.clone();
            gone.delete(svc.settings.delayed_delete)
                .map_err(DomainError::as_bad_request)?;
            if gone.status == ImageStatus::Deleted {
                doomed = image.active_locations().cloned().collect();
            }
            Ok::<_, ApiError>(Update::Destroy(gone.status, ()))
        })
        .await;
    match deleted {
        Ok(_) => {}
        Err(ApiError::Db(DbError::NotFound(_))) => return Err(not_found_msg()),
        // Settled as committed, the data is gone already.
        Err(ApiError::Db(DbError::InDoubt(m))) => {
            if !removal_settled(&svc, repo, &id, &doomed).await {
                return Err(DbError::InDoubt(m).into());
            }
            doomed.clear();
        }
        Err(e) => return Err(e),
    }
    // The record went first, then the data: a crash in between leaves an
    // orphaned file (logged, reclaimable) rather than an image whose data
    // is gone. Glance deletes the data first.
    for loc in &doomed {
        delete_location_data(&svc, &id, loc).await;
    }
    remove_staged_data(&svc, &id).await;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// After a commit in doubt that removed `locations` from image `id`:
/// whether it was committed, their data removed if so
/// ([`super::in_doubt`]; `false` also while the database cannot tell).
async fn removal_settled(
    svc: &ImageService,
    repo: &Repo,
    id: &str,
    locations: &[Location],
) -> bool {
    let doubt = Doubt {
        image_id: id.to_string(),
        added: false,
        data: locations
            .iter()
            .filter_map(|loc| Some((location_store(svc, loc).ok()?.clone(), loc.url.clone())))
            .collect(),
    };
    matches!(in_doubt::settle(repo, doubt).await, Settled::Committed(_))
}

/// The store holding a location's data (by its `store` metadata in
/// multi-store mode, else by URL scheme).
fn location_store<'a>(
    svc: &'a ImageService,
    loc: &Location,
) -> glimpse_store::Result<&'a Arc<dyn glimpse_store::Store>> {
    let store_id = loc.metadata.get("store").and_then(Value::as_str);
    svc.stores.for_location(&loc.url, store_id)
}

/// `safe_delete_from_backend`: a missing object is only a warning.
pub async fn delete_location_data(svc: &ImageService, id: &str, loc: &glimpse_domain::Location) {
    let store = match location_store(svc, loc) {
        Ok(s) => s,
        Err(e) => {
            log::warn!(target: "glance.api.v2", "Image {id}: cannot delete data at a location no store handles: {e}");
            return;
        }
    };
    match store.delete(&loc.url).await {
        Ok(()) => {}
        Err(glimpse_store::StoreError::NotFound(_)) => {
            log::warn!(target: "glance.api.v2", "Failed to delete image {id} in store from URI: the data was already gone");
        }
        Err(e) => {
            log::error!(target: "glance.api.v2", "Failed to delete image {id} data from its store: {e}");
        }
    }
}

/// The staging residue of an interrupted `glance-direct` import.
async fn remove_staged_data(svc: &ImageService, id: &str) {
    let Some(staging) = svc.stores.staging() else {
        return;
    };
    let Some(prefix) = staging.url_prefix() else {
        return;
    };
    let uri = format!("{}/{id}", prefix.trim_end_matches('/'));
    match staging.delete(&uri).await {
        Ok(()) | Err(glimpse_store::StoreError::NotFound(_)) => {}
        Err(e) => {
            log::warn!(target: "glance.api.v2", "Failed to remove staged data of image {id}: {e}")
        }
    }
}

async fn deactivate(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    status_action(svc, req, p, true).await
}

async fn reactivate(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    status_action(svc, req, p, false).await
}

/// `ImageActionsController.deactivate/reactivate`.
async fn status_action(
    svc: Arc<ImageService>,
    req: Request,
    p: Params,
    deactivate: bool,
) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    // Under the row lock (see `patch`): the save cannot undo a concurrent
    // change to the image.
    svc.repo()
        .await?
        .update(param(&p, "image_id"), Some(&viewer(&ctx)), |image| {
            let pol = ImagePolicy::new(&ctx, &svc.enforcer, image);
            if deactivate {
                pol.deactivate_image()?;
                image.deactivate()
            } else {
                pol.reactivate_image()?;
                image.reactivate()
            }
            .map_err(DomainError::as_bad_request)?;
            Ok::<_, ApiError>(Update::Save(()))
        })
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

async fn tag_add(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let id = param(&p, "image_id");
    let tag = param(&p, "tag_value");
    schema::validate(svc.schema(), &json!({ "tags": [tag] }))
        .map_err(|v| bad_request(v.glance_message("image")))?;
    let repo = svc.repo().await?;
    let image = tag_image(repo, &ctx, id).await?;
    ImagePolicy::new(&ctx, &svc.enforcer, &image).modify_image()?;
    props::check_tag_4byte(tag)
        .map_err(|e| bad_request(format!("Could not update image: {}", e.explanation())))?;
    if !image.tags.iter().any(|t| t == tag) {
        props::check_tag_quota(image.tags.len() + 1, svc.settings.tag_quota).map_err(|e| {
            too_large(format!(
                "Image tag limit exceeded for image {id}: {}:",
                e.explanation()
            ))
        })?;
    }
    repo.tag_add(id, tag).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

async fn tag_delete(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let id = param(&p, "image_id");
    let tag = param(&p, "tag_value");
    let repo = svc.repo().await?;
    let image = tag_image(repo, &ctx, id).await?;
    ImagePolicy::new(&ctx, &svc.enforcer, &image).modify_image()?;
    if !image.tags.iter().any(|t| t == tag) {
        return Err(crate::error::not_found_bare());
    }
    match repo.tag_delete(id, tag).await {
        Ok(_) => Ok(empty_response(StatusCode::NO_CONTENT)),
        Err(DbError::NotFound(_)) => Err(crate::error::not_found_bare()),
        Err(e) => Err(e.into()),
    }
}

/// The tag controllers word a missing image their own way.
async fn tag_image(repo: &Repo, ctx: &RequestContext, id: &str) -> ApiResult<Image> {
    match repo.get(id, &viewer(ctx)).await {
        Ok(i) => Ok(i),
        Err(DbError::NotFound(_)) => Err(not_found(format!("Image {id} not found."))),
        Err(e) => Err(e.into()),
    }
}
