//! The RS256 signing key of the Authentik simulator's OIDC provider: generated once (lazily, off
//! the async threads), optionally cached as a PKCS#8 PEM file, published as a JWK.

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// Key size; what a real RS256 relying party accepts (Authentik's own default is 4096).
const KEY_BITS: usize = 2048;

/// A loaded key: its id, public JWK and signer.
pub struct KeyMaterial {
    pub kid: String,
    pub jwk: Value,
    signer: SigningKey<Sha256>,
}

impl KeyMaterial {
    /// Signs `claims` as a compact JWS with `alg: RS256` and this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.signer.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

/// The lazily loaded key of one simulator.
pub struct SigningKeys {
    path: Option<PathBuf>,
    cell: OnceCell<Arc<KeyMaterial>>,
}

impl SigningKeys {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            cell: OnceCell::new(),
        }
    }

    /// The key, loading or generating it on first use.
    pub async fn get(&self) -> Arc<KeyMaterial> {
        self.cell
            .get_or_init(|| async {
                let path = self.path.clone();
                let key = tokio::task::spawn_blocking(move || load_or_generate(path.as_deref()))
                    .await
                    .unwrap_or_else(|_| generate());
                Arc::new(material(key))
            })
            .await
            .clone()
    }
}

fn generate() -> RsaPrivateKey {
    let mut rng = rsa::rand_core::OsRng;
    match RsaPrivateKey::new(&mut rng, KEY_BITS) {
        Ok(key) => key,
        // the OS RNG failing is not recoverable for a signing service
        Err(e) => panic!("failed to generate the simulator's RSA key: {e}"),
    }
}

fn load_or_generate(path: Option<&std::path::Path>) -> RsaPrivateKey {
    if let Some(path) = path
        && let Ok(pem) = std::fs::read_to_string(path)
        && let Ok(key) = RsaPrivateKey::from_pkcs8_pem(&pem)
    {
        return key;
    }
    let key = generate();
    if let Some(path) = path
        && let Ok(pem) = key.to_pkcs8_pem(LineEnding::LF)
        && let Err(e) = std::fs::write(path, pem.as_bytes())
    {
        tracing::warn!(error = %e, "failed to cache the simulator's signing key");
    }
    key
}

fn material(key: RsaPrivateKey) -> KeyMaterial {
    let n = key.n().to_bytes_be();
    let e = key.e().to_bytes_be();
    let kid = super::model::hex(&Sha256::digest(&n)[..16]);
    let jwk = json!({
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(&n), "e": URL_SAFE_NO_PAD.encode(&e),
    });
    KeyMaterial {
        kid,
        jwk,
        signer: SigningKey::<Sha256>::new(key),
    }
}
