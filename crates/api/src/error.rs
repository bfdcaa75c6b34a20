//! [`ApiError`]: the one error type of the API layer, and the one place
//! where the lower layers' errors become Glance's status codes and WebOb
//! error bodies.
//!
//! | Source | Status |
//! |---|---|
//! | [`DomainError`] | its own table (`glimpse_domain::error`) |
//! | `DbError::NotFound` | 404, the repository's Glance text |
//! | `DbError::Forbidden` | 403 |
//! | `DbError::Duplicate`, `DbError::Conflict` | 409 |
//! | `DbError::Unavailable`, `DbError::InDoubt` | 503 (logged) |
//! | other `DbError` | 500 (logged) |
//! | [`StoreError`] | `StoreError::http_status`, with Glance's texts where the data handlers pick one |
//! | [`HttpError`] | as built |

use std::fmt;

use glimpse_db::DbError;
use glimpse_domain::DomainError;
use glimpse_http::Response;
use glimpse_http::fault::HttpError;
use glimpse_store::StoreError;
use http::{HeaderMap, Method, StatusCode};

const LOG: &str = "glance.api.v2";

/// Everything a v2 handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    Domain(DomainError),
    Db(DbError),
    Store(StoreError),
    /// Boxed: WebOb errors carry headers and texts, and errors travel
    /// through every `Result` in the handlers.
    Http(Box<HttpError>),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::Domain(e)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::Db(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

impl From<HttpError> for ApiError {
    fn from(e: HttpError) -> Self {
        ApiError::Http(Box::new(e))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Domain(e) => write!(f, "{e}"),
            ApiError::Db(e) => write!(f, "database: {e}"),
            ApiError::Store(e) => write!(f, "store: {e}"),
            ApiError::Http(e) => write!(f, "{} {}", e.status_line(), e.explanation_text()),
        }
    }
}

impl std::error::Error for ApiError {}

/// A WebOb exception with this status and explanation (what Glance raises
/// as `webob.exc.HTTP<Status>(explanation=...)`).
pub fn http_error(status: StatusCode, explanation: impl Into<String>) -> ApiError {
    HttpError::new(status).explanation(explanation).into()
}

/// Shorthands for the WebOb exceptions Glance raises directly.
pub fn bad_request(explanation: impl Into<String>) -> ApiError {
    http_error(StatusCode::BAD_REQUEST, explanation)
}

pub fn forbidden(explanation: impl Into<String>) -> ApiError {
    http_error(StatusCode::FORBIDDEN, explanation)
}

/// `HTTPForbidden(msg)`: the text becomes WebOb's detail under the stock
/// explanation.
pub fn forbidden_detail(detail: impl Into<String>) -> ApiError {
    HttpError::new(StatusCode::FORBIDDEN).detail(detail).into()
}

pub fn not_found(explanation: impl Into<String>) -> ApiError {
    http_error(StatusCode::NOT_FOUND, explanation)
}

/// A bare `HTTPNotFound()` (WebOb's stock explanation).
pub fn not_found_bare() -> ApiError {
    HttpError::new(StatusCode::NOT_FOUND).into()
}

pub fn too_large(explanation: impl Into<String>) -> ApiError {
    http_error(StatusCode::PAYLOAD_TOO_LARGE, explanation)
}

pub fn conflict(explanation: impl Into<String>) -> ApiError {
    http_error(StatusCode::CONFLICT, explanation)
}

impl ApiError {
    /// The WebOb exception Glance would raise for this error.
    pub fn to_http(&self) -> HttpError {
        match self {
            ApiError::Domain(e) => {
                let mut h = HttpError::from_status(e.status());
                if !matches!(e, DomainError::UnsupportedPatchType(_)) {
                    h = h.explanation(e.explanation());
                }
                if let Some(d) = e.detail() {
                    h = h.detail(d);
                }
                for (k, v) in e.headers() {
                    h = h.header(k, v);
                }
                h
            }
            ApiError::Db(e) => match e {
                DbError::NotFound(m) => {
                    HttpError::new(StatusCode::NOT_FOUND).explanation(m.clone())
                }
                DbError::Forbidden(m) => {
                    HttpError::new(StatusCode::FORBIDDEN).explanation(m.clone())
                }
                DbError::Duplicate(m) | DbError::Conflict(m) => {
                    HttpError::new(StatusCode::CONFLICT).explanation(m.clone())
                }
                DbError::Unavailable(m) | DbError::InDoubt(m) => {
                    log::error!(target: LOG, "Database unavailable: {m}");
                    HttpError::new(StatusCode::SERVICE_UNAVAILABLE)
                }
                other => {
                    log::error!(target: LOG, "Database error: {other}");
                    HttpError::new(StatusCode::INTERNAL_SERVER_ERROR)
                }
            },
            ApiError::Store(e) => {
                let status = e.http_status();
                if status >= 500 {
                    log::error!(target: LOG, "Store error: {e}");
                    HttpError::from_status(status)
                } else {
                    HttpError::from_status(status).explanation(e.to_string())
                }
            }
            ApiError::Http(h) => (**h).clone(),
        }
    }

    pub fn status(&self) -> u16 {
        self.to_http().status().as_u16()
    }

    /// Render for the request (WebOb's Accept-dependent body).
    pub fn render(&self, headers: &HeaderMap, method: &Method) -> Response {
        let h = self.to_http();
        if h.status().is_server_error() {
            log::debug!(target: LOG, "{self}");
        }
        h.render(headers, method)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(ApiError::from(DbError::NotFound("x".into())).status(), 404);
        assert_eq!(ApiError::from(DbError::Duplicate("x".into())).status(), 409);
        assert_eq!(
            ApiError::from(DbError::Unavailable("x".into())).status(),
            503
        );
        assert_eq!(ApiError::from(DbError::InDoubt("x".into())).status(), 503);
        assert_eq!(ApiError::from(DbError::Other("x".into())).status(), 500);
        assert_eq!(
            ApiError::from(DomainError::UnsupportedPatchType("a/b".into())).status(),
            415
        );
        let h = ApiError::from(DomainError::UnsupportedPatchType("a/b".into())).to_http();
        assert!(h.headers().contains_key("accept-patch"));
        assert_eq!(
            ApiError::from(StoreError::SizeLimit { limit: 1 }).status(),
            413
        );
    }
}
