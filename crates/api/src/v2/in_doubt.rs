//! Image data whose fate hangs on a commit in doubt.
//!
//! When the connection to PostgreSQL or MySQL fails during the `COMMIT`
//! that records an upload's location, or that removes an image or one of
//! its locations, the database may or may not have kept the change
//! ([`DbError::InDoubt`]). Acting as if it had not would lose data: an
//! upload's file removed under an image the database made `active`. Acting
//! as if it had would leave orphaned files. So the change is read back:
//! the data at a location stays exactly when the live image still records
//! it. When the database cannot answer yet, the data is kept (and logged)
//! and the question is asked again in the background until it can.
//!
//! An upload found not recorded is also put back to `queued` here, not by
//! the failed request: an image left `saving` takes no new upload, so
//! nothing can write to the same location before this is decided.

use std::sync::Arc;
use std::time::Duration;

use glimpse_db::DbError;
use glimpse_db::images::Repo;
use glimpse_domain::Image;
use glimpse_store::{Store, StoreError};

const LOG: &str = "glance.api.v2";

/// The first wait before asking the database again, doubled up to
/// [`MAX_WAIT`] while it cannot answer.
const FIRST_WAIT: Duration = Duration::from_millis(500);
const MAX_WAIT: Duration = Duration::from_secs(5);

/// Data written at (or about to be removed from) one location.
pub struct Pending {
    pub image_id: String,
    pub store: Arc<dyn Store>,
    pub uri: String,
    /// Whether the change in doubt added the location (an upload) or
    /// removed it (a delete, a PATCH removing it).
    pub added: bool,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("image_id", &self.image_id)
            .field("uri", &self.uri)
            .field("added", &self.added)
            .finish_non_exhaustive()
    }
}

/// What the database says became of the change.
#[derive(Debug)]
pub enum Settled {
    /// It was committed; for an upload, the image as stored.
    Committed(Option<Box<Image>>),
    /// It was not; data nobody records is removed (an upload's image is
    /// back to `queued`).
    RolledBack,
    /// The database cannot tell yet: the data is kept and the question is
    /// asked again in the background.
    Unknown,
}

/// Decides the fate of `pending` (all from one commit) now if the database
/// answers, otherwise in the background.
pub async fn settle(repo: &Repo, pending: Vec<Pending>) -> Settled {
    let mut first = None;
    let mut rest = pending.into_iter();
    for p in rest.by_ref() {
        match p.decide(repo).await {
            Ok(s) => {
                first.get_or_insert(s);
            }
            Err(e) => {
                let later: Vec<Pending> = std::iter::once(p).chain(rest).collect();
                for p in &later {
                    log::warn!(
                        target: LOG,
                        "Image {}: the database cannot tell whether the change to its location \
                         {} was committed ({e}); the data is kept until it can",
                        p.image_id,
                        p.uri
                    );
                }
                let repo = repo.clone();
                tokio::spawn(async move { decide_later(repo, later).await });
                return Settled::Unknown;
            }
        }
    }
    first.unwrap_or(Settled::Unknown)
}

async fn decide_later(repo: Repo, pending: Vec<Pending>) {
    let mut wait = FIRST_WAIT;
    for p in pending {
        loop {
            tokio::time::sleep(wait).await;
            match p.decide(&repo).await {
                Ok(s) => {
                    log::info!(
                        target: LOG,
                        "Image {}: the change to its location {} in doubt was {}",
                        p.image_id,
                        p.uri,
                        if matches!(s, Settled::Committed(_)) {
                            "committed"
                        } else {
                            "not committed"
                        }
                    );
                    break;
                }
                Err(_) => wait = (wait * 2).min(MAX_WAIT),
            }
        }
    }
}

impl Pending {
    /// Reads back whether the live image records the location, and keeps
    /// or removes the data accordingly.
    async fn decide(&self, repo: &Repo) -> Result<Settled, DbError> {
        let holder = match repo.get_any(&self.image_id).await {
            Ok(img) if img.locations.iter().any(|l| l.url == self.uri) => Some(img),
            Ok(_) | Err(DbError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let recorded = holder.is_some();
        if !recorded {
            match self.store.delete(&self.uri).await {
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => log::error!(
                    target: LOG,
                    "Failed to remove data of image {} at {}: {e}",
                    self.image_id,
                    self.uri
                ),
            }
            if self.added {
                // Asked again if this fails: removing the data twice is
                // harmless.
                super::image_data::restore(repo, &self.image_id).await?;
            }
        }
        Ok(if recorded == self.added {
            Settled::Committed(holder.map(Box::new))
        } else {
            Settled::RolledBack
        })
    }
}
