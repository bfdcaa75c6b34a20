//! Errors, their oslo texts and the process exit codes Glance uses.

use std::fmt;

use crate::ini::IniError;
use crate::pyfmt::py_repr;

/// Where a value came from; renders as oslo's `LocationInfo(...)` repr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    OptDefault,
    SetDefault,
    SetOverride,
    /// A config file (absolute path).
    User(String),
    CommandLine,
    /// An `OS_<GROUP>__<OPT>` environment variable (its name).
    Environment(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (loc, detail) = match self {
            Location::OptDefault => ("<Locations.opt_default: (1, False)>", "None".to_string()),
            Location::SetDefault => ("<Locations.set_default: (2, False)>", "None".to_string()),
            Location::SetOverride => ("<Locations.set_override: (3, False)>", "None".to_string()),
            Location::User(p) => ("<Locations.user: (4, True)>", py_repr(p)),
            Location::CommandLine => ("<Locations.command_line: (5, True)>", py_repr("")),
            Location::Environment(v) => ("<Locations.environment: (6, True)>", py_repr(v)),
        };
        write!(f, "LocationInfo(location={loc}, detail={detail})")
    }
}

/// Everything that can go wrong; `Display` is the text to print and
/// [`ConfigError::exit_code`] the status Glance exits with.
///
/// `Usage` and `CliValue` are printed verbatim on stderr (as argparse
/// would); the others are conventionally prefixed with `ERROR: `.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// argparse-style failure: usage text plus `<prog>: error: <message>`.
    Usage {
        usage: String,
        prog: String,
        message: String,
    },
    /// Invalid value for a command-line option (from argv or a file).
    CliValue(String),
    FilesNotFound(Vec<String>),
    FilesPermissionDenied(Vec<String>),
    ConfigDirNotFound(String),
    Parse(IniError),
    /// A file that could not be read for another reason.
    Io {
        file: String,
        msg: String,
    },
    /// A value that failed type validation.
    Value {
        opt: String,
        location: Location,
        msg: String,
    },
    /// A default (from code) that failed type validation.
    DefaultValue {
        opt: String,
        msg: String,
    },
    Required {
        opt: String,
        group: String,
    },
    NoSuchOpt {
        opt: String,
        group: String,
    },
    NoSuchGroup(String),
    DuplicateOpt(String),
    /// A schema problem found at registration time.
    InvalidOpt {
        opt: String,
        msg: String,
    },
    TemplateSubstitution(String),
    ArgsAlreadyParsed(String),
    /// A typed getter was used on an option of a different type.
    WrongType {
        opt: String,
        group: String,
        wanted: &'static str,
    },
}

impl ConfigError {
    /// Exit status: 2 usage, 1 bad command-line option value, 5 bad value
    /// (Glance's `ConfigFileValueError` slot), 99 anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::Usage { .. } => 2,
            ConfigError::CliValue(_) => 1,
            ConfigError::Value { .. } | ConfigError::DefaultValue { .. } => 5,
            _ => 99,
        }
    }

    /// True for the two kinds argparse prints without an `ERROR: ` prefix.
    pub fn is_argparse_style(&self) -> bool {
        matches!(self, ConfigError::Usage { .. } | ConfigError::CliValue(_))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Usage {
                usage,
                prog,
                message,
            } => write!(f, "{usage}{prog}: error: {message}"),
            ConfigError::CliValue(m) => f.write_str(m),
            ConfigError::FilesNotFound(v) => {
                write!(f, "Failed to find some config files: {}", v.join(","))
            }
            ConfigError::FilesPermissionDenied(v) => {
                write!(f, "Failed to open some config files: {}", v.join(","))
            }
            ConfigError::ConfigDirNotFound(d) => {
                write!(f, "Failed to read config file directory: {d}")
            }
            ConfigError::Parse(e) => write!(f, "{e}"),
            ConfigError::Io { file, msg } => write!(f, "Failed to parse {file}: {msg}"),
            ConfigError::Value { opt, location, msg } => {
                write!(
                    f,
                    "Value for option {opt} from {location} is not valid: {msg}"
                )
            }
            ConfigError::DefaultValue { opt, msg } => {
                write!(f, "Default value for option {opt} is not valid: {msg}")
            }
            ConfigError::Required { opt, group } => {
                write!(f, "value required for option {opt} in group [{group}]")
            }
            ConfigError::NoSuchOpt { opt, group } => {
                write!(f, "no such option {opt} in group [{group}]")
            }
            ConfigError::NoSuchGroup(g) => write!(f, "no such group [{g}]"),
            ConfigError::DuplicateOpt(o) => write!(f, "duplicate option: {o}"),
            ConfigError::InvalidOpt { opt, msg } => write!(f, "invalid option {opt}: {msg}"),
            ConfigError::TemplateSubstitution(m) => write!(f, "template substitution error: {m}"),
            ConfigError::ArgsAlreadyParsed(m) => write!(f, "arguments already parsed: {m}"),
            ConfigError::WrongType { opt, group, wanted } => {
                write!(
                    f,
                    "option {opt} in group [{group}] is not a {wanted} option"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<IniError> for ConfigError {
    fn from(e: IniError) -> Self {
        ConfigError::Parse(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_reprs() {
        assert_eq!(
            Location::User("/p/f.conf".into()).to_string(),
            "LocationInfo(location=<Locations.user: (4, True)>, detail='/p/f.conf')"
        );
        assert_eq!(
            Location::Environment("OS_DEFAULT__WORKERS".into()).to_string(),
            "LocationInfo(location=<Locations.environment: (6, True)>, detail='OS_DEFAULT__WORKERS')"
        );
        assert_eq!(
            Location::CommandLine.to_string(),
            "LocationInfo(location=<Locations.command_line: (5, True)>, detail='')"
        );
        assert_eq!(
            Location::OptDefault.to_string(),
            "LocationInfo(location=<Locations.opt_default: (1, False)>, detail=None)"
        );
    }

    #[test]
    fn exit_codes() {
        let v = ConfigError::Value {
            opt: "w".into(),
            location: Location::CommandLine,
            msg: "m".into(),
        };
        assert_eq!(v.exit_code(), 5);
        assert_eq!(ConfigError::CliValue("x".into()).exit_code(), 1);
        assert_eq!(ConfigError::FilesNotFound(vec![]).exit_code(), 99);
        assert_eq!(
            ConfigError::Required {
                opt: "r".into(),
                group: "DEFAULT".into()
            }
            .exit_code(),
            99
        );
        let u = ConfigError::Usage {
            usage: "usage: p\n".into(),
            prog: "p".into(),
            message: "m".into(),
        };
        assert_eq!(u.exit_code(), 2);
        assert_eq!(u.to_string(), "usage: p\np: error: m");
    }
}
