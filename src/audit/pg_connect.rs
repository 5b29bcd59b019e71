//! How the PostgreSQL backend connects: the URL's TLS settings in libpq's
//! words (`sslmode=disable|prefer|require|verify-ca|verify-full`,
//! `sslrootcert=PATH`) with rustls, and the limits that keep a hung or
//! blackholed database from hanging opsbot (connect, statement and TCP
//! timeouts).
//!
//! tokio-postgres itself knows only `disable|prefer|require` and has no TLS
//! of its own, so the TLS words are taken out of the URL here and turned
//! into a rustls client configuration.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};

use super::AuditError;

/// A statement that runs longer than this is cancelled by the server.
pub(super) const STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);
/// Connecting (TCP, TLS, authentication) gives up after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Data unacknowledged this long closes the connection (a silent network).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(20);

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Disable,
    /// Encrypt when the server offers it; the certificate is not checked.
    Prefer,
    /// Encrypt or fail; the certificate is checked only when `sslrootcert`
    /// is given (then as `verify-ca`), as libpq does.
    Require,
    /// Encrypt, and the certificate must chain to a trusted root.
    VerifyCa,
    /// `verify-ca`, and the certificate must name the host connected to.
    VerifyFull,
}

/// A parsed connection: tokio-postgres's config and how to secure it.
pub(super) struct Target {
    pub(super) config: Config,
    mode: Mode,
    tls: Option<rustls::ClientConfig>,
}

impl Target {
    /// Parse `url`, taking out `sslmode` and `sslrootcert`. Errors never echo
    /// the URL: it may hold a password.
    pub(super) fn parse(url: &str) -> Result<Target, AuditError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = Mode::Disable;
        let mut root: Option<String> = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => {
                    mode = match v {
                        "disable" => Mode::Disable,
                        "allow" | "prefer" => Mode::Prefer,
                        "require" => Mode::Require,
                        "verify-ca" => Mode::VerifyCa,
                        "verify-full" => Mode::VerifyFull,
                        other => {
                            return Err(AuditError::BadUrl(format!(
                        "sslmode `{other}`; use disable, prefer, require, verify-ca or verify-full"
                    )))
                        }
                    }
                }
                "sslrootcert" => root = Some(percent_decode(v)),
                _ => kept.push(pair),
            }
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: Config = url
            .parse()
            .map_err(|_| AuditError::BadUrl("not a valid postgres:// connection URL".into()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        if mode == Mode::Require && root.is_some() {
            mode = Mode::VerifyCa;
        }
        let tls = match mode {
            Mode::Disable => None,
            mode => {
                // `prefer`/`require` check signatures only, so any root set
                // will do for the verifier that does that part.
                let roots = match mode {
                    Mode::Prefer | Mode::Require => roots(None)?,
                    _ => roots(root.as_deref())?,
                };
                let webpki = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::new(rustls::crypto::ring::default_provider()),
                )
                .build()
                .map_err(|e| AuditError::BadUrl(format!("sslrootcert: {e}")))?;
                let verifier: Arc<dyn ServerCertVerifier> = match mode {
                    Mode::VerifyFull => webpki,
                    Mode::VerifyCa => Arc::new(Lenient {
                        inner: webpki,
                        check: Check::Chain,
                    }),
                    _ => Arc::new(Lenient {
                        inner: webpki,
                        check: Check::Nothing,
                    }),
                };
                Some(client_config(verifier))
            }
        };
        config.ssl_mode(match mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        Ok(Target { config, mode, tls })
    }

    /// Connect once, with the limits above, and spawn the connection task.
    pub(super) async fn connect(&self) -> Result<Client, AuditError> {
        let client = match &self.tls {
            None => {
                let (client, connection) =
                    self.config.connect(NoTls).await.map_err(connect_error)?;
                spawn(connection);
                client
            }
            Some(tls) => {
                let make = tokio_postgres_rustls::MakeRustlsConnect::new(tls.clone());
                let (client, connection) =
                    self.config.connect(make).await.map_err(connect_error)?;
                spawn(connection);
                client
            }
        };
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}",
                STATEMENT_TIMEOUT.as_millis()
            ))
            .await?;
        Ok(client)
    }

    /// The `sslmode` in effect (for `opsbot check` and tests).
    #[allow(dead_code)]
    pub(super) fn mode(&self) -> Mode {
        self.mode
    }
}

/// A connection error with its causes spelled out (tokio-postgres's own
/// message is only "error performing TLS handshake").
fn connect_error(e: tokio_postgres::Error) -> AuditError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    AuditError::PostgresConnect(text)
}

fn spawn<S, T>(connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio_postgres::tls::TlsStream + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "audit store connection to PostgreSQL ended");
        }
    });
}

fn client_config(verifier: Arc<dyn ServerCertVerifier>) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// The roots a server certificate must chain to: `sslrootcert`'s PEM file,
/// or the Mozilla roots when none is given.
fn roots(path: Option<&str>) -> Result<RootCertStore, AuditError> {
    let mut store = RootCertStore::empty();
    match path {
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            use rustls_pki_types::pem::PemObject;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| AuditError::BadUrl(format!("sslrootcert {path}: {e}")))?
                .collect::<Result<_, _>>()
                .map_err(|e| AuditError::BadUrl(format!("sslrootcert {path}: {e}")))?;
            if certs.is_empty() {
                return Err(AuditError::BadUrl(format!(
                    "sslrootcert {path} holds no PEM certificate"
                )));
            }
            for c in certs {
                store
                    .add(c)
                    .map_err(|e| AuditError::BadUrl(format!("sslrootcert {path}: {e}")))?;
            }
        }
    }
    Ok(store)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How much of the server certificate a lenient mode checks.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// `prefer`/`require` without a root: encrypted, the certificate
    /// unchecked (libpq's meaning of those modes).
    Nothing,
    /// `verify-ca`: the chain must be trusted, the host name is not checked.
    Chain,
}

/// WebPki's verifier with part of the certificate check waived; the
/// handshake signatures are always verified, so the session is a real one.
#[derive(Debug)]
struct Lenient {
    inner: Arc<WebPkiServerVerifier>,
    check: Check,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Check::Nothing = self.check {
            return Ok(ServerCertVerified::assertion());
        }
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_words_are_taken_out_of_the_url_in_libpqs_meaning() {
        let t =
            Target::parse("postgres://u@h:5432/db?sslmode=verify-full&application_name=x").unwrap();
        assert_eq!(t.mode(), Mode::VerifyFull);
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert_eq!(
            Target::parse("postgres://u@h/db").unwrap().mode(),
            Mode::Disable
        );
        let bad = Target::parse("postgres://u:hunter2@h/db?sslmode=always")
            .err()
            .unwrap();
        assert!(bad.to_string().contains("sslmode `always`"), "{bad}");
        assert!(!bad.to_string().contains("hunter2"), "{bad}");
    }

    #[test]
    fn a_root_file_that_is_missing_is_a_clear_error() {
        let e =
            Target::parse("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem")
                .err()
                .unwrap();
        assert!(
            e.to_string().contains("sslrootcert /nonexistent/ca.pem"),
            "{e}"
        );
    }

    #[test]
    fn require_with_a_root_file_verifies_the_chain_as_libpq_does() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, opsbot_sim::tls::CA_PEM).unwrap();
        let t = Target::parse(&format!(
            "postgres://u@h/db?sslmode=require&sslrootcert={}",
            ca.display()
        ))
        .unwrap();
        assert_eq!(t.mode(), Mode::VerifyCa);
    }
}
