//! `[import_filtering_opts]`: which URLs Glance fetches image data from
//! (`glance.common.utils.get_validated_address`). A URL passes when its
//! scheme, host and explicit port pass the allow/deny lists (an allow list
//! wins over its deny list), the host is a canonical IP address or a name
//! that resolves (no `2130706433`, `127.1` or `0x7f…` spellings), and at
//! least one of its addresses is neither loopback nor link-local (unless
//! the host is explicitly allowed) nor denied. The addresses that passed
//! are what the fetch connects to, so a second DNS answer cannot steer it
//! elsewhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use glimpse_config::{ConfigError, ConfigOpts, Opt};

const GROUP: &str = "import_filtering_opts";

pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register_group(
        GROUP,
        "Which URLs image data may be fetched from (legacy import tasks; web-download).",
    );
    // As in Glance, each list is written in brackets: `allowed_ports = [80, 443]`.
    let opts = [
        Opt::list("allowed_schemes")
            .bounds()
            .default("[http, https]")
            .help("Schemes allowed (when set, disallowed_schemes is ignored)."),
        Opt::list("disallowed_schemes").bounds().default("[]").help("Schemes refused."),
        Opt::list("allowed_hosts")
            .bounds()
            .default("[]")
            .help("Hosts allowed, names or IP addresses (when set, disallowed_hosts is ignored); an allowed host may be loopback or link-local."),
        Opt::list("disallowed_hosts")
            .bounds()
            .default("[]")
            .help("Hosts refused, names or IP addresses."),
        Opt::int_list("allowed_ports")
            .bounds()
            .default("[80, 443]")
            .help("Explicit ports allowed (when set, disallowed_ports is ignored); a URL without a port passes."),
        Opt::int_list("disallowed_ports")
            .bounds()
            .default("[]")
            .help("Explicit ports refused."),
    ];
    for o in opts {
        conf.register(GROUP, o)?;
    }
    Ok(())
}

/// The filter lists, with an allow list voiding its deny list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportFilter {
    pub allowed_schemes: Vec<String>,
    pub disallowed_schemes: Vec<String>,
    pub allowed_hosts: Vec<String>,
    pub disallowed_hosts: Vec<String>,
    pub allowed_ports: Vec<u16>,
    pub disallowed_ports: Vec<u16>,
}

fn ports(conf: &ConfigOpts, name: &str) -> Result<Vec<u16>, String> {
    let list = conf
        .get_int_list(GROUP, name)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    list.iter()
        .map(|&p| {
            u16::try_from(p)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("[{GROUP}] {name}: {p} is not a port (1-65535)"))
        })
        .collect()
}

impl ImportFilter {
    pub fn from_conf(conf: &ConfigOpts) -> Result<ImportFilter, String> {
        let list = |name: &str| -> Result<Vec<String>, String> {
            Ok(conf
                .get_list(GROUP, name)
                .map_err(|e| e.to_string())?
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect())
        };
        let mut f = ImportFilter {
            allowed_schemes: list("allowed_schemes")?,
            disallowed_schemes: list("disallowed_schemes")?,
            allowed_hosts: list("allowed_hosts")?,
            disallowed_hosts: list("disallowed_hosts")?,
            allowed_ports: ports(conf, "allowed_ports")?,
            disallowed_ports: ports(conf, "disallowed_ports")?,
        };
        if !f.allowed_schemes.is_empty() {
            f.disallowed_schemes.clear();
        }
        if !f.allowed_hosts.is_empty() {
            f.disallowed_hosts.clear();
        }
        if !f.allowed_ports.is_empty() {
            f.disallowed_ports.clear();
        }
        Ok(f)
    }

    /// The addresses `uri` may be fetched from, or why it may not be.
    pub async fn addresses(&self, uri: &str) -> Result<Vec<IpAddr>, String> {
        let (scheme, host, port) =
            split(uri).ok_or_else(|| format!("invalid external URI: {uri}"))?;
        let scheme_ok = !scheme.is_empty()
            && (self.allowed_schemes.is_empty() || self.allowed_schemes.contains(&scheme))
            && !self.disallowed_schemes.contains(&scheme);
        if !scheme_ok {
            return Err(format!("scheme not allowed for external URI: {uri}"));
        }
        let (host, found) = normalize_host(&host)
            .await
            .filter(|(h, _)| {
                (self.allowed_hosts.is_empty() || self.allowed_hosts.contains(h))
                    && !self.disallowed_hosts.contains(h)
            })
            .ok_or_else(|| format!("host not allowed for external URI: {uri}"))?;
        if let Some(p) = port
            && ((!self.allowed_ports.is_empty() && !self.allowed_ports.contains(&p))
                || self.disallowed_ports.contains(&p))
        {
            return Err(format!("port not allowed for external URI: {uri}"));
        }
        let allowed_host = self.allowed_hosts.contains(&host);
        let mut out: Vec<IpAddr> = Vec::new();
        for addr in found {
            let check = match addr {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
                v4 => v4,
            };
            if !allowed_host && (check.is_loopback() || link_local(check)) {
                continue;
            }
            let denied = self
                .disallowed_hosts
                .iter()
                .any(|d| d != &host && d.parse::<IpAddr>().is_ok_and(|ip| ip == addr));
            if !denied && !out.contains(&addr) {
                out.push(addr);
            }
        }
        if out.is_empty() {
            return Err(format!("no allowed addresses for external host: {host}"));
        }
        Ok(out)
    }
}

fn link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    }
}

/// `urlparse`'s scheme (lower-cased), hostname (lower-cased, no brackets)
/// and port; `None` when the URI has no host or an invalid port.
fn split(uri: &str) -> Option<(String, String, Option<u16>)> {
    let (scheme, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => Some(p.parse::<u16>().ok()?),
            _ => None,
        };
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() => (h.to_string(), Some(p.parse::<u16>().ok()?)),
            Some((h, _)) => (h.to_string(), None),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), port))
}

/// `normalize_hostname`: canonical IP text, or a name that resolves
/// (numeric spellings that are not canonical addresses are refused); with
/// the addresses it stands for. Glance resolves a name twice, once to
/// check it and once to connect; one lookup serves both here.
async fn normalize_host(host: &str) -> Option<(String, Vec<IpAddr>)> {
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Some((v4.to_string(), vec![IpAddr::V4(v4)]));
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return Some((v6.to_string(), vec![IpAddr::V6(v6)]));
    }
    if host.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    // A trailing dot forces a DNS lookup, never numeric parsing.
    let fqdn = if host.ends_with('.') {
        host.to_string()
    } else {
        format!("{host}.")
    };
    let mut addrs: Vec<IpAddr> = Vec::new();
    for a in tokio::net::lookup_host((fqdn.as_str(), 80)).await.ok()? {
        if !addrs.contains(&a.ip()) {
            addrs.push(a.ip());
        }
    }
    (!addrs.is_empty()).then(|| (host.to_string(), addrs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn filter() -> ImportFilter {
        ImportFilter {
            allowed_schemes: vec!["http".into(), "https".into()],
            allowed_ports: vec![80, 443],
            ..Default::default()
        }
    }

    #[test]
    fn splits_like_urlparse() {
        assert_eq!(
            split("HTTP://User@Example.COM:8080/x?y"),
            Some(("http".into(), "example.com".into(), Some(8080)))
        );
        assert_eq!(
            split("http://[::1]:80/"),
            Some(("http".into(), "::1".into(), Some(80)))
        );
        assert_eq!(split("http://h:99999/"), None);
        assert_eq!(split("http:///x"), None);
    }

    #[tokio::test]
    async fn refuses_what_glance_refuses() {
        let f = filter();
        for bad in [
            "ftp://example.com/x",
            "http://127.0.0.1/x",
            "http://2130706433/x",
            "http://127.1/x",
            "http://169.254.169.254/latest",
            "http://[::1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://1.2.3.4:8080/x",
            "http://no-such-host.invalid/x",
        ] {
            assert!(f.addresses(bad).await.is_err(), "{bad}");
        }
        assert_eq!(
            f.addresses("http://1.2.3.4/x").await.unwrap(),
            vec!["1.2.3.4".parse::<IpAddr>().unwrap()]
        );
        let mut local = filter();
        local.allowed_hosts = vec!["127.0.0.1".into()];
        local.allowed_ports = vec![8080];
        assert!(local.addresses("http://127.0.0.1:8080/x").await.is_ok());
        assert!(local.addresses("http://127.0.0.1:8081/x").await.is_err());
        let mut deny = filter();
        deny.disallowed_hosts = vec!["1.2.3.4".into()];
        assert!(deny.addresses("http://1.2.3.4/x").await.is_err());
    }
}
