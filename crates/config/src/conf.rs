//! `ConfigOpts`: the registry plus the parsed sources, and value lookup.
//!
//! Lookup order for one option (highest first): `set_override`, the
//! command line (when it came after every file that sets the option),
//! `OS_<GROUP>__<OPT>`, config files (newest first; within a file the
//! current name beats deprecated names), `set_default`, the opt default.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{ConfigError, Location};
use crate::ini;
use crate::opt::Opt;
use crate::search::SearchPaths;
use crate::value::Value;

/// Outcome of [`ConfigOpts::parse_args`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Everything parsed; options can be read.
    Ready,
    /// `--help` was given: print this to stdout and exit 0.
    Help(String),
    /// `--version` was given: print this to stdout and exit 0.
    Version(String),
}

/// Where `OS_<GROUP>__<OPT>` variables are read from.
#[derive(Debug, Clone)]
pub enum EnvSource {
    /// The live process environment (the default).
    Process,
    /// A fixed map — for tests and embedding.
    Map(Arc<HashMap<String, String>>),
    /// Environment overrides switched off (oslo's `use_env=False`).
    Disabled,
}

impl EnvSource {
    fn get(&self, key: &str) -> Option<String> {
        match self {
            EnvSource::Process => std::env::var(key).ok(),
            EnvSource::Map(m) => m.get(key).cloned(),
            EnvSource::Disabled => None,
        }
    }
}

/// A value that differs between two parses; see [`ConfigOpts::changed_options`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionChange {
    pub group: String,
    pub name: String,
    /// Old and new value rendered as oslo logs them (Python `str()`).
    pub old: String,
    pub new: String,
    pub mutable: bool,
}

impl OptionChange {
    /// oslo's log line: INFO for mutable options, WARNING otherwise.
    pub fn message(&self) -> String {
        if self.mutable {
            format!(
                "Option {}.{} changed from [{}] to [{}]",
                self.group, self.name, self.old, self.new
            )
        } else {
            format!(
                "Ignoring change to immutable option {}.{}",
                self.group, self.name
            )
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct OptInfo {
    pub(crate) opt: Opt,
    pub(crate) set_default: Option<String>,
    pub(crate) set_override: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) help: Option<String>,
    pub(crate) opts: Vec<OptInfo>,
}

/// One parsed config file, keyed by (normalised section, key).
#[derive(Debug, Clone)]
pub(crate) struct LoadedFile {
    pub(crate) seq: usize,
    pub(crate) path: String,
    pub(crate) values: HashMap<(String, String), Vec<String>>,
}

/// One command-line occurrence of a registered option.
#[derive(Debug, Clone)]
pub(crate) struct CliOccurrence {
    pub(crate) seq: usize,
    pub(crate) group: usize,
    pub(crate) opt: usize,
    pub(crate) value: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ParseState {
    pub(crate) parsed: bool,
    pub(crate) args: Vec<String>,
    pub(crate) default_files: Vec<PathBuf>,
    pub(crate) default_dirs: Vec<PathBuf>,
    pub(crate) config_files: Vec<PathBuf>,
    pub(crate) config_dirs: Vec<PathBuf>,
    pub(crate) files: Vec<LoadedFile>,
    pub(crate) cli: Vec<CliOccurrence>,
    pub(crate) missing: Vec<String>,
    pub(crate) denied: Vec<String>,
    pub(crate) seq: usize,
}

/// A raw (textual) value before substitution and conversion.
enum Raw {
    One(String),
    Many(Vec<String>),
}

/// The configuration object (oslo's `CONF`).
#[derive(Debug)]
pub struct ConfigOpts {
    pub(crate) project: String,
    pub(crate) prog: String,
    pub(crate) version: String,
    pub(crate) groups: Vec<Group>,
    pub(crate) search: SearchPaths,
    pub(crate) env: EnvSource,
    pub(crate) state: ParseState,
    /// Deprecation warnings already logged (oslo logs each once).
    warned: Mutex<HashSet<String>>,
}

pub(crate) const DEFAULT_GROUP: &str = "DEFAULT";
/// Guards `$a` → `$b` → `$a` loops.
const MAX_SUBSTITUTION_DEPTH: usize = 32;

fn normalize_group(name: &str) -> String {
    if name == DEFAULT_GROUP {
        name.to_string()
    } else {
        name.to_lowercase()
    }
}

impl ConfigOpts {
    /// `project` drives the default file search (`glance`), `prog` names
    /// the program in usage text and the second default file
    /// (`glance-api`); an empty `version` disables `--version`.
    pub fn new(project: &str, prog: &str, version: &str) -> ConfigOpts {
        ConfigOpts {
            project: project.to_string(),
            prog: prog.to_string(),
            version: version.to_string(),
            groups: vec![Group {
                name: DEFAULT_GROUP.to_string(),
                help: None,
                opts: Vec::new(),
            }],
            search: SearchPaths::from_env(),
            env: EnvSource::Process,
            state: ParseState::default(),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Read environment overrides from `vars` instead of the process.
    pub fn with_env(mut self, vars: HashMap<String, String>) -> Self {
        self.env = EnvSource::Map(Arc::new(vars));
        self
    }

    /// Ignore `OS_*` environment overrides.
    pub fn without_env(mut self) -> Self {
        self.env = EnvSource::Disabled;
        self
    }

    /// Use other roots for the default config-file search.
    pub fn with_search_paths(mut self, paths: SearchPaths) -> Self {
        self.search = paths;
        self
    }

    pub fn project(&self) -> &str {
        &self.project
    }
    pub fn prog(&self) -> &str {
        &self.prog
    }
    pub fn version(&self) -> &str {
        &self.version
    }

    pub(crate) fn group_index(&self, name: &str) -> Option<usize> {
        if name.is_empty() || name == DEFAULT_GROUP {
            return Some(0);
        }
        self.groups.iter().position(|g| g.name == name).or_else(|| {
            self.groups
                .iter()
                .position(|g| g.name.to_lowercase() == name.to_lowercase())
        })
    }

    fn opt_index(&self, gi: usize, name: &str) -> Option<usize> {
        let dest = name.replace('-', "_");
        self.groups[gi]
            .opts
            .iter()
            .position(|o| o.opt.dest() == dest)
    }

    fn locate(&self, group: &str, name: &str) -> Result<(usize, usize), ConfigError> {
        let gi = self
            .group_index(group)
            .ok_or_else(|| ConfigError::NoSuchGroup(group.to_string()))?;
        let oi = self
            .opt_index(gi, name)
            .ok_or_else(|| ConfigError::NoSuchOpt {
                opt: name.to_string(),
                group: self.groups[gi].name.clone(),
            })?;
        Ok((gi, oi))
    }

    /// Declares a group (optional: `register` creates groups on demand).
    pub fn register_group(&mut self, name: &str, help: &str) {
        let help = (!help.is_empty()).then(|| help.to_string());
        match self.group_index(name) {
            Some(gi) => {
                if help.is_some() {
                    self.groups[gi].help = help;
                }
            }
            None => self.groups.push(Group {
                name: name.to_string(),
                help,
                opts: Vec::new(),
            }),
        }
    }

    /// Registers `opt` in `group` (`"DEFAULT"` for the default group).
    /// Re-registering an identical opt is a no-op; a different opt with
    /// the same name is a `DuplicateOpt` error.
    pub fn register(&mut self, group: &str, opt: Opt) -> Result<(), ConfigError> {
        opt.check().map_err(|msg| ConfigError::InvalidOpt {
            opt: opt.name().to_string(),
            msg,
        })?;
        if opt.is_cli() && self.state.parsed {
            return Err(ConfigError::ArgsAlreadyParsed(format!(
                "cannot register CLI option {}",
                opt.name()
            )));
        }
        if self.group_index(group).is_none() {
            self.register_group(group, "");
        }
        let gi = self.group_index(group).unwrap_or(0);
        if let Some(oi) = self.opt_index(gi, opt.name()) {
            if self.groups[gi].opts[oi].opt == opt {
                return Ok(());
            }
            return Err(ConfigError::DuplicateOpt(opt.name().to_string()));
        }
        self.groups[gi].opts.push(OptInfo {
            opt,
            set_default: None,
            set_override: None,
        });
        Ok(())
    }

    /// Registers several options in one group.
    pub fn register_all(
        &mut self,
        group: &str,
        opts: impl IntoIterator<Item = Opt>,
    ) -> Result<(), ConfigError> {
        opts.into_iter().try_for_each(|o| self.register(group, o))
    }

    fn check_text_value(&self, gi: usize, oi: usize, value: &str) -> Result<(), ConfigError> {
        let opt = &self.groups[gi].opts[oi].opt;
        if value.contains('$') {
            return Ok(());
        }
        opt.convert(value)
            .map(|_| ())
            .map_err(|msg| ConfigError::DefaultValue {
                opt: opt.name().to_string(),
                msg,
            })
    }

    /// Replaces the default (textual, validated now unless it uses `$var`).
    pub fn set_default(&mut self, group: &str, name: &str, value: &str) -> Result<(), ConfigError> {
        let (gi, oi) = self.locate(group, name)?;
        self.check_text_value(gi, oi, value)?;
        self.groups[gi].opts[oi].set_default = Some(value.to_string());
        Ok(())
    }

    /// Forces a value above every other source.
    pub fn set_override(
        &mut self,
        group: &str,
        name: &str,
        value: &str,
    ) -> Result<(), ConfigError> {
        let (gi, oi) = self.locate(group, name)?;
        self.check_text_value(gi, oi, value)?;
        self.groups[gi].opts[oi].set_override = Some(value.to_string());
        Ok(())
    }

    pub fn clear_override(&mut self, group: &str, name: &str) -> Result<(), ConfigError> {
        let (gi, oi) = self.locate(group, name)?;
        self.groups[gi].opts[oi].set_override = None;
        Ok(())
    }

    /// Registered options as (group, opt), in registration order.
    pub fn opts(&self) -> impl Iterator<Item = (&str, &Opt)> {
        self.groups
            .iter()
            .flat_map(|g| g.opts.iter().map(move |o| (g.name.as_str(), &o.opt)))
    }

    // ---- lookup -------------------------------------------------------

    fn warn_once(&self, key: String, msg: impl FnOnce() -> String) {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.insert(key) {
            log::warn!("{}", msg());
        }
    }

    /// (section, key) pairs to look for in files, current name first.
    fn lookup_names(&self, gi: usize, opt: &Opt) -> Vec<(String, String)> {
        let gname = &self.groups[gi].name;
        let mut names = vec![(normalize_group(gname), opt.dest())];
        for d in &opt.deprecated {
            if d.group.is_none() && d.name.is_none() {
                continue;
            }
            let sec = normalize_group(d.group.as_deref().unwrap_or(gname));
            let key = d.name.clone().unwrap_or_else(|| opt.dest());
            names.push((sec, key));
        }
        names
    }

    fn note_deprecated_use(&self, gi: usize, opt: &Opt, names: &[(String, String)], idx: usize) {
        if idx == 0 || names[idx] == names[0] {
            return;
        }
        let (sec, key) = &names[idx];
        let group = &self.groups[gi].name;
        self.warn_once(format!("name:{sec}:{key}"), || {
            format!(
                "Deprecated: Option \"{key}\" from group \"{sec}\" is deprecated. Use option \"{}\" from group \"{group}\".",
                opt.name()
            )
        });
    }

    pub(crate) fn env_name(&self, gi: usize, opt: &Opt) -> String {
        format!(
            "OS_{}__{}",
            self.groups[gi].name.to_uppercase(),
            opt.dest().to_uppercase()
        )
    }

    /// The user-supplied raw value (command line, env, files), if any.
    fn user_value(&self, gi: usize, oi: usize, use_env: bool) -> Option<(Raw, Location)> {
        let opt = &self.groups[gi].opts[oi].opt;
        let names = self.lookup_names(gi, opt);
        let st = &self.state;
        let cli: Vec<&CliOccurrence> = st
            .cli
            .iter()
            .filter(|c| c.group == gi && c.opt == oi)
            .collect();
        let env = if use_env {
            let name = self.env_name(gi, opt);
            self.env.get(&name).map(|v| (v, name))
        } else {
            None
        };
        let found = if opt.is_multi() {
            // Every occurrence in every file, oldest first; inside one file
            // oslo puts deprecated-name values before current-name ones.
            let mut file_vals: Vec<(usize, String)> = Vec::new();
            let mut newest: Option<&str> = None;
            for f in &st.files {
                for (idx, name) in names.iter().enumerate().rev() {
                    if let Some(vs) = f.values.get(name) {
                        self.note_deprecated_use(gi, opt, &names, idx);
                        file_vals.extend(vs.iter().map(|v| (f.seq, v.clone())));
                        newest = Some(&f.path);
                    }
                }
            }
            if !cli.is_empty() && file_vals.is_empty() {
                Some((
                    Raw::Many(cli.iter().map(|c| c.value.clone()).collect()),
                    Location::CommandLine,
                ))
            } else if let Some((v, name)) = env {
                Some((Raw::Many(vec![v]), Location::Environment(name)))
            } else if let Some(path) = newest {
                let mut all = file_vals;
                all.extend(cli.iter().map(|c| (c.seq, c.value.clone())));
                all.sort_by_key(|(seq, _)| *seq);
                Some((
                    Raw::Many(all.into_iter().map(|(_, v)| v).collect()),
                    Location::User(path.to_string()),
                ))
            } else {
                None
            }
        } else {
            let mut file_hit: Option<(usize, &str, &str)> = None;
            'files: for f in st.files.iter().rev() {
                for (idx, name) in names.iter().enumerate() {
                    if let Some(v) = f.values.get(name).and_then(|vs| vs.last()) {
                        self.note_deprecated_use(gi, opt, &names, idx);
                        file_hit = Some((f.seq, v, &f.path));
                        break 'files;
                    }
                }
            }
            let cli_hit = cli
                .last()
                .filter(|c| file_hit.is_none_or(|(seq, _, _)| c.seq > seq));
            if let Some(c) = cli_hit {
                Some((Raw::One(c.value.clone()), Location::CommandLine))
            } else if let Some((v, name)) = env {
                Some((Raw::One(v), Location::Environment(name)))
            } else {
                file_hit
                    .map(|(_, v, path)| (Raw::One(v.to_string()), Location::User(path.to_string())))
            }
        };
        if opt.deprecated_for_removal
            && found
                .as_ref()
                .is_some_and(|(_, loc)| matches!(loc, Location::User(_) | Location::CommandLine))
        {
            let group = self.groups[gi].name.clone();
            let reason = opt
                .deprecated_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            self.warn_once(format!("removal:{group}:{}", opt.dest()), || {
                format!(
                    "Deprecated: Option \"{}\" from group \"{group}\" is deprecated for removal{reason}.  Its value may be silently ignored in the future.",
                    opt.dest()
                )
            });
        }
        found
    }

    fn resolve(&self, gi: usize, oi: usize, depth: usize) -> Result<Value, ConfigError> {
        let info = &self.groups[gi].opts[oi];
        let (raw, loc) = if let Some(v) = &info.set_override {
            (Raw::One(v.clone()), Location::SetOverride)
        } else if let Some(found) = self.user_value(gi, oi, true) {
            found
        } else if let Some(v) = &info.set_default {
            (Raw::One(v.clone()), Location::SetDefault)
        } else if let Some(v) = &info.opt.default {
            (Raw::One(v.clone()), Location::OptDefault)
        } else {
            return Ok(Value::None);
        };
        self.convert_raw(gi, &info.opt, raw, loc, depth)
    }

    fn convert_raw(
        &self,
        gi: usize,
        opt: &Opt,
        raw: Raw,
        loc: Location,
        depth: usize,
    ) -> Result<Value, ConfigError> {
        let wrap = |msg: String| ConfigError::Value {
            opt: opt.name().to_string(),
            location: loc.clone(),
            msg,
        };
        let one = |s: &str| -> Result<Value, ConfigError> {
            let s = match self.substitute(gi, s, depth) {
                Ok(s) => s,
                // A bad referenced value surfaces nested, as in oslo.
                Err(e @ ConfigError::Value { .. }) => return Err(wrap(e.to_string())),
                Err(e) => return Err(e),
            };
            opt.convert(&s).map_err(wrap)
        };
        match raw {
            Raw::Many(items) => items
                .iter()
                .map(|s| one(s))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            Raw::One(s) if opt.is_multi() => Ok(Value::List(vec![one(&s)?])),
            Raw::One(s) => one(&s),
        }
    }

    /// `$name`, `${name}`, `${group.name}` and `$$`, like Python's
    /// `string.Template.safe_substitute` over option values.
    fn substitute(&self, gi: usize, s: &str, depth: usize) -> Result<String, ConfigError> {
        if !s.contains('$') {
            return Ok(s.to_string());
        }
        if depth >= MAX_SUBSTITUTION_DEPTH {
            return Err(ConfigError::TemplateSubstitution(format!(
                "too many nested references in {s:?}"
            )));
        }
        let s = s.replace("\\$", "$$");
        let ident_len = |t: &str| -> usize {
            let mut chars = t.char_indices();
            match chars.next() {
                Some((_, c)) if c == '_' || c.is_ascii_alphabetic() => {}
                _ => return 0,
            }
            t.char_indices()
                .skip(1)
                .find(|(_, c)| !(*c == '_' || *c == '.' || c.is_ascii_alphanumeric()))
                .map(|(i, _)| i)
                .unwrap_or(t.len())
        };
        let mut out = String::with_capacity(s.len());
        let mut rest = s.as_str();
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
                continue;
            }
            let n = ident_len(after);
            if n > 0 {
                out.push_str(&self.template_value(gi, &after[..n], depth)?);
                rest = &after[n..];
                continue;
            }
            if let Some(inner) = after.strip_prefix('{') {
                let n = ident_len(inner);
                if n > 0 && inner[n..].starts_with('}') {
                    out.push_str(&self.template_value(gi, &inner[..n], depth)?);
                    rest = &inner[n + 1..];
                    continue;
                }
            }
            out.push('$');
            rest = after;
        }
        out.push_str(rest);
        Ok(out)
    }

    fn template_value(&self, gi: usize, key: &str, depth: usize) -> Result<String, ConfigError> {
        let target = match key.split_once('.') {
            Some((g, o)) => {
                let tg = self
                    .group_index(g)
                    .ok_or_else(|| ConfigError::NoSuchGroup(g.to_string()))?;
                self.opt_index(tg, o)
                    .map(|oi| (tg, oi))
                    .or_else(|| self.opt_index(0, key).map(|oi| (0, oi)))
            }
            None => self
                .opt_index(gi, key)
                .map(|oi| (gi, oi))
                .or_else(|| self.opt_index(0, key).map(|oi| (0, oi))),
        };
        let (tg, oi) = target.ok_or_else(|| ConfigError::NoSuchOpt {
            opt: key.to_string(),
            group: DEFAULT_GROUP.to_string(),
        })?;
        Ok(match self.resolve(tg, oi, depth + 1)? {
            Value::None => String::new(),
            v => v.py_str(),
        })
    }

    /// The converted value of an option (lazy; same errors as `validate_all`).
    pub fn get(&self, group: &str, name: &str) -> Result<Value, ConfigError> {
        let (gi, oi) = self.locate(group, name)?;
        self.resolve(gi, oi, 0)
    }

    fn wrong(&self, group: &str, name: &str, wanted: &'static str) -> ConfigError {
        ConfigError::WrongType {
            opt: name.to_string(),
            group: group.to_string(),
            wanted,
        }
    }

    pub fn get_str(&self, group: &str, name: &str) -> Result<Option<String>, ConfigError> {
        match self.get(group, name)? {
            Value::None => Ok(None),
            Value::Str(s) => Ok(Some(s)),
            _ => Err(self.wrong(group, name, "string")),
        }
    }

    pub fn get_int(&self, group: &str, name: &str) -> Result<Option<i64>, ConfigError> {
        match self.get(group, name)? {
            Value::None => Ok(None),
            Value::Int(i) => Ok(Some(i)),
            _ => Err(self.wrong(group, name, "integer")),
        }
    }

    pub fn get_float(&self, group: &str, name: &str) -> Result<Option<f64>, ConfigError> {
        match self.get(group, name)? {
            Value::None => Ok(None),
            Value::Float(f) => Ok(Some(f)),
            Value::Int(i) => Ok(Some(i as f64)),
            _ => Err(self.wrong(group, name, "float")),
        }
    }

    pub fn get_bool(&self, group: &str, name: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(group, name)? {
            Value::None => Ok(None),
            Value::Bool(b) => Ok(Some(b)),
            _ => Err(self.wrong(group, name, "boolean")),
        }
    }

    /// A list option's items as strings (integer items are formatted).
    pub fn get_list(&self, group: &str, name: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.get(group, name)? {
            Value::None => Ok(None),
            Value::List(items) => Ok(Some(items.iter().map(Value::py_str).collect())),
            _ => Err(self.wrong(group, name, "list")),
        }
    }

    pub fn get_int_list(&self, group: &str, name: &str) -> Result<Option<Vec<i64>>, ConfigError> {
        match self.get(group, name)? {
            Value::None => Ok(None),
            Value::List(items) => items
                .iter()
                .map(|v| match v {
                    Value::Int(i) => Ok(*i),
                    _ => Err(self.wrong(group, name, "integer list")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            _ => Err(self.wrong(group, name, "integer list")),
        }
    }

    pub fn get_dict(
        &self,
        group: &str,
        name: &str,
    ) -> Result<Option<crate::value::Dict>, ConfigError> {
        match self.get(group, name)? {
            Value::None => Ok(None),
            Value::Dict(d) => Ok(Some(d)),
            _ => Err(self.wrong(group, name, "dict")),
        }
    }

    /// All values of a multi-valued option (empty when unset).
    pub fn get_multi(&self, group: &str, name: &str) -> Result<Vec<String>, ConfigError> {
        match self.get(group, name)? {
            Value::None => Ok(Vec::new()),
            Value::List(items) => Ok(items.iter().map(Value::py_str).collect()),
            _ => Err(self.wrong(group, name, "multi-valued")),
        }
    }

    /// Converts every registered option now, collecting every failure.
    /// oslo does this lazily; Glimpse calls it before forking workers.
    pub fn validate_all(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            for oi in 0..g.opts.len() {
                if let Err(e) = self.resolve(gi, oi, 0) {
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// (group, name, value) for every option, secrets masked — for
    /// logging the effective configuration at startup.
    pub fn opt_values(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            for (oi, o) in g.opts.iter().enumerate() {
                let shown = if o.opt.is_secret() {
                    "****".to_string()
                } else {
                    match self.resolve(gi, oi, 0) {
                        Ok(v) => v.py_str(),
                        Err(e) => format!("<invalid: {e}>"),
                    }
                };
                out.push((g.name.clone(), o.opt.dest(), shown));
            }
        }
        out
    }

    // ---- files -------------------------------------------------------

    /// Values of `--config-file` as given (or the default files found).
    pub fn config_files(&self) -> Vec<PathBuf> {
        self.state.config_files.clone()
    }

    /// Values of `--config-dir` as given, or else the default dirs read.
    pub fn config_dirs(&self) -> Vec<PathBuf> {
        if self.state.config_dirs.is_empty() {
            return self
                .state
                .default_dirs
                .iter()
                .filter(|d| d.exists())
                .cloned()
                .collect();
        }
        self.state.config_dirs.clone()
    }

    /// oslo's `CONF.find_file`: look in the `--config-dir`s, then next to
    /// each config file (last first), then the default search dirs.
    pub fn find_file(&self, name: &str) -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .state
            .config_dirs
            .iter()
            .map(|d| self.search.fixpath(&d.to_string_lossy()))
            .collect();
        for cf in self.state.config_files.iter().rev() {
            if let Some(parent) = self.search.fixpath(&cf.to_string_lossy()).parent() {
                dirs.push(parent.to_path_buf());
            }
        }
        dirs.extend(self.search.dirs(&self.project));
        dirs.into_iter().map(|d| d.join(name)).find(|p| p.exists())
    }

    /// Reads and parses one file into the state (missing/unreadable files
    /// are collected and reported together at the end, like oslo).
    pub(crate) fn load_file(&self, st: &mut ParseState, path: &str) -> Result<(), ConfigError> {
        let abs = self.search.fixpath(path);
        let shown = abs.to_string_lossy().into_owned();
        let bytes = match std::fs::read(&abs) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                st.missing.push(shown);
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                st.denied.push(shown);
                return Ok(());
            }
            Err(e) => {
                return Err(ConfigError::Io {
                    file: shown,
                    msg: e.to_string(),
                });
            }
        };
        let text = String::from_utf8(bytes).map_err(|e| ConfigError::Io {
            file: shown.clone(),
            msg: format!("not valid UTF-8: {e}"),
        })?;
        let parsed = ini::parse(&shown, &text)?;
        let mut values: HashMap<(String, String), Vec<String>> = HashMap::new();
        for e in parsed.entries {
            values
                .entry((normalize_group(&e.section), e.key))
                .or_default()
                .extend(e.values);
        }
        st.seq += 1;
        st.files.push(LoadedFile {
            seq: st.seq,
            path: shown,
            values,
        });
        Ok(())
    }

    /// `DIR/*.conf` (no dotfiles), sorted lexicographically.
    pub(crate) fn dir_conf_files(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| {
                        let n = e.file_name();
                        let n = n.to_string_lossy();
                        n.ends_with(".conf") && !n.starts_with('.') && e.path().is_file()
                    })
                    .map(|e| e.path().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    pub(crate) fn check_required(&self) -> Result<(), ConfigError> {
        for (gi, g) in self.groups.iter().enumerate() {
            for (oi, o) in g.opts.iter().enumerate() {
                if !o.opt.required || o.set_default.is_some() || o.set_override.is_some() {
                    continue;
                }
                if self.resolve(gi, oi, 0)?.is_none() {
                    return Err(ConfigError::Required {
                        opt: o.opt.name().to_string(),
                        group: g.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Eager check of command-line options, whether their value came from
    /// argv or a file (oslo exits 1 with argparse's wording here).
    pub(crate) fn validate_cli_values(&self) -> Result<(), ConfigError> {
        let mut cli: Vec<(usize, usize)> = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            for (oi, o) in g.opts.iter().enumerate() {
                if o.opt.is_cli() {
                    cli.push((gi, oi));
                }
            }
        }
        cli.sort_by(|a, b| {
            self.groups[a.0].opts[a.1]
                .opt
                .name()
                .cmp(self.groups[b.0].opts[b.1].opt.name())
        });
        for (gi, oi) in cli {
            let opt = &self.groups[gi].opts[oi].opt;
            let Some((raw, _)) = self.user_value(gi, oi, false) else {
                continue;
            };
            let bad = |shown: String| {
                ConfigError::CliValue(format!(
                    "argument --{}: Invalid {} value: {shown}",
                    opt.dest(),
                    opt.type_repr()
                ))
            };
            match raw {
                Raw::One(s) => {
                    let s = self.substitute(gi, &s, 0)?;
                    if opt.convert(&s).is_err() {
                        return Err(bad(s));
                    }
                }
                Raw::Many(items) => {
                    let subst = items
                        .iter()
                        .map(|s| self.substitute(gi, s, 0))
                        .collect::<Result<Vec<_>, _>>()?;
                    if subst.iter().any(|s| opt.convert(s).is_err()) {
                        return Err(bad(Value::List(
                            subst.into_iter().map(Value::Str).collect(),
                        )
                        .py_str()));
                    }
                }
            }
        }
        Ok(())
    }

    /// Re-reads the same files/dirs with the same arguments, registry,
    /// overrides and environment; `self` is left untouched.
    pub fn reload(&self) -> Result<ConfigOpts, ConfigError> {
        let mut fresh = ConfigOpts {
            project: self.project.clone(),
            prog: self.prog.clone(),
            version: self.version.clone(),
            groups: self.groups.clone(),
            search: self.search.clone(),
            env: self.env.clone(),
            state: ParseState::default(),
            warned: Mutex::new(HashSet::new()),
        };
        let st = &self.state;
        fresh.run_parse(&st.args, st.default_files.clone(), st.default_dirs.clone())?;
        Ok(fresh)
    }

    /// Options whose value differs in `other` (typically `self.reload()?`).
    /// Invalid values compare by their error text.
    pub fn changed_options(&self, other: &ConfigOpts) -> Vec<OptionChange> {
        let mut out = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            for (oi, o) in g.opts.iter().enumerate() {
                let Ok((ogi, ooi)) = other.locate(&g.name, o.opt.name()) else {
                    continue;
                };
                let render = |r: Result<Value, ConfigError>| match r {
                    Ok(v) => v.py_str(),
                    Err(e) => e.to_string(),
                };
                let old = render(self.resolve(gi, oi, 0));
                let new = render(other.resolve(ogi, ooi, 0));
                if old != new {
                    out.push(OptionChange {
                        group: g.name.clone(),
                        name: o.opt.name().to_string(),
                        old,
                        new,
                        mutable: o.opt.is_mutable(),
                    });
                }
            }
        }
        out
    }

    /// Records a command-line value at the current argv position.
    pub(crate) fn push_cli(st: &mut ParseState, group: usize, opt: usize, value: String) {
        st.seq += 1;
        st.cli.push(CliOccurrence {
            seq: st.seq,
            group,
            opt,
            value,
        });
    }
}
