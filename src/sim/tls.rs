//! HTTPS for the simulated API servers. kubectl (client-go) never sends a
//! bearer token over plain HTTP, and real API servers only speak TLS, so
//! each fleet makes its own throwaway CA and a server certificate for
//! 127.0.0.1/localhost; the CA goes into the kubeconfig
//! (`certificate-authority-data`) and into the kube clients.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// A fleet's certificate authority and the server identity it signed.
pub struct Tls {
    /// PEM of the CA certificate (what clients trust).
    pub ca_pem: String,
    /// DER of the CA certificate.
    pub ca_der: Vec<u8>,
    acceptor: TlsAcceptor,
}

impl Tls {
    /// Make a CA and a server certificate for loopback.
    pub fn generate() -> anyhow::Result<Tls> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "opsbot-sim-ca");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["localhost".to_string(), "kubernetes.default.svc".to_string()])?;
        params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        let server_cert = params.signed_by(&server_key, &issuer)?;

        let chain = vec![server_cert.der().clone(), ca_cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the simulator's server certificate")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            ca_pem: ca_cert.pem(),
            ca_der: CertificateDer::as_ref(ca_cert.der()).to_vec(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Serve `app` over TLS on `listener` until `stop` fires.
    pub fn serve(&self, listener: TcpListener, app: Router, stop: CancellationToken) {
        let acceptor = self.acceptor.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    _ = stop.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(x) => x,
                        Err(_) => continue,
                    },
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let app = app.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = TowerToHyperService::new(app);
                    let conn = auto::Builder::new(TokioExecutor::new());
                    let served = conn.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    tokio::select! {
                        _ = served => {}
                        _ = stop.cancelled() => {}
                    }
                });
            }
        });
    }
}
