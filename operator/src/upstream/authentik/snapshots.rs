//! The Authentik collections the client observes from memory: groups, users, OAuth2 providers,
//! applications and policy bindings, each listed by pages (`page`/`page_size`, following
//! `pagination.next`) and kept fresh by the client's own writes (see [`crate::upstream::snapshot`]).

use std::collections::BTreeMap;

use super::client::AuthentikClient;
use super::{ApplicationObs, BindingObs, GroupObs, IdentityError, ProviderObs, UserObs};
use crate::upstream::http::{RequestSpec, UpstreamHttp};
use crate::upstream::snapshot::{Keyed, Snapshot};

/// Lookup key of an object by its name (groups, providers).
pub(super) fn by_name(name: &str) -> String {
    format!("name:{name}")
}

/// Lookup key of an object by the marker key it carries.
pub(super) fn by_marker(key: &str) -> String {
    format!("marker:{key}")
}

/// Lookup key of a user by username.
pub(super) fn by_username(username: &str) -> String {
    format!("username:{username}")
}

/// Lookup key of a provider by client id.
pub(super) fn by_client_id(client_id: &str) -> String {
    format!("client_id:{client_id}")
}

/// Lookup key of the bindings of one target (an application's pk).
pub(super) fn by_target(target: &str) -> String {
    format!("target:{target}")
}

impl Keyed for GroupObs {
    fn id(&self) -> String {
        self.pk.clone()
    }
    fn lookup_keys(&self) -> Vec<String> {
        let mut keys = vec![by_name(&self.name)];
        keys.extend(self.marker().map(by_marker));
        keys
    }
}

impl Keyed for UserObs {
    fn id(&self) -> String {
        self.pk.to_string()
    }
    fn lookup_keys(&self) -> Vec<String> {
        let mut keys = vec![by_username(&self.username)];
        keys.extend(self.marker().map(by_marker));
        keys
    }
}

impl Keyed for ProviderObs {
    fn id(&self) -> String {
        self.pk.to_string()
    }
    fn lookup_keys(&self) -> Vec<String> {
        vec![by_name(&self.name), by_client_id(&self.client_id)]
    }
}

impl Keyed for ApplicationObs {
    fn id(&self) -> String {
        self.slug.clone()
    }
    fn lookup_keys(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Keyed for BindingObs {
    fn id(&self) -> String {
        self.pk.clone()
    }
    fn lookup_keys(&self) -> Vec<String> {
        vec![by_target(&self.target)]
    }
}

/// The snapshots of one Authentik client.
#[derive(Clone, Debug)]
pub(super) struct Snapshots {
    pub(super) groups: Snapshot<GroupObs>,
    pub(super) users: Snapshot<UserObs>,
    pub(super) providers: Snapshot<ProviderObs>,
    pub(super) applications: Snapshot<ApplicationObs>,
    pub(super) bindings: Snapshot<BindingObs>,
}

impl Snapshots {
    pub(super) fn new(http: &UpstreamHttp) -> Self {
        Self {
            groups: http.snapshot("groups"),
            users: http.snapshot("users"),
            providers: http.snapshot("oauth2_providers"),
            applications: http.snapshot("applications"),
            bindings: http.snapshot("policy_bindings"),
        }
    }
}

impl AuthentikClient {
    /// Every group (member lists left out), loaded when stale.
    pub(super) async fn group_snapshot(&self) -> Result<&Snapshot<GroupObs>, IdentityError> {
        let snapshot = &self.snapshots.groups;
        snapshot
            .ensure(|| {
                let req = RequestSpec::get("core/groups/").query("include_users", "false");
                self.all_pages("group.list", req)
            })
            .await?;
        Ok(snapshot)
    }

    /// Every user (group pks included, group objects left out), loaded when stale.
    pub(super) async fn user_snapshot(&self) -> Result<&Snapshot<UserObs>, IdentityError> {
        let snapshot = &self.snapshots.users;
        snapshot
            .ensure(|| {
                let req = RequestSpec::get("core/users/").query("include_groups", "false");
                self.all_pages("user.list", req)
            })
            .await?;
        Ok(snapshot)
    }

    /// Every OAuth2 provider, loaded when stale.
    pub(super) async fn provider_snapshot(&self) -> Result<&Snapshot<ProviderObs>, IdentityError> {
        let snapshot = &self.snapshots.providers;
        snapshot
            .ensure(|| self.all_pages("provider.list", RequestSpec::get("providers/oauth2/")))
            .await?;
        Ok(snapshot)
    }

    /// Every application, loaded when stale. The list is filtered by the caller's access
    /// unless `superuser_full_list` (honoured for superusers); an application the list misses
    /// is found by its create's slug clash and put in from a live read.
    pub(super) async fn application_snapshot(
        &self,
    ) -> Result<&Snapshot<ApplicationObs>, IdentityError> {
        let snapshot = &self.snapshots.applications;
        snapshot
            .ensure(|| {
                let req =
                    RequestSpec::get("core/applications/").query("superuser_full_list", "true");
                self.all_pages("application.list", req)
            })
            .await?;
        Ok(snapshot)
    }

    /// Every policy binding, loaded when stale.
    pub(super) async fn binding_snapshot(&self) -> Result<&Snapshot<BindingObs>, IdentityError> {
        let snapshot = &self.snapshots.bindings;
        snapshot
            .ensure(|| self.all_pages("binding.list", RequestSpec::get("policies/bindings/")))
            .await?;
        Ok(snapshot)
    }

    /// The pks of groups by exact name, answered from the group snapshot (a request only when
    /// it is stale); names no group has are left out. For reading groups another controller
    /// owns (a tenant's or partner's), whatever their marker.
    pub async fn group_pks_by_name(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, IdentityError> {
        let groups = self.group_snapshot().await?;
        Ok(names
            .iter()
            .filter_map(|name| groups.find_one(&by_name(name)))
            .map(|group| (group.name, group.pk))
            .collect())
    }

    /// Marks every snapshot stale: the next observation reloads each collection.
    pub fn invalidate_snapshots(&self) {
        let s = &self.snapshots;
        s.groups.invalidate();
        s.users.invalidate();
        s.providers.invalidate();
        s.applications.invalidate();
        s.bindings.invalidate();
    }
}
