//! The legacy `import` task (`glance/async_/flows/base_import.py` as
//! Glance 33 runs it without a `[task] work_dir`): create the image from
//! `image_properties`, fetch `import_from` over HTTP(S) straight into the
//! default store (hashed on the way, as an upload is), activate the image,
//! and record `{"image_id": …}` as the task's result. Any failure deletes
//! the image it created and fails the task with Glance's message.
//!
//! The fetch connects only to addresses `[import_filtering_opts]` allowed
//! (checked again here, and for every redirect), so neither a redirect nor
//! a changed DNS answer can point it at the cloud's own services.

use std::sync::Arc;
use std::time::Duration;

use glimpse_db::images::now;
use glimpse_domain::task::{LegacyImport, Task};
use glimpse_domain::{ImageStatus, props};
use glimpse_http::client::{Client, ClientOptions};
use http::{HeaderMap, header};
use serde_json::{Value, json};

use glimpse_domain::protections::{Operation, refused};

use crate::context::RequestContext;
use crate::v2::image_data::{WriteFailure, pick_store, write_data};
use crate::v2::images::create_image;
use crate::v2::service::ImageService;

const LOG: &str = "glance.async_.flows.base_import";
/// urllib's redirect limit.
const MAX_REDIRECTS: usize = 10;

/// Runs the task in the background of this worker, on behalf of the
/// caller who created it (`ctx`: property protections apply to the image
/// it makes, as Glance's protected image factory does).
pub fn spawn(svc: Arc<ImageService>, task: Task, ctx: Arc<RequestContext>) {
    tokio::spawn(async move { run(svc, task, ctx).await });
}

async fn run(svc: Arc<ImageService>, mut task: Task, ctx: Arc<RequestContext>) {
    let ttl = svc.tasks.time_to_live_hours;
    let repo = match svc.repo().await {
        Ok(r) => r,
        Err(e) => {
            log::error!(target: LOG, "Task {}: no database: {e}", task.id);
            return;
        }
    };
    if task.begin_processing().is_err() {
        return;
    }
    if let Err(e) = repo.tasks().save(&task).await {
        log::error!(target: LOG, "Task {}: cannot record processing: {e}", task.id);
        return;
    }
    let outcome = import(&svc, &task, &ctx).await;
    let done = match outcome {
        Ok(image_id) => {
            log::info!(target: LOG, "Task {} of type import completed: image {image_id}", task.id);
            task.succeed(json!({"image_id": image_id}), now(), ttl)
        }
        Err(message) => {
            log::warn!(target: LOG, "Task {} failed: {message}", task.id);
            task.fail(&message, now(), ttl)
        }
    };
    if done.is_ok()
        && let Err(e) = repo.tasks().save(&task).await
    {
        log::error!(target: LOG, "Task {}: cannot record its outcome: {e}", task.id);
    }
}

/// The task's work; the image id, or the task's failure message.
async fn import(svc: &ImageService, task: &Task, ctx: &RequestContext) -> Result<String, String> {
    let input = LegacyImport::from_input(&task.input)?;
    let mut properties = input.image_properties.clone();
    // `set_base_image_properties`: an empty dict gets placeholder formats.
    if properties.is_empty() {
        properties.insert("disk_format".into(), json!("qcow2"));
        properties.insert("container_format".into(), json!("bare"));
    }
    let new = props::parse_create(&Value::Object(properties), svc.schema())
        .map_err(|e| e.explanation())?;
    {
        let caller = svc.protections.caller(ctx);
        if let Some(k) = new
            .extra_properties
            .keys()
            .find(|k| !caller.allows(k, Operation::Create))
        {
            return Err(refused(k).explanation());
        }
    }
    // Glance's flow creates the image without an owner unless the
    // properties name one.
    let owner = new.owner.clone();
    let image = create_image(svc, new, owner)
        .await
        .map_err(|e| e.to_string())?;
    let id = image.id.clone();
    match fetch_into_store(svc, image, &input.import_from).await {
        Ok(()) => Ok(id),
        Err(message) => {
            // The flow's revert: the image it created goes.
            if let Ok(repo) = svc.repo().await
                && let Err(e) = repo.destroy(&id).await
            {
                log::error!(target: LOG, "Task {}: cannot delete image {id}: {e}", task.id);
            }
            Err(message)
        }
    }
}

fn upload_failed(why: impl std::fmt::Display) -> String {
    format!("Uploading the image failed due to: {why}")
}

async fn fetch_into_store(
    svc: &ImageService,
    mut image: glimpse_domain::Image,
    uri: &str,
) -> Result<(), String> {
    let client = Client::new(ClientOptions {
        timeout: Duration::from_secs(300),
        user_agent: format!("glimpse/{}", env!("CARGO_PKG_VERSION")),
        ..ClientOptions::default()
    })
    .map_err(|e| e.to_string())?;
    let mut url = uri.to_string();
    let mut redirects = 0;
    let resp = loop {
        let addrs =
            svc.tasks.filter.addresses(&url).await.map_err(|_| {
                format!("URI for legacy import task does not pass filtering: {url}")
            })?;
        let resp = client
            .get_streaming(&url, &HeaderMap::new(), addrs.first().copied())
            .await
            .map_err(|e| upload_failed(format!("<urlopen error {e}>")))?;
        if resp.status.is_redirection()
            && let Some(loc) = resp
                .headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
        {
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(upload_failed(format!(
                    "HTTP Error {}: too many redirects",
                    resp.status.as_u16()
                )));
            }
            url = join_location(&url, loc);
            continue;
        }
        break resp;
    };
    if !resp.status.is_success() {
        return Err(upload_failed(format!(
            "HTTP Error {}: {}",
            resp.status.as_u16(),
            resp.status.canonical_reason().unwrap_or("")
        )));
    }
    let size_hint = resp
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (store_id, store) = pick_store(svc, None).map_err(|e| e.to_string())?;
    let store = store.clone();
    let repo = svc.repo().await.map_err(|e| e.to_string())?;
    image
        .set_status(ImageStatus::Saving)
        .map_err(|e| e.explanation())?;
    repo.save(&image, Some(ImageStatus::Queued))
        .await
        .map_err(|e| e.to_string())?;
    match write_data(svc, &mut image, store_id, store, resp.body, size_hint).await {
        Ok(()) => Ok(()),
        Err(WriteFailure::Gone) => Err(format!("Image {} was deleted during the import", image.id)),
        Err(WriteFailure::Failed(e) | WriteFailure::InDoubt(e)) => Err(upload_failed(e)),
    }
}

/// A redirect's `Location` against the URL it answered.
fn join_location(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let authority = rest.split('/').next().unwrap_or("");
    if let Some(path) = loc.strip_prefix('/') {
        return format!("{scheme}://{authority}/{path}");
    }
    let dir = match rest.rfind('/') {
        Some(i) if i >= authority.len() => rest[..=i].to_string(),
        _ => format!("{authority}/"),
    };
    format!("{scheme}://{dir}{loc}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_resolve_like_urljoin() {
        assert_eq!(join_location("http://a/b/c", "http://x/y"), "http://x/y");
        assert_eq!(join_location("http://a:8/b/c", "/d"), "http://a:8/d");
        assert_eq!(join_location("http://a/b/c", "d"), "http://a/b/d");
        assert_eq!(join_location("http://a", "d"), "http://a/d");
    }
}
