//! Why a TLS handshake failed, said in terms an operator can act on: the typed rustls error
//! under the HTTP client's (a certificate nobody here trusts, a name mismatch, an expired
//! certificate, or no TLS at all), and the certificate the host presented (subject and
//! issuer), read by a second, diagnostic handshake that accepts any certificate and sends
//! nothing else.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a failed handshake says about the certificate (typed from rustls's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertProblem {
    /// Signed by a CA this machine does not trust (a private CA, a self-signed certificate).
    UnknownIssuer,
    /// Valid, but not for this host name or address.
    NotValidForName,
    /// Expired or not yet valid.
    Expired,
    /// Some other certificate problem.
    Other,
}

impl CertProblem {
    /// The certificate problem in `e`'s cause chain, if the handshake failed on one.
    pub fn of(e: &(dyn std::error::Error + 'static)) -> Option<Self> {
        let mut cur = Some(e);
        while let Some(s) = cur {
            if let Some(rustls::Error::InvalidCertificate(c)) = s.downcast_ref::<rustls::Error>() {
                return Some(match c {
                    CertificateError::UnknownIssuer => Self::UnknownIssuer,
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. } => Self::NotValidForName,
                    CertificateError::Expired
                    | CertificateError::ExpiredContext { .. }
                    | CertificateError::NotValidYet
                    | CertificateError::NotValidYetContext { .. } => Self::Expired,
                    _ => Self::Other,
                });
            }
            cur = match s.downcast_ref::<std::io::Error>() {
                Some(io) => io
                    .get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static)),
                None => s.source(),
            };
        }
        None
    }

    /// What to do about it.
    pub fn remedy(self) -> &'static str {
        match self {
            Self::UnknownIssuer => {
                "trust its CA: add the CA certificate to the system trust store, or point SSL_CERT_FILE at a PEM bundle that holds it (SSL_CERT_FILE replaces the system roots: include them)"
            }
            Self::NotValidForName => {
                "use the host name the certificate is issued for, or reissue it with this name"
            }
            Self::Expired => "renew the certificate (or check this machine's clock)",
            Self::Other => "check the certificate chain the listener serves",
        }
    }
}

/// The subject and issuer of the certificate a host presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    pub subject: String,
    pub issuer: String,
}

/// Handshakes with `host:port` accepting any certificate and returns the leaf certificate's
/// subject and issuer; `None` when there is no TLS there or it takes longer than `timeout`.
pub async fn peer_certificate(host: &str, port: u16, timeout: Duration) -> Option<PeerCert> {
    let seen = Arc::new(SeeAnything::default());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(seen.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).ok()?;
    let connect = async {
        let tcp = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .ok()
    };
    let _ = tokio::time::timeout(timeout, connect).await;
    let der = seen.leaf.lock().unwrap_or_else(|p| p.into_inner()).take()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    Some(PeerCert {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
    })
}

/// A verifier that accepts every certificate and keeps the leaf (diagnosis only: the
/// connection it makes carries no request).
#[derive(Debug, Default)]
struct SeeAnything {
    leaf: Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for SeeAnything {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.leaf.lock().unwrap_or_else(|p| p.into_inner()) = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
