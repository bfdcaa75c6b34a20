//! Property protections (`glance/common/property_utils.py`): which callers
//! may create, read, update and delete which extra properties, from the
//! file `[DEFAULT] property_protection_file` names.
//!
//! The file is an INI file ([`ini`], Python's `configparser` dialect) whose
//! section names are Python regular expressions ([`pattern`]) matched, in
//! file order, against a property name with `search` (unanchored). The
//! first matching section decides; a name no section matches is denied
//! everything. Each section must give all four operations:
//! - `roles` format: a comma-separated list of roles (compared with the
//!   caller's lower-cased roles and service roles), `@` for everyone, `!`
//!   for no one (`@` and `!` together are invalid); an empty value is no
//!   one.
//! - `policies` format: one policy rule name, evaluated as `rule:<name>`
//!   (so an undefined name falls back to the `default` rule, as in
//!   oslo.policy); `@` and `!` as above; a comma is invalid.
//!
//! A section allowing everyone everything on `os_glance.*` is put first
//! (Glance's own bookkeeping properties); sections of the file whose name
//! starts with `os_glance` are dropped.
//!
//! The rules only answer questions; where Glance asks them (create, PATCH,
//! what a response shows) is the API's business, through
//! [`PropertyGuard`] for PATCH.

pub mod ini;
pub mod pattern;

use std::fmt;

pub use pattern::{Pattern, PatternError};

/// The four operations a section must cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
}

impl Operation {
    pub const ALL: [Operation; 4] = [
        Operation::Create,
        Operation::Read,
        Operation::Update,
        Operation::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[DEFAULT] property_protection_rule_format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleFormat {
    Roles,
    Policies,
}

impl RuleFormat {
    pub fn from_name(name: &str) -> Option<RuleFormat> {
        match name {
            "roles" => Some(RuleFormat::Roles),
            "policies" => Some(RuleFormat::Policies),
            _ => None,
        }
    }
}

/// Who may perform one operation on the properties of one section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Permission {
    /// `@`.
    Everyone,
    /// `!`, or an empty value.
    Nobody,
    /// Role names, lower-cased (roles format).
    Roles(Vec<String>),
    /// A policy rule name (policies format).
    Policy(String),
}

/// One section: its pattern and a permission per operation.
#[derive(Clone, Debug)]
pub struct Rule {
    pub pattern: Pattern,
    permissions: [Permission; 4],
}

impl Rule {
    pub fn section(&self) -> &str {
        self.pattern.as_str()
    }

    pub fn permission(&self, op: Operation) -> &Permission {
        &self.permissions[op.index()]
    }
}

/// The section Glance puts before the file's (bug #2085321): its own
/// `os_glance_*` properties are open to everyone.
pub const OS_GLANCE_SECTION: &str = "os_glance.*";

/// Why a property protection file is refused (Glance's
/// `InvalidPropertyProtectionConfiguration`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRules(pub String);

impl fmt::Display for InvalidRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidRules {}

/// The parsed file.
#[derive(Clone, Debug)]
pub struct PropertyRules {
    format: RuleFormat,
    rules: Vec<Rule>,
    /// What Glance logs as warnings while loading (empty operations,
    /// dropped `os_glance` sections), for the caller to log.
    pub warnings: Vec<String>,
}

impl PropertyRules {
    /// Parse a property protection file's text.
    pub fn parse(text: &str, format: RuleFormat) -> Result<PropertyRules, InvalidRules> {
        let ini = ini::parse(text).map_err(|e| InvalidRules(e.to_string()))?;
        let mut warnings = Vec::new();
        let mut rules = vec![Rule {
            pattern: Pattern::new(OS_GLANCE_SECTION)
                .map_err(|e| InvalidRules(format!("[{OS_GLANCE_SECTION}]: {e}")))?,
            permissions: [
                Permission::Everyone,
                Permission::Everyone,
                Permission::Everyone,
                Permission::Everyone,
            ],
        }];
        for section in ini.section_names() {
            if section.starts_with("os_glance") {
                warnings.push(format!(
                    "Section [{section}] ignored: properties starting with os_glance are Glance's own and always allowed"
                ));
                continue;
            }
            let pattern = Pattern::new(section).map_err(|e| {
                InvalidRules(format!(
                    "section [{section}] is not a valid regular expression: {e}"
                ))
            })?;
            let mut permissions = Vec::with_capacity(4);
            for op in Operation::ALL {
                let value = ini
                    .get(section, op.as_str())
                    .map_err(|e| InvalidRules(e.to_string()))?
                    .ok_or_else(|| {
                        InvalidRules(format!("section [{section}] has no '{op}' option"))
                    })?;
                permissions.push(permission(section, op, &value, format, &mut warnings)?);
            }
            let permissions: [Permission; 4] = permissions
                .try_into()
                .map_err(|_| InvalidRules(format!("section [{section}]: internal error")))?;
            rules.push(Rule {
                pattern,
                permissions,
            });
        }
        Ok(PropertyRules {
            format,
            rules,
            warnings,
        })
    }

    pub fn format(&self) -> RuleFormat {
        self.format
    }

    /// The sections in matching order (the `os_glance` one first).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The first section whose pattern is found in `name`.
    pub fn rule_for(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.pattern.search(name))
    }

    /// `check_property_rules`: may a caller with `roles` (lower-cased
    /// roles plus service roles) perform `op` on the property `name`?
    /// `policy` evaluates a policy rule name for the caller (policies
    /// format only).
    pub fn allows(
        &self,
        name: &str,
        op: Operation,
        roles: &[String],
        policy: &dyn Fn(&str) -> bool,
    ) -> bool {
        let Some(rule) = self.rule_for(name) else {
            return false;
        };
        match rule.permission(op) {
            Permission::Everyone => true,
            Permission::Nobody => false,
            Permission::Roles(wanted) => wanted.iter().any(|w| roles.iter().any(|r| r == w)),
            Permission::Policy(name) => policy(name),
        }
    }
}

/// One operation's value as a [`Permission`].
fn permission(
    section: &str,
    op: Operation,
    value: &str,
    format: RuleFormat,
    warnings: &mut Vec<String>,
) -> Result<Permission, InvalidRules> {
    if value.is_empty() {
        warnings.push(format!(
            "Property protection on operation {op} for rule {section} is not found. No role will be allowed to perform this operation."
        ));
        return Ok(Permission::Nobody);
    }
    match format {
        RuleFormat::Policies => {
            if value.contains(',') {
                return Err(InvalidRules(format!(
                    "section [{section}] {op} = {value}: only one policy per operation (combine policies in the policy file)"
                )));
            }
            Ok(match value {
                "@" => Permission::Everyone,
                "!" => Permission::Nobody,
                rule => Permission::Policy(rule.to_string()),
            })
        }
        RuleFormat::Roles => {
            let roles: Vec<&str> = value.split(',').map(crate::py::strip).collect();
            let everyone = roles.contains(&"@");
            let nobody = roles.contains(&"!");
            if everyone && nobody {
                return Err(InvalidRules(format!(
                    "section [{section}] {op} = {value}: '@' and '!' are mutually exclusive"
                )));
            }
            Ok(if nobody {
                Permission::Nobody
            } else if everyone {
                Permission::Everyone
            } else {
                Permission::Roles(roles.iter().map(|r| r.to_lowercase()).collect())
            })
        }
    }
}

/// The caller's side of the rules, for applying PATCH changes
/// ([`crate::update::apply_change_guarded`]).
pub trait PropertyGuard {
    fn allows(&self, name: &str, op: Operation) -> bool;
}

/// Glance's refusal of a protected property (`ReservedProperty`, 403).
pub fn refused(name: &str) -> crate::DomainError {
    crate::DomainError::Forbidden(format!("Attribute '{name}' is reserved."))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Glance's own test file (glance/tests/etc/property-protections.conf),
    /// in substance.
    const ROLES: &str = "\
[^x_owner_.*]
create = admin,member
read = admin,member
update = admin,member
delete = admin,member

[spl_create_prop]
create = admin,spl_role
read = admin,spl_role
update = admin
delete = admin

[^x_all_permitted.*]
create = @
read = @
update = @
delete = @

[^x_none_permitted.*]
create = !
read = !
update = !
delete = !

[x_none_read]
create = admin,member
read = !
update = !
delete = !

[x_case_insensitive]
create = admin,Member
read = admin,Member
update = admin,Member
delete = admin,Member

[x_foo_matcher]
create = admin
read = admin
update = admin
delete = admin

[x_foo_*]
create = @
read = @
update = @
delete = @

[.*]
create = admin
read = admin
update = admin
delete = admin
";

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    fn no_policy(_: &str) -> bool {
        panic!("no policy in the roles format")
    }

    fn check(rules: &PropertyRules, name: &str, op: Operation, r: &[&str]) -> bool {
        rules.allows(name, op, &roles(r), &no_policy)
    }

    #[test]
    fn roles_format() {
        use Operation::*;
        let rules = PropertyRules::parse(ROLES, RuleFormat::Roles).unwrap();
        let sections: Vec<&str> = rules.rules().iter().map(Rule::section).collect();
        assert_eq!(sections[0], "os_glance.*");
        assert_eq!(sections[1], "^x_owner_.*");
        assert_eq!(sections.last(), Some(&".*"));
        assert!(check(&rules, "x_owner_foo", Create, &["member"]));
        assert!(!check(&rules, "x_owner_foo", Create, &["reader"]));
        assert!(check(&rules, "spl_create_prop", Read, &["spl_role"]));
        assert!(!check(&rules, "spl_create_prop", Update, &["spl_role"]));
        assert!(check(&rules, "x_all_permitted_1", Delete, &[]));
        assert!(!check(&rules, "x_none_permitted_1", Read, &["admin"]));
        assert!(check(&rules, "x_none_read", Create, &["member"]));
        assert!(!check(&rules, "x_none_read", Read, &["admin"]));
        // Rule roles are lower-cased; the context's roles already are.
        assert!(check(&rules, "x_case_insensitive", Update, &["member"]));
        // The first match wins: x_foo_matcher is admin-only although
        // x_foo_* (x_foo followed by underscores) would allow everyone.
        assert!(!check(&rules, "x_foo_matcher", Read, &["member"]));
        assert!(check(&rules, "x_foo_matcher", Read, &["admin"]));
        assert!(check(&rules, "x_foo_bar", Read, &[]));
        // Everything else falls to [.*].
        assert!(check(&rules, "anything", Create, &["admin"]));
        assert!(!check(&rules, "anything", Create, &["member"]));
        // os_glance_* is always allowed, wherever it appears in the name.
        assert!(check(&rules, "os_glance_import_task", Delete, &[]));
        assert!(check(&rules, "x_os_glance", Update, &[]));
    }

    #[test]
    fn no_matching_section_denies() {
        let rules = PropertyRules::parse(
            "[^a$]\ncreate=@\nread=@\nupdate=@\ndelete=@\n",
            RuleFormat::Roles,
        )
        .unwrap();
        assert!(check(&rules, "a", Operation::Read, &[]));
        assert!(!check(&rules, "b", Operation::Read, &["admin"]));
    }

    #[test]
    fn whitespace_empty_values_and_defaults() {
        let text = "[DEFAULT]\ndelete = admin\n[^t.*]\ncreate = member ,fake-role\nread = fake-role,   member\nupdate =\n";
        let rules = PropertyRules::parse(text, RuleFormat::Roles).unwrap();
        assert!(check(&rules, "t1", Operation::Create, &["member"]));
        assert!(check(&rules, "t1", Operation::Read, &["fake-role"]));
        assert!(!check(&rules, "t1", Operation::Update, &["admin"]));
        assert!(check(&rules, "t1", Operation::Delete, &["admin"]));
        assert_eq!(rules.warnings.len(), 1, "{:?}", rules.warnings);
    }

    #[test]
    fn os_glance_sections_are_replaced() {
        let text = "[os_glance_store]\ncreate=!\nread=!\nupdate=!\ndelete=!\n[x]\ncreate=a\nread=a\nupdate=a\ndelete=a\n";
        let rules = PropertyRules::parse(text, RuleFormat::Roles).unwrap();
        let sections: Vec<&str> = rules.rules().iter().map(Rule::section).collect();
        assert_eq!(sections, ["os_glance.*", "x"]);
        assert!(check(&rules, "os_glance_store", Operation::Read, &[]));
    }

    #[test]
    fn invalid_files() {
        let full =
            |s: &str, c: &str| format!("[{s}]\ncreate = {c}\nread = a\nupdate = a\ndelete = a\n");
        for (text, fmt) in [
            (full(".*", "@,!"), RuleFormat::Roles),
            (full("^[0-9)", "a"), RuleFormat::Roles),
            (
                "[^[0-9]]\ncreate=a\nupdate=a\ndelete=a\n".to_string(),
                RuleFormat::Roles,
            ),
            (
                "[x]\ncreate=a\nrade=a\nupdate=a\ndelete=a\n".to_string(),
                RuleFormat::Roles,
            ),
            (full("x", "a,b"), RuleFormat::Policies),
            (full("x", "a%"), RuleFormat::Roles),
            ("create = a\n".to_string(), RuleFormat::Roles),
            (
                format!("{}{}", full("x", "a"), full("x", "a")),
                RuleFormat::Roles,
            ),
            (full("(?=x)", "a"), RuleFormat::Roles),
        ] {
            assert!(PropertyRules::parse(&text, fmt).is_err(), "{text}");
        }
        // '@' and '!' may each appear alone, or with roles.
        assert!(PropertyRules::parse(&full(".*", "!,admin"), RuleFormat::Roles).is_ok());
    }

    #[test]
    fn policies_format() {
        let text =
            "[^spl_.*]\ncreate = glance_creator\nread = @\nupdate = !\ndelete = context_is_admin\n";
        let rules = PropertyRules::parse(text, RuleFormat::Policies).unwrap();
        let asked = std::cell::RefCell::new(Vec::new());
        let policy = |name: &str| {
            asked.borrow_mut().push(name.to_string());
            name == "glance_creator"
        };
        let r = roles(&["member"]);
        assert!(rules.allows("spl_a", Operation::Create, &r, &policy));
        assert!(rules.allows("spl_a", Operation::Read, &r, &policy));
        assert!(!rules.allows("spl_a", Operation::Update, &r, &policy));
        assert!(!rules.allows("spl_a", Operation::Delete, &r, &policy));
        assert!(!rules.allows("other", Operation::Read, &r, &policy));
        assert_eq!(*asked.borrow(), ["glance_creator", "context_is_admin"]);
    }

    proptest::proptest! {
        // Any text either parses or is refused; never a panic. Sections
        // built from known-good parts always parse, in order.
        #[test]
        fn parse_never_panics(text in "[\\[\\]a-z=:%()@!,#; \\n\\t.*^$]{0,80}") {
            let _ = PropertyRules::parse(&text, RuleFormat::Roles);
            let _ = PropertyRules::parse(&text, RuleFormat::Policies);
        }

        #[test]
        fn generated_files_round_trip(
            sections in proptest::collection::vec(("[a-z_]{1,8}", proptest::collection::vec("[a-z]{1,6}", 1..4)), 1..6)
        ) {
            let mut text = String::new();
            let mut names: Vec<String> = Vec::new();
            for (i, (name, roles)) in sections.iter().enumerate() {
                // Unique section names, none starting with os_glance.
                let name = format!("^p{i}_{name}");
                names.push(name.clone());
                text.push_str(&format!("[{name}]\n"));
                for op in Operation::ALL {
                    text.push_str(&format!("{} = {}\n", op, roles.join(" , ")));
                }
            }
            let rules = PropertyRules::parse(&text, RuleFormat::Roles).unwrap();
            let got: Vec<&str> = rules.rules()[1..].iter().map(Rule::section).collect();
            proptest::prop_assert_eq!(got, names.iter().map(String::as_str).collect::<Vec<_>>());
            for (i, (name, roles)) in sections.iter().enumerate() {
                let prop = format!("p{i}_{name}");
                let rule = rules.rule_for(&prop).unwrap();
                // An earlier section may shadow a later one; check the winner.
                let winner = rules.rules().iter().position(|r| r.section() == rule.section()).unwrap();
                if winner == i + 1 {
                    let expect = Permission::Roles(roles.clone());
                    proptest::prop_assert_eq!(rule.permission(Operation::Read), &expect);
                }
            }
        }
    }
}
