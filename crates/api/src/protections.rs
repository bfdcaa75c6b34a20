//! Property protections in the image API: the `[DEFAULT]` options, the
//! rules file loaded when the service is built (start-up and every
//! SIGHUP), and one caller's view of the rules ([`Caller`]), which the
//! image handlers consult where Glance's protected image proxies do:
//! - create: every extra property needs `create` (403 "Attribute '…' is
//!   reserved.", after the `add_image` policy, before the factory's checks);
//! - every image response shows only the extra properties the caller may
//!   `read`;
//! - PATCH sees only readable properties (an unreadable one "does not
//!   exist"), and adding, replacing and removing need `create`/`update`/
//!   `delete`.
//!
//! Deliberate differences from Glance 33 (its behaviour loses data or
//! fails; see docs/compatibility.md):
//! - an invalid file stops the service at start-up; Glance starts and then
//!   answers every image request with 400;
//! - properties the caller cannot read survive the caller's PATCH; Glance
//!   deletes them from the database on save;
//! - a property the caller may create but not read is stored; Glance drops
//!   it silently on create and fails with 500 on PATCH.
//!
//! The rules themselves (file format, matching) are
//! [`glimpse_domain::protections`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_domain::ExtraProperties;
use glimpse_domain::protections::{
    Operation, Permission, PropertyGuard, PropertyRules, RuleFormat,
};
use glimpse_policy::Values;
use serde_json::Value;

use crate::context::RequestContext;
use crate::policy::{Enforcer, creds};

const LOG: &str = "glance.common.property_utils";

/// `property_protection_file` and `property_protection_rule_format`.
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register(
        "DEFAULT",
        Opt::str("property_protection_file").help(
            "INI file of property protection rules: each section is a regular expression \
             matched against extra property names (first match wins; names matching no \
             section are refused) and lists who may create, read, update and delete them. \
             Relative paths are searched like config files. Unset: no protections. A file \
             that is missing or invalid stops the service at start-up.",
        ),
    )?;
    conf.register(
        "DEFAULT",
        Opt::str("property_protection_rule_format")
            .default("roles")
            .choices_described(&[
                (
                    "roles",
                    "comma-separated role names, '@' for everyone, '!' for no one",
                ),
                ("policies", "one policy rule name per operation, '@' or '!'"),
            ])
            .help("How property_protection_file names who may perform each operation."),
    )
}

/// The loaded rules (or none) and the policy engine the `policies` format
/// asks. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Protections {
    rules: Option<Arc<PropertyRules>>,
    enforcer: Option<Enforcer>,
}

impl Protections {
    /// No protections: every caller may do everything to every property.
    pub fn disabled() -> Protections {
        Protections::default()
    }

    /// From `[DEFAULT] property_protection_file`/`_rule_format`; a file
    /// that cannot be found, read or parsed is an error naming it and why.
    pub fn from_conf(conf: &ConfigOpts, enforcer: &Enforcer) -> Result<Protections, String> {
        let e = |e: ConfigError| e.to_string();
        let Some(name) = conf
            .get_str("DEFAULT", "property_protection_file")
            .map_err(e)?
            .filter(|n| !n.is_empty())
        else {
            return Ok(Protections::disabled());
        };
        let format_name = conf
            .get_str("DEFAULT", "property_protection_rule_format")
            .map_err(e)?
            .unwrap_or_else(|| "roles".into());
        let format = RuleFormat::from_name(&format_name).ok_or_else(|| {
            format!(
                "Invalid value '{format_name}' for property_protection_rule_format: the permitted values are 'roles' and 'policies'"
            )
        })?;
        let path = locate(conf, &name).ok_or_else(|| {
            format!(
                "Property protection file {name} (property_protection_file) not found{}",
                if Path::new(&name).is_absolute() {
                    ""
                } else {
                    " next to the config files or in ~/.glance, ~, /etc/glance, /etc"
                }
            )
        })?;
        let shown = path.display();
        let text = std::fs::read(&path)
            .map_err(|err| format!("Cannot read property protection file {shown}: {err}"))
            .and_then(|b| {
                String::from_utf8(b).map_err(|_| {
                    format!("Invalid property protection file {shown}: not valid UTF-8")
                })
            })?;
        let rules = PropertyRules::parse(&text, format)
            .map_err(|err| format!("Invalid property protection file {shown}: {err}"))?;
        for w in &rules.warnings {
            log::warn!(target: LOG, "{shown}: {w}");
        }
        if format == RuleFormat::Policies {
            warn_undefined_policies(&rules, enforcer, &path);
        }
        log::info!(target: LOG,
            "Property protections from {shown} ({format_name} format, {} sections)",
            rules.rules().len() - 1);
        Ok(Protections {
            rules: Some(Arc::new(rules)),
            enforcer: Some(enforcer.clone()),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.rules.is_some()
    }

    /// The caller's view, for one request.
    pub fn caller<'a>(&'a self, ctx: &'a RequestContext) -> Caller<'a> {
        Caller {
            protections: self,
            ctx,
            roles: OnceLock::new(),
            creds: OnceLock::new(),
            readable: RefCell::new(HashMap::new()),
        }
    }
}

/// `CONF.find_file`: an absolute path as it is, a relative one next to
/// the config files or in the standard directories.
fn locate(conf: &ConfigOpts, name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    conf.find_file(name)
}

/// In the policies format an undefined rule name is not an error: oslo
/// falls back to the `default` rule, which allows everyone. Say so.
fn warn_undefined_policies(rules: &PropertyRules, enforcer: &Enforcer, path: &Path) {
    for rule in rules.rules() {
        for op in Operation::ALL {
            if let Permission::Policy(name) = rule.permission(op)
                && !enforcer.has_rule(name)
            {
                log::warn!(target: LOG,
                    "{}: [{}] {op} = {name}: no policy rule named {name} is defined; the 'default' rule decides",
                    path.display(), rule.section());
            }
        }
    }
}

/// One request's caller against the rules.
pub struct Caller<'a> {
    protections: &'a Protections,
    ctx: &'a RequestContext,
    /// Roles and service roles: Glance checks both.
    roles: OnceLock<Vec<String>>,
    /// Policy credentials with the service roles among the roles, as
    /// Glance's check leaves the context once it has looked at it.
    creds: OnceLock<Values>,
    /// `read` answers by name: a list repeats the same names image after
    /// image.
    readable: RefCell<HashMap<String, bool>>,
}

impl Caller<'_> {
    pub fn is_enabled(&self) -> bool {
        self.protections.is_enabled()
    }

    /// The request context's `is_admin` (the `context_is_admin` rule).
    pub fn is_admin(&self) -> bool {
        self.ctx.is_admin
    }

    /// May the caller perform `op` on the extra property `name`? Always
    /// yes without protections.
    pub fn allows(&self, name: &str, op: Operation) -> bool {
        let Some(rules) = &self.protections.rules else {
            return true;
        };
        let roles = self.roles.get_or_init(|| {
            self.ctx
                .roles
                .iter()
                .chain(&self.ctx.service_roles)
                .cloned()
                .collect()
        });
        rules.allows(name, op, roles, &|rule| self.policy(rule))
    }

    pub fn can_read(&self, name: &str) -> bool {
        if !self.is_enabled() {
            return true;
        }
        if let Some(&known) = self.readable.borrow().get(name) {
            return known;
        }
        let answer = self.allows(name, Operation::Read);
        self.readable.borrow_mut().insert(name.to_string(), answer);
        answer
    }

    fn policy(&self, rule: &str) -> bool {
        let Some(enforcer) = &self.protections.enforcer else {
            return false;
        };
        let creds = self.creds.get_or_init(|| {
            let mut c = creds(self.ctx).clone();
            if !self.ctx.service_roles.is_empty()
                && let Some(Value::Array(roles)) = c.get_mut("roles")
            {
                roles.extend(self.ctx.service_roles.iter().cloned().map(Value::String));
            }
            c
        });
        enforcer.check_str_as(&format!("rule:{rule}"), creds)
    }

    /// The guard PATCH changes go through (`None` without protections).
    pub fn guard(&self) -> Option<&dyn PropertyGuard> {
        self.is_enabled().then_some(self as &dyn PropertyGuard)
    }

    /// Move the properties the caller may not read out of `props` (what
    /// Glance's protected repository leaves out of the image it hands the
    /// controller), returning them.
    pub fn take_unreadable(&self, props: &mut ExtraProperties) -> ExtraProperties {
        let mut hidden = ExtraProperties::default();
        if !self.is_enabled() {
            return hidden;
        }
        props.0.retain(|(k, v)| {
            let keep = self.can_read(k);
            if !keep {
                hidden.0.push((k.clone(), v.clone()));
            }
            keep
        });
        hidden
    }
}

impl PropertyGuard for Caller<'_> {
    fn allows(&self, name: &str, op: Operation) -> bool {
        Caller::allows(self, name, op)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn conf_with(dir: &Path, extra: &str) -> ConfigOpts {
        let mut conf = ConfigOpts::new("glance", "glance-api", "test");
        register_opts(&mut conf).unwrap();
        let cfg = dir.join("glance-api.conf");
        std::fs::write(&cfg, format!("[DEFAULT]\n{extra}\n")).unwrap();
        conf.parse_args(&["--config-file".to_string(), cfg.display().to_string()])
            .unwrap();
        conf
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("glimpse-pp-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn enforcer() -> Enforcer {
        Enforcer::new(glimpse_policy::PolicyConfig::default()).unwrap()
    }

    /// Protections from `pp.conf` in `dir` holding `text`, with `extra`
    /// options.
    fn load(dir: &Path, text: &str, extra: &str) -> Protections {
        std::fs::write(dir.join("pp.conf"), text).unwrap();
        Protections::from_conf(
            &conf_with(dir, &format!("property_protection_file = pp.conf\n{extra}")),
            &enforcer(),
        )
        .unwrap()
    }

    fn ctx(roles: &[&str], service: &[&str]) -> RequestContext {
        RequestContext {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            service_roles: service.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }
    }

    const FILE: &str = "[^x_.*]\ncreate = member\nread = @\nupdate = !\ndelete = admin\n";

    #[test]
    fn unset_is_disabled_and_relative_paths_resolve() {
        let dir = tmpdir("conf");
        let p = Protections::from_conf(&conf_with(&dir, ""), &enforcer()).unwrap();
        assert!(!p.is_enabled());
        assert!(
            p.caller(&ctx(&[], &[]))
                .allows("anything", Operation::Delete)
        );
        let p = load(&dir, FILE, "");
        let member = ctx(&["member"], &[]);
        let c = p.caller(&member);
        assert!(c.allows("x_a", Operation::Create));
        assert!(!c.allows("x_a", Operation::Update));
        assert!(!c.allows("y", Operation::Read));
        // Service roles count as roles.
        assert!(
            p.caller(&ctx(&[], &["admin"]))
                .allows("x_a", Operation::Delete)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let dir = tmpdir("bad");
        let e = Protections::from_conf(
            &conf_with(&dir, "property_protection_file = /nonexistent/pp.conf"),
            &enforcer(),
        )
        .unwrap_err();
        assert!(
            e.contains("/nonexistent/pp.conf") && e.contains("not found"),
            "{e}"
        );
        std::fs::write(
            dir.join("bad.conf"),
            "[x]\ncreate = @,!\nread=a\nupdate=a\ndelete=a\n",
        )
        .unwrap();
        let e = Protections::from_conf(
            &conf_with(&dir, "property_protection_file = bad.conf"),
            &enforcer(),
        )
        .unwrap_err();
        assert!(
            e.contains("bad.conf") && e.contains("mutually exclusive"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn policies_format_asks_the_policy_engine() {
        let dir = tmpdir("pol");
        let p = load(
            &dir,
            "[.*]\ncreate = context_is_admin\nread = @\nupdate = !\ndelete = undefined_rule\n",
            "property_protection_rule_format = policies",
        );
        let admin = ctx(&["admin"], &[]);
        let member = ctx(&["member"], &[]);
        assert!(p.caller(&admin).allows("p", Operation::Create));
        assert!(!p.caller(&member).allows("p", Operation::Create));
        // Through the service roles too.
        assert!(
            p.caller(&ctx(&["member"], &["admin"]))
                .allows("p", Operation::Create)
        );
        // An undefined rule falls back to `default`, which allows all.
        assert!(p.caller(&member).allows("p", Operation::Delete));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unreadable_properties_are_set_aside() {
        let dir = tmpdir("take");
        let p = load(
            &dir,
            "[^secret]\ncreate = admin\nread = admin\nupdate = admin\ndelete = admin\n[.*]\ncreate = @\nread = @\nupdate = @\ndelete = @\n",
            "",
        );
        let member = ctx(&["member"], &[]);
        let mut props = ExtraProperties::default();
        props.set("a", Some("1".into()));
        props.set("secret_1", Some("2".into()));
        let hidden = p.caller(&member).take_unreadable(&mut props);
        assert_eq!(props.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(hidden.keys().collect::<Vec<_>>(), ["secret_1"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
