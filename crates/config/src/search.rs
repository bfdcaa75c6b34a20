//! Where default config files live, and path normalisation.

use std::path::{Component, Path, PathBuf};

/// Roots of the default config-file search (`~/.<project>/`, `~/`,
/// `/etc/<project>/`, `/etc/`, `$SNAP_COMMON/etc/<project>`,
/// `$SNAP/etc/<project>`). Injectable so tests never touch the real home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPaths {
    pub home: Option<PathBuf>,
    /// Normally `/etc`.
    pub etc: PathBuf,
    pub snap_common: Option<PathBuf>,
    pub snap: Option<PathBuf>,
}

impl Default for SearchPaths {
    fn default() -> Self {
        SearchPaths::from_env()
    }
}

impl SearchPaths {
    /// Reads `HOME`, `SNAP_COMMON` and `SNAP` from the process environment.
    pub fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        SearchPaths {
            home: var("HOME"),
            etc: PathBuf::from("/etc"),
            snap_common: var("SNAP_COMMON"),
            snap: var("SNAP"),
        }
    }

    /// Search roots under a fake home and etc — for tests.
    pub fn rooted(home: impl Into<PathBuf>, etc: impl Into<PathBuf>) -> Self {
        SearchPaths {
            home: Some(home.into()),
            etc: etc.into(),
            snap_common: None,
            snap: None,
        }
    }

    /// The candidate directories, in search order.
    pub fn dirs(&self, project: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let project = (!project.is_empty()).then_some(project);
        if let Some(home) = &self.home {
            if let Some(p) = project {
                out.push(home.join(format!(".{p}")));
            }
            out.push(home.clone());
        }
        if let Some(p) = project {
            out.push(self.etc.join(p));
        }
        out.push(self.etc.clone());
        if let Some(p) = project {
            if let Some(sc) = &self.snap_common {
                out.push(sc.join("etc").join(p));
            }
            if let Some(s) = &self.snap {
                out.push(s.join("etc").join(p));
            }
        }
        out
    }

    /// For `<project><ext>` then `<prog><ext>`: the first existing candidate.
    pub(crate) fn find(&self, project: &str, prog: &str, ext: &str) -> Vec<PathBuf> {
        let dirs = self.dirs(project);
        [project, prog]
            .iter()
            .filter(|n| !n.is_empty())
            .filter_map(|n| {
                dirs.iter()
                    .map(|d| d.join(format!("{n}{ext}")))
                    .find(|p| p.exists())
            })
            .collect()
    }

    /// `~` expansion with the injected home.
    pub(crate) fn expand_user(&self, p: &str) -> PathBuf {
        if let Some(home) = &self.home {
            if p == "~" {
                return home.clone();
            }
            if let Some(rest) = p.strip_prefix("~/") {
                return home.join(rest);
            }
        }
        PathBuf::from(p)
    }

    /// Python's `abspath(expanduser(p))`: absolute and lexically normalised.
    pub(crate) fn fixpath(&self, p: &str) -> PathBuf {
        let p = self.expand_user(p);
        let abs = if p.is_absolute() {
            p
        } else {
            std::env::current_dir().map(|c| c.join(&p)).unwrap_or(p)
        };
        normalize(&abs)
    }
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirs_in_oslo_order() {
        let mut sp = SearchPaths::rooted("/h", "/e");
        sp.snap_common = Some("/sc".into());
        sp.snap = Some("/s".into());
        let d: Vec<String> = sp
            .dirs("glance")
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            d,
            [
                "/h/.glance",
                "/h",
                "/e/glance",
                "/e",
                "/sc/etc/glance",
                "/s/etc/glance"
            ]
        );
    }

    #[test]
    fn fixpath_normalises() {
        let sp = SearchPaths::rooted("/h", "/e");
        assert_eq!(
            sp.fixpath("~/a/../b/./c.conf"),
            PathBuf::from("/h/b/c.conf")
        );
        assert_eq!(sp.fixpath("/x/y/../z"), PathBuf::from("/x/z"));
        assert!(sp.fixpath("rel.conf").is_absolute());
    }
}
