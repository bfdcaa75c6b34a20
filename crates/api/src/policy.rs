//! Authorization at the points where Glance 33 checks policy
//! (`glance/api/v2/policy.py`), with its Forbidden-to-NotFound rule for
//! images the caller may not see.
//!
//! The rule engine behind [`Enforcer`] is the seam issue "Keystone auth,
//! oslo.policy rules" fills: today it evaluates Glance's *legacy* defaults
//! (`[oslo_policy] enforce_new_defaults = false`), which is what the
//! no-auth pipeline needs: every image rule passes, `publicize_image` and
//! `tasks_api_access` need admin, and mutations need admin-or-owner
//! (`check_is_image_mutable`), all exactly as Glance 33 behaves with the
//! `unauthenticated-context` flavor and legacy defaults.

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

/// Decides single rules (`oslo_policy.Enforcer.enforce`).
#[derive(Clone, Debug, Default)]
pub struct Enforcer {
    /// `[oslo_policy] enforce_new_defaults`: only `false` is implemented
    /// until the policy engine lands (see the module docs).
    pub enforce_new_defaults: bool,
}

impl Enforcer {
    /// Whether `rule` passes for `ctx` on `target`.
    pub fn check(&self, ctx: &RequestContext, rule: &str, _target: &ImageTarget) -> bool {
        if ctx.is_admin {
            return true;
        }
        // Glance's legacy defaults: every image rule is `rule:default`
        // (empty, always true) except these admin-only ones.
        !matches!(
            rule,
            "publicize_image"
                | "delete_image_location"
                | "tasks_api_access"
                | "copy_image"
                | "manage_image_cache"
                | "list_cached_nodes"
                | "stores_info_detail"
                | "fetch_image_location"
                | "cache_image"
                | "cache_list"
                | "cache_delete"
                | "cache_clean"
                | "cache_prune"
        )
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
        let mut target = ImageTarget::of(image);
        target.member_id = member_id.map(str::to_string);
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
