//! A route table with Glance's routing semantics: path templates with
//! `{param}` segments, 405 with `Allow` for a known path and the wrong
//! method (HEAD is not implied by GET), 404 for an unknown path, 501 for a
//! method outside the six Glance knows.

use std::collections::HashMap;
use std::sync::Arc;

use glimpse_http::fault::HttpError;
use glimpse_http::{BoxFuture, Handler, Request, Response};
use http::{HeaderValue, Method, StatusCode};

/// Path parameters captured from `{name}` segments.
#[derive(Clone, Debug, Default)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

type RouteFn = Arc<dyn Fn(Request, Params) -> BoxFuture<Response> + Send + Sync>;

struct Route {
    segments: Vec<Segment>,
    methods: Vec<(Method, RouteFn)>,
}

enum Segment {
    Literal(String),
    Param(String),
}

/// Routes under one mount point (e.g. `/v2`); matched against PATH_INFO.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

fn parse_template(t: &str) -> Vec<Segment> {
    t.split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Literal(s.to_string()),
            },
        )
        .collect()
}

impl Router {
    pub fn new() -> Self {
        Router::default()
    }

    /// Add `method template → f`. Templates with the same shape share one
    /// entry so 405 lists every method they allow.
    pub fn route<F>(&mut self, method: Method, template: &str, f: F) -> &mut Self
    where
        F: Fn(Request, Params) -> BoxFuture<Response> + Send + Sync + 'static,
    {
        let f: RouteFn = Arc::new(f);
        if let Some(r) = self
            .routes
            .iter_mut()
            .find(|r| same_shape(&r.segments, template))
        {
            r.methods.push((method, f));
        } else {
            self.routes.push(Route {
                segments: parse_template(template),
                methods: vec![(method, f)],
            });
        }
        self
    }

    fn find(&self, path: &str) -> Option<(&Route, Params)> {
        // Routes' matching: a trailing or doubled slash is an empty
        // segment, so `/images/` is not `/images` (404, as in Glance).
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        'routes: for r in &self.routes {
            if r.segments.len() != parts.len() {
                continue;
            }
            let mut params = Params::default();
            for (seg, part) in r.segments.iter().zip(&parts) {
                match seg {
                    Segment::Literal(l) if l == part => {}
                    Segment::Literal(_) => continue 'routes,
                    // Routes' `{name}` matches one or more characters.
                    Segment::Param(_) if part.is_empty() => continue 'routes,
                    Segment::Param(n) => {
                        // PATH_INFO is percent-decoded before Routes sees it: `%20`
                        // in a tag is a space.
                        params
                            .0
                            .insert(n.clone(), glimpse_domain::py::unquote(part));
                    }
                }
            }
            return Some((r, params));
        }
        None
    }
}

fn same_shape(segs: &[Segment], template: &str) -> bool {
    let other = parse_template(template);
    segs.len() == other.len()
        && segs.iter().zip(&other).all(|(a, b)| match (a, b) {
            (Segment::Literal(x), Segment::Literal(y)) => x == y,
            (Segment::Param(_), Segment::Param(_)) => true,
            _ => false,
        })
}

const KNOWN_METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

impl Handler for Router {
    fn call(&self, req: Request) -> BoxFuture<Response> {
        let path = req.uri().path().to_string();
        let Some((route, params)) = self.find(&path) else {
            let status = if KNOWN_METHODS.contains(req.method()) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::NOT_IMPLEMENTED
            };
            let r = HttpError::new(status).render(req.headers(), req.method());
            return Box::pin(async move { r });
        };
        if let Some((_, f)) = route.methods.iter().find(|(m, _)| m == req.method()) {
            return f(req, params);
        }
        let allow: Vec<&str> = route.methods.iter().map(|(m, _)| m.as_str()).collect();
        let allow = allow.join(", ");
        let mut err = HttpError::new(StatusCode::METHOD_NOT_ALLOWED);
        if let Ok(v) = HeaderValue::from_str(&allow) {
            err = err.header(http::header::ALLOW, v);
        }
        let r = err.render(req.headers(), req.method());
        Box::pin(async move { r })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_decoded_and_never_empty() {
        let mut r = Router::new();
        r.route(Method::GET, "/images/{id}", |_r, _p| {
            Box::pin(async { Response::new(glimpse_http::Body::empty()) })
        });
        let (_, p) = r
            .find("/images/a%20b%2Fc%zz%")
            .unwrap_or_else(|| panic!("no match"));
        assert_eq!(p.get("id"), Some("a b/c%zz%"));
        assert!(r.find("/images/").is_none());
        assert!(r.find("/images").is_none());
        assert!(r.find("/images/x/").is_none());
    }
}
