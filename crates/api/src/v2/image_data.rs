//! `PUT` and `GET /v2/images/{id}/file` (`glance/api/v2/image_data.py`).
//!
//! Upload streams the request body through [`HashingStream`] (md5
//! `checksum`, the `hashing_algorithm` multihash, the `image_size_cap`)
//! into the store, never holding the image in memory; the image goes
//! `queued → saving → active` with compare-and-swap saves, and any failure
//! puts it back to `queued` with the partial data removed. Content
//! inspection (`disk_format` against the bytes, 415) belongs between the
//! body and the hashing stream; the import issue adds it there.
//!
//! Download serves the first readable location, zero-copy (`sendfile`)
//! when the store hands out a file, with Glance's 204 for an image without
//! data and its `Range`/`Content-Range` rules.

use std::sync::Arc;

use glimpse_db::DbError;
use glimpse_db::images::{Repo, Update};
use glimpse_domain::{Image, ImageStatus, Location};
use glimpse_http::fault::HttpError;
use glimpse_http::{Body, Request, Response};
use glimpse_store::{AddOptions, ByteRange, DataStream, Store, StoreError};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value};

use super::data::{self, HashingStream, RangeDecision};
use super::images::{get_image, viewer};
use super::in_doubt::{self, Doubt, Settled};
use super::service::{ImageService, context, handler, param, reject_body};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult, bad_request, forbidden, http_error};
use crate::policy::ImagePolicy;
use crate::router::{Params, Router};

const LOG: &str = "glance.api.v2.image_data";

pub fn add_routes(router: &mut Router, svc: &Arc<ImageService>) {
    router.route(
        Method::GET,
        "/images/{image_id}/file",
        handler(svc.clone(), download),
    );
    router.route(
        Method::PUT,
        "/images/{image_id}/file",
        handler(svc.clone(), upload),
    );
}

/// `request.get_content_type(('application/octet-stream',))`: 415 with
/// `Invalid content type <type>` as the detail.
pub fn require_octet_stream(req: &Request) -> ApiResult<()> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string());
    let media = ct.as_deref().map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if media.as_deref() == Some("application/octet-stream") {
        return Ok(());
    }
    Err(ApiError::from(
        HttpError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).detail(format!(
            "Invalid content type {}",
            media.as_deref().unwrap_or("None")
        )),
    ))
}

/// The store an upload goes to: `X-Image-Meta-Store` or the default
/// backend in multi-store mode, the default store otherwise.
fn target_store<'a>(
    svc: &'a ImageService,
    req: &Request,
) -> ApiResult<(Option<String>, &'a Arc<dyn Store>)> {
    pick_store(
        svc,
        req.headers()
            .get("x-image-meta-store")
            .and_then(|v| v.to_str().ok()),
    )
}

/// The store `requested` (multi-store), or the default one; with it, the
/// store id a location records (multi-store only).
pub fn pick_store<'a>(
    svc: &'a ImageService,
    requested: Option<&str>,
) -> ApiResult<(Option<String>, &'a Arc<dyn Store>)> {
    let stores = &svc.stores;
    if stores.is_multi() {
        let id = requested
            .map(str::to_string)
            .unwrap_or_else(|| stores.default_id().to_string());
        let store = stores
            .get(&id)
            .filter(|_| !id.starts_with("os_glance_"))
            .ok_or_else(|| bad_request(format!("Unknown scheme '{id}' found in URI")))?;
        return Ok((Some(id), store));
    }
    let store = stores
        .default_store()
        .ok_or_else(|| http_error(StatusCode::GONE, ADD_DISABLED))?;
    Ok((None, store))
}

const ADD_DISABLED: &str = "Error in store configuration. Adding images to store is disabled.";

async fn upload(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    require_octet_stream(&req)?;
    let declared = data::image_size(
        req.headers()
            .get("x-openstack-image-size")
            .map(HeaderValue::as_bytes),
        req.body().exact_len(),
    )
    .map_err(|e| ApiError::from(e.http_error()))?;
    let ctx = context(&req)?;
    let (store_id, store) = target_store(&svc, &req)?;
    let store = store.clone();
    let id = param(&p, "image_id").to_string();
    // queued → saving under the image's row lock: saving the image read
    // earlier would undo a change made meanwhile (a PATCH on another
    // node), and a second upload sees `saving` and gets 409.
    let (mut image, outcome) = svc
        .repo()
        .await?
        .update(&id, Some(&viewer(&ctx)), |image| {
            ImagePolicy::new(&ctx, &svc.enforcer, image)
                .upload_image()
                .map_err(|e| match e {
                    ApiError::Http(h) if h.status() == StatusCode::FORBIDDEN => {
                        forbidden(format!("Not allowed to upload image data for image {id}"))
                    }
                    e => e,
                })?;
            Ok(match image.set_status(ImageStatus::Saving) {
                Ok(()) => Update::Save(Ok(())),
                // Glance restores (re-saves) the still-queued image, then
                // answers 400.
                Err(glimpse_domain::DomainError::MissingFormats(m)) => {
                    Update::Save(Err(bad_request(m)))
                }
                Err(e) => return Err(ApiError::from(e)),
            })
        })
        .await?;
    outcome?;
    let body = req.into_body();
    let size_hint = declared.and_then(|n| u64::try_from(n).ok());
    match write_data(&svc, &mut image, store_id, store, Box::pin(body), size_hint).await {
        Ok(()) => Ok(super::service::empty_response(StatusCode::NO_CONTENT)),
        Err(WriteFailure::Gone) => Err(gone(&id)),
        Err(WriteFailure::Failed(e)) => {
            restore_after_failure(&svc, &id).await;
            Err(e)
        }
        Err(WriteFailure::InDoubt(e)) => Err(e),
    }
}

/// Why [`write_data`] did not finish.
#[derive(Debug)]
pub enum WriteFailure {
    /// The image was deleted or changed meanwhile; the data written went.
    Gone,
    /// Anything else; the data written went, the image stays `saving`
    /// for the caller to restore or remove.
    Failed(ApiError),
    /// The commit recording the data was in doubt and the data was found
    /// not recorded, or the database could not tell yet: [`in_doubt`]
    /// removes the data and restores the image, now or once it can tell,
    /// so the caller leaves the image alone.
    ///
    /// [`in_doubt`]: super::in_doubt
    InDoubt(ApiError),
}

/// Streams `data` into `store` for `image` (already saved as `saving`)
/// through [`HashingStream`], then records the size, checksum, multihash
/// and location and makes the image `active` — on the image as it is by
/// then, under its row lock (it must still be `saving`; changes made
/// during the upload are kept); `image` becomes the stored image. On any
/// failure the stored data is removed, except when the connection failed
/// during that commit: then the record is read back first
/// ([`super::in_doubt`]).
pub async fn write_data(
    svc: &ImageService,
    image: &mut Image,
    store_id: Option<String>,
    store: Arc<dyn Store>,
    data: DataStream,
    size_hint: Option<u64>,
) -> Result<(), WriteFailure> {
    let id = image.id.clone();
    let (stream, hashes) =
        HashingStream::new(data, svc.settings.hash_algo, svc.settings.image_size_cap);
    let opts = AddOptions {
        size_hint,
        max_size: Some(svc.settings.image_size_cap),
    };
    let stored = match store.add(&id, Box::pin(stream), opts).await {
        Ok(s) => s,
        Err(e) => {
            return Err(WriteFailure::Failed(match hashes.cap_exceeded() {
                Some(cap) => ApiError::from(cap.http_error()),
                None => upload_store_error(&id, e),
            }));
        }
    };
    let Some(d) = hashes.digests() else {
        // The store finished without draining the body: treat as a failed
        // write (nothing is recorded, the data goes).
        discard(&store, &stored.uri, &id).await;
        return Err(WriteFailure::Failed(http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "upload incomplete",
        )));
    };
    let mut metadata: Map<String, Value> = stored.metadata.clone();
    if let Some(sid) = &store_id {
        metadata.insert("store".into(), Value::String(sid.clone()));
    }
    let location = Location {
        url: stored.uri.clone(),
        metadata,
        status: "active".into(),
        id: None,
    };
    let repo = match svc.repo().await {
        Ok(repo) => repo,
        Err(e) => {
            discard(&store, &stored.uri, &id).await;
            return Err(WriteFailure::Failed(e));
        }
    };
    // The data is recorded on the image as it is now, under its row lock:
    // other requests may have changed it during the upload (a PATCH of its
    // properties, on any node), and saving the copy read before the upload
    // would undo those changes.
    let saved = repo
        .update(&id, None, |current| {
            if current.status != ImageStatus::Saving {
                return Ok(Update::Keep(false));
            }
            record_data(current, &d, location);
            current.set_status(ImageStatus::Active)?;
            Ok::<_, ApiError>(Update::Save(true))
        })
        .await;
    match saved {
        Ok((stored_image, true)) => {
            *image = stored_image;
            Ok(())
        }
        // Deleted (or otherwise taken out of `saving`) during the upload:
        // the data goes.
        Ok((_, false)) | Err(ApiError::Db(DbError::NotFound(_))) => {
            discard(&store, &stored.uri, &id).await;
            Err(WriteFailure::Gone)
        }
        Err(ApiError::Db(DbError::InDoubt(m))) => {
            let doubt = Doubt {
                image_id: id.clone(),
                added: true,
                data: vec![(store, stored.uri)],
            };
            match in_doubt::settle(repo, doubt).await {
                Settled::Committed(Some(stored_image)) => {
                    *image = *stored_image;
                    Ok(())
                }
                _ => Err(WriteFailure::InDoubt(DbError::InDoubt(m).into())),
            }
        }
        Err(e) => {
            discard(&store, &stored.uri, &id).await;
            Err(WriteFailure::Failed(e))
        }
    }
}

/// What an upload records on its image: size (and virtual size for raw),
/// checksum, multihash, the new location.
fn record_data(image: &mut Image, d: &data::Digests, location: Location) {
    image.size = Some(i64::try_from(d.size).unwrap_or(i64::MAX));
    // Glance's format inspection gives a raw image its own size as the
    // virtual size; the other formats' headers are read by the inspector
    // the import issue brings.
    if image.container_format.as_deref() == Some("bare")
        && image.disk_format.as_deref() == Some("raw")
    {
        image.virtual_size = image.size;
    }
    image.checksum = Some(d.checksum.clone());
    image.os_hash_algo = Some(d.algo.to_string());
    image.os_hash_value = Some(d.hash.clone());
    image.locations.push(location);
}

fn gone(id: &str) -> ApiError {
    http_error(
        StatusCode::GONE,
        format!(
            "Image {id} could not be found after upload. The image may have been deleted \
             during the upload, cleaning up the chunks uploaded."
        ),
    )
}

/// The statuses and texts Glance's upload answers store errors with.
fn upload_store_error(id: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::StorageFull(_) => http_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Image storage media is full: {e}"),
        ),
        StoreError::SizeLimit { .. } => http_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The incoming image is too large: The provided image is too large.",
        ),
        StoreError::WriteDenied(_) => http_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Insufficient permissions on image storage media: {e}"),
        ),
        StoreError::AddDisabled(_) | StoreError::ReadOnly(_) => {
            http_error(StatusCode::GONE, ADD_DISABLED)
        }
        StoreError::Duplicate(_) => http_error(StatusCode::CONFLICT, e.to_string()),
        StoreError::SizeMismatch { .. } | StoreError::BadLocation(_) => bad_request(e.to_string()),
        StoreError::Input(ref io) => {
            log::warn!(target: LOG, "Upload of image {id} failed reading the request body: {io}");
            bad_request("Error reading the request body.")
        }
        other => {
            log::error!(target: LOG, "Failed to upload image data for image {id} due to internal error: {other}");
            ApiError::Store(other)
        }
    }
}

/// `_restore`: back to `queued`, the upload's fields cleared, under the
/// image's row lock so that it cannot undo a change another request made
/// during the upload; an image that is not `saving` any more (or gone) is
/// left alone.
pub(super) async fn restore(repo: &Repo, id: &str) -> Result<(), DbError> {
    let r = repo
        .update(id, None, |img| {
            if img.status != ImageStatus::Saving {
                return Ok(Update::Keep(()));
            }
            img.status = ImageStatus::Queued;
            img.size = None;
            img.virtual_size = None;
            img.checksum = None;
            img.os_hash_algo = None;
            img.os_hash_value = None;
            img.locations.retain(|l| l.id.is_some());
            Ok::<_, DbError>(Update::Save(()))
        })
        .await;
    match r {
        Ok(_) | Err(DbError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// [`restore`] after a failed upload. Failures are only logged, as in
/// Glance: when the database is down the image stays `saving` (without
/// data), which a DELETE clears.
async fn restore_after_failure(svc: &ImageService, id: &str) {
    let r = match svc.repo().await {
        Ok(repo) => restore(repo, id).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    if let Err(e) = r {
        log::error!(target: LOG, "Unable to restore image {id}: {e}");
    }
}

async fn discard(store: &Arc<dyn Store>, uri: &str, id: &str) {
    if let Err(e) = store.delete(uri).await {
        log::error!(target: LOG, "Failed to remove uploaded data of image {id} at {uri}: {e}");
    }
}

async fn download(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    reject_body(&req)?;
    let ctx = context(&req)?;
    let image = get_image(&svc, &ctx, param(&p, "image_id")).await?;
    if image.status == ImageStatus::Deactivated && !ctx.is_admin {
        return Err(forbidden(
            "The requested image has been deactivated. Image data download is forbidden.",
        ));
    }
    ImagePolicy::new(&ctx, &svc.enforcer, &image).download_image()?;
    let prefer = prefer_param(&req);
    if !prefer.is_empty() && !svc.stores.is_multi() {
        return Err(bad_request(
            "Store selection for download is not available when multiple backends are not enabled.",
        ));
    }
    let decision = data::download_range(
        req.headers().get(header::RANGE).map(HeaderValue::as_bytes),
        req.headers()
            .get(header::CONTENT_RANGE)
            .map(HeaderValue::as_bytes),
        image.size.and_then(|s| u64::try_from(s).ok()),
    )
    .map_err(|e| ApiError::from(e.http_error()))?;
    serve(&svc, &ctx, &image, decision).await
}

fn prefer_param(req: &Request) -> Vec<String> {
    let q = req.uri().query().unwrap_or("");
    glimpse_domain::py::parse_query_string(q.as_bytes())
        .unwrap_or_default()
        .into_iter()
        .rev()
        .find(|(k, _)| k == "prefer")
        .map(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Open the first location that answers (store-weight order) and stream it.
async fn serve(
    svc: &ImageService,
    _ctx: &RequestContext,
    image: &Image,
    decision: RangeDecision,
) -> ApiResult<Response> {
    let (range, partial) = match &decision {
        RangeDecision::Full => (None, None),
        RangeDecision::Partial {
            offset,
            len,
            content_range,
        } => (
            // Ranges past the end were refused already (416), so a slice
            // is never empty.
            Some(ByteRange::FromTo {
                start: *offset,
                end: offset + len.max(&1) - 1,
            }),
            Some(content_range.clone()),
        ),
    };
    let mut last_err: Option<StoreError> = None;
    for loc in image.active_locations() {
        let store_id = loc.metadata.get("store").and_then(Value::as_str);
        let Ok(store) = svc.stores.for_location(&loc.url, store_id) else {
            continue;
        };
        match store.get(&loc.url, range).await {
            Ok(reader) => {
                let len = reader.len;
                let body = match reader.file {
                    Some(f) => Body::from_file(f.file, f.offset, f.len),
                    None => Body::from_stream(reader.stream, Some(len)),
                };
                let mut r = Response::new(body);
                *r.status_mut() = if partial.is_some() {
                    StatusCode::PARTIAL_CONTENT
                } else {
                    StatusCode::OK
                };
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                if let Some(cr) = partial
                    .as_deref()
                    .and_then(|c| HeaderValue::from_str(c).ok())
                {
                    h.insert(header::CONTENT_RANGE, cr);
                }
                if let Some(md5) = image
                    .checksum
                    .as_deref()
                    .and_then(|c| HeaderValue::from_str(c).ok())
                {
                    h.insert("content-md5", md5);
                }
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                return Ok(r);
            }
            Err(e) => {
                log::warn!(target: LOG, "Get image {} data failed: {e}", image.id);
                last_err = Some(e);
            }
        }
    }
    match last_err {
        // No location, or none with data: Glance's 204 (`HTTPNoContent`).
        None | Some(StoreError::NotFound(_)) => {
            Ok(super::service::bare_response(StatusCode::NO_CONTENT))
        }
        Some(StoreError::RangeNotSatisfiable { size }) => Err(ApiError::from(
            HttpError::new(StatusCode::RANGE_NOT_SATISFIABLE).detail(format!(
                "Requested range not satisfiable: image size {size}"
            )),
        )),
        Some(e @ StoreError::Unavailable(_)) => {
            Err(http_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
        Some(e) => Err(ApiError::Store(e)),
    }
}
