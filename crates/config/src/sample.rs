//! oslo-config-generator-style sample file of the registered options.

use crate::cli::wrap;
use crate::conf::ConfigOpts;
use crate::opt::{Opt, OptKind};
use crate::pyfmt::py_g;

/// Glance's generator configs wrap at 80 columns.
const WRAP: usize = 80;

fn comment(text: &str, out: &mut String) {
    for para in text.lines() {
        let lines = wrap(para, WRAP - 2);
        if lines.is_empty() {
            out.push_str("#\n");
        }
        for l in lines {
            out.push_str("# ");
            out.push_str(&l);
            out.push('\n');
        }
    }
}

fn bound(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        py_g(x)
    }
}

fn format_default(opt: &Opt) -> Vec<String> {
    let shown = opt.sample_default.as_ref().or(opt.default.as_ref());
    let Some(d) = shown else {
        return vec![if opt.is_multi() {
            String::new()
        } else {
            "<None>".into()
        }];
    };
    let d = if opt.kind() == OptKind::Bool {
        d.to_lowercase()
    } else {
        d.clone()
    };
    let d = if d.trim() != d { format!("\"{d}\"") } else { d };
    vec![d]
}

fn format_opt(group: &str, opt: &Opt, out: &mut String) {
    let prefix = if opt.deprecated_for_removal {
        "DEPRECATED: "
    } else {
        ""
    };
    match &opt.help {
        Some(h) => comment(&format!("{prefix}{h} ({})", opt.type_name()), out),
        None => comment(&format!("{prefix}({})", opt.type_name()), out),
    }
    if let Some(m) = opt.min {
        out.push_str(&format!("# Minimum value: {}\n", bound(m)));
    }
    if let Some(m) = opt.max {
        out.push_str(&format!("# Maximum value: {}\n", bound(m)));
    }
    if let Some(choices) = &opt.choices {
        out.push_str("# Possible values:\n");
        for (c, d) in choices {
            let c = if c.is_empty() { "''" } else { c.as_str() };
            comment(
                &format!(
                    "{c} - {}",
                    d.as_deref().unwrap_or("<No description provided>")
                ),
                out,
            );
        }
    }
    if opt.mutable {
        out.push_str("# Note: This option can be changed without restarting.\n");
    }
    for d in &opt.deprecated {
        if let Some(n) = d.name.as_deref().filter(|n| !n.contains('-')) {
            out.push_str(&format!(
                "# Deprecated group/name - [{}]/{n}\n",
                d.group.as_deref().unwrap_or(group)
            ));
        }
    }
    if opt.deprecated_for_removal {
        match &opt.deprecated_since {
            Some(s) => out.push_str(&format!(
                "# This option is deprecated for removal since {s}.\n"
            )),
            None => out.push_str("# This option is deprecated for removal.\n"),
        }
        out.push_str("# Its value may be silently ignored in the future.\n");
        if let Some(r) = &opt.deprecated_reason {
            comment(&format!("Reason: {r}"), out);
        }
    }
    if opt.sample_default.is_some() {
        out.push_str("# (The value shown is an example; the built-in default may differ.)\n");
    }
    for d in format_default(opt) {
        if d.is_empty() {
            out.push_str(&format!("#{} =\n", opt.dest()));
        } else {
            out.push_str(&format!(
                "#{} = {}\n",
                opt.dest(),
                d.replace('\n', "\n#    ")
            ));
        }
    }
}

impl ConfigOpts {
    /// A commented sample config file listing every registered option.
    pub fn sample(&self) -> String {
        let mut out = String::new();
        for g in &self.groups {
            if g.opts.is_empty() && g.name != "DEFAULT" {
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("[{}]\n", g.name));
            if let Some(h) = &g.help {
                comment(h, &mut out);
            }
            for o in &g.opts {
                out.push('\n');
                format_opt(&g.name, &o.opt, &mut out);
            }
        }
        out
    }
}
