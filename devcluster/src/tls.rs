//! The server's credentials: a CA and server certificate it generates (the CA kept in the state
//! directory so kubeconfigs stay valid across restarts), the bearer token, and the kubeconfig.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Errors preparing credentials.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to generate a certificate: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("failed to configure TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Everything the server and its clients need to talk securely.
pub struct Credentials {
    pub ca_pem: String,
    pub token: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Write a file readable only by its owner.
fn write_private(path: &Path, content: &str) -> Result<(), TlsError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io_err(path))?;
    f.write_all(content.as_bytes()).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "devcluster-ca");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Load the CA and token from `dir`, creating them on first use, and issue a fresh server
/// certificate for loopback (and `listen`'s address).
pub fn load_or_create(dir: &Path, listen: SocketAddr) -> Result<Credentials, TlsError> {
    let key_path = dir.join("ca.key");
    let crt_path = dir.join("ca.crt");
    let token_path = dir.join("token");
    let (ca_key, ca_pem) = match (
        std::fs::read_to_string(&key_path),
        std::fs::read_to_string(&crt_path),
    ) {
        (Ok(k), Ok(c)) => (KeyPair::from_pem(&k)?, c),
        _ => {
            let key = KeyPair::generate()?;
            let cert = ca_params().self_signed(&key)?;
            write_private(&key_path, &key.serialize_pem())?;
            write_private(&crt_path, &cert.pem())?;
            (key, cert.pem())
        }
    };
    let token = match std::fs::read_to_string(&token_path) {
        Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => {
            let t = random_token();
            write_private(&token_path, &t)?;
            t
        }
    };
    let issuer = Issuer::new(ca_params(), ca_key);
    let mut sans = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(IpAddr::from([127, 0, 0, 1])),
        SanType::IpAddress(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])),
    ];
    if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
        sans.push(SanType::IpAddress(listen.ip()));
    }
    let mut params = CertificateParams::default();
    params.subject_alt_names = sans;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "devcluster");
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server_cert = params.signed_by(&server_key, &issuer)?;
    let ca_der =
        rustls::pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes()).map_err(|e| {
            TlsError::Rustls(rustls::Error::General(format!("bad CA certificate: {e}")))
        })?;
    let chain: Vec<CertificateDer<'static>> = vec![server_cert.der().clone(), ca_der];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Credentials {
        ca_pem,
        token,
        server_config: Arc::new(config),
    })
}

/// Write `dir/kubeconfig` for `url`; returns its path.
pub fn write_kubeconfig(dir: &Path, url: &str, creds: &Credentials) -> Result<PathBuf, TlsError> {
    let ca = base64::engine::general_purpose::STANDARD.encode(&creds.ca_pem);
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: devcluster
  cluster:
    server: {url}
    certificate-authority-data: {ca}
users:
- name: devcluster
  user:
    token: {token}
contexts:
- name: devcluster
  context:
    cluster: devcluster
    user: devcluster
    namespace: default
current-context: devcluster
preferences: {{}}
",
        token = creds.token
    );
    let path = dir.join("kubeconfig");
    write_private(&path, &text)?;
    Ok(path)
}
