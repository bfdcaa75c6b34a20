//! Location URIs, parsed the way glance_store parses them.
//!
//! glance_store runs every location through Python's `urllib.parse`, so a
//! URI stored in the shared database means the same thing to Glimpse only
//! if we split it the same way: the scheme is the text before the first
//! `:` when that text is a valid scheme (lower-cased), tabs and newlines
//! anywhere are dropped, and `?query` / `#fragment` are cut off. Nothing
//! is percent-decoded (glance_store does not decode file paths either).

use crate::error::{Result, StoreError};

/// Leading characters `urlsplit` strips (WHATWG C0 control or space).
fn is_c0_or_space(c: char) -> bool {
    c <= ' '
}

/// The URI with what `urlsplit` ignores removed: leading C0/space and
/// every tab, CR and LF.
fn sanitize(uri: &str) -> String {
    uri.trim_start_matches(is_c0_or_space)
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect()
}

/// The scheme of `uri` as `urllib.parse.urlparse` reports it (lower-case),
/// or `None` when it has none.
pub fn uri_scheme(uri: &str) -> Option<String> {
    let clean = sanitize(uri);
    let (scheme, _) = clean.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    if !scheme
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    Some(scheme.to_ascii_lowercase())
}

/// The path of a `file://` or `filesystem://` location, exactly as
/// glance_store's filesystem `StoreLocation.parse_uri` derives it:
/// netloc and path joined, query and fragment dropped, whitespace stripped.
///
/// `file://host/x` therefore yields the relative path `host/x`, as upstream.
pub fn parse_file_uri(uri: &str) -> Result<String> {
    // glance_store checks the raw string's prefix (case-sensitive) first.
    let rest = if let Some(r) = uri.strip_prefix("file://") {
        r
    } else if let Some(r) = uri.strip_prefix("filesystem://") {
        r
    } else {
        return Err(StoreError::BadLocation(
            "Location URI must start with one of the following schemas: file://, filesystem://"
                .into(),
        ));
    };
    let rest: String = rest
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    // urlsplit: fragment first, then query; the netloc ends at the first
    // '/', '?' or '#', and the path is the remainder.
    let no_frag = rest.split('#').next().unwrap_or("");
    let no_query = no_frag.split('?').next().unwrap_or("");
    let netloc_end = no_query.find('/').unwrap_or(no_query.len());
    let netloc = &no_query[..netloc_end];
    // urlsplit refuses unbalanced IPv6 brackets in the netloc.
    if netloc.contains('[') != netloc.contains(']') {
        return Err(StoreError::BadLocation("Invalid IPv6 URL".into()));
    }
    let path = no_query.trim();
    if path.is_empty() {
        return Err(StoreError::BadLocation("No path specified in URI".into()));
    }
    if path.contains('\0') {
        return Err(StoreError::BadLocation("embedded null byte".into()));
    }
    Ok(path.to_string())
}

/// The URI glance_store writes for a file at `path`.
pub fn file_uri(path: &str) -> String {
    format!("file://{path}")
}

/// `os.path.join(dir, name)` for a relative `name`: one `/` between them
/// unless `dir` is empty or already ends with one.
pub fn join_path(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_uris() {
        let ok = |u: &str| parse_file_uri(u).ok();
        assert_eq!(
            ok("file:///var/lib/glance/images/abc").as_deref(),
            Some("/var/lib/glance/images/abc")
        );
        assert_eq!(ok("filesystem:///x/y").as_deref(), Some("/x/y"));
        assert_eq!(ok("file://host/x").as_deref(), Some("host/x"));
        assert_eq!(ok("file:///a/b?x=1#f").as_deref(), Some("/a/b"));
        assert_eq!(ok("file:///a/b\n").as_deref(), Some("/a/b"));
        assert_eq!(ok("file:///a b ").as_deref(), Some("/a b"));
        assert_eq!(ok("file:///a%20b").as_deref(), Some("/a%20b"));
        for bad in [
            "",
            "file://",
            "file://?x",
            " file:///x",
            "FILE:///x",
            "http://x/y",
            "file://[::1/x",
        ] {
            assert!(
                matches!(parse_file_uri(bad), Err(StoreError::BadLocation(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn schemes() {
        assert_eq!(uri_scheme("file:///x").as_deref(), Some("file"));
        assert_eq!(
            uri_scheme("  Swift+HTTPS://a/b").as_deref(),
            Some("swift+https")
        );
        assert_eq!(uri_scheme("s3://a").as_deref(), Some("s3"));
        assert_eq!(uri_scheme("/var/x"), None);
        assert_eq!(uri_scheme("1http://x"), None);
        assert_eq!(uri_scheme("ht tp://x"), None);
    }

    #[test]
    fn join_like_python() {
        assert_eq!(
            join_path("/var/lib/glance/images", "id"),
            "/var/lib/glance/images/id"
        );
        assert_eq!(join_path("/tmp/staging/", "id"), "/tmp/staging/id");
        assert_eq!(join_path("rel", "id"), "rel/id");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,60}") {
            let _ = parse_file_uri(&s);
            let _ = uri_scheme(&s);
            let _ = parse_file_uri(&format!("file://{s}"));
        }

        #[test]
        fn written_uris_parse_back(dir in "/[a-z0-9_./-]{0,30}", id in "[a-f0-9-]{1,36}") {
            let path = join_path(&dir, &id);
            prop_assert_eq!(parse_file_uri(&file_uri(&path)).ok(), Some(path));
        }
    }
}
