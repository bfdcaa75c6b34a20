//! The enforcer: registered defaults merged with policy files as
//! oslo.policy 6.0.1 merges them, evaluated by rule name.
//!
//! Merge order (oslo's `load_rules`): the main policy file, then every file
//! of each policy directory in sorted order (later files win); then each
//! registered default whose name no file set. A default with a deprecated
//! rule becomes `new or deprecated` when `enforce_new_defaults` is false and
//! no file overrides it; a file overriding the deprecated rule under an old
//! name replaces the new default. Every rule of the files is kept, so
//! `rule:` can name custom rules; a `rule:` naming nothing falls back to
//! the `default` rule, as oslo's `Rules` mapping does.
//!
//! Scope: oslo.policy 6.0.1 always checks a registered rule's
//! `scope_types` (its `enforce_scope` option is gone). The token's scope is
//! `system` when `creds['system']` (set from a truthy `system_scope`) is
//! truthy, else `domain` when `domain_id` is truthy, else `project`; a rule
//! whose scope types lack it is denied before its check string runs. So a
//! system-scoped admin is refused every Glance policy, all of which are
//! `scope_types=['project']`, except the unscoped base rules.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::check::{Check, MAX_DEPTH};
use crate::defaults::{GLANCE_DEFAULTS, RuleDefault};
use crate::error::PolicyError;
use crate::eval::{Scope, Values};
use crate::parser::{parse_list_rule, parse_rule};
use crate::pyval::truthy;
use crate::yaml::{Doc, load_mapping};

/// Where the rules come from (`[oslo_policy]` in `glance-api.conf`).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyConfig {
    /// `enforce_new_defaults`: when false, deprecated defaults still grant
    /// access (`new or deprecated`). oslo's default is true.
    pub enforce_new_defaults: bool,
    /// Whether registered `scope_types` are checked. oslo.policy 6.0.1
    /// always checks them, which `true` (the default) reproduces; `false`
    /// is the lenient behaviour of older oslo.policy releases.
    pub enforce_scope: bool,
    /// The policy file (YAML or JSON). A missing file means "defaults
    /// only" until it appears. Relative paths are taken as given: resolve
    /// them against the config directory first, as oslo does.
    pub policy_file: Option<PathBuf>,
    /// Directories whose files apply after the main file, each in sorted
    /// name order (dot-files skipped). Missing directories are ignored.
    pub policy_dirs: Vec<PathBuf>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            enforce_new_defaults: true,
            enforce_scope: true,
            policy_file: None,
            policy_dirs: Vec::new(),
        }
    }
}

/// File states a reload compares: path, then (mtime, size) or absence.
type Fingerprint = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

struct RuleSet {
    rules: HashMap<String, Check>,
    fingerprint: Fingerprint,
}

/// Decides policies by name. Cheap to share (`Arc<Enforcer>`): evaluation
/// takes a read lock only to clone the current rule set's `Arc`.
pub struct Enforcer {
    config: PolicyConfig,
    /// Registered defaults by name.
    registered: HashMap<&'static str, &'static RuleDefault>,
    current: RwLock<Arc<RuleSet>>,
}

impl std::fmt::Debug for Enforcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enforcer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Enforcer {
    /// Builds an enforcer with Glance's defaults and the configured files.
    /// A policy file that cannot be read or parsed is an error.
    pub fn new(config: PolicyConfig) -> Result<Enforcer, PolicyError> {
        let registered = GLANCE_DEFAULTS.iter().map(|d| (d.name, d)).collect();
        let set = build(&config, GLANCE_DEFAULTS)?;
        Ok(Enforcer {
            config,
            registered,
            current: RwLock::new(Arc::new(set)),
        })
    }

    /// Glance 33's registered defaults, in registration order.
    pub fn registered() -> &'static [RuleDefault] {
        GLANCE_DEFAULTS
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    fn rules(&self) -> Arc<RuleSet> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Whether the registered policy `rule` allows `creds` on `target`
    /// (Glance's `Enforcer.check`: an unregistered name is an error, a
    /// scope mismatch is a plain `false`). `Err(Evaluation)` is what makes
    /// oslo raise; treat it as a server error.
    pub fn enforce(
        &self,
        rule: &str,
        target: &Values,
        creds: &Values,
    ) -> Result<bool, PolicyError> {
        let Some(default) = self.registered.get(rule) else {
            return Err(PolicyError::NotRegistered(rule.to_string()));
        };
        let set = self.rules();
        let scope = Scope::new(&set.rules, target, creds);
        if let Some(types) = default.scope_types.filter(|t| !t.is_empty()) {
            let token = if truthy(scope.cred("system")) {
                "system"
            } else if truthy(creds.get("domain_id")) {
                "domain"
            } else {
                "project"
            };
            if !types.contains(&token) {
                if self.config.enforce_scope {
                    log::debug!("Policy {rule} is not allowed for a {token}-scoped token");
                    return Ok(false);
                }
                log::warn!("Policy {rule} failed its scope check for a {token}-scoped token");
            }
        }
        let check = set
            .rules
            .get(rule)
            .or_else(|| set.rules.get(crate::eval::DEFAULT_RULE));
        let Some(check) = check else {
            return Ok(false);
        };
        scope
            .eval(check, 0)
            .map_err(|message| PolicyError::Evaluation {
                rule: rule.to_string(),
                message,
            })
    }

    /// Evaluates an ad-hoc check string against the current rules (no
    /// scope check, as oslo does for a check object). Whatever would make
    /// oslo raise counts as "no", with a logged warning.
    pub fn check_str(&self, check: &str, target: &Values, creds: &Values) -> bool {
        self.try_check_str(check, target, creds)
            .unwrap_or_else(|e| {
                log::warn!("{e}");
                false
            })
    }

    /// [`Enforcer::check_str`] that reports what oslo would raise.
    pub fn try_check_str(
        &self,
        check: &str,
        target: &Values,
        creds: &Values,
    ) -> Result<bool, PolicyError> {
        let parsed = parse_rule(check);
        let set = self.rules();
        Scope::new(&set.rules, target, creds)
            .eval(&parsed, 0)
            .map_err(|message| PolicyError::Evaluation {
                rule: check.to_string(),
                message,
            })
    }

    /// The effective rule for `name` after merging, rendered as oslo's
    /// `str()` (for diagnostics and tests).
    pub fn effective_rule(&self, name: &str) -> Option<String> {
        self.rules().rules.get(name).map(ToString::to_string)
    }

    /// Re-reads the policy files if any changed (mtime or size, or a file
    /// appearing or vanishing), as oslo re-reads changed files. Returns
    /// whether the rules were rebuilt. A file that no longer parses keeps
    /// the previous rules: the error is logged and returned once.
    pub fn reload_if_changed(&self) -> Result<bool, PolicyError> {
        let now = fingerprint(&self.config);
        if now == self.rules().fingerprint {
            return Ok(false);
        }
        let result = build(&self.config, GLANCE_DEFAULTS);
        let mut slot = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        match result {
            Ok(set) => {
                log::info!("Policy files changed: rules reloaded");
                *slot = Arc::new(set);
                Ok(true)
            }
            Err(e) => {
                log::error!("{e}; keeping the previous policy rules");
                // Remember the broken state so it is reported only once.
                *slot = Arc::new(RuleSet {
                    rules: slot.rules.clone(),
                    fingerprint: now,
                });
                Err(e)
            }
        }
    }
}

/// The policy files in application order: the main file, then each
/// directory's files sorted by name. Missing paths are skipped.
fn policy_files(config: &PolicyConfig) -> Result<Vec<PathBuf>, PolicyError> {
    let mut files = Vec::new();
    if let Some(main) = &config.policy_file
        && main.exists()
    {
        files.push(main.clone());
    }
    for dir in &config.policy_dirs {
        if !dir.exists() {
            continue;
        }
        let err = |message: String| PolicyError::File {
            path: dir.clone(),
            message,
        };
        if !dir.is_dir() {
            return Err(err("is not a directory".into()));
        }
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(|e| err(e.to_string()))?
            .filter_map(Result::ok)
            .filter(|e| !e.path().is_dir())
            .map(|e| e.file_name())
            .filter(|n| !n.as_encoded_bytes().starts_with(b"."))
            .collect();
        names.sort();
        files.extend(names.into_iter().map(|n| dir.join(n)));
    }
    Ok(files)
}

fn stat(path: &Path) -> Option<(SystemTime, u64)> {
    let md = fs::metadata(path).ok()?;
    Some((md.modified().ok()?, md.len()))
}

fn fingerprint(config: &PolicyConfig) -> Fingerprint {
    let mut fp = Vec::new();
    if let Some(main) = &config.policy_file {
        fp.push((main.clone(), stat(main)));
    }
    for dir in &config.policy_dirs {
        fp.push((dir.clone(), stat(dir)));
        if let Ok(entries) = fs::read_dir(dir) {
            let mut files: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            fp.extend(files.into_iter().map(|f| {
                let s = stat(&f);
                (f, s)
            }));
        }
    }
    fp
}

/// A file's rules, parsed (oslo's `Rules.load`).
pub fn parse_policy_text(text: &str) -> Result<Vec<(String, Check)>, String> {
    load_mapping(text)?
        .into_iter()
        .map(|(name, doc)| {
            let check = match &doc {
                Doc::Str(s) => parse_rule(s),
                other => parse_list_rule(other).map_err(|e| format!("rule {name}: {e}"))?,
            };
            Ok((name, check))
        })
        .collect()
}

fn build(config: &PolicyConfig, defaults: &'static [RuleDefault]) -> Result<RuleSet, PolicyError> {
    let fingerprint = fingerprint(config);
    let mut rules: HashMap<String, Check> = HashMap::new();
    // Which names the files set, and to what (oslo's `file_rules`).
    let mut file_rules: HashMap<String, Check> = HashMap::new();
    for path in policy_files(config)? {
        let err = |message: String| PolicyError::File {
            path: path.clone(),
            message,
        };
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            // Vanished between listing and reading: oslo reads it as empty.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        let parsed = parse_policy_text(&text).map_err(err)?;
        let registered: HashMap<&str, &RuleDefault> =
            defaults.iter().map(|d| (d.name, d)).collect();
        let mut redundant = Vec::new();
        for (name, check) in parsed {
            if check.has_external() {
                log::warn!("Policy {name} uses an http(s) check, which Glimpse does not support");
            }
            if registered
                .get(name.as_str())
                .is_some_and(|d| parse_rule(d.check_str).to_string() == check.to_string())
            {
                redundant.push(name.clone());
            }
            rules.insert(name.clone(), check.clone());
            file_rules.insert(name, check);
        }
        if !redundant.is_empty() {
            log::warn!(
                "Policy rules {redundant:?} in {} are the same as the defaults and could be removed",
                path.display()
            );
        }
    }
    for default in defaults {
        if default.deprecated_for_removal && file_rules.contains_key(default.name) {
            log::warn!(
                "Policy {:?}:{:?} was deprecated for removal in {}: {}. Its override may be ignored in the future.",
                default.name,
                default.check_str,
                default.deprecated_since.unwrap_or("None"),
                default.deprecated_reason.unwrap_or("None").trim()
            );
        }
        if rules.contains_key(default.name) {
            continue;
        }
        let check = merged_default(config, default, &file_rules);
        rules.insert(default.name.to_string(), check);
    }
    sanity_warnings(&rules);
    Ok(RuleSet { rules, fingerprint })
}

/// oslo's `_handle_deprecated_rule` for a default no file overrides.
fn merged_default(
    config: &PolicyConfig,
    default: &RuleDefault,
    file_rules: &HashMap<String, Check>,
) -> Check {
    let new = parse_rule(default.check_str);
    let Some(old) = &default.deprecated_rule else {
        return new;
    };
    let old_check = parse_rule(old.check_str);
    let since = old
        .deprecated_since
        .or(default.deprecated_since)
        .unwrap_or("None");
    if old.name != default.name
        && let Some(file_check) = file_rules.get(old.name)
    {
        log::warn!(
            "Policy {:?} was renamed to {:?} in {since}; the override of the old name applies",
            old.name,
            default.name
        );
        if *file_check != old_check
            && file_check.to_string() != format!("rule:{}", default.name)
            && !file_rules.contains_key(default.name)
        {
            return file_check.clone();
        }
    }
    if !config.enforce_new_defaults
        && old.check_str != default.check_str
        && !file_rules.contains_key(default.name)
    {
        // Glance silences this warning (suppress_default_change_warnings).
        log::debug!(
            "Policy {:?} also allows its deprecated rule {:?} (deprecated in {since}) while enforce_new_defaults is off",
            default.name,
            old.check_str
        );
        return Check::Or(vec![new, old_check]);
    }
    new
}

/// oslo's `check_rules`: warn about `rule:` references to nothing and
/// about cycles.
fn sanity_warnings(rules: &HashMap<String, Check>) {
    let mut undefined = Vec::new();
    let mut cyclic = Vec::new();
    let mut safe = HashSet::new();
    for (name, check) in rules {
        let mut refs = Vec::new();
        check.rule_refs(&mut refs);
        if refs.iter().any(|r| !rules.contains_key(*r)) {
            undefined.push(name.as_str());
        }
        if cycles(rules, check, &mut vec![name.as_str()], &mut safe) {
            cyclic.push(name.as_str());
        }
    }
    undefined.sort();
    cyclic.sort();
    if !undefined.is_empty() {
        log::warn!("Policies {undefined:?} reference a rule that is not defined");
    }
    if !cyclic.is_empty() {
        log::warn!("Policies {cyclic:?} are part of a cyclical reference");
    }
}

/// Whether following `rule:` references from `check` comes back to a rule
/// on the current path. `safe` remembers rules already fully explored, so
/// wide reference graphs stay linear.
fn cycles<'a>(
    rules: &'a HashMap<String, Check>,
    check: &'a Check,
    path: &mut Vec<&'a str>,
    safe: &mut HashSet<&'a str>,
) -> bool {
    let mut refs = Vec::new();
    check.rule_refs(&mut refs);
    for r in refs {
        if path.contains(&r) {
            return true;
        }
        if safe.contains(r) {
            continue;
        }
        let Some(next) = rules.get(r) else { continue };
        if path.len() > MAX_DEPTH {
            // Evaluation refuses chains this long anyway; stop looking.
            return false;
        }
        path.push(r);
        let found = cycles(rules, next, path, safe);
        path.pop();
        if found {
            return true;
        }
        safe.insert(r);
    }
    false
}
