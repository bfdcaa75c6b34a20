//! TLS server configuration from PEM files (rustls with the ring provider).
//!
//! Glance itself dropped its TLS options in Ussuri; Glimpse keeps optional
//! TLS for deployments without a terminating proxy. With a CA file, client
//! certificates signed by it are required.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// Why the TLS configuration could not be built.
#[derive(Debug)]
pub enum TlsError {
    /// A file could not be read or holds nothing usable.
    File {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// rustls rejected the combination (e.g. key does not match the cert).
    Config(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::File { what, path, reason } => {
                write!(f, "Unable to load {what} file {}: {reason}", path.display())
            }
            TlsError::Config(reason) => write!(f, "Invalid TLS configuration: {reason}"),
        }
    }
}

impl std::error::Error for TlsError {}

fn file_err(what: &'static str, path: &Path, reason: impl fmt::Display) -> TlsError {
    TlsError::File {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(what, path, e))?;
    if certs.is_empty() {
        return Err(file_err(what, path, "no PEM certificates found"));
    }
    Ok(certs)
}

/// Build a server config from a certificate chain, its private key, and an
/// optional CA bundle for client-certificate verification.
pub fn load_server_config(
    cert_file: &Path,
    key_file: &Path,
    ca_file: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certs("certificate", cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| file_err("key", key_file, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match ca_file {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs("CA", ca)? {
                roots.add(cert).map_err(|e| file_err("CA", ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| file_err("CA", ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        TlsError::Config(format!(
            "{} / {}: {e}",
            cert_file.display(),
            key_file.display()
        ))
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    #[test]
    fn loads_with_and_without_client_auth() {
        load_server_config(&data("server.pem"), &data("server.key"), None).unwrap();
        load_server_config(
            &data("server.pem"),
            &data("server.key"),
            Some(&data("ca.pem")),
        )
        .unwrap();
    }

    #[test]
    fn errors_name_the_file() {
        let e = load_server_config(&data("missing.pem"), &data("server.key"), None).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("certificate file") && msg.contains("missing.pem"),
            "{msg}"
        );
        // A key file holding no key.
        let e = load_server_config(&data("server.pem"), &data("server.pem"), None).unwrap_err();
        assert!(
            e.to_string().contains("key file") && e.to_string().contains("server.pem"),
            "{e}"
        );
        // A key that does not match the certificate.
        let e = load_server_config(&data("server.pem"), &data("client.key"), None).unwrap_err();
        assert!(matches!(e, TlsError::Config(_)), "{e}");
        let e = load_server_config(
            &data("server.pem"),
            &data("server.key"),
            Some(&data("README.md")),
        )
        .unwrap_err();
        assert!(e.to_string().contains("CA file"), "{e}");
    }
}
