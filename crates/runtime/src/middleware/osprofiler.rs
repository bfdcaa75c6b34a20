//! `osprofiler.web:WsgiMiddleware`: a deliberate no-op.
//!
//! Glance's stock pipelines include osprofiler, which only acts when
//! `[profiler] enabled` is true and a request carries HMAC-signed
//! `X-Trace-Info`/`X-Trace-HMAC` headers. Glimpse has no profiler backend,
//! so the filter passes requests through unchanged; it is registered only
//! so the stock paste file loads.

use glimpse_http::SharedHandler;
use std::sync::Arc;

use crate::paste::{FactoryContext, FactoryRegistry, Filter, LocalConf, PasteError};

fn factory(_ctx: &FactoryContext, _local: &LocalConf) -> Result<Filter, PasteError> {
    Ok(Arc::new(|next: SharedHandler| next))
}

pub fn register(registry: &mut FactoryRegistry) {
    registry.register_filter("osprofiler.web:WsgiMiddleware.factory", factory);
}
