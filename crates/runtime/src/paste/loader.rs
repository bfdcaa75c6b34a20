//! Section resolution and app construction, following
//! `paste.deploy.loadwsgi` (PasteDeploy 3.1): first every referenced section
//! is resolved into a context (so configuration errors surface before any
//! factory runs), then the contexts are invoked. Composites resolve their
//! children while being invoked, as in paste.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use glimpse_http::SharedHandler;

use super::ini::{IniFile, check_interpolation_syntax, py_isspace, py_strip};
use super::registry::{Factory, FactoryContext, FactoryRegistry, Filter, normalize_factory_name};
use super::{ConfMap, PasteError, py_abspath, py_repr};

/// Nesting limit for `use`/pipeline/composite references; a cycle in the
/// file would otherwise recurse forever (Python hits RecursionError).
const MAX_DEPTH: usize = 64;

/// What the caller asked for: an application or a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ObjType {
    App,
    Filter,
}

impl ObjType {
    /// paste's `config_prefixes`: within a group the first prefix with a
    /// match wins; matches from different groups are ambiguous.
    fn prefix_groups(self) -> &'static [&'static [&'static str]] {
        match self {
            ObjType::App => &[
                &["app", "application"],
                &["composite", "composit"],
                &["pipeline"],
                &["filter-app"],
            ],
            ObjType::Filter => &[&["filter"]],
        }
    }

    /// paste's `egg_protocols`, grouped the same way.
    fn protocol_groups(self) -> &'static [&'static [&'static str]] {
        match self {
            ObjType::App => &[
                &["paste.app_factory"],
                &["paste.composite_factory"],
                &["paste.composit_factory"],
            ],
            ObjType::Filter => &[&["paste.filter_factory", "paste.filter_app_factory"]],
        }
    }

    fn prefix_desc(self) -> String {
        self.prefix_groups()
            .iter()
            .flat_map(|g| g.iter())
            .map(|p| py_repr(p))
            .collect::<Vec<_>>()
            .join(" or ")
    }

    fn protocol_desc(self) -> String {
        self.protocol_groups()
            .iter()
            .flat_map(|g| g.iter())
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Loader-wide settings shared by every factory call.
pub(crate) struct Env<'a> {
    registry: &'a FactoryRegistry,
    state: Arc<dyn Any + Send + Sync>,
    flavor: Option<String>,
}

/// One paste file (paste's `ConfigLoader`).
pub(crate) struct ConfigLoader {
    filename: String,
    abs_file: PathBuf,
    here: PathBuf,
    ini: IniFile,
}

/// A resolved section, ready to build.
enum Ctx {
    Factory(FactoryCtx),
    Pipeline { app: Box<Ctx>, filters: Vec<Ctx> },
    FilterApp { filter: Box<Ctx>, next: Box<Ctx> },
    FilterWith { filter: Box<Ctx>, next: Box<Ctx> },
}

struct FactoryCtx {
    object_type: ObjType,
    factory: String,
    global_conf: ConfMap,
    local_conf: ConfMap,
    loader: Rc<ConfigLoader>,
    section: String,
}

enum Built {
    App(SharedHandler),
    Filter(Filter),
}

impl Built {
    fn into_app(self, what: &str) -> Result<SharedHandler, PasteError> {
        match self {
            Built::App(a) => Ok(a),
            Built::Filter(_) => Err(PasteError::Lookup(format!(
                "{what} is a filter, not an application"
            ))),
        }
    }

    fn into_filter(self, what: &str) -> Result<Filter, PasteError> {
        match self {
            Built::Filter(f) => Ok(f),
            Built::App(_) => Err(PasteError::Lookup(format!(
                "{what} is an application, not a filter"
            ))),
        }
    }
}

fn too_deep(what: &str) -> PasteError {
    PasteError::Config(format!(
        "maximum recursion depth exceeded while loading {} (circular reference?)",
        py_repr(what)
    ))
}

/// `^[a-zA-Z]+:` — a name with a URI scheme (`egg:`, `config:`, `call:`).
fn is_absolute_name(name: &str) -> bool {
    match name.find(':') {
        Some(i) if i > 0 => name[..i].chars().all(|c| c.is_ascii_alphabetic()),
        _ => false,
    }
}

/// Python's `repr()` of a list of strings.
fn py_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| py_repr(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl ConfigLoader {
    fn open(filename: &str) -> Result<ConfigLoader, PasteError> {
        let filename = py_strip(filename).to_string();
        let bytes = std::fs::read(&filename).map_err(|e| PasteError::Io {
            path: filename.clone(),
            message: match e.raw_os_error() {
                Some(code) => format!("[Errno {code}] {}", strip_os_suffix(&e.to_string())),
                None => e.to_string(),
            },
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            PasteError::Config(format!(
                "'utf-8' codec can't decode byte at position {} in {}",
                e.utf8_error().valid_up_to(),
                py_repr(&filename)
            ))
        })?;
        ConfigLoader::from_text(&filename, &text)
    }

    /// A loader over paste text that is not read from disk (Glimpse's
    /// built-in pipeline); `filename` still names it in errors and `%(here)s`.
    fn from_text(filename: &str, text: &str) -> Result<ConfigLoader, PasteError> {
        let filename = filename.to_string();
        let abs_file = py_abspath(Path::new(&filename));
        let here = abs_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let here_s = here.to_string_lossy().into_owned();
        let file_s = abs_file.to_string_lossy().into_owned();
        check_interpolation_syntax(&here_s)?;
        check_interpolation_syntax(&file_s)?;
        let mut ini = IniFile::parse(text, &filename)?;
        ini.prepend_defaults(&[("here", &here_s), ("__file__", &file_s)]);
        Ok(ConfigLoader {
            filename,
            abs_file,
            here,
            ini,
        })
    }

    /// paste's `find_config_section`.
    fn find_section(&self, obj: ObjType, name: &str) -> Result<String, PasteError> {
        let mut possible = Vec::new();
        for group in obj.prefix_groups() {
            for prefix in group.iter() {
                let found: Vec<String> = self
                    .ini
                    .sections()
                    .filter(|s| {
                        s.strip_prefix(prefix)
                            .and_then(|r| r.strip_prefix(':'))
                            .is_some_and(|r| py_strip(r) == name)
                    })
                    .map(str::to_string)
                    .collect();
                if !found.is_empty() {
                    possible.extend(found);
                    break;
                }
            }
        }
        match possible.len() {
            0 => Err(PasteError::Lookup(format!(
                "No section {} (prefixed by {}) found in config {}",
                py_repr(name),
                obj.prefix_desc(),
                self.filename
            ))),
            1 => Ok(possible.remove(0)),
            _ => Err(PasteError::Lookup(format!(
                "Ambiguous section names {} for section {} (prefixed by {}) found in config {}",
                py_list(&possible),
                py_repr(name),
                obj.prefix_desc(),
                self.filename
            ))),
        }
    }

    /// paste's `ConfigLoader.get_context`.
    fn get_context(
        self: &Rc<Self>,
        env: &Env<'_>,
        obj: ObjType,
        name: &str,
        global_conf: Option<&ConfMap>,
        depth: usize,
    ) -> Result<Ctx, PasteError> {
        if depth > MAX_DEPTH {
            return Err(too_deep(name));
        }
        if is_absolute_name(name) {
            return self.load_context(env, obj, name, global_conf, depth + 1);
        }
        let section = self.find_section(obj, name)?;
        let defaults = self.ini.interpolated_defaults()?;
        let mut gconf = defaults.clone();
        if let Some(g) = global_conf {
            gconf.update(g);
        }
        let mut local = ConfMap::new();
        let mut additions = ConfMap::new();
        let mut from_globals = ConfMap::new();
        for option in self.ini.options(&section) {
            let value = || {
                self.ini
                    .get(&section, &option)
                    .map(Option::unwrap_or_default)
            };
            if let Some(n) = option.strip_prefix("set ") {
                let v = value()?;
                additions.insert(py_strip(n), v.clone());
                gconf.insert(py_strip(n), v);
            } else if let Some(n) = option.strip_prefix("get ") {
                from_globals.insert(py_strip(n), value()?);
            } else if defaults.contains_key(&option) {
                // A key also in [DEFAULT] is a global, not a local setting.
                continue;
            } else {
                local.insert(option.clone(), value()?);
            }
        }
        for (local_var, glob_var) in from_globals.iter() {
            let v = gconf
                .get(glob_var)
                .ok_or_else(|| PasteError::Key(glob_var.to_string()))?;
            local.insert(local_var, v);
        }
        let filter_with = local.remove("filter-with");
        // `require` names Python distributions to check; nothing to do here.
        local.remove("require");
        let ctx = if section.starts_with("filter-app:") {
            self.filter_app_context(env, &section, local, &gconf, &additions, depth)?
        } else if section.starts_with("pipeline:") {
            self.pipeline_context(env, &section, local, &gconf, depth)?
        } else if local.contains_key("use") {
            self.context_from_use(env, obj, &section, local, &gconf, &additions, depth)?
        } else {
            self.context_from_explicit(env, obj, &section, local, &gconf)?
        };
        match filter_with {
            Some(fw) => {
                let filter =
                    self.get_context(env, ObjType::Filter, &fw, Some(&gconf), depth + 1)?;
                Ok(Ctx::FilterWith {
                    filter: Box::new(filter),
                    next: Box::new(ctx),
                })
            }
            None => Ok(ctx),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn context_from_use(
        self: &Rc<Self>,
        env: &Env<'_>,
        obj: ObjType,
        section: &str,
        mut local: ConfMap,
        gconf: &ConfMap,
        additions: &ConfMap,
        depth: usize,
    ) -> Result<Ctx, PasteError> {
        let use_ = local.remove("use").unwrap_or_default();
        let mut ctx = self.get_context(env, obj, &use_, Some(gconf), depth + 1)?;
        if let Ctx::Factory(fc) = &mut ctx {
            fc.global_conf.update(additions);
            fc.local_conf.update(&local);
            // A `use`d section keeps the using file's __file__.
            if let Some(f) = gconf.get("__file__") {
                fc.global_conf.insert("__file__", f);
            }
            fc.loader = self.clone();
            fc.section = section.to_string();
        }
        Ok(ctx)
    }

    fn context_from_explicit(
        self: &Rc<Self>,
        env: &Env<'_>,
        obj: ObjType,
        section: &str,
        mut local: ConfMap,
        gconf: &ConfMap,
    ) -> Result<Ctx, PasteError> {
        let mut possible: Vec<(&str, String)> = Vec::new();
        for group in obj.protocol_groups() {
            for proto in group.iter() {
                if let Some(v) = local.get(proto) {
                    possible.push((proto, v.to_string()));
                    break;
                }
            }
        }
        if possible.len() > 1 {
            let items: Vec<String> = possible
                .iter()
                .map(|(p, v)| format!("({}, {})", py_repr(p), py_repr(v)))
                .collect();
            return Err(PasteError::Lookup(format!(
                "Multiple protocols given in section {}: [{}]",
                py_repr(section),
                items.join(", ")
            )));
        }
        let Some((proto, expr)) = possible.pop() else {
            return Err(PasteError::Lookup(format!(
                "No loader given in section {}",
                py_repr(section)
            )));
        };
        local.remove(proto);
        let factory = normalize_factory_name(&expr);
        if env.registry.get(&factory).is_none() {
            return Err(PasteError::UnknownFactory {
                section: section.to_string(),
                factory: py_strip(&expr).to_string(),
                file: self.filename.clone(),
            });
        }
        Ok(Ctx::Factory(FactoryCtx {
            object_type: obj,
            factory,
            global_conf: gconf.clone(),
            local_conf: local,
            loader: self.clone(),
            section: section.to_string(),
        }))
    }

    fn filter_app_context(
        self: &Rc<Self>,
        env: &Env<'_>,
        section: &str,
        mut local: ConfMap,
        gconf: &ConfMap,
        additions: &ConfMap,
        depth: usize,
    ) -> Result<Ctx, PasteError> {
        let Some(next_name) = local.remove("next") else {
            return Err(PasteError::Lookup(format!(
                "The [{section}] section in {} is missing a 'next' setting",
                self.filename
            )));
        };
        let next = self.get_context(env, ObjType::App, &next_name, Some(gconf), depth + 1)?;
        let filter = if local.contains_key("use") {
            self.context_from_use(
                env,
                ObjType::Filter,
                section,
                local,
                gconf,
                additions,
                depth,
            )?
        } else {
            self.context_from_explicit(env, ObjType::Filter, section, local, gconf)?
        };
        Ok(Ctx::FilterApp {
            filter: Box::new(filter),
            next: Box::new(next),
        })
    }

    fn pipeline_context(
        self: &Rc<Self>,
        env: &Env<'_>,
        section: &str,
        mut local: ConfMap,
        gconf: &ConfMap,
        depth: usize,
    ) -> Result<Ctx, PasteError> {
        let Some(pipeline) = local.remove("pipeline") else {
            return Err(PasteError::Lookup(format!(
                "The [{section}] section in {} is missing a 'pipeline' setting",
                self.filename
            )));
        };
        if !local.is_empty() {
            return Err(PasteError::Lookup(format!(
                "The [{section}] pipeline section in {} has extra (disallowed) settings: {}",
                self.filename,
                local.keys().collect::<Vec<_>>().join(", ")
            )));
        }
        let names: Vec<&str> = pipeline
            .split(py_isspace)
            .filter(|s| !s.is_empty())
            .collect();
        let Some((app_name, filter_names)) = names.split_last() else {
            return Err(PasteError::factory(
                section,
                "the 'pipeline' setting is empty",
            ));
        };
        let app = self.get_context(env, ObjType::App, app_name, Some(gconf), depth + 1)?;
        let filters = filter_names
            .iter()
            .map(|n| self.get_context(env, ObjType::Filter, n, Some(gconf), depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Ctx::Pipeline {
            app: Box::new(app),
            filters,
        })
    }
}

/// `[Errno 2] No such file or directory (os error 2)` → drop Rust's suffix.
fn strip_os_suffix(s: &str) -> &str {
    match s.rfind(" (os error") {
        Some(i) => &s[..i],
        None => s,
    }
}

impl ConfigLoader {
    /// paste's `loadcontext` for a URI (`config:`, `egg:`, `call:`) named
    /// from this file. Relative `config:` paths resolve against its directory.
    fn load_context(
        self: &Rc<Self>,
        env: &Env<'_>,
        obj: ObjType,
        uri: &str,
        global_conf: Option<&ConfMap>,
        depth: usize,
    ) -> Result<Ctx, PasteError> {
        if depth > MAX_DEPTH {
            return Err(too_deep(uri));
        }
        let (uri_part, name) = match uri.split_once('#') {
            Some((u, n)) => (u, n),
            None => (uri, "main"),
        };
        let Some((scheme, path)) = uri_part.split_once(':') else {
            return Err(PasteError::Lookup(format!(
                "URI has no scheme: {}",
                py_repr(uri_part)
            )));
        };
        let factory_ctx = |factory: String| {
            Ctx::Factory(FactoryCtx {
                object_type: obj,
                factory,
                global_conf: global_conf.cloned().unwrap_or_default(),
                local_conf: ConfMap::new(),
                loader: self.clone(),
                section: uri.to_string(),
            })
        };
        match scheme.to_ascii_lowercase().as_str() {
            "config" => {
                let mut path = path.replace('\\', "/");
                if !Path::new(&path).is_absolute() {
                    let rel = self.here.to_string_lossy().replace('\\', "/");
                    path = if rel.ends_with('/') {
                        format!("{rel}{path}")
                    } else {
                        format!("{rel}/{path}")
                    };
                }
                let mut loader = ConfigLoader::open(&path)?;
                if let Some(g) = global_conf {
                    // `update_defaults(global_conf, overwrite=False)`.
                    for (k, v) in g.iter() {
                        loader.ini.add_default_if_absent(k, v);
                    }
                }
                Rc::new(loader).get_context(env, obj, name, global_conf, depth + 1)
            }
            "egg" => {
                let factory = normalize_factory_name(&format!("egg:{path}#{name}"));
                match env.registry.get(&factory) {
                    None => Err(PasteError::UnknownFactory {
                        section: uri.to_string(),
                        factory: format!("egg:{path}#{name}"),
                        file: self.filename.clone(),
                    }),
                    Some(f) if !kind_fits(obj, f) => Err(PasteError::Lookup(format!(
                        "Entry point {} not found in egg {} (protocols: {}; entry_points: )",
                        py_repr(name),
                        py_repr(path),
                        obj.protocol_desc()
                    ))),
                    Some(_) => Ok(factory_ctx(factory)),
                }
            }
            "call" => {
                if !path.contains(':') {
                    return Err(PasteError::Lookup(
                        "Configuration not in format module:function".into(),
                    ));
                }
                let factory = normalize_factory_name(path);
                if env.registry.get(&factory).is_none() {
                    return Err(PasteError::UnknownFactory {
                        section: uri.to_string(),
                        factory: path.to_string(),
                        file: self.filename.clone(),
                    });
                }
                Ok(factory_ctx(factory))
            }
            other => Err(PasteError::Lookup(format!(
                "URI scheme not known: {} (from config, egg, call)",
                py_repr(other)
            ))),
        }
    }
}

fn kind_fits(obj: ObjType, f: &Factory) -> bool {
    matches!(
        (obj, f),
        (ObjType::App, Factory::App(_) | Factory::Composite(_))
            | (ObjType::Filter, Factory::Filter(_))
    )
}

impl Ctx {
    fn describe(&self) -> String {
        match self {
            Ctx::Factory(fc) => format!("[{}]", fc.section),
            Ctx::Pipeline { .. } => "pipeline".into(),
            Ctx::FilterApp { .. } => "filter-app".into(),
            Ctx::FilterWith { next, .. } => next.describe(),
        }
    }

    /// paste's `LoaderContext.create()`.
    fn create(&self, env: &Env<'_>, depth: usize) -> Result<Built, PasteError> {
        if depth > MAX_DEPTH {
            return Err(too_deep(&self.describe()));
        }
        match self {
            Ctx::Factory(fc) => fc.invoke(env, depth),
            Ctx::Pipeline { app, filters } => {
                let mut handler = app.create(env, depth + 1)?.into_app(&app.describe())?;
                let built = filters
                    .iter()
                    .map(|f| f.create(env, depth + 1)?.into_filter(&f.describe()))
                    .collect::<Result<Vec<_>, _>>()?;
                // The first name in the pipeline is the outermost filter.
                for f in built.iter().rev() {
                    handler = f(handler);
                }
                Ok(Built::App(handler))
            }
            Ctx::FilterApp { filter, next } => {
                let next_app = next.create(env, depth + 1)?.into_app(&next.describe())?;
                let f = filter
                    .create(env, depth + 1)?
                    .into_filter(&filter.describe())?;
                Ok(Built::App(f(next_app)))
            }
            Ctx::FilterWith { filter, next } => {
                let f = filter
                    .create(env, depth + 1)?
                    .into_filter(&filter.describe())?;
                match next.create(env, depth + 1)? {
                    Built::App(a) => Ok(Built::App(f(a))),
                    // Filtering a filter composes them.
                    Built::Filter(g) => {
                        let composed: Filter = Arc::new(move |app| f(g(app)));
                        Ok(Built::Filter(composed))
                    }
                }
            }
        }
    }
}

impl FactoryCtx {
    fn invoke(&self, env: &Env<'_>, depth: usize) -> Result<Built, PasteError> {
        let Some(factory) = env.registry.get(&self.factory) else {
            return Err(PasteError::UnknownFactory {
                section: self.section.clone(),
                factory: self.factory.clone(),
                file: self.loader.filename.clone(),
            });
        };
        let ctx = FactoryContext {
            global_conf: self.global_conf.clone(),
            here: self.loader.here.clone(),
            config_file: self.loader.abs_file.clone(),
            section: self.section.clone(),
            factory: self.factory.clone(),
            flavor: env.flavor.clone(),
            ..FactoryContext::new(env.state.clone())
        };
        match (self.object_type, factory) {
            (ObjType::App, Factory::App(f)) => Ok(Built::App(f(&ctx, &self.local_conf)?)),
            (ObjType::App, Factory::Composite(f)) => {
                let loader = CompositeLoader {
                    loader: self.loader.clone(),
                    env,
                    depth: depth + 1,
                };
                Ok(Built::App(f(&loader, &ctx, &self.local_conf)?))
            }
            (ObjType::Filter, Factory::Filter(f)) => Ok(Built::Filter(f(&ctx, &self.local_conf)?)),
            (ObjType::App, f) => Err(PasteError::WrongFactoryKind {
                section: self.section.clone(),
                factory: self.factory.clone(),
                expected: if f.kind() == "a filter factory" {
                    "an app or composite factory"
                } else {
                    "an app factory"
                },
            }),
            (ObjType::Filter, _) => Err(PasteError::WrongFactoryKind {
                section: self.section.clone(),
                factory: self.factory.clone(),
                expected: "a filter factory",
            }),
        }
    }
}

/// What a composite factory uses to build the sections it refers to
/// (paste's `loader` argument).
pub struct CompositeLoader<'a> {
    loader: Rc<ConfigLoader>,
    env: &'a Env<'a>,
    depth: usize,
}

impl CompositeLoader<'_> {
    /// Build the application named `name` (a section name or a URI).
    /// `global_conf` is added to the file's defaults, as in paste.
    pub fn get_app(
        &self,
        name: &str,
        global_conf: Option<&ConfMap>,
    ) -> Result<SharedHandler, PasteError> {
        let ctx =
            self.loader
                .get_context(self.env, ObjType::App, name, global_conf, self.depth + 1)?;
        ctx.create(self.env, self.depth + 1)?.into_app(name)
    }

    /// Build the filter named `name`.
    pub fn get_filter(
        &self,
        name: &str,
        global_conf: Option<&ConfMap>,
    ) -> Result<Filter, PasteError> {
        let ctx = self.loader.get_context(
            self.env,
            ObjType::Filter,
            name,
            global_conf,
            self.depth + 1,
        )?;
        ctx.create(self.env, self.depth + 1)?.into_filter(name)
    }

    /// The paste file being loaded.
    pub fn config_file(&self) -> &Path {
        &self.loader.abs_file
    }
}

/// PasteDeploy's `loadapp("config:<path>", name=name)`, without Glance's
/// error wrapping. `flavor` is only made available to factories (Glance's
/// `pipeline_factory` keys on it); it does not change `name`.
pub fn loadapp(
    path: &Path,
    name: &str,
    registry: &FactoryRegistry,
    state: Arc<dyn Any + Send + Sync>,
    flavor: Option<&str>,
) -> Result<SharedHandler, PasteError> {
    let env = Env {
        registry,
        state,
        flavor: flavor.filter(|f| !f.is_empty()).map(str::to_string),
    };
    let loader = Rc::new(ConfigLoader::open(&path.to_string_lossy())?);
    let ctx = loader.get_context(&env, ObjType::App, name, None, 0)?;
    ctx.create(&env, 0)?.into_app(name)
}

/// [`load_app`] over paste text held in memory (the built-in pipeline).
pub fn load_app_from_str(
    path: &Path,
    text: &str,
    name: &str,
    flavor: Option<&str>,
    registry: &FactoryRegistry,
    state: Arc<dyn Any + Send + Sync>,
) -> Result<SharedHandler, PasteError> {
    glance_load(path, name, flavor, |app_name, flavor| {
        let env = Env {
            registry,
            state,
            flavor: flavor.map(str::to_string),
        };
        let loader = Rc::new(ConfigLoader::from_text(&path.to_string_lossy(), text)?);
        let ctx = loader.get_context(&env, ObjType::App, app_name, None, 0)?;
        ctx.create(&env, 0)?.into_app(app_name)
    })
}

/// Glance's `load_paste_app(name, flavor)`: loads `<name>-<flavor>` (or
/// `<name>` with no flavor) from `path`, rewrapping lookup and import
/// failures as `Unable to load <app> from configuration file <f>.\nGot: <repr>`.
pub fn load_app(
    path: &Path,
    name: &str,
    flavor: Option<&str>,
    registry: &FactoryRegistry,
    state: Arc<dyn Any + Send + Sync>,
) -> Result<SharedHandler, PasteError> {
    let conf_file = py_abspath(path);
    glance_load(&conf_file, name, flavor, |app_name, flavor| {
        loadapp(&conf_file, app_name, registry, state, flavor)
    })
}

/// The part of `load_paste_app` around the actual load: the flavored name
/// and Glance's error wrapping.
fn glance_load(
    conf_file: &Path,
    name: &str,
    flavor: Option<&str>,
    load: impl FnOnce(&str, Option<&str>) -> Result<SharedHandler, PasteError>,
) -> Result<SharedHandler, PasteError> {
    let flavor = flavor.filter(|f| !f.is_empty());
    let app_name = match flavor {
        Some(f) => format!("{name}-{f}"),
        None => name.to_string(),
    };
    log::debug!("Loading {app_name} from {}", conf_file.display());
    load(&app_name, flavor).map_err(|e| {
        if e.is_lookup() {
            PasteError::Load {
                app_name,
                conf_file: conf_file.to_string_lossy().into_owned(),
                cause: Box::new(e),
            }
        } else {
            e
        }
    })
}

/// Glance's `_get_deployment_config_file`: `[paste_deploy] config_file` if
/// set, else the last `--config-file` with `.conf` replaced by
/// `-paste.ini` (every occurrence, as Python's `str.replace` does), else
/// `<prog>-paste.ini`; the latter two are searched with `find_file` (oslo's
/// `CONF.find_file`) by base name. The result must be an existing file and
/// is returned absolute.
pub fn locate_paste_file(
    config_file_opt: Option<&str>,
    config_files: &[PathBuf],
    find_file: impl Fn(&str) -> Option<PathBuf>,
    prog: &str,
) -> Result<PathBuf, PasteError> {
    let path: Option<PathBuf> = match config_file_opt.filter(|p| !p.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let candidate = match config_files.last() {
                Some(last) => last.to_string_lossy().replace(".conf", "-paste.ini"),
                None => format!("{prog}-paste.ini"),
            };
            let base = match candidate.rfind('/') {
                Some(i) => candidate[i + 1..].to_string(),
                None => candidate,
            };
            find_file(&base)
        }
    };
    match path {
        Some(p) if !p.as_os_str().is_empty() && py_abspath(&p).is_file() => Ok(py_abspath(&p)),
        _ => Err(PasteError::Locate {
            prog: prog.to_string(),
        }),
    }
}
