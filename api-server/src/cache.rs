//! The watch-fed read cache: kube-runtime reflector stores of every Dezky kind and of the
//! namespaces (to map a namespace to its tenant or partner), plus a broadcast of each change for
//! the server-sent event streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dezky_crds::{MailDomain, Member, Partner, SsoApp, Tenant};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The label that ties a namespace to its tenant.
pub const TENANT_LABEL: &str = "dezky.io/tenant";
/// The label that ties a namespace to its partner.
pub const PARTNER_LABEL: &str = "dezky.io/partner";

/// One change seen by the watches, as the event streams send it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// `applied` or `deleted`.
    pub action: &'static str,
    /// The tenant the object belongs to, when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The partner the object belongs to (a Partner, or a Tenant sold by one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
}

/// The reflector stores.
#[derive(Clone)]
pub struct Cache {
    pub tenants: Store<Tenant>,
    pub partners: Store<Partner>,
    pub members: Store<Member>,
    pub domains: Store<MailDomain>,
    pub ssoapps: Store<SsoApp>,
    pub namespaces: Store<Namespace>,
    changes: broadcast::Sender<Change>,
    synced: Arc<AtomicUsize>,
}

const KINDS: usize = 6;

impl Cache {
    /// Starts one watch per kind; the returned tasks run until aborted.
    pub fn start(client: &Client) -> (Cache, Vec<JoinHandle<()>>) {
        let (changes, _) = broadcast::channel(1024);
        let synced = Arc::new(AtomicUsize::new(0));
        let (namespaces, ns_writer) = reflector::store::<Namespace>();
        let (tenants, t_writer) = reflector::store::<Tenant>();
        let (partners, p_writer) = reflector::store::<Partner>();
        let (members, m_writer) = reflector::store::<Member>();
        let (domains, d_writer) = reflector::store::<MailDomain>();
        let (ssoapps, s_writer) = reflector::store::<SsoApp>();
        let cache = Cache {
            tenants,
            partners,
            members,
            domains,
            ssoapps,
            namespaces,
            changes,
            synced,
        };
        let tasks = vec![
            cache.watch(
                Api::<Namespace>::all(client.clone()),
                ns_writer,
                "Namespace",
            ),
            cache.watch(Api::<Tenant>::all(client.clone()), t_writer, "Tenant"),
            cache.watch(Api::<Partner>::all(client.clone()), p_writer, "Partner"),
            cache.watch(Api::<Member>::all(client.clone()), m_writer, "Member"),
            cache.watch(
                Api::<MailDomain>::all(client.clone()),
                d_writer,
                "MailDomain",
            ),
            cache.watch(Api::<SsoApp>::all(client.clone()), s_writer, "SsoApp"),
        ];
        (cache, tasks)
    }

    fn watch<K>(
        &self,
        api: Api<K>,
        writer: reflector::store::Writer<K>,
        kind: &'static str,
    ) -> JoinHandle<()>
    where
        K: Resource<DynamicType = ()>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned
            + Send
            + Sync
            + 'static,
    {
        let cache = self.clone();
        let store = writer.as_reader();
        tokio::spawn(async move {
            let synced = cache.synced.clone();
            tokio::spawn(async move {
                if store.wait_until_ready().await.is_ok() {
                    synced.fetch_add(1, Ordering::SeqCst);
                }
            });
            let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()));
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(watcher::Event::Apply(obj)) => cache.publish(kind, &obj, "applied"),
                    Ok(watcher::Event::Delete(obj)) => cache.publish(kind, &obj, "deleted"),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(kind, error = %e, "the watch failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        })
    }

    fn publish<K: Resource>(&self, kind: &'static str, obj: &K, action: &'static str) {
        let name = obj.meta().name.clone().unwrap_or_default();
        let namespace = obj.meta().namespace.clone();
        let (tenant, partner) = match (kind, &namespace) {
            ("Tenant", _) => (
                Some(name.clone()),
                self.tenant(&name).and_then(|t| partner_of_tenant(&t)),
            ),
            ("Partner", _) => (None, Some(name.clone())),
            ("Namespace", _) => return,
            (_, Some(ns)) => (self.tenant_of_namespace(ns), self.partner_of_namespace(ns)),
            _ => (None, None),
        };
        let _ = self.changes.send(Change {
            kind,
            namespace,
            name,
            action,
            tenant,
            partner,
        });
    }

    /// Subscribes to the changes.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Whether every watch has listed once.
    pub fn ready(&self) -> bool {
        self.synced.load(Ordering::SeqCst) >= KINDS
    }

    pub fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        self.tenants.get(&reflector::ObjectRef::new(name))
    }

    pub fn partner(&self, name: &str) -> Option<Arc<Partner>> {
        self.partners.get(&reflector::ObjectRef::new(name))
    }

    fn ns_label(&self, ns: &str, label: &str) -> Option<String> {
        let obj = self.namespaces.get(&reflector::ObjectRef::new(ns))?;
        obj.labels().get(label).cloned()
    }

    /// The tenant a namespace belongs to (its `dezky.io/tenant` label).
    pub fn tenant_of_namespace(&self, ns: &str) -> Option<String> {
        self.ns_label(ns, TENANT_LABEL)
    }

    /// The partner a namespace belongs to (its `dezky.io/partner` label).
    pub fn partner_of_namespace(&self, ns: &str) -> Option<String> {
        self.ns_label(ns, PARTNER_LABEL)
    }

    /// The namespace of a tenant: `status.namespace`, else the namespace labelled for it.
    pub fn tenant_namespace(&self, tenant: &str) -> Option<String> {
        if let Some(ns) = self
            .tenant(tenant)
            .and_then(|t| t.status.as_ref().and_then(|s| s.namespace.clone()))
        {
            return Some(ns);
        }
        self.labelled_namespace(TENANT_LABEL, tenant)
    }

    /// The namespace of a partner: `status.namespace`, else the namespace labelled for it.
    pub fn partner_namespace(&self, partner: &str) -> Option<String> {
        if let Some(ns) = self
            .partner(partner)
            .and_then(|p| p.status.as_ref().and_then(|s| s.namespace.clone()))
        {
            return Some(ns);
        }
        self.labelled_namespace(PARTNER_LABEL, partner)
    }

    fn labelled_namespace(&self, label: &str, value: &str) -> Option<String> {
        let mut found: Vec<String> = self
            .namespaces
            .state()
            .iter()
            .filter(|n| n.labels().get(label).is_some_and(|v| v == value))
            .map(|n| n.name_any())
            .collect();
        found.sort();
        found.into_iter().next()
    }

    /// Objects of a namespaced kind in one namespace, sorted by name.
    pub fn in_namespace<K>(store: &Store<K>, ns: &str) -> Vec<Arc<K>>
    where
        K: Resource<DynamicType = ()> + Clone + 'static,
    {
        let mut items: Vec<Arc<K>> = store
            .state()
            .into_iter()
            .filter(|o| o.meta().namespace.as_deref() == Some(ns))
            .collect();
        items.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
        items
    }
}

/// How long a write waits for the cache to see what it wrote.
const SEEN_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// A kind the cache holds, with its store.
pub trait Cached: Resource<DynamicType = ()> + Clone + 'static {
    fn store(cache: &Cache) -> &Store<Self>;
}

macro_rules! cached {
    ($($kind:ty => $field:ident),* $(,)?) => {
        $(impl Cached for $kind {
            fn store(cache: &Cache) -> &Store<Self> {
                &cache.$field
            }
        })*
    };
}

cached!(Tenant => tenants, Partner => partners, Member => members, MailDomain => domains, SsoApp => ssoapps);

impl Cache {
    /// Read-your-writes after a create (`writes::create` calls it): waits until the watch has
    /// brought `created` into the cache (at most a few seconds), so the list or page the caller
    /// reads right after the write shows it. A watch that lags longer only delays the answer.
    pub async fn seen<K: Cached>(&self, created: &K) {
        let key = reflector::ObjectRef::from_obj(created);
        let deadline = tokio::time::Instant::now() + SEEN_WITHIN;
        while K::store(self).get(&key).is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The partner that sold a tenant.
pub fn partner_of_tenant(t: &Tenant) -> Option<String> {
    t.spec.partner_ref.as_ref().map(|p| p.name.clone())
}
