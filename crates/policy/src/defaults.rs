//! Glance 33's registered policies (`glance/policies/*.py`) as data.
//!
//! Names, check strings, scope types, operations and deprecation data are
//! Glance's exactly (they are what operators' policy files and the sample
//! generator are compared against); the descriptions are our own wording.

/// One API call a policy guards (oslo's `Operation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
}

/// The rule a default replaced (oslo's `DeprecatedRule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeprecatedRule {
    pub name: &'static str,
    pub check_str: &'static str,
    pub deprecated_reason: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
}

/// A registered default (oslo's `RuleDefault`, or `DocumentedRuleDefault`
/// when it has operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleDefault {
    pub name: &'static str,
    pub check_str: &'static str,
    /// Our short description; `None` where Glance gives none.
    pub description: Option<&'static str>,
    /// `Some` for documented defaults (the sample lists their calls).
    pub operations: Option<&'static [Operation]>,
    pub scope_types: Option<&'static [&'static str]>,
    pub deprecated_rule: Option<DeprecatedRule>,
    /// The policy itself is going away (only `modify_task`).
    pub deprecated_for_removal: bool,
    pub deprecated_reason: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
}

const fn op(method: &'static str, path: &'static str) -> Operation {
    Operation { method, path }
}

const fn dep(
    name: &'static str,
    check_str: &'static str,
    deprecated_reason: Option<&'static str>,
    since: &'static str,
) -> DeprecatedRule {
    DeprecatedRule {
        name,
        check_str,
        deprecated_reason,
        deprecated_since: Some(since),
    }
}

const UNSCOPED: RuleDefault = RuleDefault {
    name: "",
    check_str: "",
    description: None,
    operations: None,
    scope_types: None,
    deprecated_rule: None,
    deprecated_for_removal: false,
    deprecated_reason: None,
    deprecated_since: None,
};

const PROJECT: RuleDefault = RuleDefault {
    scope_types: Some(&["project"]),
    ..UNSCOPED
};

// Glance's building blocks (`glance/policies/base.py`).
const ADMIN: &str = "rule:context_is_admin";
const DEFAULT: &str = "rule:default";
const METADEF_DEFAULT: &str = "rule:metadef_default";
const METADEF_ADMIN: &str = "rule:metadef_admin";
const SERVICE: &str = "rule:service_api";
const ADMIN_OR_PROJECT_MEMBER: &str =
    "rule:context_is_admin or (role:member and project_id:%(project_id)s)";
const ADMIN_OR_PROJECT_READER: &str =
    "rule:context_is_admin or (role:reader and project_id:%(project_id)s)";
const ADMIN_OR_PROJECT_READER_OR_PUBLIC: &str = "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))";
const ADMIN_OR_READER_GET_IMAGE: &str = "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))";
const ADMIN_OR_MEMBER_DOWNLOAD_IMAGE: &str = "rule:context_is_admin or (role:member and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))";
const ADMIN_OR_READER_OR_SHARED_MEMBER: &str = "rule:context_is_admin or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)";
const IMAGE_ROLES: &str = "\nImage policies now use the reader, member and admin roles.\n";
const METADEF_ROLES: &str =
    "\nMetadata definition policies now use project scope and the default roles.\n";
const TASKS_XENA: &str = "\nThe tasks API is deprecated and every task call is already gated by\n`tasks_api_access`, so the per-call task policies add nothing and are going away.\n";

/// Every default Glance 33 registers, in its registration order (base,
/// images, tasks, metadefs, cache, discovery), which the sample keeps.
pub static GLANCE_DEFAULTS: &[RuleDefault] = &[
    RuleDefault {
        name: "default",
        check_str: "",
        description: Some(
            "Fallback for rules that are not set anywhere else; rules that name an unknown rule use it too.",
        ),
        deprecated_rule: Some(dep(
            "default",
            ADMIN,
            Some(
                "Policy files written for older releases may rely on ``default`` for the rules they leave out; the defaults in code now stand on their own, so set ``default`` to ``\"role:admin\"`` explicitly where that fallback is still wanted.",
            ),
            "Ussuri",
        )),
        ..UNSCOPED
    },
    RuleDefault {
        name: "context_is_admin",
        check_str: "role:admin",
        description: Some("Who counts as an administrator."),
        ..UNSCOPED
    },
    RuleDefault {
        name: "service_api",
        check_str: "role:service or role:admin",
        description: Some("Who may call the service-to-service parts of the API."),
        ..UNSCOPED
    },
    RuleDefault {
        name: "add_image",
        check_str: "rule:context_is_admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
        description: Some("Create an image record."),
        operations: Some(&[op("POST", "/v2/images")]),
        deprecated_rule: Some(dep("add_image", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "delete_image",
        check_str: ADMIN_OR_PROJECT_MEMBER,
        description: Some("Delete an image."),
        operations: Some(&[op("DELETE", "/v2/images/{image_id}")]),
        deprecated_rule: Some(dep("delete_image", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "get_image",
        check_str: ADMIN_OR_READER_GET_IMAGE,
        description: Some("Show one image."),
        operations: Some(&[op("GET", "/v2/images/{image_id}")]),
        deprecated_rule: Some(dep("get_image", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "get_images",
        check_str: ADMIN_OR_PROJECT_READER,
        description: Some("List the images the caller can see."),
        operations: Some(&[op("GET", "/v2/images")]),
        deprecated_rule: Some(dep("get_images", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "modify_image",
        check_str: ADMIN_OR_PROJECT_MEMBER,
        description: Some("Change an image with PATCH."),
        operations: Some(&[op("PATCH", "/v2/images/{image_id}")]),
        deprecated_rule: Some(dep("modify_image", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "publicize_image",
        check_str: ADMIN,
        description: Some("Make an image public."),
        operations: Some(&[op("PATCH", "/v2/images/{image_id}")]),
        ..PROJECT
    },
    RuleDefault {
        name: "communitize_image",
        check_str: ADMIN_OR_PROJECT_MEMBER,
        description: Some("Give an image community visibility."),
        operations: Some(&[op("PATCH", "/v2/images/{image_id}")]),
        deprecated_rule: Some(dep("communitize_image", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "download_image",
        check_str: ADMIN_OR_MEMBER_DOWNLOAD_IMAGE,
        description: Some("Read the data of an image."),
        operations: Some(&[op("GET", "/v2/images/{image_id}/file")]),
        deprecated_rule: Some(dep("download_image", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "download_from_store",
        check_str: ADMIN_OR_MEMBER_DOWNLOAD_IMAGE,
        description: Some("Read the data of an image from a store the caller picks."),
        operations: Some(&[op("GET", "/v2/images/{image_id}/file")]),
        ..PROJECT
    },
    RuleDefault {
        name: "upload_image",
        check_str: ADMIN_OR_PROJECT_MEMBER,
        description: Some("Write the data of an image."),
        operations: Some(&[op("PUT", "/v2/images/{image_id}/file")]),
        deprecated_rule: Some(dep("upload_image", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "delete_image_location",
        check_str: ADMIN,
        description: Some("Remove a location from an image."),
        operations: Some(&[op("PATCH", "/v2/images/{image_id}")]),
        deprecated_rule: Some(dep(
            "delete_image_location",
            DEFAULT,
            Some(IMAGE_ROLES),
            "W",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "get_image_location",
        check_str: ADMIN_OR_PROJECT_READER,
        description: Some("See the locations of an image."),
        operations: Some(&[op("GET", "/v2/images/{image_id}")]),
        deprecated_rule: Some(dep("get_image_location", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "set_image_location",
        check_str: ADMIN_OR_PROJECT_MEMBER,
        description: Some("Replace the locations of an image."),
        operations: Some(&[op("PATCH", "/v2/images/{image_id}")]),
        deprecated_rule: Some(dep("set_image_location", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "add_image_location",
        check_str: "rule:service_api or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
        description: Some("Attach a new location to an image."),
        operations: Some(&[op("POST", "/v2/images/{image_id}/locations")]),
        ..PROJECT
    },
    RuleDefault {
        name: "fetch_image_location",
        check_str: SERVICE,
        description: Some("List every location of an image."),
        operations: Some(&[op("GET", "/v2/images/{image_id}/locations")]),
        ..PROJECT
    },
    RuleDefault {
        name: "add_member",
        check_str: ADMIN_OR_PROJECT_MEMBER,
        description: Some("Share an image with another project."),
        operations: Some(&[op("POST", "/v2/images/{image_id}/members")]),
        deprecated_rule: Some(dep("add_member", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "delete_member",
        check_str: ADMIN_OR_PROJECT_MEMBER,
        description: Some("Stop sharing an image with a project."),
        operations: Some(&[op("DELETE", "/v2/images/{image_id}/members/{member_id}")]),
        deprecated_rule: Some(dep("delete_member", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "get_member",
        check_str: ADMIN_OR_READER_OR_SHARED_MEMBER,
        description: Some("Show one member of an image."),
        operations: Some(&[op("GET", "/v2/images/{image_id}/members/{member_id}")]),
        deprecated_rule: Some(dep("get_member", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "get_members",
        check_str: ADMIN_OR_READER_OR_SHARED_MEMBER,
        description: Some("List the members of an image."),
        operations: Some(&[op("GET", "/v2/images/{image_id}/members")]),
        deprecated_rule: Some(dep("get_members", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "modify_member",
        check_str: "rule:context_is_admin or (role:member and project_id:%(member_id)s)",
        description: Some("Accept or reject an image shared with the caller."),
        operations: Some(&[op("PUT", "/v2/images/{image_id}/members/{member_id}")]),
        deprecated_rule: Some(dep("modify_member", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "manage_image_cache",
        check_str: ADMIN,
        description: Some("Administer the image cache."),
        ..PROJECT
    },
    RuleDefault {
        name: "deactivate",
        check_str: ADMIN_OR_PROJECT_MEMBER,
        description: Some("Deactivate an image."),
        operations: Some(&[op("POST", "/v2/images/{image_id}/actions/deactivate")]),
        deprecated_rule: Some(dep("deactivate", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "reactivate",
        check_str: ADMIN_OR_PROJECT_MEMBER,
        description: Some("Reactivate a deactivated image."),
        operations: Some(&[op("POST", "/v2/images/{image_id}/actions/reactivate")]),
        deprecated_rule: Some(dep("reactivate", DEFAULT, Some(IMAGE_ROLES), "W")),
        ..PROJECT
    },
    RuleDefault {
        name: "copy_image",
        check_str: ADMIN,
        description: Some("Copy existing image data into more stores."),
        operations: Some(&[op("POST", "/v2/images/{image_id}/import")]),
        ..PROJECT
    },
    RuleDefault {
        name: "list_cached_nodes",
        check_str: ADMIN,
        description: Some("List the API nodes that cache an image."),
        operations: Some(&[op("GET", "/v2/cache/nodes/{image_id}")]),
        ..PROJECT
    },
    RuleDefault {
        name: "get_task",
        check_str: DEFAULT,
        description: Some("Show one task."),
        operations: Some(&[op("GET", "/v2/tasks/{task_id}")]),
        deprecated_rule: Some(dep("get_task", DEFAULT, Some(TASKS_XENA), "X")),
        ..PROJECT
    },
    RuleDefault {
        name: "get_tasks",
        check_str: DEFAULT,
        description: Some("List tasks."),
        operations: Some(&[op("GET", "/v2/tasks")]),
        deprecated_rule: Some(dep("get_tasks", DEFAULT, Some(TASKS_XENA), "X")),
        ..PROJECT
    },
    RuleDefault {
        name: "add_task",
        check_str: DEFAULT,
        description: Some("Create a task."),
        operations: Some(&[op("POST", "/v2/tasks")]),
        deprecated_rule: Some(dep("add_task", DEFAULT, Some(TASKS_XENA), "X")),
        ..PROJECT
    },
    RuleDefault {
        name: "modify_task",
        check_str: DEFAULT,
        description: Some("Change a task (never checked by the API)."),
        operations: Some(&[op("DELETE", "/v2/tasks/{task_id}")]),
        deprecated_for_removal: true,
        deprecated_reason: Some("\nThe API has never checked this policy; it will be removed.\n"),
        deprecated_since: Some("W"),
        ..PROJECT
    },
    RuleDefault {
        name: "tasks_api_access",
        check_str: ADMIN,
        description: Some(
            "Use the tasks API at all; one switch for every task call, reads and writes alike.",
        ),
        operations: Some(&[
            op("GET", "/v2/tasks/{task_id}"),
            op("GET", "/v2/tasks"),
            op("POST", "/v2/tasks"),
            op("DELETE", "/v2/tasks/{task_id}"),
        ]),
        ..PROJECT
    },
    RuleDefault {
        name: "metadef_default",
        check_str: "",
        description: None,
        ..UNSCOPED
    },
    RuleDefault {
        name: "metadef_admin",
        check_str: ADMIN,
        description: None,
        ..UNSCOPED
    },
    RuleDefault {
        name: "get_metadef_namespace",
        check_str: ADMIN_OR_PROJECT_READER_OR_PUBLIC,
        description: Some("Show one metadata definition namespace."),
        operations: Some(&[op("GET", "/v2/metadefs/namespaces/{namespace_name}")]),
        deprecated_rule: Some(dep(
            "get_metadef_namespace",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "get_metadef_namespaces",
        check_str: ADMIN_OR_PROJECT_READER,
        description: Some("List metadata definition namespaces."),
        operations: Some(&[op("GET", "/v2/metadefs/namespaces")]),
        deprecated_rule: Some(dep(
            "get_metadef_namespaces",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "modify_metadef_namespace",
        check_str: METADEF_ADMIN,
        description: Some("Change a metadata definition namespace."),
        operations: Some(&[op("PUT", "/v2/metadefs/namespaces/{namespace_name}")]),
        ..PROJECT
    },
    RuleDefault {
        name: "add_metadef_namespace",
        check_str: METADEF_ADMIN,
        description: Some("Create a metadata definition namespace."),
        operations: Some(&[op("POST", "/v2/metadefs/namespaces")]),
        ..PROJECT
    },
    RuleDefault {
        name: "delete_metadef_namespace",
        check_str: METADEF_ADMIN,
        description: Some("Delete a metadata definition namespace."),
        operations: Some(&[op("DELETE", "/v2/metadefs/namespaces/{namespace_name}")]),
        ..PROJECT
    },
    RuleDefault {
        name: "get_metadef_object",
        check_str: ADMIN_OR_PROJECT_READER_OR_PUBLIC,
        description: Some("Show one metadata definition object."),
        operations: Some(&[op(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}",
        )]),
        deprecated_rule: Some(dep(
            "get_metadef_object",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "get_metadef_objects",
        check_str: ADMIN_OR_PROJECT_READER_OR_PUBLIC,
        description: Some("List the objects of a namespace."),
        operations: Some(&[op(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/objects",
        )]),
        deprecated_rule: Some(dep(
            "get_metadef_objects",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "modify_metadef_object",
        check_str: METADEF_ADMIN,
        description: Some("Change a metadata definition object."),
        operations: Some(&[op(
            "PUT",
            "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "add_metadef_object",
        check_str: METADEF_ADMIN,
        description: Some("Create a metadata definition object."),
        operations: Some(&[op(
            "POST",
            "/v2/metadefs/namespaces/{namespace_name}/objects",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "delete_metadef_object",
        check_str: METADEF_ADMIN,
        description: Some("Delete a metadata definition object."),
        operations: Some(&[op(
            "DELETE",
            "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "list_metadef_resource_types",
        check_str: ADMIN_OR_PROJECT_READER_OR_PUBLIC,
        description: Some("List metadata definition resource types."),
        operations: Some(&[op("GET", "/v2/metadefs/resource_types")]),
        deprecated_rule: Some(dep(
            "list_metadef_resource_types",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "get_metadef_resource_type",
        check_str: ADMIN_OR_PROJECT_READER_OR_PUBLIC,
        description: Some("Show the resource types a namespace is bound to."),
        operations: Some(&[op(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/resource_types",
        )]),
        deprecated_rule: Some(dep(
            "get_metadef_resource_type",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "add_metadef_resource_type_association",
        check_str: METADEF_ADMIN,
        description: Some("Bind a resource type to a namespace."),
        operations: Some(&[op(
            "POST",
            "/v2/metadefs/namespaces/{namespace_name}/resource_types",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "remove_metadef_resource_type_association",
        check_str: METADEF_ADMIN,
        description: Some("Unbind a resource type from a namespace."),
        operations: Some(&[op(
            "DELETE",
            "/v2/metadefs/namespaces/{namespace_name}/resource_types/{name}",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "get_metadef_property",
        check_str: ADMIN_OR_PROJECT_READER_OR_PUBLIC,
        description: Some("Show one metadata definition property."),
        operations: Some(&[op(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}",
        )]),
        deprecated_rule: Some(dep(
            "get_metadef_property",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "get_metadef_properties",
        check_str: ADMIN_OR_PROJECT_READER_OR_PUBLIC,
        description: Some("List the properties of a namespace."),
        operations: Some(&[op(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/properties",
        )]),
        deprecated_rule: Some(dep(
            "get_metadef_properties",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "modify_metadef_property",
        check_str: METADEF_ADMIN,
        description: Some("Change a metadata definition property."),
        operations: Some(&[op(
            "PUT",
            "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "add_metadef_property",
        check_str: METADEF_ADMIN,
        description: Some("Create a metadata definition property."),
        operations: Some(&[op(
            "POST",
            "/v2/metadefs/namespaces/{namespace_name}/properties",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "remove_metadef_property",
        check_str: METADEF_ADMIN,
        description: Some("Delete a metadata definition property."),
        operations: Some(&[op(
            "DELETE",
            "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "get_metadef_tag",
        check_str: ADMIN_OR_PROJECT_READER_OR_PUBLIC,
        description: Some("Show one metadata definition tag."),
        operations: Some(&[op(
            "GET",
            "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}",
        )]),
        deprecated_rule: Some(dep(
            "get_metadef_tag",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "get_metadef_tags",
        check_str: ADMIN_OR_PROJECT_READER_OR_PUBLIC,
        description: Some("List the tags of a namespace."),
        operations: Some(&[op("GET", "/v2/metadefs/namespaces/{namespace_name}/tags")]),
        deprecated_rule: Some(dep(
            "get_metadef_tags",
            METADEF_DEFAULT,
            Some(METADEF_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "modify_metadef_tag",
        check_str: METADEF_ADMIN,
        description: Some("Rename a metadata definition tag."),
        operations: Some(&[op(
            "PUT",
            "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "add_metadef_tag",
        check_str: METADEF_ADMIN,
        description: Some("Create one metadata definition tag."),
        operations: Some(&[op(
            "POST",
            "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "add_metadef_tags",
        check_str: METADEF_ADMIN,
        description: Some("Create several metadata definition tags at once."),
        operations: Some(&[op("POST", "/v2/metadefs/namespaces/{namespace_name}/tags")]),
        ..PROJECT
    },
    RuleDefault {
        name: "delete_metadef_tag",
        check_str: METADEF_ADMIN,
        description: Some("Delete one metadata definition tag."),
        operations: Some(&[op(
            "DELETE",
            "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "delete_metadef_tags",
        check_str: METADEF_ADMIN,
        description: Some("Delete every tag of a namespace."),
        operations: Some(&[op(
            "DELETE",
            "/v2/metadefs/namespaces/{namespace_name}/tags",
        )]),
        ..PROJECT
    },
    RuleDefault {
        name: "cache_image",
        check_str: ADMIN,
        description: Some("Queue an image for caching."),
        operations: Some(&[op("PUT", "/v2/cache/{image_id}")]),
        deprecated_rule: Some(dep(
            "cache_image",
            "rule:manage_image_cache",
            Some(IMAGE_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "cache_list",
        check_str: ADMIN,
        description: Some("List cached and queued images."),
        operations: Some(&[op("GET", "/v2/cache")]),
        deprecated_rule: Some(dep(
            "cache_list",
            "rule:manage_image_cache",
            Some(IMAGE_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "cache_delete",
        check_str: ADMIN,
        description: Some("Drop images from the cache or the queue."),
        operations: Some(&[
            op("DELETE", "/v2/cache"),
            op("DELETE", "/v2/cache/{image_id}"),
        ]),
        deprecated_rule: Some(dep(
            "cache_delete",
            "rule:manage_image_cache",
            Some(IMAGE_ROLES),
            "X",
        )),
        ..PROJECT
    },
    RuleDefault {
        name: "cache_clean",
        check_str: ADMIN,
        description: Some("Clean the cache of invalid entries."),
        operations: Some(&[op("POST", "/v2/cache/clean")]),
        ..PROJECT
    },
    RuleDefault {
        name: "cache_prune",
        check_str: ADMIN,
        description: Some("Shrink the cache below its size limit."),
        operations: Some(&[op("POST", "/v2/cache/prune")]),
        ..PROJECT
    },
    RuleDefault {
        name: "stores_info_detail",
        check_str: "rule:context_is_admin or rule:service_api",
        description: Some("Show the stores with their backend details."),
        operations: Some(&[op("GET", "/v2/info/stores/detail")]),
        deprecated_rule: Some(dep(
            "stores_info_detail",
            ADMIN,
            Some("Services (the service role) may now read store details too."),
            "2025.1",
        )),
        ..PROJECT
    },
];
