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

/// The locations one commit in doubt added (an upload) or removed (a
/// delete, a PATCH removing them), with the stores holding their data.
pub struct Doubt {
    pub image_id: String,
    pub added: bool,
    pub data: Vec<(Arc<dyn Store>, String)>,
}

impl std::fmt::Debug for Doubt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doubt")
            .field("image_id", &self.image_id)
            .field("added", &self.added)
            .field(
                "uris",
                &self.data.iter().map(|(_, u)| u).collect::<Vec<_>>(),
            )
            .finish()
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
    /// The database cannot tell yet (or nothing hangs on the answer): the
    /// data is kept and the question is asked again in the background.
    Unknown,
}

/// Decides the fate of the doubt's data now if the database answers,
/// otherwise in the background.
pub async fn settle(repo: &Repo, doubt: Doubt) -> Settled {
    if doubt.data.is_empty() {
        return Settled::Unknown;
    }
    match doubt.decide(repo).await {
        Ok(s) => s,
        Err(e) => {
            for (_, uri) in &doubt.data {
                log::warn!(
                    target: LOG,
                    "Image {}: the database cannot tell whether the change to its location \
                     {uri} was committed ({e}); the data is kept until it can",
                    doubt.image_id
                );
            }
            let repo = repo.clone();
            tokio::spawn(async move { doubt.decide_later(repo).await });
            Settled::Unknown
        }
    }
}

impl Doubt {
    async fn decide_later(self, repo: Repo) {
        let mut wait = FIRST_WAIT;
        loop {
            tokio::time::sleep(wait).await;
            match self.decide(&repo).await {
                Ok(s) => {
                    let outcome = if matches!(s, Settled::Committed(_)) {
                        "committed"
                    } else {
                        "not committed"
                    };
                    for (_, uri) in &self.data {
                        log::info!(
                            target: LOG,
                            "Image {}: the change to its location {uri} in doubt was {outcome}",
                            self.image_id
                        );
                    }
                    return;
                }
                Err(_) => wait = (wait * 2).min(MAX_WAIT),
            }
        }
    }

    /// Reads the image back once; the data of each location it does not
    /// record goes. Committed when the locations are recorded exactly as
    /// the change wanted (all of them for an upload, none for a removal).
    async fn decide(&self, repo: &Repo) -> Result<Settled, DbError> {
        let image = match repo.get_any(&self.image_id).await {
            Ok(img) => Some(img),
            Err(DbError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let records = |uri: &str| {
            image
                .as_ref()
                .is_some_and(|img| img.locations.iter().any(|l| l.url == uri))
        };
        let mut all_recorded = true;
        for (store, uri) in &self.data {
            if records(uri) {
                continue;
            }
            all_recorded = false;
            match store.delete(uri).await {
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => log::error!(
                    target: LOG,
                    "Failed to remove data of image {} at {uri}: {e}",
                    self.image_id
                ),
            }
        }
        if self.added && !all_recorded {
            // Asked again if this fails: removing the data twice is
            // harmless.
            super::image_data::restore(repo, &self.image_id).await?;
        }
        let none_recorded = !self.data.iter().any(|(_, uri)| records(uri));
        Ok(match (self.added, all_recorded, none_recorded) {
            (true, true, _) => Settled::Committed(image.map(Box::new)),
            (false, _, true) => Settled::Committed(None),
            _ => Settled::RolledBack,
        })
    }
}
