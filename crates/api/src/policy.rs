//! Authorization at the points where Glance 33 checks policy
//! (`glance/api/v2/policy.py`), with its Forbidden-to-NotFound rule for
//! images the caller may not see.
//!
//! [`Enforcer`] knows Glance 33's default rules, old and new, as code; the
//! oslo.policy language (policy files, custom rules) is the seam issue
//! "Keystone auth, oslo.policy rules" fills. Under the legacy defaults
//! (`enforce_new_defaults = false`) mutations also need admin-or-owner
//! (`check_is_image_mutable`), as in Glance.

use glimpse_domain::{Image, Visibility};

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
    pub fn of(image: &Image) -> ImageTarget {
        ImageTarget {
            owner: image.owner.clone(),
            visibility: Some(image.visibility.as_str().to_string()),
            member_id: None,
        }
    }
}

/// Decides single rules (`oslo_policy.Enforcer.enforce`) with Glance 33's
/// default rules (`glance/policies/*.py`), evaluated on the caller's roles
/// and project, never on the context's `is_admin` flag (oslo.policy does
/// not look at it: the no-auth context is `is_admin` with no roles, so it
/// fails every role check, exactly as under Glance).
///
/// With `enforce_new_defaults = false` a rule also passes when its
/// deprecated form does; for most image rules that is `rule:default`, the
/// empty rule.
#[derive(Clone, Debug, Default)]
pub struct Enforcer {
    pub enforce_new_defaults: bool,
}

/// The target's values as oslo.policy's `%(key)s` substitution renders
/// them (`None` becomes the string "None").
fn rendered(v: Option<&str>) -> &str {
    v.unwrap_or("None")
}

impl Enforcer {
    /// Whether `rule` passes for `ctx` on `target`.
    pub fn check(&self, ctx: &RequestContext, rule: &str, target: &ImageTarget) -> bool {
        let new = self.new_default(ctx, rule, target);
        if new || self.enforce_new_defaults {
            return new;
        }
        // The deprecated rules: `rule:default` (empty, so always true) for
        // these; the rest had none (or the same admin check).
        matches!(
            rule,
            "add_image"
                | "delete_image"
                | "get_image"
                | "get_images"
                | "modify_image"
                | "communitize_image"
                | "download_image"
                | "upload_image"
                | "delete_image_location"
                | "get_image_location"
                | "set_image_location"
                | "add_member"
                | "delete_member"
                | "get_member"
                | "get_members"
                | "modify_member"
                | "deactivate"
                | "reactivate"
                | "get_task"
                | "get_tasks"
                | "add_task"
                | "modify_task"
                | "default"
        )
    }

    /// The secure-RBAC default of `rule`.
    fn new_default(&self, ctx: &RequestContext, rule: &str, t: &ImageTarget) -> bool {
        let role = |r: &str| ctx.roles.iter().any(|x| x == r);
        let pid = rendered(ctx.project_id.as_deref());
        let project = pid == rendered(t.owner.as_deref());
        let owner = project; // `project_id:%(owner)s`: the same value
        let image_member = pid == rendered(t.member_id.as_deref());
        let vis_open = matches!(
            t.visibility.as_deref(),
            Some("community" | "public" | "shared")
        );
        let admin = role("admin");
        let service_api = role("service") || admin;
        match rule {
            "default" => true,
            "context_is_admin" => admin,
            "service_api" => service_api,
            "add_image" => admin || (role("member") && project && owner),
            "get_image" => admin || (role("reader") && (project || image_member || vis_open)),
            "get_images" | "get_image_location" => admin || (role("reader") && project),
            "modify_image" | "delete_image" | "upload_image" | "deactivate" | "reactivate"
            | "add_member" | "delete_member" | "set_image_location" | "communitize_image" => {
                admin || (role("member") && project)
            }
            "download_image" | "download_from_store" => {
                admin || (role("member") && (project || image_member || vis_open))
            }
            "get_member" | "get_members" => admin || (role("reader") && (project || image_member)),
            "modify_member" => admin || (role("member") && image_member),
            "add_image_location" => service_api || (role("member") && project && owner),
            "fetch_image_location" => service_api,
            "stores_info_detail" => admin || service_api,
            "get_task" | "get_tasks" | "add_task" | "modify_task" => true,
            // publicize_image, delete_image_location's new form, copy_image,
            // manage_image_cache, list_cached_nodes, tasks_api_access, cache_*.
            _ => admin,
        }
    }
}

fn policy_forbidden(rule: &str) -> ApiError {
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
            target: ImageTarget::of(image),
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
        if self.enforcer.enforce_new_defaults || self.ctx.is_admin {
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
        if !self.enforcer.enforce_new_defaults
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
    pub fn new(
        ctx: &'a RequestContext,
        enforcer: &'a Enforcer,
        image: &Image,
        member_id: Option<&str>,
    ) -> Self {
        // `member_id` is the caller's own membership of the image.
        let mut target = ImageTarget::of(image);
        target.member_id = member_id
            .filter(|m| ctx.project_id.as_deref() == Some(*m))
            .map(str::to_string);
        MemberPolicy {
            ctx,
            enforcer,
            image: ImagePolicy::new(ctx, enforcer, image),
            target,
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
