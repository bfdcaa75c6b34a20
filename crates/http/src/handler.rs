//! The handler abstraction: an app or a middleware-wrapped app.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{Request, Response};

/// A boxed, sendable future, the return type of every handler.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Anything that answers requests. Errors are responses: a handler renders its
/// own failures (usually through [`crate::fault`]) so filters can see them.
pub trait Handler: Send + Sync + 'static {
    fn call(&self, req: Request) -> BoxFuture<Response>;
}

/// Handlers are shared between connections and wrapped by filters.
pub type SharedHandler = Arc<dyn Handler>;

struct FnHandler<F>(F);

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn call(&self, req: Request) -> BoxFuture<Response> {
        Box::pin((self.0)(req))
    }
}

/// Make a handler from an async closure.
pub fn handler_fn<F, Fut>(f: F) -> SharedHandler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    Arc::new(FnHandler(f))
}
