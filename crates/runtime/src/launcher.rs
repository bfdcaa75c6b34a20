//! The process launcher: one master, N workers per service.
//!
//! The master binds every listening socket, then forks workers that inherit
//! them and accept on them; the kernel spreads connections over the workers
//! and a queued connection survives a worker's death. The master never starts
//! an async runtime (tokio does not support forking a process that used it),
//! stays single-threaded, and waits for signals on a `signalfd`.
//!
//! Differences from Glance's own launcher, on purpose (see
//! `docs/operations.md`): workers are always respawned (with a back-off when
//! they die young, so a crash loop never becomes a fork storm); SIGTERM drains
//! in-flight requests instead of dropping them; SIGHUP re-reads the config and
//! paste files and, only if they are valid, starts a new generation of
//! workers before draining the old one; workers notice a dead master through
//! a pipe and exit within a second.

use std::collections::HashMap;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glimpse_http::BoxFuture;
use glimpse_http::socket::{BindOptions, bind};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, kill, signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getppid};
use tokio::sync::watch;

const LOG: &str = "glimpse.launcher";

/// A worker's body: an async function run on a fresh tokio runtime in the
/// worker process. It must return (an exit code) soon after
/// `ctx.shutdown` turns true, having finished its in-flight work.
pub type WorkerFn = Arc<dyn Fn(WorkerContext) -> BoxFuture<i32> + Send + Sync>;

/// What the launcher hands a worker.
pub struct WorkerContext {
    pub service: String,
    /// 0-based worker index within its service.
    pub index: usize,
    /// The service's listening socket, if it has one.
    pub listener: Option<TcpListener>,
    /// Becomes `true` when the worker must stop accepting and drain.
    pub shutdown: watch::Receiver<bool>,
}

/// One service run by the launcher (nova's enabled_apis pattern: several
/// services, each with its own socket or none and its own worker count).
#[derive(Clone)]
pub struct ServiceSpec {
    pub name: String,
    /// Number of worker processes; 0 runs the service in the master process
    /// (only when every service asks for 0).
    pub workers: usize,
    pub bind: Option<BindOptions>,
    pub worker: WorkerFn,
}

/// Launcher-wide settings.
#[derive(Clone, Debug)]
pub struct LauncherSettings {
    /// How long SIGTERM (or a reload) waits for in-flight requests; None waits forever.
    pub graceful_shutdown_timeout: Option<Duration>,
    /// tokio worker threads per worker process.
    pub worker_threads: usize,
}

impl Default for LauncherSettings {
    fn default() -> Self {
        LauncherSettings {
            graceful_shutdown_timeout: Some(Duration::from_secs(60)),
            worker_threads: 2,
        }
    }
}

/// A complete set of services plus settings: what start-up and each
/// successful SIGHUP produce.
#[derive(Clone)]
pub struct Generation {
    pub settings: LauncherSettings,
    pub services: Vec<ServiceSpec>,
}

/// Re-reads configuration on SIGHUP. An error keeps the running generation.
pub type Reloader = Box<dyn FnMut() -> Result<Generation, String>>;

/// Errors that stop the launcher from starting.
#[derive(Debug)]
pub enum LaunchError {
    Bind(String),
    Os(String),
}

impl LaunchError {
    /// Glance's exit codes: a bind failure is a RuntimeError (1).
    pub fn exit_code(&self) -> i32 {
        1
    }
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchError::Bind(m) | LaunchError::Os(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for LaunchError {}

/// A dying-young worker is respawned after this back-off, doubling up to the cap.
const MIN_HEALTHY_LIFETIME: Duration = Duration::from_secs(2);
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// How long workers may take to drain once the master has died.
const ORPHAN_DRAIN: Duration = Duration::from_millis(800);

struct Slot {
    pid: Option<Pid>,
    started: Instant,
    /// Consecutive early deaths.
    failures: u32,
    respawn_at: Option<Instant>,
}

struct RunningService {
    spec: ServiceSpec,
    listener: Option<Arc<TcpListener>>,
    slots: Vec<Slot>,
}

struct Gen {
    id: u64,
    settings: LauncherSettings,
    services: Vec<RunningService>,
}

/// A worker that was told to stop (old generation or shutdown).
struct Draining {
    deadline: Option<Instant>,
}

struct Master {
    current: Gen,
    /// Children of older generations, draining.
    draining: HashMap<Pid, Draining>,
    /// Listeners by (host, port), shared across generations when unchanged.
    listeners: HashMap<(String, u16), Arc<TcpListener>>,
    death_pipe_read: OwnedFd,
    /// Held only by the master; `None` in children.
    death_pipe_write: Option<OwnedFd>,
    sfd: SignalFd,
    next_gen: u64,
}

/// Run the services until SIGTERM/SIGINT. Returns the process exit code.
pub fn run(initial: Generation, reloader: Reloader) -> Result<i32, LaunchError> {
    let all_inline = initial.services.iter().all(|s| s.workers == 0);
    if all_inline {
        return run_inline(initial);
    }
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        mask.add(s);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
        .map_err(|e| LaunchError::Os(format!("cannot block signals: {e}")))?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| LaunchError::Os(format!("cannot create signalfd: {e}")))?;
    let (death_pipe_read, death_pipe_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| LaunchError::Os(format!("cannot create pipe: {e}")))?;
    let mut listeners = HashMap::new();
    let current = build_gen(0, initial, &mut listeners, None)?;
    let mut master = Master {
        current,
        draining: HashMap::new(),
        listeners,
        death_pipe_read,
        death_pipe_write: Some(death_pipe_write),
        sfd,
        next_gen: 1,
    };
    master.spawn_missing();
    sd_notify("READY=1");
    Ok(master.event_loop(reloader))
}

/// Bind (or reuse) each service's socket and lay out its worker slots.
fn build_gen(
    id: u64,
    g: Generation,
    listeners: &mut HashMap<(String, u16), Arc<TcpListener>>,
    retry_for: Option<Duration>,
) -> Result<Gen, LaunchError> {
    let mut services = Vec::new();
    for spec in g.services {
        let listener = match &spec.bind {
            None => None,
            Some(b) => {
                let key = (b.host.clone(), b.port);
                match listeners.get(&key) {
                    Some(l) => {
                        // Same address: keep the socket (and its queued
                        // connections); apply changed socket options.
                        if let Err(e) = glimpse_http::socket::relisten(l, b.backlog) {
                            log::warn!(target: LOG, "Cannot apply backlog {} to {}:{}: {e}", b.backlog, b.host, b.port);
                        }
                        if let Err(e) = glimpse_http::socket::set_keepidle(l, b.tcp_keepidle) {
                            log::warn!(target: LOG, "Cannot apply tcp_keepidle to {}:{}: {e}", b.host, b.port);
                        }
                        Some(l.clone())
                    }
                    None => {
                        let mut opts = b.clone();
                        if let Some(r) = retry_for {
                            opts.retry_for = r;
                        }
                        let l =
                            Arc::new(bind(&opts).map_err(|e| LaunchError::Bind(e.to_string()))?);
                        listeners.insert(key, l.clone());
                        Some(l)
                    }
                }
            }
        };
        let slots = (0..spec.workers.max(1))
            .map(|_| Slot {
                pid: None,
                started: Instant::now(),
                failures: 0,
                respawn_at: Some(Instant::now()),
            })
            .collect();
        services.push(RunningService {
            spec,
            listener,
            slots,
        });
    }
    Ok(Gen {
        id,
        settings: g.settings,
        services,
    })
}

impl Master {
    fn event_loop(&mut self, mut reloader: Reloader) -> i32 {
        let mut stopping: Option<Option<Instant>> = None;
        loop {
            if let Some(deadline) = stopping {
                if self.child_count() == 0 {
                    log::info!(target: LOG, "All workers have exited; master exiting");
                    sd_notify("STOPPING=1");
                    return 0;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    log::warn!(target: LOG, "Graceful shutdown timeout exceeded; killing {} workers", self.child_count());
                    self.kill_all(Signal::SIGKILL);
                    stopping = Some(None);
                }
            } else {
                self.spawn_missing();
            }
            self.enforce_drain_deadlines();
            let timeout = self.next_timeout(stopping.flatten());
            let mut fds = [PollFd::new(self.sfd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    log::error!(target: LOG, "poll failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
            while let Ok(Some(info)) = self.sfd.read_signal() {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                    continue;
                };
                match sig {
                    Signal::SIGCHLD => self.reap(stopping.is_some()),
                    Signal::SIGTERM | Signal::SIGINT => {
                        if stopping.is_some() {
                            if sig == Signal::SIGINT {
                                log::warn!(target: LOG, "Second SIGINT: killing workers now");
                                self.kill_all(Signal::SIGKILL);
                            }
                            continue;
                        }
                        log::info!(target: LOG, "Caught {}, stopping children", sig.as_str());
                        sd_notify("STOPPING=1");
                        let timeout = self.current.settings.graceful_shutdown_timeout;
                        stopping = Some(timeout.map(|t| Instant::now() + t));
                        self.kill_all(Signal::SIGTERM);
                    }
                    Signal::SIGHUP if stopping.is_none() => self.reload(&mut reloader),
                    _ => {}
                }
            }
        }
    }

    fn child_count(&self) -> usize {
        self.draining.len() + self.current_pids().count()
    }

    fn current_pids(&self) -> impl Iterator<Item = Pid> + '_ {
        self.current
            .services
            .iter()
            .flat_map(|s| s.slots.iter().filter_map(|sl| sl.pid))
    }

    fn kill_all(&mut self, sig: Signal) {
        let deadline = self
            .current
            .settings
            .graceful_shutdown_timeout
            .map(|t| Instant::now() + t);
        let pids: Vec<Pid> = self.current_pids().collect();
        for pid in pids {
            // Once signalled, current workers are tracked as draining so they
            // are never respawned.
            self.draining.insert(pid, Draining { deadline });
        }
        for s in &mut self.current.services {
            for slot in &mut s.slots {
                slot.pid = None;
                slot.respawn_at = None;
            }
        }
        for pid in self.draining.keys() {
            let _ = kill(*pid, sig);
        }
    }

    fn enforce_drain_deadlines(&mut self) {
        let now = Instant::now();
        for (pid, d) in &mut self.draining {
            if d.deadline.is_some_and(|t| now >= t) {
                log::warn!(target: LOG, "Worker {pid} did not drain in time; killing it");
                let _ = kill(*pid, Signal::SIGKILL);
                d.deadline = None;
            }
        }
    }

    fn next_timeout(&self, stop_deadline: Option<Instant>) -> PollTimeout {
        let now = Instant::now();
        let mut next: Option<Instant> = stop_deadline;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for s in &self.current.services {
            for slot in &s.slots {
                if let Some(t) = slot.respawn_at {
                    consider(t);
                }
            }
        }
        for d in self.draining.values() {
            if let Some(t) = d.deadline {
                consider(t);
            }
        }
        match next {
            None => PollTimeout::NONE,
            Some(t) => {
                let ms = t.saturating_duration_since(now).as_millis().min(60_000) as u16;
                // Round up so we do not spin just before a deadline.
                PollTimeout::from(ms.saturating_add(1))
            }
        }
    }

    /// Fork every worker whose slot is empty and due.
    fn spawn_missing(&mut self) {
        let now = Instant::now();
        for si in 0..self.current.services.len() {
            for wi in 0..self.current.services[si].slots.len() {
                let due = {
                    let slot = &self.current.services[si].slots[wi];
                    slot.pid.is_none() && slot.respawn_at.is_some_and(|t| t <= now)
                };
                if due {
                    match self.fork_worker(si, wi) {
                        Ok(pid) => {
                            let slot = &mut self.current.services[si].slots[wi];
                            slot.pid = Some(pid);
                            slot.started = Instant::now();
                            slot.respawn_at = None;
                        }
                        Err(e) => {
                            log::error!(target: LOG, "Cannot fork a worker: {e}; retrying in 1 s");
                            self.current.services[si].slots[wi].respawn_at =
                                Some(Instant::now() + BACKOFF_START);
                        }
                    }
                }
            }
        }
    }

    fn fork_worker(&mut self, si: usize, wi: usize) -> io::Result<Pid> {
        let master_pid = nix::unistd::getpid();
        // SAFETY: the master is single-threaded (no runtime, no logger
        // threads), so the child may run arbitrary code after fork.
        match unsafe { fork() }.map_err(io::Error::from)? {
            ForkResult::Parent { child } => {
                let s = &self.current.services[si];
                log::info!(target: LOG, "Started child {child} ({} worker {wi}, generation {})", s.spec.name, self.current.id);
                Ok(child)
            }
            ForkResult::Child => {
                crate::logging::after_fork();
                let code = self.child_main(si, wi, master_pid);
                std::process::exit(code);
            }
        }
    }

    /// Runs in the forked child; never returns to the master loop.
    fn child_main(&mut self, si: usize, wi: usize, master_pid: Pid) -> i32 {
        let service = &self.current.services[si];
        let name = service.spec.name.clone();
        let worker = service.spec.worker.clone();
        let settings = self.current.settings.clone();
        // Keep only our own listener: an inherited copy of another (or an
        // abandoned) socket would keep accepting connections nobody serves.
        let listener = service.listener.as_ref().and_then(|l| l.try_clone().ok());
        self.listeners.clear();
        for s in &mut self.current.services {
            s.listener = None;
        }
        let death_read = match self.death_pipe_read.try_clone() {
            Ok(fd) => fd,
            Err(_) => return 1,
        };
        // Closing our copy of the write end lets EOF mean "master died".
        drop(self.death_pipe_write.take());
        let _ = signal_reset_for_child();
        if getppid() != master_pid {
            return 1;
        }
        run_worker(name, wi, listener, worker, settings, Some(death_read))
    }

    fn reap(&mut self, stopping: bool) {
        loop {
            let status = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(s) => s,
            };
            let (pid, how) = match status {
                WaitStatus::Exited(pid, code) => (pid, format!("exited with status {code}")),
                WaitStatus::Signaled(pid, sig, _) => {
                    (pid, format!("killed by signal {}", sig as i32))
                }
                _ => continue,
            };
            if self.draining.remove(&pid).is_some() {
                log::info!(target: LOG, "Child {pid} {how} (drained)");
                continue;
            }
            let mut found = false;
            for s in &mut self.current.services {
                for slot in &mut s.slots {
                    if slot.pid == Some(pid) {
                        found = true;
                        slot.pid = None;
                        if stopping {
                            continue;
                        }
                        let lived = slot.started.elapsed();
                        if lived < MIN_HEALTHY_LIFETIME {
                            slot.failures += 1;
                            // The first early death is respawned at once (it
                            // may be an operator's kill); a second one in a row
                            // starts the back-off.
                            let delay = if slot.failures == 1 {
                                Duration::ZERO
                            } else {
                                BACKOFF_START
                                    .saturating_mul(1u32 << (slot.failures - 2).min(6))
                                    .min(BACKOFF_CAP)
                            };
                            if delay.is_zero() {
                                log::warn!(target: LOG, "Child {pid} ({}) {how} {:.1} s after it started; respawning",
                                    s.spec.name, lived.as_secs_f64());
                            } else {
                                log::warn!(target: LOG,
                                    "Child {pid} ({}) {how} {:.1} s after it started, {} times in a row; respawning in {} s (crash loop back-off)",
                                    s.spec.name, lived.as_secs_f64(), slot.failures, delay.as_secs());
                            }
                            slot.respawn_at = Some(Instant::now() + delay);
                        } else {
                            slot.failures = 0;
                            log::warn!(target: LOG, "Child {pid} ({}) {how}; respawning", s.spec.name);
                            slot.respawn_at = Some(Instant::now());
                        }
                    }
                }
            }
            if !found {
                log::debug!(target: LOG, "Reaped unknown child {pid} {how}");
            }
        }
    }

    fn reload(&mut self, reloader: &mut Reloader) {
        log::info!(target: LOG, "Caught SIGHUP, reloading configuration");
        sd_notify("RELOADING=1");
        let g = match reloader() {
            Ok(g) => g,
            Err(e) => {
                log::error!(target: LOG, "Reload failed; still serving with the previous configuration: {e}");
                sd_notify("READY=1");
                return;
            }
        };
        // A port taken by someone else must not stall the master for 30 s.
        let mut listeners = self.listeners.clone();
        let new = match build_gen(
            self.next_gen,
            g,
            &mut listeners,
            Some(Duration::from_secs(1)),
        ) {
            Ok(g) => g,
            Err(e) => {
                log::error!(target: LOG, "Reload failed; still serving with the previous configuration: {e}");
                sd_notify("READY=1");
                return;
            }
        };
        self.next_gen += 1;
        // Drop sockets no service of the new generation uses: the old
        // workers keep their copies until they have drained.
        let used: Vec<(String, u16)> = new
            .services
            .iter()
            .filter_map(|s| s.spec.bind.as_ref().map(|b| (b.host.clone(), b.port)))
            .collect();
        listeners.retain(|k, _| used.contains(k));
        self.listeners = listeners;
        let old = std::mem::replace(&mut self.current, new);
        let old_id = old.id;
        let deadline = old
            .settings
            .graceful_shutdown_timeout
            .map(|t| Instant::now() + t);
        let old_pids: Vec<Pid> = old
            .services
            .iter()
            .flat_map(|s| s.slots.iter().filter_map(|sl| sl.pid))
            .collect();
        // Release the old generation's sockets before forking, or the new
        // workers would inherit (and keep open) an abandoned address.
        drop(old);
        self.spawn_missing();
        for pid in &old_pids {
            self.draining.insert(*pid, Draining { deadline });
            let _ = kill(*pid, Signal::SIGTERM);
        }
        log::info!(target: LOG, "Started generation {}; draining {} workers of generation {old_id}", self.current.id, old_pids.len());
        sd_notify("READY=1");
    }
}

/// Unblock the signals the master blocked and restore default dispositions.
fn signal_reset_for_child() -> nix::Result<()> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    // SAFETY: setting a disposition to SIG_DFL/SIG_IGN installs no Rust handler.
    unsafe {
        signal(Signal::SIGHUP, SigHandler::SigDfl)?;
        signal(Signal::SIGTERM, SigHandler::SigDfl)?;
        // A terminal's Ctrl-C reaches the whole process group; the master
        // decides, workers ignore it (as Glance's workers do).
        signal(Signal::SIGINT, SigHandler::SigIgn)?;
        signal(Signal::SIGCHLD, SigHandler::SigDfl)?;
    }
    Ok(())
}

fn build_runtime(threads: usize) -> io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// Body of one worker process (or of the master in single-process mode).
fn run_worker(
    name: String,
    index: usize,
    listener: Option<TcpListener>,
    worker: WorkerFn,
    settings: LauncherSettings,
    death_pipe: Option<OwnedFd>,
) -> i32 {
    let rt = match build_runtime(settings.worker_threads) {
        Ok(rt) => rt,
        Err(e) => {
            log::error!(target: LOG, "Cannot start the worker runtime: {e}");
            return 1;
        }
    };
    rt.block_on(async move {
        let (tx, rx) = watch::channel(false);
        let tx = Arc::new(tx);
        let orphaned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        spawn_signal_watchers(tx.clone(), death_pipe, orphaned.clone());
        let ctx = WorkerContext { service: name.clone(), index, listener, shutdown: rx.clone() };
        let mut fut = worker(ctx);
        let mut rx2 = rx;
        tokio::select! {
            code = &mut fut => return code,
            _ = rx2.wait_for(|v| *v) => {}
        }
        // Draining: bound the wait.
        let limit = if orphaned.load(std::sync::atomic::Ordering::Relaxed) {
            Some(ORPHAN_DRAIN)
        } else {
            settings.graceful_shutdown_timeout
        };
        match limit {
            None => fut.await,
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(code) => code,
                Err(_) => {
                    log::warn!(target: LOG, "{name} worker {index}: drain timed out after {} s", t.as_secs_f64());
                    0
                }
            },
        }
    })
}

fn spawn_signal_watchers(
    tx: Arc<watch::Sender<bool>>,
    death_pipe: Option<OwnedFd>,
    orphaned: Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::signal::unix::{SignalKind, signal as tsignal};
    for (kind, label) in [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
    ] {
        let tx = tx.clone();
        match tsignal(kind) {
            Ok(mut s) => {
                tokio::spawn(async move {
                    if s.recv().await.is_some() {
                        log::info!(target: LOG, "Worker caught {label}, draining");
                        let _ = tx.send(true);
                    }
                });
            }
            Err(e) => log::error!(target: LOG, "Cannot watch {label}: {e}"),
        }
    }
    if let Some(fd) = death_pipe {
        match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
            Ok(mut rx) => {
                tokio::spawn(async move {
                    use tokio::io::AsyncReadExt;
                    let mut buf = [0u8; 8];
                    // The master never writes: any return means it is gone.
                    let _ = rx.read(&mut buf).await;
                    log::error!(target: LOG, "Parent process has died unexpectedly, exiting");
                    orphaned.store(true, std::sync::atomic::Ordering::Relaxed);
                    let _ = tx.send(true);
                });
            }
            Err(e) => log::error!(target: LOG, "Cannot watch the master process: {e}"),
        }
    }
}

/// `workers = 0`: serve every service in this process, no fork. SIGTERM and
/// SIGINT drain; SIGHUP is logged (a reload needs a restart in this mode).
fn run_inline(g: Generation) -> Result<i32, LaunchError> {
    let mut parts = Vec::new();
    for spec in &g.services {
        let listener = match &spec.bind {
            Some(b) => Some(bind(b).map_err(|e| LaunchError::Bind(e.to_string()))?),
            None => None,
        };
        parts.push((spec.name.clone(), listener, spec.worker.clone()));
    }
    let rt =
        build_runtime(g.settings.worker_threads).map_err(|e| LaunchError::Os(e.to_string()))?;
    let settings = g.settings.clone();
    let code = rt.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal as tsignal};
        let (tx, rx) = watch::channel(false);
        let mut set = tokio::task::JoinSet::new();
        for (name, listener, worker) in parts {
            let ctx = WorkerContext { service: name, index: 0, listener, shutdown: rx.clone() };
            set.spawn(worker(ctx));
        }
        sd_notify("READY=1");
        let mut term = tsignal(SignalKind::terminate()).ok();
        let mut int = tsignal(SignalKind::interrupt()).ok();
        let mut hup = tsignal(SignalKind::hangup()).ok();
        loop {
            tokio::select! {
                Some(_) = async { match term.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => break,
                Some(_) = async { match int.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => break,
                Some(_) = async { match hup.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => {
                    log::warn!(target: LOG, "SIGHUP ignored: with workers = 0 there is no master to reload; restart the service to apply changes");
                }
                r = set.join_next() => {
                    match r {
                        None => return 0,
                        Some(Ok(code)) if code != 0 => return code,
                        _ => {}
                    }
                }
            }
        }
        log::info!(target: LOG, "Caught signal, draining");
        sd_notify("STOPPING=1");
        let _ = tx.send(true);
        let drain = async {
            let mut worst = 0;
            while let Some(r) = set.join_next().await {
                if let Ok(c) = r {
                    worst = worst.max(c);
                }
            }
            worst
        };
        match settings.graceful_shutdown_timeout {
            None => drain.await,
            Some(t) => tokio::time::timeout(t, drain).await.unwrap_or(0),
        }
    });
    Ok(code)
}

/// systemd readiness protocol: a datagram to `$NOTIFY_SOCKET`.
pub fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let msg = format!("{state}\nMAINPID={}", std::process::id());
    let bytes = path.as_encoded_bytes();
    let res = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| sock.send_to_addr(msg.as_bytes(), &addr))
    } else {
        sock.send_to(msg.as_bytes(), std::path::Path::new(&path))
    };
    if let Err(e) = res {
        log::warn!(target: LOG, "Cannot notify systemd: {e}");
    }
}

/// Process-wide set-up before anything is opened: Glance's umask 027, so
/// files the service creates (images, logs, staging) are not world-readable.
pub fn prepare_process() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o027));
}
