//! Shared helpers for the devcluster integration tests: start a server in a temp dir and
//! connect kube-rs to it through the kubeconfig it writes.

use std::time::Duration;

use dezky_devcluster::{Devcluster, DevclusterOptions};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub struct TestCluster {
    pub _dir: tempfile::TempDir,
    pub dc: Devcluster,
    pub client: Client,
}

pub async fn client_for(kubeconfig: &std::path::Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig readable");
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig valid");
    Client::try_from(cfg).expect("client")
}

pub async fn start_with(history: usize) -> TestCluster {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = DevclusterOptions::new(dir.path());
    opts.watch_history = history;
    let dc = Devcluster::start(opts).await.expect("devcluster starts");
    let client = client_for(&dc.kubeconfig_path()).await;
    TestCluster {
        _dir: dir,
        dc,
        client,
    }
}

pub async fn start() -> TestCluster {
    start_with(10_000).await
}

pub const CRD_YAML: &str = include_str!("../fixtures/crd.yaml");

pub fn widget_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("test.dezky.io", "v1", "Widget"),
        "widgets",
    )
}

pub fn widgets(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &widget_resource())
}

/// Install the test CRD and wait until it is served.
pub async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_yaml::from_str(CRD_YAML).expect("fixture parses");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("CRD created");
    for _ in 0..50 {
        let c = crds
            .get("widgets.test.dezky.io")
            .await
            .expect("CRD readable");
        let established = c.status.and_then(|s| s.conditions).is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
        if established {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("CRD never became established");
}

pub fn widget(name: &str, email: &str) -> DynamicObject {
    let mut o = DynamicObject::new(name, &widget_resource());
    o.data = serde_json::json!({"spec": {"email": email}});
    o
}

/// Poll `f` until it returns Some, or panic after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("condition not met within {secs}s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
