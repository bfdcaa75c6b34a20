//! oslo.log-compatible logging.
//!
//! Lines look like oslo.log's default context-less format, so operators'
//! log tooling keeps working:
//! `2026-11-21 14:10:01.642 12667 INFO glance.common.wsgi [-] Starting 2 workers`.
//! The logger never spawns threads (the launcher forks after installing it)
//! and writes each line with one `write` call, so lines from several worker
//! processes sharing an `O_APPEND` file never interleave.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Where log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
    File(PathBuf),
}

/// Logging settings, as read from the oslo.log options.
#[derive(Clone, Debug)]
pub struct LogSettings {
    pub debug: bool,
    pub output: Output,
}

impl LogSettings {
    /// oslo.log's rules: `log_dir` + `log_file` → dir/file; `log_dir` alone →
    /// dir/<binary>.log; `log_file` alone → that file; otherwise stderr if
    /// `use_stderr`, else stdout.
    pub fn from_options(
        debug: bool,
        log_file: Option<&str>,
        log_dir: Option<&str>,
        use_stderr: bool,
        binary: &str,
    ) -> Self {
        let output = match (log_dir, log_file) {
            (Some(dir), Some(file)) => Output::File(Path::new(dir).join(file)),
            (Some(dir), None) => Output::File(Path::new(dir).join(format!("{binary}.log"))),
            (None, Some(file)) => Output::File(PathBuf::from(file)),
            (None, None) if use_stderr => Output::Stderr,
            (None, None) => Output::Stdout,
        };
        LogSettings { debug, output }
    }
}

enum Sink {
    Stdout,
    Stderr,
    File(File),
}

struct Logger {
    level: Mutex<LevelFilter>,
    sink: Mutex<Sink>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();
/// The pid printed in each line; refreshed by [`after_fork`] because a forked
/// worker keeps its parent's cached value otherwise.
static PID: AtomicU32 = AtomicU32::new(0);

fn open_sink(output: &Output) -> io::Result<Sink> {
    Ok(match output {
        Output::Stdout => Sink::Stdout,
        Output::Stderr => Sink::Stderr,
        Output::File(p) => Sink::File(OpenOptions::new().create(true).append(true).open(p)?),
    })
}

/// Install (or reconfigure, on reload) the process logger.
pub fn init(settings: &LogSettings) -> io::Result<()> {
    let sink = open_sink(&settings.output).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot open log file {:?}: {e}", settings.output),
        )
    })?;
    let level = if settings.debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    PID.store(std::process::id(), Ordering::Relaxed);
    let logger = LOGGER.get_or_init(|| Logger {
        level: Mutex::new(level),
        sink: Mutex::new(Sink::Stderr),
    });
    if let Ok(mut l) = logger.level.lock() {
        *l = level;
    }
    if let Ok(mut s) = logger.sink.lock() {
        *s = sink;
    }
    // set_logger fails only if already set, which is the reload case.
    let _ = log::set_logger(logger);
    log::set_max_level(level);
    Ok(())
}

/// Call in a freshly forked child so lines carry its own pid.
pub fn after_fork() {
    PID.store(std::process::id(), Ordering::Relaxed);
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        let max = self.level.lock().map(|l| *l).unwrap_or(LevelFilter::Info);
        metadata.level() <= max
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(
            SystemTime::now(),
            PID.load(Ordering::Relaxed),
            record.level(),
            record.target(),
            &record.args().to_string(),
        );
        if let Ok(mut sink) = self.sink.lock() {
            let _ = match &mut *sink {
                Sink::Stdout => io::stdout().lock().write_all(line.as_bytes()),
                Sink::Stderr => io::stderr().lock().write_all(line.as_bytes()),
                Sink::File(f) => f.write_all(line.as_bytes()),
            };
        }
    }

    fn flush(&self) {}
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

/// Map a Rust module path to a dotted logger name like Python's.
fn logger_name(target: &str) -> String {
    target.replace("::", ".")
}

/// One oslo.log line (context-less form), ending in a newline. Multi-line
/// messages get the prefix on every line, as oslo.log does for tracebacks.
pub fn format_line(now: SystemTime, pid: u32, level: Level, target: &str, msg: &str) -> String {
    let prefix = format!(
        "{} {} {} {} [-] ",
        format_timestamp(now),
        pid,
        level_name(level),
        logger_name(target)
    );
    let mut out = String::with_capacity(prefix.len() + msg.len() + 1);
    for line in msg.split('\n') {
        out.push_str(&prefix);
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
pub fn format_timestamp(now: SystemTime) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
        d.subsec_millis()
    )
}

pub use glimpse_http::server::civil_from_days;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamp_format() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_270_201_642);
        assert_eq!(format_timestamp(t), "2026-11-21 14:10:01.642");
        assert_eq!(format_timestamp(UNIX_EPOCH), "1970-01-01 00:00:00.000");
    }

    #[test]
    fn leap_days() {
        // 2024-02-29 is day 19782.
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
    }

    #[test]
    fn line_format_matches_oslo() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_270_201_642);
        let l = format_line(
            t,
            12667,
            Level::Info,
            "glance::common::wsgi",
            "Starting 2 workers",
        );
        assert_eq!(
            l,
            "2026-11-21 14:10:01.642 12667 INFO glance.common.wsgi [-] Starting 2 workers\n"
        );
        let l = format_line(t, 1, Level::Warn, "x", "a\nb");
        assert_eq!(l.lines().count(), 2);
        assert!(l.lines().all(|x| x.contains(" WARNING x [-] ")));
    }

    #[test]
    fn output_rules() {
        let s = LogSettings::from_options(
            false,
            Some("a.log"),
            Some("/var/log/g"),
            false,
            "glance-api",
        );
        assert_eq!(s.output, Output::File(PathBuf::from("/var/log/g/a.log")));
        let s = LogSettings::from_options(false, None, Some("/d"), false, "glance-api");
        assert_eq!(s.output, Output::File(PathBuf::from("/d/glance-api.log")));
        let s = LogSettings::from_options(false, None, None, true, "glance-api");
        assert_eq!(s.output, Output::Stderr);
        let s = LogSettings::from_options(false, None, None, false, "glance-api");
        assert_eq!(s.output, Output::Stdout);
    }
}
