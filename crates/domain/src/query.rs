//! `GET /v2/images` query parsing: the deserializer's `index()`, the
//! controller's checks and the DB layer's filter translation
//! (`_make_conditions_from_filters`), in Glance's order so the first
//! error reported is Glance's first error.
//!
//! Parameters behave like WebOb's MultiDict throughout: `pop` takes the
//! first occurrence, `get` the last, and what is left over after the named
//! parameters are taken becomes filters (last value per key).

use crate::error::DomainError;
use crate::py::{self, Timestamp};

/// `[DEFAULT] limit_param_default` and `api_limit_max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLimits {
    pub limit_param_default: i64,
    pub api_limit_max: i64,
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits {
            limit_param_default: 25,
            api_limit_max: 1000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortDir {
    Asc,
    Desc,
}

impl SortDir {
    pub fn as_str(self) -> &'static str {
        match self {
            SortDir::Asc => "asc",
            SortDir::Desc => "desc",
        }
    }
}

/// The sortable columns, in the order Glance lists them in its error.
pub const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
];

/// Columns of Glance's `images` table (equality filters by name).
pub const IMAGE_COLUMNS: &[&str] = &[
    "id",
    "name",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "status",
    "visibility",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "min_disk",
    "min_ram",
    "owner",
    "protected",
    "os_hidden",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
];

/// Image relationships: filtering on them crashes Glance (500).
const RELATIONSHIPS: &[&str] = &["properties", "locations", "members"];

/// Comparison for `created_at`/`updated_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

/// One filter condition (all are ANDed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `<column>_min` / `<column>_max`: inclusive bound.
    Min {
        column: String,
        value: i64,
    },
    Max {
        column: String,
        value: i64,
    },
    /// `created_at`/`updated_at` with an operator.
    Time {
        column: String,
        op: TimeOp,
        at: Timestamp,
    },
    /// `name`, `id`, `status`, `container_format`, `disk_format`: `eq` or `in:`.
    In {
        column: String,
        values: Vec<String>,
    },
    /// Equality on another image column (`owner`, `checksum`, ...; the
    /// value is compared as the DB would compare the string).
    Column {
        column: String,
        value: String,
    },
    /// Equality on an extra property.
    Property {
        key: String,
        value: String,
    },
}

/// A parsed `GET /v2/images` query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// Rows to fetch: default 25, capped at `api_limit_max`.
    pub limit: i64,
    pub marker: Option<String>,
    /// `pending|accepted|rejected|all` (default `accepted`).
    pub member_status: String,
    /// `public|private|shared|community|all`, or `""` (an empty parameter
    /// passes validation and then matches nothing).
    pub visibility: Option<String>,
    pub os_hidden: bool,
    pub protected: Option<bool>,
    /// Every tag must be present.
    pub tags: Vec<String>,
    /// Sort keys with tie-breakers (`created_at`, `id`) appended.
    pub sort: Vec<(&'static str, SortDir)>,
    pub filters: Vec<Filter>,
}

fn bad(m: impl Into<String>) -> DomainError {
    DomainError::BadRequest(m.into())
}

/// A WebOb MultiDict over the query pairs.
struct Multi(Vec<(String, String)>);

impl Multi {
    fn contains(&self, k: &str) -> bool {
        self.0.iter().any(|(x, _)| x == k)
    }
    fn pop(&mut self, k: &str) -> Option<String> {
        let i = self.0.iter().position(|(x, _)| x == k)?;
        Some(self.0.remove(i).1)
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v.as_str())
    }
}

fn validate_sort_key(k: &str) -> Result<&'static str, DomainError> {
    SORT_KEYS.iter().copied().find(|s| *s == k).ok_or_else(|| {
        bad(format!(
            "Invalid sort key: {k}. It must be one of the following: {}.",
            SORT_KEYS.join(", ")
        ))
    })
}

fn validate_sort_dir(d: &str) -> Result<SortDir, DomainError> {
    match d {
        "asc" => Ok(SortDir::Asc),
        "desc" => Ok(SortDir::Desc),
        _ => Err(bad(format!("Invalid sort direction: {d}"))),
    }
}

/// Parse decoded query pairs (see [`py::parse_query_string`]).
pub fn parse_list_query(
    pairs: &[(String, String)],
    limits: ListLimits,
) -> Result<ListQuery, DomainError> {
    let mut params = Multi(pairs.to_vec());
    let limit = params.pop("limit");
    let marker = params.pop("marker");
    let member_status = params
        .pop("member_status")
        .unwrap_or_else(|| "accepted".into());
    let mut tags = Vec::new();
    while let Some(t) = params.pop("tag") {
        tags.push(py::strip(&t).to_string());
    }

    // _get_filters
    if let Some(v) = params.get("visibility").filter(|v| !v.is_empty())
        && !["community", "public", "private", "shared", "all"].contains(&v)
    {
        return Err(bad(format!("Invalid visibility value: {v}")));
    }
    if params.get("changes-since").is_some_and(|v| !v.is_empty()) {
        return Err(bad(
            "The \"changes-since\" filter is no longer available on v2.",
        ));
    }
    if !["pending", "accepted", "rejected", "all"].contains(&member_status.as_str()) {
        return Err(bad(format!("Invalid status: {member_status}")));
    }
    let limit = match limit {
        None => None,
        Some(l) => match py::int(&l) {
            None => return Err(bad("limit param must be an integer")),
            Some(Ok(n)) if n < 0 => return Err(bad("limit param must be positive")),
            Some(Err(sign)) if sign < 0 => return Err(bad("limit param must be positive")),
            Some(Ok(n)) => Some(n),
            Some(Err(_)) => Some(i64::MAX),
        },
    };

    // _get_sorting_params
    let mut keys: Vec<&'static str> = Vec::new();
    let mut dirs: Vec<SortDir> = Vec::new();
    if params.contains("sort") {
        if params.contains("sort_key") || params.contains("sort_dir") {
            return Err(bad("Old and new sorting syntax cannot be combined"));
        }
        let sort = params.pop("sort").unwrap_or_default();
        for part in py::strip(&sort).split(',') {
            let (k, d) = part.split_once(':').unwrap_or((part, ""));
            let d = if d.is_empty() { "desc" } else { d };
            keys.push(validate_sort_key(py::strip(k))?);
            dirs.push(validate_sort_dir(py::strip(d))?);
        }
    } else {
        while let Some(k) = params.pop("sort_key") {
            keys.push(validate_sort_key(py::strip(&k))?);
        }
        while let Some(d) = params.pop("sort_dir") {
            dirs.push(validate_sort_dir(py::strip(&d))?);
        }
        if dirs.len() > 1 && dirs.len() != keys.len() {
            return Err(bad(
                "Number of sort dirs does not match the number of sort keys",
            ));
        }
    }

    // ImagesController.index
    let os_hidden = params.get("os_hidden").unwrap_or("false").to_lowercase();
    if os_hidden != "true" && os_hidden != "false" {
        return Err(bad(format!(
            "Invalid value '{os_hidden}' for 'os_hidden' filter. Valid values are 'true' or 'false'."
        )));
    }
    let protected = match params.get("protected") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(p) => {
            return Err(bad(format!(
                "Invalid value '{p}' for 'protected' filter. Valid values are 'true' or 'false'."
            )));
        }
    };
    // These were replaced by typed values in the filters dict.
    params
        .0
        .retain(|(k, _)| !matches!(k.as_str(), "os_hidden" | "protected" | "deleted"));
    let limit = limit
        .unwrap_or(limits.limit_param_default)
        .min(limits.api_limit_max);

    // _image_get_all / _make_conditions_from_filters
    let visibility = params.pop("visibility");
    let mut filters = Vec::new();
    for col in ["checksum", "os_hash_value"] {
        if let Some(v) = params.pop(col) {
            filters.push(Filter::Column {
                column: col.into(),
                value: v,
            });
        }
    }
    if params.contains("properties") {
        return Err(DomainError::Internal(
            "'properties' filter is not a mapping".into(),
        ));
    }
    if tags.is_empty()
        && let Some(t) = params.pop("tags")
    {
        // A bare `tags=ab` reaches the DB as a string and is iterated.
        tags = t.chars().map(String::from).collect();
    } else {
        params.0.retain(|(k, _)| k != "tags");
    }
    // The rest is a dict: first-seen order, last value.
    let mut rest: Vec<(String, String)> = Vec::new();
    for (k, v) in params.0 {
        match rest.iter_mut().find(|(x, _)| *x == k) {
            Some(slot) => slot.1 = v,
            None => rest.push((k, v)),
        }
    }
    let mut leftovers = Vec::new();
    for (k, v) in rest {
        if let Some(col) = k.strip_suffix("_min").or_else(|| k.strip_suffix("_max")) {
            let n = match py::int(&v) {
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    return Err(DomainError::Internal("integer out of range".into()));
                }
                None => {
                    return Err(bad("Unable to filter on a range with a non-numeric value."));
                }
            };
            if !IMAGE_COLUMNS.contains(&col) && !RELATIONSHIPS.contains(&col) {
                return Err(DomainError::Internal(format!("no image attribute {col}")));
            }
            let column = col.to_string();
            filters.push(if k.ends_with("_min") {
                Filter::Min { column, value: n }
            } else {
                Filter::Max { column, value: n }
            });
        } else if k == "created_at" || k == "updated_at" {
            let (op, iso) = split_filter_op(&v);
            let Some(at) = py::parse_isotime(iso) else {
                return Err(bad(format!(
                    "Bad \"{k}\" query filter format. Use ISO 8601 DateTime notation."
                )));
            };
            let op = match op {
                "gt" => TimeOp::Gt,
                "gte" => TimeOp::Gte,
                "lt" => TimeOp::Lt,
                "lte" => TimeOp::Lte,
                "neq" => TimeOp::Neq,
                "eq" => TimeOp::Eq,
                _ => return Err(bad("Unable to filter on a unknown operator.")),
            };
            filters.push(Filter::Time { column: k, op, at });
        } else if ["name", "id", "status", "container_format", "disk_format"].contains(&k.as_str())
        {
            let (op, value) = split_filter_op(&v);
            let values = match op {
                "in" => split_filter_value_for_quotes(value)?,
                "eq" => vec![value.to_string()],
                other => {
                    return Err(bad(format!(
                        "Unable to filter by unknown operator '{other}'."
                    )));
                }
            };
            filters.push(Filter::In { column: k, values });
        } else {
            leftovers.push((k, v));
        }
    }
    for (k, v) in leftovers {
        if RELATIONSHIPS.contains(&k.as_str()) {
            return Err(DomainError::Internal(format!("cannot compare {k}")));
        }
        if IMAGE_COLUMNS.contains(&k.as_str()) {
            filters.push(Filter::Column {
                column: k,
                value: v,
            });
        } else {
            filters.push(Filter::Property { key: k, value: v });
        }
    }

    // Tie-breakers use the single given direction, else desc.
    let default_dir = if dirs.len() == 1 {
        dirs[0]
    } else {
        SortDir::Desc
    };
    if keys.is_empty() {
        keys.push("created_at");
    }
    let mut sort: Vec<(&'static str, SortDir)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let d = match dirs.len() {
                0 => SortDir::Desc,
                1 => dirs[0],
                _ => dirs.get(i).copied().unwrap_or(SortDir::Desc),
            };
            (*k, d)
        })
        .collect();
    for k in ["created_at", "id"] {
        if !keys.contains(&k) {
            sort.push((k, default_dir));
        }
    }

    Ok(ListQuery {
        limit,
        marker,
        member_status,
        visibility,
        os_hidden: os_hidden == "true",
        protected,
        tags,
        sort,
        filters,
    })
}

/// `utils.split_filter_op`: `op:value`, unless the whole string is an ISO
/// 8601 time (then `eq`).
pub fn split_filter_op(expr: &str) -> (&str, &str) {
    match expr.split_once(':') {
        Some(_) if py::parse_isotime(expr).is_some() => ("eq", expr),
        Some((op, rest)) => (op, rest),
        None => ("eq", expr),
    }
}

/// `utils.validate_quotes` + `split_filter_value_for_quotes` for `in:`.
pub fn split_filter_value_for_quotes(value: &str) -> Result<Vec<String>, DomainError> {
    let chars: Vec<char> = value.chars().collect();
    let mut open = true;
    for i in 0..chars.len() {
        if chars[i] != '"' {
            continue;
        }
        if i > 0 && chars[i - 1] == '\\' {
            continue;
        }
        if open {
            if i > 0 && chars[i - 1] != ',' {
                return Err(DomainError::BadRequest(format!(
                    "Invalid filter value {value}. There is no comma before opening quotation mark."
                )));
            }
        } else if i + 1 != chars.len() && chars[i + 1] != ',' {
            return Err(DomainError::BadRequest(format!(
                "Invalid filter value {value}. There is no comma after closing quotation mark."
            )));
        }
        open = !open;
    }
    if !open {
        return Err(DomainError::BadRequest(format!(
            "Invalid filter value {value}. The quote is not closed."
        )));
    }
    // The tokenizer: "quoted" (backslash escapes kept verbatim) with an
    // optional comma, or a run of non-commas with an optional comma, or a
    // lone comma (an empty value).
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '"' {
            let mut j = i + 1;
            let mut closed = None;
            while j < chars.len() {
                match chars[j] {
                    '\\' if j + 1 < chars.len() => j += 2,
                    '"' => {
                        closed = Some(j);
                        break;
                    }
                    _ => j += 1,
                }
            }
            if let Some(end) = closed {
                out.push(chars[i + 1..end].iter().collect());
                i = end + 1;
                if i < chars.len() && chars[i] == ',' {
                    i += 1;
                }
                continue;
            }
            // An unmatched quote falls through to the non-comma branch.
        }
        if chars[i] == ',' {
            out.push(String::new());
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i] != ',' {
            i += 1;
        }
        out.push(chars[start..i].iter().collect());
        if i < chars.len() {
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<ListQuery, DomainError> {
        let pairs = py::parse_query_string(s.as_bytes())?;
        parse_list_query(&pairs, ListLimits::default())
    }

    fn err(s: &str) -> (u16, String) {
        let e = q(s).unwrap_err();
        (e.status(), e.explanation())
    }

    // Captured from Glance 33: GET /v2/images?<query>.
    #[test]
    fn errors_match_glance() {
        let cases: &[(&str, u16, &str)] = &[
            (
                "abc_min=1",
                500,
                "The server has either erred or is incapable of performing the requested operation.",
            ),
            (
                "x=%FF",
                400,
                "Error decoding your request. Either the URL or the request body contained characters that could not be decoded by Glance",
            ),
            ("limit=-1", 400, "limit param must be positive"),
            ("limit=1.5", 400, "limit param must be an integer"),
            (
                "size_min=abc",
                400,
                "Unable to filter on a range with a non-numeric value.",
            ),
            (
                "name=foo:bar",
                400,
                "Unable to filter by unknown operator 'foo'.",
            ),
            (
                "created_at=foo:2020-01-01",
                400,
                "Unable to filter on a unknown operator.",
            ),
            (
                "created_at=2020-13-01",
                400,
                "Bad \"created_at\" query filter format. Use ISO 8601 DateTime notation.",
            ),
            (
                "updated_at=2020-02-30",
                400,
                "Bad \"updated_at\" query filter format. Use ISO 8601 DateTime notation.",
            ),
            (
                "created_at=gte:2020-01-01T10:00:00%2B25:00",
                400,
                "Bad \"created_at\" query filter format. Use ISO 8601 DateTime notation.",
            ),
            (
                "name=in:%22a,b",
                400,
                "Invalid filter value \"a,b. The quote is not closed.",
            ),
            (
                "name=in:a,%22b%22x",
                400,
                "Invalid filter value a,\"b\"x. There is no comma after closing quotation mark.",
            ),
            ("sort=name:up", 400, "Invalid sort direction: up"),
            (
                "sort=name&sort_key=id",
                400,
                "Old and new sorting syntax cannot be combined",
            ),
            (
                "sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc",
                400,
                "Number of sort dirs does not match the number of sort keys",
            ),
            (
                "sort_dir=asc&sort_dir=desc",
                400,
                "Number of sort dirs does not match the number of sort keys",
            ),
            (
                "sort_key=foo",
                400,
                "Invalid sort key: foo. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at.",
            ),
            (
                "sort=",
                400,
                "Invalid sort key: . It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at.",
            ),
            ("member_status=x", 400, "Invalid status: x"),
            ("visibility=x", 400, "Invalid visibility value: x"),
            (
                "os_hidden=x",
                400,
                "Invalid value 'x' for 'os_hidden' filter. Valid values are 'true' or 'false'.",
            ),
            (
                "protected=x",
                400,
                "Invalid value 'x' for 'protected' filter. Valid values are 'true' or 'false'.",
            ),
            (
                "changes-since=1",
                400,
                "The \"changes-since\" filter is no longer available on v2.",
            ),
            (
                "properties=x",
                500,
                "The server has either erred or is incapable of performing the requested operation.",
            ),
            (
                "locations=x",
                500,
                "The server has either erred or is incapable of performing the requested operation.",
            ),
            (
                "members=x",
                500,
                "The server has either erred or is incapable of performing the requested operation.",
            ),
            (
                "size_min=99999999999999999999999",
                500,
                "The server has either erred or is incapable of performing the requested operation.",
            ),
        ];
        for (s, status, text) in cases {
            assert_eq!(err(s), (*status, text.to_string()), "{s}");
        }
    }

    // Queries Glance 33 accepted.
    #[test]
    fn accepted_queries() {
        let d = q("").unwrap();
        assert_eq!(d.limit, 25);
        assert_eq!(d.member_status, "accepted");
        assert!(!d.os_hidden);
        assert_eq!(
            d.sort,
            vec![("created_at", SortDir::Desc), ("id", SortDir::Desc)]
        );
        assert_eq!(q("limit=%201").unwrap().limit, 1);
        assert_eq!(q("limit=+1").unwrap().limit, 1);
        assert_eq!(q("limit=1_0").unwrap().limit, 10);
        assert_eq!(q("limit=%EF%BC%91").unwrap().limit, 1);
        assert_eq!(q("limit=99999999999999999999999").unwrap().limit, 1000);
        // The first limit is the limit; the second one is left as a filter.
        let l = q("limit=1&limit=x").unwrap();
        assert_eq!(l.limit, 1);
        assert_eq!(
            l.filters,
            vec![Filter::Property {
                key: "limit".into(),
                value: "x".into()
            }]
        );
        assert_eq!(
            q("sort=%20name%20:%20asc%20,size").unwrap().sort,
            vec![
                ("name", SortDir::Asc),
                ("size", SortDir::Desc),
                ("created_at", SortDir::Desc),
                ("id", SortDir::Desc)
            ]
        );
        assert_eq!(
            q("sort=name:").unwrap().sort,
            vec![
                ("name", SortDir::Desc),
                ("created_at", SortDir::Desc),
                ("id", SortDir::Desc)
            ]
        );
        assert_eq!(
            q("sort_key=name&sort_dir=asc").unwrap().sort,
            vec![
                ("name", SortDir::Asc),
                ("created_at", SortDir::Asc),
                ("id", SortDir::Asc)
            ]
        );
        assert_eq!(
            q("sort_key=name&sort_key=id&sort_dir=asc").unwrap().sort,
            vec![
                ("name", SortDir::Asc),
                ("id", SortDir::Asc),
                ("created_at", SortDir::Asc)
            ]
        );
        assert_eq!(q("tag=%20a%20&tag=b").unwrap().tags, vec!["a", "b"]);
        assert_eq!(q("tags=ab").unwrap().tags, vec!["a", "b"]);
        let f = q("name=in:%22a,b%22,c&owner_min=1&deleted_at=x&deleted=true&created_at_min=1&hw_disk_bus=scsi&checksum=c")
            .unwrap()
            .filters;
        assert_eq!(
            f,
            vec![
                Filter::Column {
                    column: "checksum".into(),
                    value: "c".into()
                },
                Filter::In {
                    column: "name".into(),
                    values: vec!["a,b".into(), "c".into()]
                },
                Filter::Min {
                    column: "owner".into(),
                    value: 1
                },
                Filter::Min {
                    column: "created_at".into(),
                    value: 1
                },
                Filter::Column {
                    column: "deleted_at".into(),
                    value: "x".into()
                },
                Filter::Property {
                    key: "hw_disk_bus".into(),
                    value: "scsi".into()
                },
            ]
        );
        assert_eq!(
            q("name=eq:a:b").unwrap().filters,
            vec![Filter::In {
                column: "name".into(),
                values: vec!["a:b".into()]
            }]
        );
        assert_eq!(
            q("name=2020-01-01T10:00:00").unwrap().filters,
            vec![Filter::In {
                column: "name".into(),
                values: vec!["2020-01-01T10:00:00".into()]
            }]
        );
        let t = q("created_at=gt:2020").unwrap();
        assert!(matches!(&t.filters[0], Filter::Time { op: TimeOp::Gt, .. }));
        let v = q("visibility=all&member_status=all&os_hidden=TRUE&protected=false").unwrap();
        assert_eq!(v.visibility.as_deref(), Some("all"));
        assert!(v.os_hidden);
        assert_eq!(v.protected, Some(false));
        assert_eq!(
            q("size_max=1_000").unwrap().filters,
            vec![Filter::Max {
                column: "size".into(),
                value: 1000
            }]
        );
    }

    #[test]
    fn in_values() {
        let s = |v: &str| split_filter_value_for_quotes(v).unwrap();
        assert_eq!(s("a,b"), vec!["a", "b"]);
        assert_eq!(s("\"a,b\",c"), vec!["a,b", "c"]);
        assert_eq!(s("a,,b"), vec!["a", "", "b"]);
        assert_eq!(s("\"a\\\"b\""), vec!["a\\\"b"]);
        assert_eq!(s(""), Vec::<String>::new());
        assert!(split_filter_value_for_quotes("a\"b\"").is_err());
    }
}
