//! Authorization at the points where Glance 33 checks policy
//! (`glance/api/v2/policy.py`), with its Forbidden-to-NotFound rule for
//! images the caller may not see.
//!
//! [`Enforcer`] asks the oslo.policy engine (`glimpse-policy`: Glance 33's
//! defaults plus `policy_file`/`policy_dirs`, reloaded when they change).
//! Under the legacy defaults (`enforce_new_defaults = false`) mutations
//! also need admin-or-owner (`check_is_image_mutable`), as in Glance.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use glimpse_config::ConfigOpts;
use glimpse_domain::{Image, Visibility};
use glimpse_policy::Values;
use serde_json::{Value, json};

use crate::context::RequestContext;
use crate::error::{ApiError, forbidden, not_found_bare};

/// The attributes a rule may look at (`policy.ImageTarget`, or the dict
/// `ImageAPIPolicy` builds for an image that does not exist yet).
#[derive(Clone, Debug, Default)]
pub struct ImageTarget {
    pub owner: Option<String>,
    pub visibility: Option<String>,
    /// The caller's membership of the image, when it is a member.
    pub member_id: Option<String>,
}

impl ImageTarget {
    /// The dict rules see: `ImageTarget` maps `project_id` to the owner
    /// and `member_id` to the caller's membership.
    pub fn values(&self) -> Values {
        let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        let mut m = Values::new();
        m.insert("project_id".into(), s(&self.owner));
        m.insert("owner".into(), s(&self.owner));
        m.insert("visibility".into(), s(&self.visibility));
        m.insert("member_id".into(), s(&self.member_id));
        m
    }

    /// The image as loaded for `ctx`: like Glance's image repository, a
    /// shared image the caller does not own carries the caller's project as
    /// its `member` (the caller could only load it as a member; invisible
    /// images are 404 before any policy check).
    pub fn of(image: &Image, ctx: &RequestContext) -> ImageTarget {
        let member_id = (image.visibility == Visibility::Shared && ctx.project_id != image.owner)
            .then(|| ctx.project_id.clone())
            .flatten();
        ImageTarget {
            owner: image.owner.clone(),
            visibility: Some(image.visibility.as_str().to_string()),
            member_id,
        }
    }
}

/// Glance's `policy.Enforcer`: the oslo.policy engine
/// ([`glimpse_policy::Enforcer`]) with Glance 33's registered defaults and
/// `[oslo_policy]`'s files, asked with the credentials oslo.context
/// derives from the request context (`to_policy_values`). Cheap to clone.
///
/// The context's `is_admin` flag is not consulted (oslo.policy never looks
/// at it): the no-auth context is `is_admin` with no roles, so it fails
/// every role check, exactly as under Glance.
#[derive(Clone, Debug)]
pub struct Enforcer {
    inner: Arc<glimpse_policy::Enforcer>,
    /// Unix second after which the policy files are checked for changes
    /// again (oslo re-reads changed files on use; once a second is plenty).
    next_reload: Arc<AtomicU64>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A path option as oslo.policy resolves it: absolute as given, relative
/// through `CONF.find_file`. A relative file found nowhere is watched next
/// to the last config file (where operators put `policy.yaml`), since
/// oslo looks for it again on every load and picks it up once it appears.
fn resolve(conf: &ConfigOpts, name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return Some(p.to_path_buf());
    }
    conf.find_file(name).or_else(|| {
        conf.config_files()
            .last()
            .and_then(|f| f.parent())
            .map(|d| d.join(name))
    })
}

impl Enforcer {
    pub fn new(config: glimpse_policy::PolicyConfig) -> Result<Enforcer, String> {
        let inner = glimpse_policy::Enforcer::new(config).map_err(|e| e.to_string())?;
        Ok(Enforcer {
            inner: Arc::new(inner),
            next_reload: Arc::new(AtomicU64::new(now_secs() + 1)),
        })
    }

    /// From `[oslo_policy]` (`enforce_new_defaults`, `enforce_scope`,
    /// `policy_file`, `policy_dirs`); a policy file that cannot be read or
    /// parsed is a start-up error.
    pub fn from_conf(conf: &ConfigOpts) -> Result<Enforcer, String> {
        let g = "oslo_policy";
        let e = |e: glimpse_config::ConfigError| e.to_string();
        let file = conf
            .get_str(g, "policy_file")
            .map_err(e)?
            .unwrap_or_else(|| "policy.yaml".into());
        let dirs = conf
            .get_list(g, "policy_dirs")
            .map_err(e)?
            .unwrap_or_else(|| vec!["policy.d".into()]);
        Enforcer::new(glimpse_policy::PolicyConfig {
            enforce_new_defaults: conf
                .get_bool(g, "enforce_new_defaults")
                .map_err(e)?
                .unwrap_or(true),
            enforce_scope: conf
                .get_bool(g, "enforce_scope")
                .map_err(e)?
                .unwrap_or(true),
            policy_file: resolve(conf, &file),
            policy_dirs: dirs.iter().filter_map(|d| resolve(conf, d)).collect(),
        })
    }

    pub fn enforce_new_defaults(&self) -> bool {
        self.inner.config().enforce_new_defaults
    }

    fn maybe_reload(&self) {
        let now = now_secs();
        let due = self.next_reload.load(Ordering::Relaxed);
        if now < due
            || self
                .next_reload
                .compare_exchange(due, now + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        match self.inner.reload_if_changed() {
            Ok(true) => {
                log::info!(target: "glance.api.policy", "Policy files changed: rules reloaded")
            }
            Ok(false) => {}
            Err(e) => {
                log::error!(target: "glance.api.policy", "Policy files changed but cannot be loaded, keeping the previous rules: {e}")
            }
        }
    }

    /// Whether `rule` passes for `ctx` on `target`. An evaluation error
    /// (an unregistered rule, a rule oslo would raise on) is logged and
    /// refuses.
    pub fn check(&self, ctx: &RequestContext, rule: &str, target: &ImageTarget) -> bool {
        self.check_values(ctx, rule, &target.values())
    }

    /// [`Enforcer::check_values`], a refusal as Glance's 403.
    pub fn enforce_values(
        &self,
        ctx: &RequestContext,
        rule: &str,
        target: &Values,
    ) -> Result<(), ApiError> {
        if self.check_values(ctx, rule, target) {
            Ok(())
        } else {
            Err(policy_forbidden(rule))
        }
    }

    /// Like [`Enforcer::check`] with a target given as oslo's dict.
    pub fn check_values(&self, ctx: &RequestContext, rule: &str, target: &Values) -> bool {
        self.maybe_reload();
        match self.inner.enforce(rule, target, creds(ctx)) {
            Ok(allowed) => allowed,
            Err(e) => {
                log::error!(target: "glance.api.policy", "Policy {rule} could not be evaluated: {e}");
                false
            }
        }
    }

    /// Evaluates a check string (e.g. `rule:glance_creator`) with the
    /// given credentials and an empty target, as Glance's property
    /// protections do (`enforce(..., {}, registered=False)`: no scope
    /// check). Anything oslo would raise on counts as "no".
    pub fn check_str_as(&self, check: &str, creds: &Values) -> bool {
        self.maybe_reload();
        self.inner.check_str(check, &Values::new(), creds)
    }

    /// Whether a rule of that name is defined (by default or by a
    /// policy file), for start-up warnings.
    pub fn has_rule(&self, name: &str) -> bool {
        self.inner.effective_rule(name).is_some()
    }
}

/// oslo.context's `RequestContext.to_policy_values()` (computed once per
/// context; the fields it reads do not change after the context filter).
pub fn creds(ctx: &RequestContext) -> &Values {
    ctx.policy_values.get_or_init(|| policy_values(ctx))
}

fn policy_values(ctx: &RequestContext) -> Values {
    let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    let mut m = Values::new();
    m.insert("user_id".into(), s(&ctx.user_id));
    m.insert("user_domain_id".into(), s(&ctx.user_domain_id));
    m.insert("system_scope".into(), s(&ctx.system_scope));
    m.insert("domain_id".into(), s(&ctx.domain_id));
    m.insert("project_id".into(), s(&ctx.project_id));
    m.insert("project_domain_id".into(), s(&ctx.project_domain_id));
    m.insert("roles".into(), json!(ctx.roles));
    m.insert("is_admin_project".into(), Value::Bool(ctx.is_admin_project));
    m.insert("service_user_id".into(), s(&ctx.service_user_id));
    m.insert(
        "service_user_domain_id".into(),
        s(&ctx.service_user_domain_id),
    );
    m.insert("service_project_id".into(), s(&ctx.service_project_id));
    m.insert(
        "service_project_domain_id".into(),
        s(&ctx.service_project_domain_id),
    );
    m.insert("service_roles".into(), json!(ctx.service_roles));
    m
}

/// The 403 a refused rule gives (`PolicyNotAuthorized`, as Glance words it).
pub(crate) fn policy_forbidden(rule: &str) -> ApiError {
    forbidden(format!("You are not authorized to complete {rule} action."))
}

/// `ImageAPIPolicy` for one request and one image.
pub struct ImagePolicy<'a> {
    ctx: &'a RequestContext,
    enforcer: &'a Enforcer,
    target: ImageTarget,
    /// False while the image is only proposed (create).
    created: bool,
}

impl<'a> ImagePolicy<'a> {
    pub fn new(ctx: &'a RequestContext, enforcer: &'a Enforcer, image: &Image) -> Self {
        ImagePolicy {
            ctx,
            enforcer,
            target: ImageTarget::of(image, ctx),
            created: true,
        }
    }

    /// For `POST /v2/images`: the target is the proposed owner and
    /// visibility.
    pub fn proposed(
        ctx: &'a RequestContext,
        enforcer: &'a Enforcer,
        owner: Option<&str>,
        visibility: Option<Visibility>,
    ) -> Self {
        ImagePolicy {
            ctx,
            enforcer,
            target: ImageTarget {
                owner: owner.map(str::to_string),
                visibility: Some(visibility.unwrap_or(Visibility::Private).as_str().into()),
                member_id: None,
            },
            created: false,
        }
    }

    /// `_enforce`: a refusal on an existing image the caller cannot even
    /// `get_image` is a 404.
    fn enforce(&self, rule: &str) -> Result<(), ApiError> {
        if self.enforcer.check(self.ctx, rule, &self.target) {
            return Ok(());
        }
        if self.created
            && (rule == "get_image" || !self.enforcer.check(self.ctx, "get_image", &self.target))
        {
            return Err(not_found_bare());
        }
        Err(policy_forbidden(rule))
    }

    /// `check_is_image_mutable`, applied under the legacy defaults.
    fn mutable(&self) -> Result<(), ApiError> {
        if self.enforcer.enforce_new_defaults() || self.ctx.is_admin {
            return Ok(());
        }
        match (&self.target.owner, &self.ctx.project_id) {
            (Some(o), Some(p)) if o == p => Ok(()),
            _ => Err(forbidden("You do not own this image")),
        }
    }

    fn enforce_visibility(&self, visibility: Option<&str>) -> Result<(), ApiError> {
        let rule = match visibility {
            Some("public") => "publicize_image",
            Some("community") => "communitize_image",
            _ => return Ok(()),
        };
        if self.enforcer.check(self.ctx, rule, &self.target) {
            Ok(())
        } else {
            Err(policy_forbidden(rule))
        }
    }

    pub fn check(&self, rule: &str) -> bool {
        self.enforcer.check(self.ctx, rule, &self.target)
    }

    pub fn get_image(&self) -> Result<(), ApiError> {
        self.enforce("get_image")
    }

    pub fn add_image(&self) -> Result<(), ApiError> {
        if let Err(e) = self.enforce("add_image") {
            if self.target.owner != self.ctx.project_id {
                return Err(forbidden(format!(
                    "You are not permitted to create images owned by '{}'",
                    self.target.owner.as_deref().unwrap_or("None")
                )));
            }
            return Err(e);
        }
        self.enforce_visibility(self.target.visibility.as_deref())?;
        if !self.enforcer.enforce_new_defaults()
            && !self.ctx.is_admin
            && self.target.owner != self.ctx.project_id
        {
            return Err(forbidden(format!(
                "You are not permitted to create images owned by '{}'.",
                self.target.owner.as_deref().unwrap_or("None")
            )));
        }
        Ok(())
    }

    pub fn modify_image(&self) -> Result<(), ApiError> {
        self.enforce("modify_image")?;
        self.mutable()
    }

    /// `update_property`: visibility changes need their own rule first.
    pub fn update_property(&self, name: &str, value: Option<&str>) -> Result<(), ApiError> {
        if name == "visibility" {
            self.enforce_visibility(value)?;
        }
        self.modify_image()
    }

    pub fn delete_image(&self) -> Result<(), ApiError> {
        self.enforce("delete_image")?;
        self.mutable()
    }

    pub fn upload_image(&self) -> Result<(), ApiError> {
        self.enforce("upload_image")?;
        self.mutable()
    }

    pub fn download_image(&self) -> Result<(), ApiError> {
        self.enforce("download_image")
    }

    pub fn deactivate_image(&self) -> Result<(), ApiError> {
        self.enforce("deactivate")?;
        self.mutable()
    }

    pub fn reactivate_image(&self) -> Result<(), ApiError> {
        self.enforce("reactivate")?;
        self.mutable()
    }

    pub fn update_locations(&self) -> Result<(), ApiError> {
        self.enforce("set_image_location")
    }

    pub fn delete_locations(&self) -> Result<(), ApiError> {
        self.enforce("delete_image_location")?;
        self.mutable()
    }
}

/// `MemberAPIPolicy`: member rules see the image plus the member id.
pub struct MemberPolicy<'a> {
    ctx: &'a RequestContext,
    enforcer: &'a Enforcer,
    image: ImagePolicy<'a>,
    target: ImageTarget,
}

impl<'a> MemberPolicy<'a> {
    pub fn new(ctx: &'a RequestContext, enforcer: &'a Enforcer, image: &Image) -> Self {
        MemberPolicy {
            ctx,
            enforcer,
            image: ImagePolicy::new(ctx, enforcer, image),
            // Glance's member rules see the image target (`member_id` is
            // the caller's project on a shared image it does not own),
            // whichever member row is concerned.
            target: ImageTarget::of(image, ctx),
        }
    }

    /// Glance checks `get_image` first (404 when invisible), then the
    /// member rule (403).
    fn enforce(&self, rule: &str) -> Result<(), ApiError> {
        self.image.get_image()?;
        if self.enforcer.check(self.ctx, rule, &self.target) {
            Ok(())
        } else {
            Err(policy_forbidden(rule))
        }
    }

    pub fn get_members(&self) -> Result<(), ApiError> {
        self.enforce("get_members")
    }
    pub fn get_member(&self) -> Result<(), ApiError> {
        self.enforce("get_member")
    }
    pub fn add_member(&self) -> Result<(), ApiError> {
        self.enforce("add_member")?;
        self.image.mutable()
    }
    pub fn delete_member(&self) -> Result<(), ApiError> {
        self.enforce("delete_member")?;
        self.image.mutable()
    }
    pub fn modify_member(&self) -> Result<(), ApiError> {
        self.enforce("modify_member")
    }
}
