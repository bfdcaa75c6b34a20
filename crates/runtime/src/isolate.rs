//! [`run_isolated`]: run start-up work in a throwaway child process.
//!
//! The master forks every worker, so it must stay single-threaded and free
//! of process-wide state that children would share. Some start-up work
//! cannot promise that: a tokio runtime with I/O enabled creates tokio's
//! process-wide signal pipe, which every later-forked worker would then
//! share (one worker's SIGTERM wakes another), and database drivers start
//! threads. Such work runs here, in a forked child that exits when done;
//! only its text result comes back.

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;

use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork, pipe};

/// Runs `f` in a forked child and returns its result. The caller must be
/// single-threaded (as the master is). An `Err` of the outer result means
/// the child could not run or died without answering.
pub fn run_isolated<F>(f: F) -> io::Result<Result<String, String>>
where
    F: FnOnce() -> Result<String, String>,
{
    let (read, write): (OwnedFd, OwnedFd) = pipe().map_err(io::Error::from)?;
    // SAFETY: the caller is single-threaded, so the child may run arbitrary
    // code after fork.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Child => {
            drop(read);
            crate::logging::after_fork();
            let result = f();
            let (tag, text) = match &result {
                Ok(t) => (b'O', t),
                Err(t) => (b'E', t),
            };
            let mut out = std::fs::File::from(write);
            let ok = out
                .write_all(&[tag])
                .and_then(|_| out.write_all(text.as_bytes()))
                .is_ok();
            std::process::exit(if ok { 0 } else { 1 });
        }
        ForkResult::Parent { child } => {
            drop(write);
            let mut buf = Vec::new();
            let read_result = std::fs::File::from(read).read_to_end(&mut buf);
            let status = waitpid(child, None).map_err(io::Error::from)?;
            read_result?;
            let text = String::from_utf8_lossy(buf.get(1..).unwrap_or(&[])).into_owned();
            match (buf.first(), status) {
                (Some(b'O'), _) => Ok(Ok(text)),
                (Some(b'E'), _) => Ok(Err(text)),
                (_, s) => Err(io::Error::other(format!(
                    "the isolated start-up task ended without a result ({s:?})"
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_and_state_stays_in_the_child() {
        static TOUCHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let r = run_isolated(|| {
            TOUCHED.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok("fine".into())
        });
        assert_eq!(r.ok(), Some(Ok("fine".to_string())));
        assert!(!TOUCHED.load(std::sync::atomic::Ordering::SeqCst));
        let r = run_isolated(|| Err("bad".into()));
        assert_eq!(r.ok(), Some(Err("bad".to_string())));
        let r = run_isolated(|| std::process::exit(3));
        assert!(r.is_err());
    }
}
