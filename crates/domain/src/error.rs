//! [`DomainError`]: every rule violation the domain reports, and the one
//! place that maps it to Glance's HTTP status.
//!
//! | Variant | Status | Glance origin |
//! |---|---|---|
//! | `BadRequest` | 400 | `webob.exc.HTTPBadRequest`, `exception.Invalid` and friends |
//! | `Forbidden` | 403 | read-only/reserved attributes, `exception.Forbidden` |
//! | `ForbiddenDetail` | 403 | `HTTPForbidden(msg)`: the text is WebOb's *detail* under "Access was denied to this resource." |
//! | `NotFound` | 404 | `exception.NotFound` |
//! | `Conflict` | 409 | `exception.Conflict` and friends |
//! | `ConflictDetail` | 409 | `HTTPConflict(msg)`: duplicate or missing properties on PATCH |
//! | `TooLarge` | 413 | property, tag and member quotas (`*LimitExceeded`) |
//! | `UnsupportedPatchType` | 415 | PATCH with an unknown Content-Type (adds `Accept-Patch`) |
//! | `InvalidStatusTransition` | 409 | `InvalidImageStatusTransition`; 409 on upload, stage and import. Delete and deactivate paths report it as 400 ([`DomainError::as_bad_request`]). |
//! | `MissingFormats` | 400 | the `ValueError` when formats are unset before saving data; import reports it as 409 |
//! | `Internal` | 500 | what Glance answers with a bare 500 (e.g. `?abc_min=1`) |

use std::fmt;

use crate::image::ImageStatus;

/// The two PATCH media types, sorted and joined as Glance sends them in
/// `Accept-Patch` (and in the 415 detail).
pub const ACCEPT_PATCH: &str =
    "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainError {
    BadRequest(String),
    Forbidden(String),
    ForbiddenDetail(String),
    NotFound(String),
    Conflict(String),
    /// `HTTPConflict(msg)`: the text is WebOb's *detail* under "There was a
    /// conflict when trying to complete your request."
    ConflictDetail(String),
    TooLarge(String),
    /// PATCH with a Content-Type other than the two JSON-patch types. The
    /// field is the offending media type (WebOb puts it in the explanation).
    UnsupportedPatchType(String),
    InvalidStatusTransition {
        from: ImageStatus,
        to: ImageStatus,
    },
    MissingFormats(String),
    Internal(String),
}

impl DomainError {
    /// Glance's HTTP status for this error (see the module table).
    pub fn status(&self) -> u16 {
        match self {
            DomainError::BadRequest(_) | DomainError::MissingFormats(_) => 400,
            DomainError::Forbidden(_) | DomainError::ForbiddenDetail(_) => 403,
            DomainError::NotFound(_) => 404,
            DomainError::Conflict(_)
            | DomainError::ConflictDetail(_)
            | DomainError::InvalidStatusTransition { .. } => 409,
            DomainError::TooLarge(_) => 413,
            DomainError::UnsupportedPatchType(_) => 415,
            DomainError::Internal(_) => 500,
        }
    }

    /// The WebOb `explanation` (the first part of an error body). For 415
    /// this is WebOb's stock sentence; the Glance text is [`Self::detail`].
    pub fn explanation(&self) -> String {
        match self {
            DomainError::BadRequest(m)
            | DomainError::Forbidden(m)
            | DomainError::NotFound(m)
            | DomainError::Conflict(m)
            | DomainError::TooLarge(m)
            | DomainError::MissingFormats(m) => m.clone(),
            DomainError::ForbiddenDetail(_) => "Access was denied to this resource.".to_string(),
            DomainError::ConflictDetail(_) => {
                "There was a conflict when trying to complete your request.".to_string()
            }
            DomainError::UnsupportedPatchType(ct) => {
                format!("The request media type {ct} is not supported by this server.")
            }
            DomainError::InvalidStatusTransition { from, to } => format!(
                "Image status transition from {} to {} is not allowed",
                from.as_str(),
                to.as_str()
            ),
            DomainError::Internal(_) => "The server has either erred or is incapable of \
                 performing the requested operation."
                .to_string(),
        }
    }

    /// The WebOb `detail`, present only where Glance passes one.
    pub fn detail(&self) -> Option<String> {
        match self {
            DomainError::UnsupportedPatchType(_) => Some(format!(
                "Image PATCH expects Content-Type one of: {ACCEPT_PATCH}"
            )),
            DomainError::ForbiddenDetail(d) | DomainError::ConflictDetail(d) => Some(d.clone()),
            _ => None,
        }
    }

    /// Extra response headers Glance adds (`Accept-Patch` on 415).
    pub fn headers(&self) -> Vec<(&'static str, &'static str)> {
        match self {
            DomainError::UnsupportedPatchType(_) => vec![("Accept-Patch", ACCEPT_PATCH)],
            _ => Vec::new(),
        }
    }

    /// Delete and deactivate paths turn `InvalidImageStatusTransition` into
    /// 400 (Glance catches it as `exception.Invalid`).
    pub fn as_bad_request(self) -> DomainError {
        match self {
            e @ DomainError::InvalidStatusTransition { .. } => {
                DomainError::BadRequest(e.explanation())
            }
            e => e,
        }
    }

    /// Import turns the missing-formats `ValueError` into 409.
    pub fn as_conflict(self) -> DomainError {
        match self {
            DomainError::MissingFormats(m) => DomainError::Conflict(m),
            e => e,
        }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.explanation())
    }
}

impl std::error::Error for DomainError {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_texts() {
        let e = DomainError::InvalidStatusTransition {
            from: ImageStatus::Active,
            to: ImageStatus::Queued,
        };
        assert_eq!(e.status(), 409);
        assert_eq!(
            e.explanation(),
            "Image status transition from active to queued is not allowed"
        );
        assert_eq!(e.clone().as_bad_request().status(), 400);
        let u = DomainError::UnsupportedPatchType("application/json".into());
        assert_eq!(u.status(), 415);
        assert_eq!(u.headers(), vec![("Accept-Patch", ACCEPT_PATCH)]);
        assert_eq!(
            u.explanation(),
            "The request media type application/json is not supported by this server."
        );
        assert_eq!(
            DomainError::MissingFormats("x".into())
                .as_conflict()
                .status(),
            409
        );
    }
}
