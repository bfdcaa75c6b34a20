//! Command-line parsing with argparse's observable behaviour (usage text,
//! error wording, exit codes) and oslo's `--config-file`/`--config-dir`
//! semantics: each file is read at its position in argv, so later
//! arguments override earlier ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::conf::{ConfigOpts, DEFAULT_GROUP, ParseState, Parsed};
use crate::error::ConfigError;
use crate::opt::OptKind;
use crate::pyfmt::py_repr;

/// argparse's formatter width (`$COLUMNS` 80 minus 2); fixed so output
/// does not depend on the terminal.
const WIDTH: usize = 78;
const MAX_HELP_POSITION: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Help,
    Version,
    ConfigFile,
    ConfigDir,
    Opt {
        group: usize,
        opt: usize,
        negate: bool,
    },
}

impl Target {
    fn takes_value(self, conf: &ConfigOpts) -> bool {
        match self {
            Target::Help | Target::Version => false,
            Target::ConfigFile | Target::ConfigDir => true,
            Target::Opt { group, opt, .. } => {
                conf.groups[group].opts[opt].opt.kind() != OptKind::Bool
            }
        }
    }
}

/// One argparse action: its option strings, metavar and help.
#[derive(Debug, Clone)]
struct Action {
    flags: Vec<String>,
    target: Target,
    metavar: Option<String>,
    help: Option<String>,
}

impl Action {
    fn names(&self) -> String {
        self.flags.join("/")
    }
    fn invocation(&self) -> String {
        match &self.metavar {
            None => self.flags.join(", "),
            Some(m) => self
                .flags
                .iter()
                .map(|f| format!("{f} {m}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
    fn usage_part(&self) -> String {
        match &self.metavar {
            None => format!("[{}]", self.flags[0]),
            Some(m) => format!("[{} {m}]", self.flags[0]),
        }
    }
}

/// Actions grouped as argparse shows them: (section title, description, actions).
struct Layout {
    sections: Vec<(String, Option<String>, Vec<Action>)>,
    /// flag → target, including hidden aliases (dashed spellings).
    table: HashMap<String, Target>,
    names: HashMap<Target, String>,
}

fn deprecated_cli_name(
    dgroup: Option<&str>,
    dname: Option<&str>,
    own: &str,
    prefix: &str,
) -> Option<String> {
    let dgroup = dgroup.filter(|g| *g != DEFAULT_GROUP);
    if dgroup.is_none() && dname.is_none() {
        return None;
    }
    let dname = dname.unwrap_or(own);
    Some(match dgroup {
        Some(g) => format!("--{g}-{prefix}{dname}"),
        None => format!("--{prefix}{dname}"),
    })
}

impl ConfigOpts {
    fn layout(&self) -> Result<Layout, ConfigError> {
        let mut top = vec![
            Action {
                flags: vec!["--config-dir".into()],
                target: Target::ConfigDir,
                metavar: Some("DIR".into()),
                help: Some(
                    "Directory whose *.conf files are read, in sorted order, at this point of the command line; \
                     later options and files override them. Command line only."
                        .into(),
                ),
            },
            Action {
                flags: vec!["--config-file".into()],
                target: Target::ConfigFile,
                metavar: Some("PATH".into()),
                help: Some(
                    "Config file to read; may be repeated, later files win. Without it the default \
                     locations are searched. Command line only."
                        .into(),
                ),
            },
        ];
        if !self.version.is_empty() {
            top.push(Action {
                flags: vec!["--version".into()],
                target: Target::Version,
                metavar: None,
                help: Some("Print the program's version and exit.".into()),
            });
        }
        let mut table: HashMap<String, Target> = HashMap::new();
        let mut names: HashMap<Target, String> = HashMap::new();
        let mut sections = Vec::new();
        let mut hidden: Vec<(String, Target)> = Vec::new();
        let mut group_sections: Vec<(String, Option<String>, Vec<Action>)> = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            let prefix = if gi == 0 {
                String::new()
            } else {
                format!("{}-", g.name)
            };
            let mut actions = Vec::new();
            for (oi, info) in g.opts.iter().enumerate() {
                let opt = &info.opt;
                if !opt.is_cli() {
                    continue;
                }
                let is_bool = opt.kind() == OptKind::Bool;
                let main = format!("--{prefix}{}", opt.name());
                let mut flags = vec![main.clone()];
                if let Some(c) = opt.short {
                    flags.push(format!("-{c}"));
                }
                for d in &opt.deprecated {
                    if let Some(f) =
                        deprecated_cli_name(d.group.as_deref(), d.name.as_deref(), opt.name(), "")
                    {
                        flags.push(f);
                    }
                }
                let target = Target::Opt {
                    group: gi,
                    opt: oi,
                    negate: false,
                };
                let dashed = format!("--{prefix}{}", opt.name().replace('_', "-"));
                if dashed != main {
                    hidden.push((dashed, target));
                }
                let metavar = (!is_bool).then(|| {
                    opt.metavar.clone().unwrap_or_else(|| {
                        if gi == 0 {
                            opt.dest().to_uppercase()
                        } else {
                            format!("{}_{}", g.name, opt.dest()).to_uppercase()
                        }
                    })
                });
                let mut help = opt.help.clone();
                if let Some(choices) = &opt.choices {
                    let shown: Vec<String> = choices
                        .iter()
                        .map(|(c, _)| if c.is_empty() { "''".into() } else { c.clone() })
                        .collect();
                    help = Some(format!(
                        "{} Allowed values: {}",
                        help.unwrap_or_default(),
                        shown.join(", ")
                    ));
                }
                actions.push(Action {
                    flags,
                    target,
                    metavar,
                    help,
                });
                if is_bool {
                    let neg_main = format!("--{prefix}no{}", opt.name());
                    let mut neg = vec![neg_main.clone()];
                    for d in &opt.deprecated {
                        if let Some(f) = deprecated_cli_name(
                            d.group.as_deref(),
                            d.name.as_deref(),
                            opt.name(),
                            "no",
                        ) {
                            neg.push(f);
                        }
                    }
                    let target = Target::Opt {
                        group: gi,
                        opt: oi,
                        negate: true,
                    };
                    let neg_dashed = format!("--{prefix}no{}", opt.name().replace('_', "-"));
                    if neg_dashed != neg_main {
                        hidden.push((neg_dashed, target));
                    }
                    actions.push(Action {
                        flags: neg,
                        target,
                        metavar: None,
                        help: Some(format!("The inverse of --{}", opt.name())),
                    });
                }
            }
            if gi == 0 {
                top.extend(actions);
            } else if !actions.is_empty() {
                actions.sort_by(|a, b| a.flags.cmp(&b.flags));
                group_sections.push((format!("{} options", g.name), g.help.clone(), actions));
            }
        }
        top.sort_by(|a, b| a.flags.cmp(&b.flags));
        top.insert(
            0,
            Action {
                flags: vec!["-h".into(), "--help".into()],
                target: Target::Help,
                metavar: None,
                help: Some("Show this help message and exit.".into()),
            },
        );
        sections.push(("options".to_string(), None, top));
        sections.extend(group_sections);
        for (_, _, actions) in &sections {
            for a in actions {
                for f in &a.flags {
                    if table.insert(f.clone(), a.target).is_some() {
                        return Err(ConfigError::DuplicateOpt(f.clone()));
                    }
                }
                names.insert(a.target, a.names());
            }
        }
        for (f, t) in hidden {
            table.entry(f).or_insert(t);
        }
        Ok(Layout {
            sections,
            table,
            names,
        })
    }

    /// argparse's `usage: ...` block (ends with a newline).
    pub fn usage(&self) -> String {
        match self.layout() {
            Ok(l) => self.format_usage(&l),
            Err(_) => format!("usage: {}\n", self.prog),
        }
    }

    fn format_usage(&self, layout: &Layout) -> String {
        let prefix = "usage: ";
        let parts: Vec<String> = layout
            .sections
            .iter()
            .flat_map(|(_, _, acts)| acts.iter().map(Action::usage_part))
            .collect();
        let one_line = format!("{} {}", self.prog, parts.join(" "));
        if prefix.len() + one_line.len() <= WIDTH {
            return format!("{prefix}{one_line}\n");
        }
        let short_prog = (prefix.len() + self.prog.len()) as f64 <= 0.75 * WIDTH as f64;
        let indent = if short_prog {
            " ".repeat(prefix.len() + self.prog.len() + 1)
        } else {
            " ".repeat(prefix.len())
        };
        // Greedy fill, like argparse's get_lines().
        let fill = |items: &[String], first_len: usize| -> Vec<String> {
            let mut lines: Vec<Vec<&str>> = Vec::new();
            let mut line: Vec<&str> = Vec::new();
            let mut len = first_len;
            for p in items {
                if len + 1 + p.len() > WIDTH && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    len = indent.len() - 1;
                }
                line.push(p);
                len += p.len() + 1;
            }
            if !line.is_empty() {
                lines.push(line);
            }
            lines.into_iter().map(|l| l.join(" ")).collect()
        };
        let lines = if short_prog {
            let mut items = vec![self.prog.clone()];
            items.extend(parts);
            fill(&items, prefix.len() - 1)
        } else {
            let mut l = vec![self.prog.clone()];
            l.extend(fill(&parts, indent.len() - 1));
            l
        };
        let mut out = String::from(prefix);
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&indent);
            }
            out.push_str(l);
        }
        out.push('\n');
        out
    }

    /// The `--help` text (argparse layout).
    pub fn help(&self) -> String {
        let layout = match self.layout() {
            Ok(l) => l,
            Err(e) => return e.to_string(),
        };
        let mut out = self.format_usage(&layout);
        let max_inv = layout
            .sections
            .iter()
            .flat_map(|(_, _, a)| a.iter().map(|a| a.invocation().len() + 2))
            .max()
            .unwrap_or(0);
        let help_pos = (max_inv + 2).min(MAX_HELP_POSITION);
        let help_width = WIDTH.saturating_sub(help_pos).max(11);
        let action_width = help_pos.saturating_sub(4);
        for (title, desc, actions) in &layout.sections {
            out.push('\n');
            out.push_str(title);
            out.push_str(":\n");
            if let Some(d) = desc {
                for l in wrap(d, WIDTH - 2) {
                    out.push_str(&format!("  {l}\n"));
                }
                out.push('\n');
            }
            for a in actions {
                let inv = a.invocation();
                let help = a
                    .help
                    .as_deref()
                    .map(|h| expand_help(h, &self.prog))
                    .unwrap_or_default();
                let lines = wrap(&help, help_width);
                if lines.is_empty() {
                    out.push_str(&format!("  {inv}\n"));
                    continue;
                }
                if inv.len() <= action_width {
                    out.push_str(&format!("  {inv:<action_width$}  {}\n", lines[0]));
                } else {
                    out.push_str(&format!("  {inv}\n{}{}\n", " ".repeat(help_pos), lines[0]));
                }
                for l in &lines[1..] {
                    out.push_str(&format!("{}{l}\n", " ".repeat(help_pos)));
                }
            }
        }
        out
    }

    fn usage_error(&self, layout: &Layout, message: String) -> ConfigError {
        ConfigError::Usage {
            usage: self.format_usage(layout),
            prog: self.prog.clone(),
            message,
        }
    }

    /// Parses argv (without the program name), reads config files and
    /// dirs, checks command-line values and required options.
    pub fn parse_args(&mut self, args: &[String]) -> Result<Parsed, ConfigError> {
        let files = self.search.find(&self.project, &self.prog, ".conf");
        let dirs = self.search.find(&self.project, &self.prog, ".conf.d");
        self.run_parse(args, files, dirs)
    }

    pub(crate) fn run_parse(
        &mut self,
        args: &[String],
        default_files: Vec<PathBuf>,
        default_dirs: Vec<PathBuf>,
    ) -> Result<Parsed, ConfigError> {
        let layout = self.layout()?;
        let mut st = ParseState {
            args: args.to_vec(),
            default_files: default_files.clone(),
            default_dirs: default_dirs.clone(),
            ..ParseState::default()
        };
        if !args
            .iter()
            .any(|a| a == "--config-file" || a.starts_with("--config-file="))
        {
            for f in &default_files {
                self.load_file(&mut st, &f.to_string_lossy())?;
            }
            st.config_files = default_files.clone();
        }
        if !args
            .iter()
            .any(|a| a == "--config-dir" || a.starts_with("--config-dir="))
        {
            for d in default_dirs.iter().filter(|d| d.exists()) {
                for f in Self::dir_conf_files(d) {
                    self.load_file(&mut st, &f)?;
                }
            }
        }
        let mut unknown: Vec<String> = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].as_str();
            i += 1;
            if arg == "--" {
                unknown.extend(args[i..].iter().cloned());
                break;
            }
            let Some((target, inline)) = self.match_flag(&layout, arg)? else {
                unknown.push(arg.to_string());
                continue;
            };
            let names = layout.names.get(&target).cloned().unwrap_or_default();
            let value = if target.takes_value(self) {
                match inline {
                    Some(v) => v,
                    None if i < args.len() && !looks_like_option(&args[i], &layout) => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => {
                        return Err(self.usage_error(
                            &layout,
                            format!("argument {names}: expected one argument"),
                        ));
                    }
                }
            } else {
                if let Some(v) = inline {
                    return Err(self.usage_error(
                        &layout,
                        format!(
                            "argument {names}: ignored explicit argument {}",
                            py_repr(&v)
                        ),
                    ));
                }
                String::new()
            };
            match target {
                Target::Help => return Ok(Parsed::Help(self.help())),
                Target::Version => return Ok(Parsed::Version(self.version.clone())),
                Target::ConfigFile => {
                    st.config_files.push(PathBuf::from(&value));
                    self.load_file(&mut st, &value)?;
                }
                Target::ConfigDir => {
                    st.config_dirs.push(PathBuf::from(&value));
                    let dir = self.search.expand_user(&value);
                    if !dir.exists() {
                        return Err(ConfigError::ConfigDirNotFound(
                            dir.to_string_lossy().into_owned(),
                        ));
                    }
                    for f in Self::dir_conf_files(Path::new(&dir)) {
                        self.load_file(&mut st, &f)?;
                    }
                }
                Target::Opt { group, opt, negate } => {
                    let v = if self.groups[group].opts[opt].opt.kind() == OptKind::Bool {
                        (if negate { "false" } else { "true" }).to_string()
                    } else {
                        value
                    };
                    ConfigOpts::push_cli(&mut st, group, opt, v);
                }
            }
        }
        if !unknown.is_empty() {
            return Err(self.usage_error(
                &layout,
                format!("unrecognized arguments: {}", unknown.join(" ")),
            ));
        }
        st.parsed = true;
        let missing = std::mem::take(&mut st.missing);
        let denied = std::mem::take(&mut st.denied);
        self.state = st;
        self.validate_cli_values()?;
        if !missing.is_empty() {
            return Err(ConfigError::FilesNotFound(missing));
        }
        if !denied.is_empty() {
            return Err(ConfigError::FilesPermissionDenied(denied));
        }
        self.check_required()?;
        Ok(Parsed::Ready)
    }

    /// Resolves one argv word to an action: exact flag, `--flag=value`,
    /// a unique `--prefix` abbreviation, or `-xVALUE`.
    fn match_flag(
        &self,
        layout: &Layout,
        arg: &str,
    ) -> Result<Option<(Target, Option<String>)>, ConfigError> {
        if let Some(t) = layout.table.get(arg) {
            return Ok(Some((*t, None)));
        }
        if arg.starts_with("--") && arg.len() > 2 {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f, Some(v.to_string())),
                None => (arg, None),
            };
            if let Some(t) = layout.table.get(flag) {
                return Ok(Some((*t, inline)));
            }
            let mut matches: Vec<&String> = layout
                .table
                .keys()
                .filter(|k| k.starts_with(flag))
                .collect();
            matches.sort();
            let targets: std::collections::HashSet<Target> =
                matches.iter().map(|k| layout.table[*k]).collect();
            return match targets.len() {
                0 => Ok(None),
                1 => Ok(Some((layout.table[matches[0]], inline))),
                _ => {
                    let shown: Vec<&str> = matches.iter().map(|s| s.as_str()).collect();
                    Err(self.usage_error(
                        layout,
                        format!("ambiguous option: {flag} could match {}", shown.join(", ")),
                    ))
                }
            };
        }
        if arg.starts_with('-') && !is_negative_number(arg) {
            let mut chars = arg.chars();
            chars.next();
            let Some(c) = chars.next() else {
                return Ok(None);
            };
            let rest = chars.as_str();
            if let Some(t) = layout.table.get(&format!("-{c}")) {
                let v = rest.strip_prefix('=').unwrap_or(rest);
                return Ok(Some((*t, (!rest.is_empty()).then(|| v.to_string()))));
            }
        }
        Ok(None)
    }

    /// Registered group names, `DEFAULT` first.
    pub fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.name.clone()).collect()
    }
}

fn is_negative_number(s: &str) -> bool {
    let Some(body) = s.strip_prefix('-') else {
        return false;
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int_ok = int.chars().all(|c| c.is_ascii_digit());
    let frac_ok = frac.chars().all(|c| c.is_ascii_digit());
    (!int.is_empty()
        && int_ok
        && (body.contains('.') && !frac.is_empty() && frac_ok || !body.contains('.')))
        || (int.is_empty() && !frac.is_empty() && frac_ok)
}

/// argparse's classification of the word after a value-taking flag.
fn looks_like_option(s: &str, layout: &Layout) -> bool {
    if !s.starts_with('-') || s == "-" {
        return false;
    }
    if layout.table.contains_key(s) {
        return true;
    }
    !(is_negative_number(s) || s.contains(' '))
}

/// argparse expands `%(default)s`-style references in help strings; the
/// default for these actions is always None.
fn expand_help(h: &str, prog: &str) -> String {
    h.replace("%(default)s", "None")
        .replace("%(prog)s", prog)
        .replace("%%", "%")
}

/// Whitespace-collapsing greedy wrap (textwrap-like; breaks long words).
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        loop {
            let sep = usize::from(!line.is_empty());
            if line.chars().count() + sep + word.chars().count() <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            let split: String = word.chars().take(width).collect();
            let rest: String = word.chars().skip(width).collect();
            lines.push(split);
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_numbers() {
        assert!(is_negative_number("-1"));
        assert!(is_negative_number("-1.5"));
        assert!(is_negative_number("-.5"));
        assert!(!is_negative_number("-x"));
        assert!(!is_negative_number("--1"));
        assert!(!is_negative_number("-"));
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap("a b  c", 3), ["a b", "c"]);
        assert_eq!(wrap("abcdef", 4), ["abcd", "ef"]);
        assert!(wrap("", 10).is_empty());
    }
}
