//! Getting the five kinds into a cluster: a client from a kubeconfig file, and the CRDs applied
//! (server-side apply) and waited for until the API server serves them. `dezky dev`, `dezky bench`
//! and every test that starts devcluster use these, so there is one way to do it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// How long a CRD may take to become Established.
const ESTABLISHED_WITHIN: Duration = Duration::from_secs(10);

/// Why a cluster could not be reached or the CRDs not installed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("failed to read the kubeconfig {path}: {reason}")]
    Kubeconfig { path: PathBuf, reason: String },
    #[error("failed to build a client from the kubeconfig {path}: {reason}")]
    Client { path: PathBuf, reason: String },
    #[error("failed to install the CRD {name}: {source}")]
    Install { name: String, source: kube::Error },
    #[error("the CRD {name} did not become Established within {seconds} s")]
    NotEstablished { name: String, seconds: u64 },
}

/// A client of the cluster a kubeconfig file names (its current context).
pub async fn client_from_kubeconfig(path: &Path) -> Result<Client, ClusterError> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| ClusterError::Kubeconfig {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let client_error = |reason: String| ClusterError::Client {
        path: path.to_owned(),
        reason,
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| client_error(e.to_string()))?;
    Client::try_from(config).map_err(|e| client_error(e.to_string()))
}

/// Applies the five CRDs with `field_manager` (forcing ownership of their fields) and waits
/// until each is Established.
pub async fn install_crds(client: &Client, field_manager: &str) -> Result<(), ClusterError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crds = crate::crds();
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply(field_manager).force(),
            &Patch::Apply(crd),
        )
        .await
        .map_err(|source| ClusterError::Install {
            name: name.clone(),
            source,
        })?;
    }
    let deadline = tokio::time::Instant::now() + ESTABLISHED_WITHIN;
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let current = api
                .get(&name)
                .await
                .map_err(|source| ClusterError::Install {
                    name: name.clone(),
                    source,
                })?;
            let established = current
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ClusterError::NotEstablished {
                    name,
                    seconds: ESTABLISHED_WITHIN.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}
