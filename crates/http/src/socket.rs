//! Listening-socket setup, matching Glance's `get_socket` on eventlet:
//! SO_REUSEADDR and SO_REUSEPORT before bind (so a replacement process can
//! bind while the old one still listens), a 30 s retry on EADDRINUSE, the
//! configured backlog, and TCP keepalive with TCP_KEEPIDLE on the listener,
//! which accepted sockets inherit.
//!
//! Synchronous on purpose: the process master that binds never runs tokio.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

/// How to bind the API socket.
#[derive(Clone, Debug)]
pub struct BindOptions {
    pub host: String,
    pub port: u16,
    /// listen(2) backlog.
    pub backlog: i32,
    /// TCP_KEEPIDLE, seconds.
    pub tcp_keepidle: u32,
    /// How long to keep retrying while the address is in use.
    pub retry_for: Duration,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            host: "0.0.0.0".into(),
            port: 9292,
            backlog: 4096,
            tcp_keepidle: 600,
            retry_for: Duration::from_secs(30),
        }
    }
}

/// Why [`bind`] failed.
#[derive(Debug)]
pub enum BindError {
    /// getaddrinfo failed.
    Resolve {
        host: String,
        port: u16,
        source: io::Error,
    },
    /// getaddrinfo gave no IPv4 or IPv6 address.
    NoAddress { host: String, port: u16 },
    /// Still EADDRINUSE after `retry_for` (Glance's RuntimeError).
    InUse {
        host: String,
        port: u16,
        retry_for: Duration,
    },
    /// Any other socket error (raised at once, as Glance does).
    Io(io::Error),
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::Resolve { host, port, source } => {
                write!(f, "Unable to resolve {host}:{port}: {source}")
            }
            BindError::NoAddress { host, port } => {
                write!(
                    f,
                    "Could not bind to {host}:{port}: no IPv4 or IPv6 address"
                )
            }
            BindError::InUse {
                host,
                port,
                retry_for,
            } => write!(
                f,
                "Could not bind to {host}:{port} after trying for {} seconds",
                retry_for.as_secs()
            ),
            BindError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BindError::Resolve { source, .. } => Some(source),
            BindError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Resolve, bind (retrying while the address is in use), listen, and set
/// keepalive options. The listener is left in blocking mode.
pub fn bind(opts: &BindOptions) -> Result<TcpListener, BindError> {
    let addr = resolve(&opts.host, opts.port)?;
    let deadline = Instant::now() + opts.retry_for;
    let sock = loop {
        match try_bind(addr, opts.backlog) {
            Ok(s) => break s,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                if Instant::now() >= deadline {
                    return Err(BindError::InUse {
                        host: opts.host.clone(),
                        port: opts.port,
                        retry_for: opts.retry_for,
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(BindError::Io(e)),
        }
    };
    sock.set_reuse_address(true).map_err(BindError::Io)?;
    let listener: TcpListener = sock.into();
    set_keepidle(&listener, opts.tcp_keepidle).map_err(BindError::Io)?;
    Ok(listener)
}

/// getaddrinfo(host, port, AF_UNSPEC, SOCK_STREAM); first IPv4/IPv6 result.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, BindError> {
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|source| BindError::Resolve {
            host: host.to_string(),
            port,
            source,
        })?;
    addrs.next().ok_or_else(|| BindError::NoAddress {
        host: host.to_string(),
        port,
    })
}

fn try_bind(addr: SocketAddr, backlog: i32) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    Ok(sock)
}

/// Call listen(2) again with a new backlog (SIGHUP with a changed backlog).
pub fn relisten(listener: &TcpListener, backlog: i32) -> io::Result<()> {
    SockRef::from(listener).listen(backlog)
}

/// SO_KEEPALIVE on, TCP_KEEPIDLE = `secs` (inherited by accepted sockets).
pub fn set_keepidle(listener: &TcpListener, secs: u32) -> io::Result<()> {
    let ka = TcpKeepalive::new().with_time(Duration::from_secs(u64::from(secs.max(1))));
    SockRef::from(listener).set_tcp_keepalive(&ka)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn opts(port: u16, retry_ms: u64) -> BindOptions {
        BindOptions {
            host: "127.0.0.1".into(),
            port,
            backlog: 128,
            tcp_keepidle: 600,
            retry_for: Duration::from_millis(retry_ms),
        }
    }

    #[test]
    fn reuseport_allows_two_binds() {
        let a = bind(&opts(0, 0)).unwrap();
        let port = a.local_addr().unwrap().port();
        let b = bind(&opts(port, 0)).unwrap();
        assert_eq!(b.local_addr().unwrap().port(), port);
        let sa = SockRef::from(&a);
        assert!(sa.keepalive().unwrap());
        assert_eq!(sa.tcp_keepalive_time().unwrap(), Duration::from_secs(600));
        assert!(sa.reuse_port().unwrap());
        set_keepidle(&a, 30).unwrap();
        assert_eq!(sa.tcp_keepalive_time().unwrap(), Duration::from_secs(30));
        relisten(&a, 16).unwrap();
        // Accepted sockets inherit the keepalive settings.
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        drop(c);
    }

    #[test]
    fn plain_listener_blocks_until_retry_gives_up() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let start = Instant::now();
        let err = bind(&opts(port, 350)).unwrap_err();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(350), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(matches!(err, BindError::InUse { .. }));
        let e30 = BindError::InUse {
            host: "127.0.0.1".into(),
            port,
            retry_for: Duration::from_secs(30),
        };
        assert_eq!(
            e30.to_string(),
            format!("Could not bind to 127.0.0.1:{port} after trying for 30 seconds")
        );
    }

    #[test]
    fn other_errors_are_immediate() {
        let mut o = opts(0, 5_000);
        o.host = "192.0.2.1".into(); // TEST-NET-1: not a local address
        let start = Instant::now();
        assert!(matches!(bind(&o), Err(BindError::Io(_))));
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
