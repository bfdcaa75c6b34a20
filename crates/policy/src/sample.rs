//! The sample policy file, laid out as `oslopolicy-sample-generator
//! --namespace glance` prints it: every default commented out, preceded by
//! its description, its `# METHOD  PATH` lines and its intended scopes,
//! and followed (or, for removals, preceded) by its deprecation notes.
//! Comment paragraphs are wrapped at 70 columns as Python's `textwrap`
//! does, since deprecation notes quote long check strings.

use crate::defaults::{GLANCE_DEFAULTS, RuleDefault};

const WIDTH: usize = 70;

/// The sample YAML for Glance's registered defaults.
pub fn sample_yaml() -> String {
    GLANCE_DEFAULTS.iter().map(format_default).collect()
}

/// One default's block (oslo's `_format_rule_default_yaml` with help text,
/// commented rules and deprecated rules included).
pub fn format_default(d: &RuleDefault) -> String {
    let rule = format!("\"{}\": \"{}\"\n", d.name, d.check_str);
    let mut text = String::new();
    if let Some(d) = d.description.filter(|s| !s.is_empty()) {
        text.push_str(&help_text(Some(d)));
        text.push('\n');
    }
    for op in d.operations.unwrap_or(&[]) {
        if !op.method.is_empty() && !op.path.is_empty() {
            text.push_str(&format!("# {}  {}\n", op.method, op.path));
        }
    }
    if let Some(scopes) = d.scope_types {
        text.push_str(&format!("# Intended scope(s): {}\n", scopes.join(", ")));
    }
    text.push('#');
    text.push_str(&rule);
    text.push('\n');
    let none = |s: Option<&str>| s.unwrap_or("None").to_string();
    if d.deprecated_for_removal {
        return format!(
            "# DEPRECATED\n# \"{}\" has been deprecated since {}.\n{}\n{text}",
            d.name,
            none(d.deprecated_since),
            help_text(d.deprecated_reason)
        );
    }
    if let Some(old) = &d.deprecated_rule {
        let reason = old.deprecated_reason.or(d.deprecated_reason);
        let since = none(old.deprecated_since.or(d.deprecated_since));
        let notice = format!(
            "\"{}\":\"{}\" has been deprecated since {since} in favor of \"{}\":\"{}\".",
            old.name, old.check_str, d.name, d.check_str
        );
        text.push_str("# DEPRECATED\n");
        text.push_str(&help_text(Some(&notice)));
        text.push('\n');
        text.push_str(&help_text(reason));
        text.push('\n');
        if old.name != d.name {
            text.push_str(&format!(
                "# WARNING: the rule was renamed. If your policy file still\n\
                 # sets the old name, alias it to the new one:\n\
                 # \"{}\": \"rule:{}\"\n",
                old.name, d.name
            ));
        }
        text.push('\n');
    }
    text
}

/// Python's `str.splitlines()`.
fn split_lines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        match rest.find([
            '\n', '\r', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e', '\u{85}', '\u{2028}', '\u{2029}',
        ]) {
            None => {
                out.push(rest);
                break;
            }
            Some(i) => {
                out.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") {
                    2
                } else {
                    rest[i..].chars().next().map_or(1, char::len_utf8)
                };
                rest = &rest[i + skip..];
            }
        }
    }
    out
}

/// oslo's `_format_help_text`: paragraphs wrapped as `# ` comments, blank
/// lines kept as `#`, indented lines copied as literal blocks.
pub fn help_text(description: Option<&str>) -> String {
    let Some(desc) = description.filter(|d| !d.is_empty()) else {
        return "#".into();
    };
    let mut lines: Vec<String> = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, lines: &mut Vec<String>| {
        lines.extend(wrap(&paragraph.join(" ")));
        paragraph.clear();
    };
    for line in split_lines(desc.trim()) {
        if line.trim().is_empty() {
            flush(&mut paragraph, &mut lines);
            lines.push("#".into());
        } else if line.trim_start().len() == line.len() {
            paragraph.push(line.trim_end());
        } else {
            if !paragraph.is_empty() {
                flush(&mut paragraph, &mut lines);
                lines.push("#".into());
            }
            lines.push(format!("# {}", line.trim_end()));
        }
    }
    if !paragraph.is_empty() {
        flush(&mut paragraph, &mut lines);
    }
    lines.join("\n")
}

/// A letter for textwrap's hyphen rule (`[^\d\W]`).
fn letter(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphabetic() || *c == '_')
}

/// textwrap's chunks: whitespace runs, and words split after hyphens that
/// join two letters-long parts (`service-to-service`).
fn chunks(text: &str) -> Vec<String> {
    let chars: Vec<char> = text
        .chars()
        .map(|c| if "\t\n\x0b\x0c\r".contains(c) { ' ' } else { c })
        .collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let ws = c == ' ';
        if cur.starts_with(' ') != ws && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
        if c == '-' && !ws {
            let before = (letter(chars.get(i.wrapping_sub(1)))
                && letter(chars.get(i.wrapping_sub(2))))
                || (letter(chars.get(i.wrapping_sub(1)))
                    && chars.get(i.wrapping_sub(2)) == Some(&'-')
                    && letter(chars.get(i.wrapping_sub(3))));
            let next = chars.get(i + 1);
            let after = letter(next)
                && (letter(chars.get(i + 2))
                    || (chars.get(i + 2) == Some(&'-') && letter(chars.get(i + 3))));
            if before && after && i >= 2 {
                out.push(std::mem::take(&mut cur));
            }
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `textwrap.wrap(text, 70, initial_indent='# ', subsequent_indent='# ')`.
fn wrap(text: &str) -> Vec<String> {
    let indent = "# ";
    let width = WIDTH - indent.len();
    let mut pending: Vec<String> = chunks(text);
    pending.reverse();
    let mut lines = Vec::new();
    while !pending.is_empty() {
        if !lines.is_empty() && pending.last().is_some_and(|c| c.trim().is_empty()) {
            pending.pop();
        }
        let mut line: Vec<String> = Vec::new();
        let mut len = 0;
        while let Some(c) = pending.last() {
            let l = c.chars().count();
            if len + l > width {
                break;
            }
            len += l;
            line.extend(pending.pop());
        }
        if let Some(long) = pending.last_mut()
            && long.chars().count() > width
        {
            // Break an over-long word, preferring a hyphen inside the room.
            let room = (width - len).max(1);
            let chars: Vec<char> = long.chars().collect();
            let mut end = room;
            if chars.len() > room
                && let Some(h) = chars[..room].iter().rposition(|c| *c == '-')
                && h > 0
                && chars[..h].iter().any(|c| *c != '-')
            {
                end = h + 1;
            }
            line.push(chars[..end].iter().collect());
            *long = chars[end..].iter().collect();
        }
        if line.last().is_some_and(|c| c.trim().is_empty()) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(format!("{indent}{}", line.concat()));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wraps_like_textwrap() {
        let w = help_text(Some(
            "\"get_image\":\"rule:default\" has been deprecated since W in favor of \"get_image\":\"rule:context_is_admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))\".",
        ));
        assert_eq!(
            w,
            "# \"get_image\":\"rule:default\" has been deprecated since W in favor of\n\
             # \"get_image\":\"rule:context_is_admin or (role:reader and\n\
             # (project_id:%(project_id)s or project_id:%(member_id)s or\n\
             # 'community':%(visibility)s or 'public':%(visibility)s or\n\
             # 'shared':%(visibility)s))\"."
        );
        assert_eq!(help_text(None), "#");
        assert_eq!(
            chunks("a service-to-service x"),
            ["a", " ", "service-", "to-", "service", " ", "x"]
        );
    }
}
