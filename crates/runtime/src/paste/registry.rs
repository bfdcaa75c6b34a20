//! The factory registry: Python factory names → Rust constructors.
//!
//! A paste file names factories by Python import path
//! (`paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory`) or by
//! egg entry point (`use = egg:Paste#urlmap`). Glimpse has no Python, so each
//! name a deployment may use is registered here with a Rust constructor of
//! the matching kind: an app factory, a filter factory, or a composite
//! factory (which builds other sections through a [`CompositeLoader`]).

use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use glimpse_http::SharedHandler;

use super::ini::py_isspace;
use super::loader::CompositeLoader as Loader;
use super::{ConfMap, LocalConf, PasteError, py_repr};

pub use super::loader::CompositeLoader;

/// A built filter: wraps the next handler (WSGI `filter(app)`).
pub type Filter = Arc<dyn Fn(SharedHandler) -> SharedHandler + Send + Sync>;

/// `paste.app_factory`: `(global_conf, **local_conf) -> app`.
pub type AppFactory =
    Arc<dyn Fn(&FactoryContext, &LocalConf) -> Result<SharedHandler, PasteError> + Send + Sync>;

/// `paste.filter_factory`: `(global_conf, **local_conf) -> filter`.
pub type FilterFactory =
    Arc<dyn Fn(&FactoryContext, &LocalConf) -> Result<Filter, PasteError> + Send + Sync>;

/// `paste.composite_factory`: `(loader, global_conf, **local_conf) -> app`.
pub type CompositeFactory = Arc<
    dyn Fn(&Loader<'_>, &FactoryContext, &LocalConf) -> Result<SharedHandler, PasteError>
        + Send
        + Sync,
>;

/// A registered constructor.
#[derive(Clone)]
pub(crate) enum Factory {
    App(AppFactory),
    Filter(FilterFactory),
    Composite(CompositeFactory),
}

impl Factory {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Factory::App(_) => "an app factory",
            Factory::Filter(_) => "a filter factory",
            Factory::Composite(_) => "a composite factory",
        }
    }
}

/// What a factory gets besides its local conf.
#[derive(Clone)]
pub struct FactoryContext {
    /// paste's `global_conf`: the interpolated `[DEFAULT]` section (with
    /// `here` and `__file__`) plus `set` overrides from enclosing sections.
    pub global_conf: ConfMap,
    /// Directory of the paste file (`%(here)s`).
    pub here: PathBuf,
    /// The paste file.
    pub config_file: PathBuf,
    /// The section being built (`filter:cors`), for error messages.
    pub section: String,
    /// The normalised factory name it was found under.
    pub factory: String,
    /// `[paste_deploy] flavor`, if set and non-empty.
    pub flavor: Option<String>,
    pub(crate) state: Arc<dyn Any + Send + Sync>,
}

impl FactoryContext {
    /// A context for calling a factory directly (tests, or composing by hand).
    pub fn new(state: Arc<dyn Any + Send + Sync>) -> Self {
        FactoryContext {
            global_conf: ConfMap::new(),
            here: PathBuf::new(),
            config_file: PathBuf::new(),
            section: String::new(),
            factory: String::new(),
            flavor: None,
            state,
        }
    }

    /// The service state passed to the loader (typically the parsed
    /// configuration), if it is a `T`.
    pub fn state<T: Any>(&self) -> Option<&T> {
        (*self.state).downcast_ref::<T>()
    }

    /// The service state itself, for factories that keep it.
    pub fn state_arc(&self) -> Arc<dyn Any + Send + Sync> {
        self.state.clone()
    }

    /// A [`PasteError::Factory`] naming this section.
    pub fn error(&self, message: impl Into<String>) -> PasteError {
        PasteError::factory(self.section.clone(), message)
    }

    /// `global_conf` updated with `local_conf`: the dict oslo.middleware's
    /// `ConfigurableMiddleware.factory` reads its overrides from.
    pub fn merged_conf(&self, local: &LocalConf) -> ConfMap {
        let mut m = self.global_conf.clone();
        m.update(local);
        m
    }
}

/// Maps factory names to constructors. [`FactoryRegistry::new`] includes
/// the built-in composites (`egg:Paste#urlmap`, `paste.urlmap:urlmap_factory`,
/// `glance.api:root_app_factory`, `glance.api:pipeline_factory`).
#[derive(Clone)]
pub struct FactoryRegistry {
    entries: HashMap<String, Factory>,
}

impl Default for FactoryRegistry {
    fn default() -> Self {
        FactoryRegistry::new()
    }
}

impl FactoryRegistry {
    /// A registry with the built-in composites.
    pub fn new() -> Self {
        let mut r = FactoryRegistry::empty();
        r.register_composite("paste.urlmap:urlmap_factory", super::urlmap::urlmap_factory);
        r.register_composite("egg:Paste#urlmap", super::urlmap::urlmap_factory);
        r.register_composite("glance.api:root_app_factory", super::urlmap::urlmap_factory);
        r.register_composite("glance.api:pipeline_factory", glance_pipeline_factory);
        r
    }

    /// A registry with nothing in it.
    pub fn empty() -> Self {
        FactoryRegistry {
            entries: HashMap::new(),
        }
    }

    /// Register an app factory (`paste.app_factory`).
    pub fn register_app<F>(&mut self, name: &str, f: F)
    where
        F: Fn(&FactoryContext, &LocalConf) -> Result<SharedHandler, PasteError>
            + Send
            + Sync
            + 'static,
    {
        self.entries
            .insert(normalize_factory_name(name), Factory::App(Arc::new(f)));
    }

    /// Register a filter factory (`paste.filter_factory`; also serves
    /// `paste.filter_app_factory`).
    pub fn register_filter<F>(&mut self, name: &str, f: F)
    where
        F: Fn(&FactoryContext, &LocalConf) -> Result<Filter, PasteError> + Send + Sync + 'static,
    {
        self.entries
            .insert(normalize_factory_name(name), Factory::Filter(Arc::new(f)));
    }

    /// Register a composite factory (`paste.composite_factory`).
    pub fn register_composite<F>(&mut self, name: &str, f: F)
    where
        F: Fn(&Loader<'_>, &FactoryContext, &LocalConf) -> Result<SharedHandler, PasteError>
            + Send
            + Sync
            + 'static,
    {
        self.entries.insert(
            normalize_factory_name(name),
            Factory::Composite(Arc::new(f)),
        );
    }

    /// Make `alias` resolve to whatever `target` is registered as. Returns
    /// false if `target` is unknown.
    pub fn alias(&mut self, alias: &str, target: &str) -> bool {
        match self.entries.get(&normalize_factory_name(target)).cloned() {
            Some(f) => {
                self.entries.insert(normalize_factory_name(alias), f);
                true
            }
            None => false,
        }
    }

    /// Whether `name` (in any spelling paste accepts) is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(&normalize_factory_name(name))
    }

    /// Registered (normalised) names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.entries.keys().cloned().collect();
        v.sort();
        v
    }

    pub(crate) fn get(&self, normalized: &str) -> Option<&Factory> {
        self.entries.get(normalized)
    }
}

/// The canonical spelling of a factory reference, so that the ways paste
/// accepts to write one resolve to the same registry key:
/// - `module : attr [extras]` (an entry-point value) → `module:attr`;
/// - `call:module:attr` → `module:attr`;
/// - `egg:Dist_Name#entry` → `egg:dist-name#entry` (PEP 503 name
///   normalisation; the entry defaults to `main`).
pub fn normalize_factory_name(name: &str) -> String {
    let name = name.trim_matches(py_isspace);
    if let Some(spec) = strip_prefix_ci(name, "egg:") {
        let (dist, entry) = match spec.split_once('#') {
            Some((d, e)) => (d, e.trim()),
            None => (spec, "main"),
        };
        let entry = if entry.is_empty() { "main" } else { entry };
        return format!("egg:{}#{}", normalize_dist(dist.trim()), entry);
    }
    let name = strip_prefix_ci(name, "call:").unwrap_or(name);
    // Drop `[extras]`, then spaces around the colon.
    let name = match name.find('[') {
        Some(i) => &name[..i],
        None => name,
    };
    match name.split_once(':') {
        Some((m, a)) => format!("{}:{}", m.trim(), a.trim()),
        None => name.trim().to_string(),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`.
fn normalize_dist(d: &str) -> String {
    let mut out = String::with_capacity(d.len());
    let mut sep = false;
    for c in d.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// `glance.api.pipeline_factory`: the pipeline string under the key
/// `[paste_deploy] flavor` (or `default`), built like a `[pipeline:]`.
/// Note Glance resolves the elements without passing `global_conf`, so
/// `set` overrides from enclosing sections do not reach them.
fn glance_pipeline_factory(
    loader: &Loader<'_>,
    ctx: &FactoryContext,
    local: &LocalConf,
) -> Result<SharedHandler, PasteError> {
    let key = ctx
        .flavor
        .as_deref()
        .filter(|f| !f.is_empty())
        .unwrap_or("default");
    let pipeline = local
        .get(key)
        .ok_or_else(|| PasteError::Key(key.to_string()))?;
    let names: Vec<&str> = pipeline
        .split(py_isspace)
        .filter(|s| !s.is_empty())
        .collect();
    let Some((app_name, filter_names)) = names.split_last() else {
        return Err(ctx.error(format!("the pipeline for {} is empty", py_repr(key))));
    };
    let filters = filter_names
        .iter()
        .map(|n| loader.get_filter(n, None))
        .collect::<Result<Vec<_>, _>>()?;
    let mut app = loader.get_app(app_name, None)?;
    for f in filters.iter().rev() {
        app = f(app);
    }
    Ok(app)
}
