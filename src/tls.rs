//! TLS for both ends: the server's (self-signed) certificate, and how a
//! client decides to trust a server — system roots, a custom CA, a pinned
//! SHA-256 certificate fingerprint, or (explicitly) nothing at all.
//!
//! Everything uses rustls with the `ring` provider, passed explicitly rather
//! than installed globally.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

/// A TLS setup problem, with the file or value concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Writing the generated certificate failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Generating a certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("invalid TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// A fingerprint is not 32 bytes of hex.
    #[error("invalid fingerprint {0:?}: expected 64 hex digits (colons allowed)")]
    BadFingerprint(String),
}

/// The crypto provider Tandem uses everywhere.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain with its private key, ready for a server.
#[derive(Debug)]
pub struct Identity {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// Reads a PEM certificate chain and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        fn pem_err<'a>(
            what: &'static str,
            path: &'a Path,
        ) -> impl FnOnce(rustls_pki_types::pem::Error) -> TlsError + 'a {
            move |e| TlsError::Pem {
                what,
                path: path.display().to_string(),
                reason: e.to_string(),
            }
        }
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(pem_err("certificate", cert))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_err("certificate", cert))?;
        if chain.is_empty() {
            return Err(TlsError::Pem {
                what: "certificate",
                path: cert.display().to_string(),
                reason: "no certificate in file".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(pem_err("private key", key))?;
        Ok(Self { chain, key })
    }

    /// The data directory's self-signed identity (`tls/cert.pem`, `tls/key.pem`),
    /// generated on first use and kept, so the fingerprint stays stable.
    pub fn self_signed_in(data_dir: &Path) -> Result<Self, TlsError> {
        let dir = data_dir.join("tls");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        if !cert.exists() || !key.exists() {
            generate_self_signed(&cert, &key)?;
        }
        // A key left readable by an older version is tightened to 0600.
        use crate::store::perms::{tighten, DIR_MODE, FILE_MODE};
        for (path, mode) in [(&dir, DIR_MODE), (&key, FILE_MODE)] {
            tighten(path, mode).map_err(|source| TlsError::Write {
                path: path.display().to_string(),
                source,
            })?;
        }
        Self::from_pem_files(&cert, &key)
    }

    /// The SHA-256 fingerprint of the leaf certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.chain[0])
    }

    /// A rustls server configuration offering h2 and http/1.1 by ALPN.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn generate_self_signed(cert_path: &PathBuf, key_path: &PathBuf) -> Result<(), TlsError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() && !names.iter().any(|n| n == host) {
            names.push(host.to_owned());
        }
    }
    let certified = rcgen::generate_simple_self_signed(names)?;
    let write = |path: &PathBuf, contents: String| {
        if let Some(parent) = path.parent() {
            crate::store::perms::ensure_private_dir(parent).map_err(|source| TlsError::Write {
                path: parent.display().to_string(),
                source,
            })?;
        }
        write_private(path, contents.as_bytes()).map_err(|source| TlsError::Write {
            path: path.display().to_string(),
            source,
        })
    };
    write(key_path, certified.signing_key.serialize_pem())?;
    write(cert_path, certified.cert.pem())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::store::perms::write_private_file(path, bytes)
}

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(cert: &[u8]) -> Self {
        Self(Sha256::digest(cert).into())
    }

    /// Parses 64 hex digits, with or without colons, either case
    /// (also with a leading `sha256:`/`SHA256:`).
    pub fn parse(s: &str) -> Result<Self, TlsError> {
        let trimmed = s.trim();
        let body = trimmed
            .strip_prefix("sha256:")
            .or_else(|| trimmed.strip_prefix("SHA256:"))
            .unwrap_or(trimmed);
        let hex_digits: String = body.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(&hex_digits).map_err(|_| TlsError::BadFingerprint(s.into()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| TlsError::BadFingerprint(s.into()))?;
        Ok(Self(arr))
    }
}

impl std::fmt::Display for Fingerprint {
    /// Colon-separated upper-case hex, as browsers and `openssl x509 -fingerprint` show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// How a client decides to trust a server's certificate.
#[derive(Debug, Clone, Default)]
pub enum Trust {
    /// The operating system's root certificates.
    #[default]
    System,
    /// Only certificates issued by these CA certificates.
    CustomCa(Vec<CertificateDer<'static>>),
    /// Exactly the certificate with this SHA-256 fingerprint (self-signed peers).
    Pinned(Fingerprint),
    /// Anything at all (`--insecure`): encryption without authentication.
    Insecure,
    /// Trust on first use: the first certificate seen is recorded in the slot
    /// and, from then on, only that one is accepted ("trust this certificate").
    FirstUse(Arc<std::sync::Mutex<Option<Fingerprint>>>),
}

impl Trust {
    /// Reads a CA bundle from a PEM file.
    pub fn custom_ca_file(path: &Path) -> Result<Self, TlsError> {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TlsError::Pem {
                what: "certificate",
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self::CustomCa(certs))
    }

    /// A rustls client configuration for this trust, offering `alpn`.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, TlsError> {
        self.client_config_witnessed(alpn, &CertificateWitness::default())
    }

    /// Like [`Trust::client_config`], also noting in `witness` the
    /// certificate each server presents, accepted or not (so a refusal can
    /// offer "trust this certificate", showing its fingerprint).
    pub fn client_config_witnessed(
        &self,
        alpn: &[&[u8]],
        witness: &CertificateWitness,
    ) -> Result<rustls::ClientConfig, TlsError> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let by_roots = |roots: rustls::RootCertStore| {
            let roots = Arc::new(roots);
            match rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::clone(&roots),
                provider(),
            )
            .build()
            {
                Ok(inner) => builder
                    .clone()
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(WitnessedVerifier {
                        inner,
                        witness: witness.clone(),
                    }))
                    .with_no_client_auth(),
                // No roots at all: nothing to witness, every server is refused.
                Err(_) => builder
                    .clone()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            }
        };
        let pinned = |pin: Pin| {
            builder
                .clone()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                    pin,
                    provider: provider(),
                    witness: witness.clone(),
                }))
                .with_no_client_auth()
        };
        let mut config = match self {
            Trust::System => {
                let mut roots = rustls::RootCertStore::empty();
                let loaded = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(loaded.certs);
                by_roots(roots)
            }
            Trust::CustomCa(certs) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in certs {
                    roots.add(cert.clone())?;
                }
                by_roots(roots)
            }
            Trust::Pinned(fp) => pinned(Pin::Exactly(*fp)),
            Trust::Insecure => pinned(Pin::Anything),
            Trust::FirstUse(slot) => pinned(Pin::FirstUse(Arc::clone(slot))),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

/// The fingerprint of the certificate a server last presented to a client,
/// whether it was accepted or not. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct CertificateWitness(Arc<std::sync::Mutex<Option<Fingerprint>>>);

impl CertificateWitness {
    /// The last certificate presented, if any handshake got that far.
    pub fn last(&self) -> Option<Fingerprint> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note(&self, certificate: &CertificateDer<'_>) -> Fingerprint {
        let fingerprint = Fingerprint::of(certificate);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(fingerprint);
        fingerprint
    }
}

/// The usual verification by roots (webpki), noting what was presented.
#[derive(Debug)]
struct WitnessedVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    witness: CertificateWitness,
}

impl ServerCertVerifier for WitnessedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.witness.note(end_entity);
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
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

/// Which certificate a [`PinnedVerifier`] accepts.
#[derive(Debug)]
enum Pin {
    Exactly(Fingerprint),
    Anything,
    FirstUse(Arc<std::sync::Mutex<Option<Fingerprint>>>),
}

/// Accepts certificates by fingerprint rather than by CA; handshake
/// signatures are still verified either way.
#[derive(Debug)]
struct PinnedVerifier {
    pin: Pin,
    provider: Arc<CryptoProvider>,
    witness: CertificateWitness,
}

fn check_pin(
    expected: Fingerprint,
    actual: Fingerprint,
) -> Result<ServerCertVerified, rustls::Error> {
    if actual == expected {
        Ok(ServerCertVerified::assertion())
    } else {
        Err(rustls::Error::General(format!(
            "certificate fingerprint mismatch: expected {expected}, server presented {actual}"
        )))
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = self.witness.note(end_entity);
        match &self.pin {
            Pin::Anything => Ok(ServerCertVerified::assertion()),
            Pin::Exactly(expected) => check_pin(*expected, actual),
            Pin::FirstUse(slot) => {
                let mut seen = slot.lock().unwrap_or_else(|p| p.into_inner());
                match *seen {
                    Some(expected) => check_pin(expected, actual),
                    None => {
                        *seen = Some(actual);
                        Ok(ServerCertVerified::assertion())
                    }
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests;
