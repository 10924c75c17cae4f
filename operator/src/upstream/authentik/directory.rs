//! Groups, users, membership, sessions and MFA status of the Authentik client.

use serde_json::{Map, Value, json};

use super::client::{
    AuthentikClient, is_key_clash, marker_attributes, merged_attributes, not_found,
};
use super::snapshots::{by_marker, by_name, by_username};
use super::wire::DeviceObs;
use super::{
    ATTR_INSTALLATION, ATTR_KIND, ATTR_MARKER, GroupObs, GroupSpec, IdentityClient, IdentityError,
    Observed, SessionObs, UserObs, UserSpec,
};
use crate::upstream::http::{ErrorCategory, RequestSpec, Secret};
use crate::upstream::marker::Marker;

pub(super) async fn observe_group(
    c: &AuthentikClient,
    name: &str,
    marker: &Marker,
) -> Result<Observed<GroupObs>, IdentityError> {
    let groups = c.group_snapshot().await?;
    if let Some(group) = groups.find_one(&by_marker(&marker.key())) {
        return Ok(Observed::Ours(group));
    }
    Ok(match groups.find_one(&by_name(name)) {
        None => Observed::Missing,
        Some(group) => {
            let found = group.marker().map(str::to_owned);
            Observed::classify(marker, found.as_deref(), group)
        }
    })
}

/// The group with this marker or name, read live (after a create found the snapshot stale);
/// what is found replaces the snapshot's entry.
async fn observe_group_live(
    c: &AuthentikClient,
    name: &str,
    marker: &Marker,
) -> Result<Observed<GroupObs>, IdentityError> {
    let marker_filter = json!({ ATTR_MARKER: marker.key() }).to_string();
    let req = RequestSpec::get("core/groups/")
        .query("attributes", marker_filter)
        .query("include_users", "false");
    let found = match c.first::<GroupObs>("group.list", req).await? {
        Some(group) => Some(group),
        None => {
            let req = RequestSpec::get("core/groups/")
                .query("name", name)
                .query("include_users", "false");
            c.first::<GroupObs>("group.list", req).await?
        }
    };
    Ok(match found {
        None => Observed::Missing,
        Some(group) => {
            c.snapshots.groups.put(group.clone());
            let found = group.marker().map(str::to_owned);
            Observed::classify(marker, found.as_deref(), group)
        }
    })
}

pub(super) async fn create_group(
    c: &AuthentikClient,
    spec: &GroupSpec,
    marker: &Marker,
    adopt: bool,
) -> Result<GroupObs, IdentityError> {
    let existing = match c.observe_group(&spec.name, marker).await? {
        Observed::Missing => {
            let mut attributes = spec.attributes.clone();
            attributes.extend(marker_attributes(marker));
            let body = json!({"name": spec.name, "is_superuser": false, "attributes": attributes});
            match c
                .send_body::<GroupObs>("group.create", RequestSpec::post("core/groups/"), &body)
                .await
            {
                Ok(group) => {
                    c.snapshots.groups.put(group.clone());
                    return Ok(group);
                }
                // created since the snapshot was loaded (by someone else, or by a create whose
                // answer was lost): classify what is there now
                Err(e) if is_key_clash(&e, "name") => {
                    observe_group_live(c, &spec.name, marker).await?
                }
                Err(e) => return Err(e),
            }
        }
        other => other,
    };
    match existing {
        Observed::Ours(group) => Ok(group),
        Observed::Foreign(_) => Err(IdentityError::NameTaken {
            kind: "group",
            name: spec.name.clone(),
        }),
        Observed::Unmarked(group) if adopt => {
            let attributes =
                merged_attributes(&group.attributes, &spec.attributes, marker).unwrap_or_default();
            let req = RequestSpec::patch(format!("core/groups/{}/", group.pk))
                .query("include_users", "false");
            let adopted = c
                .send_body("group.adopt", req, &json!({ "attributes": attributes }))
                .await;
            keep_group(c, &group.pk, adopted)
        }
        Observed::Unmarked(_) => Err(IdentityError::AdoptionRequired {
            kind: "group",
            name: spec.name.clone(),
        }),
        Observed::Missing => Err(IdentityError::LookupMissing {
            what: "group",
            name: spec.name.clone(),
        }),
    }
}

pub(super) async fn update_group(
    c: &AuthentikClient,
    current: &GroupObs,
    spec: &GroupSpec,
    marker: &Marker,
) -> Result<Option<GroupObs>, IdentityError> {
    let mut body = Map::new();
    if current.name != spec.name {
        body.insert("name".into(), json!(spec.name));
    }
    if let Some(attributes) = merged_attributes(&current.attributes, &spec.attributes, marker) {
        body.insert("attributes".into(), Value::Object(attributes));
    }
    if body.is_empty() {
        return Ok(None);
    }
    let req =
        RequestSpec::patch(format!("core/groups/{}/", current.pk)).query("include_users", "false");
    let updated = c.send_body("group.update", req, &Value::Object(body)).await;
    keep_group(c, &current.pk, updated).map(Some)
}

/// Takes a gone group out, and out of its members' group lists (Authentik drops the memberships).
fn forget_group(c: &AuthentikClient, pk: &str) {
    c.snapshots.groups.remove(pk);
    for user in c.snapshots.users.all() {
        if user.groups.iter().any(|g| g == pk) {
            c.snapshots
                .users
                .modify(&user.pk.to_string(), |u| u.groups.retain(|g| g != pk));
        }
    }
}

/// Puts a written group into the snapshot; a group found gone leaves it.
fn keep_group(
    c: &AuthentikClient,
    pk: &str,
    written: Result<GroupObs, IdentityError>,
) -> Result<GroupObs, IdentityError> {
    match &written {
        Ok(group) => c.snapshots.groups.put(group.clone()),
        Err(e) if not_found(e) => forget_group(c, pk),
        Err(_) => {}
    }
    written
}

/// Puts a written user into the snapshot; a user found gone leaves it.
fn keep_user(
    c: &AuthentikClient,
    pk: i64,
    written: Result<UserObs, IdentityError>,
) -> Result<UserObs, IdentityError> {
    match &written {
        Ok(user) => c.snapshots.users.put(user.clone()),
        Err(e) if not_found(e) => c.snapshots.users.remove(&pk.to_string()),
        Err(_) => {}
    }
    written
}

pub(super) async fn delete_group(c: &AuthentikClient, pk: &str) -> Result<(), IdentityError> {
    match c
        .http
        .send(
            "group.delete",
            RequestSpec::delete(format!("core/groups/{pk}/")),
        )
        .await
    {
        Ok(_) => {
            forget_group(c, pk);
            Ok(())
        }
        Err(e) if e.category() == ErrorCategory::NotFound => {
            forget_group(c, pk);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn list_groups(
    c: &AuthentikClient,
    installation: &str,
    kind: &str,
) -> Result<Vec<GroupObs>, IdentityError> {
    let mut groups: Vec<GroupObs> = c
        .group_snapshot()
        .await?
        .all()
        .into_iter()
        .filter(|g| of_installation_kind(&g.attributes, installation, kind))
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

/// True when the attributes name this installation and kind (the bulk listing's filter).
fn of_installation_kind(attributes: &Map<String, Value>, installation: &str, kind: &str) -> bool {
    attributes.get(ATTR_INSTALLATION).and_then(Value::as_str) == Some(installation)
        && attributes.get(ATTR_KIND).and_then(Value::as_str) == Some(kind)
}

pub(super) async fn observe_user(
    c: &AuthentikClient,
    username: &str,
    marker: &Marker,
) -> Result<Observed<UserObs>, IdentityError> {
    let users = c.user_snapshot().await?;
    if let Some(user) = users.find_one(&by_marker(&marker.key())) {
        return Ok(Observed::Ours(user));
    }
    Ok(match users.find_one(&by_username(username)) {
        None => Observed::Missing,
        Some(user) => {
            let found = user.marker().map(str::to_owned);
            Observed::classify(marker, found.as_deref(), user)
        }
    })
}

/// The user with this marker or username, read live (after a create found the snapshot
/// stale); what is found replaces the snapshot's entry.
async fn observe_user_live(
    c: &AuthentikClient,
    username: &str,
    marker: &Marker,
) -> Result<Observed<UserObs>, IdentityError> {
    let marker_filter = json!({ ATTR_MARKER: marker.key() }).to_string();
    let req = RequestSpec::get("core/users/")
        .query("attributes", marker_filter)
        .query("include_groups", "false");
    let found = match c.first::<UserObs>("user.list", req).await? {
        Some(user) => Some(user),
        None => {
            let req = RequestSpec::get("core/users/")
                .query("username", username)
                .query("include_groups", "false");
            c.first::<UserObs>("user.list", req).await?
        }
    };
    Ok(match found {
        None => Observed::Missing,
        Some(user) => {
            c.snapshots.users.put(user.clone());
            let found = user.marker().map(str::to_owned);
            Observed::classify(marker, found.as_deref(), user)
        }
    })
}

pub(super) async fn create_user(
    c: &AuthentikClient,
    spec: &UserSpec,
    marker: &Marker,
    adopt: bool,
) -> Result<UserObs, IdentityError> {
    let existing = match c.observe_user(&spec.username, marker).await? {
        Observed::Missing => {
            let mut attributes = spec.attributes.clone();
            attributes.extend(marker_attributes(marker));
            let body = json!({
                "username": spec.username, "name": spec.name, "email": spec.email,
                "is_active": spec.is_active, "path": spec.path, "type": spec.user_type,
                "attributes": attributes,
            });
            match c
                .send_body::<UserObs>("user.create", RequestSpec::post("core/users/"), &body)
                .await
            {
                Ok(user) => {
                    c.snapshots.users.put(user.clone());
                    return Ok(user);
                }
                Err(e) if is_key_clash(&e, "username") => {
                    observe_user_live(c, &spec.username, marker).await?
                }
                Err(e) => return Err(e),
            }
        }
        other => other,
    };
    match existing {
        Observed::Ours(user) => Ok(user),
        Observed::Foreign(_) => Err(IdentityError::NameTaken {
            kind: "user",
            name: spec.username.clone(),
        }),
        Observed::Unmarked(user) if adopt => {
            let attributes =
                merged_attributes(&user.attributes, &spec.attributes, marker).unwrap_or_default();
            let req = RequestSpec::patch(format!("core/users/{}/", user.pk));
            let adopted = c
                .send_body("user.adopt", req, &json!({ "attributes": attributes }))
                .await;
            keep_user(c, user.pk, adopted)
        }
        Observed::Unmarked(_) => Err(IdentityError::AdoptionRequired {
            kind: "user",
            name: spec.username.clone(),
        }),
        Observed::Missing => Err(IdentityError::LookupMissing {
            what: "user",
            name: spec.username.clone(),
        }),
    }
}

pub(super) async fn update_user(
    c: &AuthentikClient,
    current: &UserObs,
    spec: &UserSpec,
    marker: &Marker,
) -> Result<Option<UserObs>, IdentityError> {
    let mut body = Map::new();
    if current.name != spec.name {
        body.insert("name".into(), json!(spec.name));
    }
    if current.email != spec.email {
        body.insert("email".into(), json!(spec.email));
    }
    if current.is_active != spec.is_active {
        body.insert("is_active".into(), json!(spec.is_active));
    }
    if current.path != spec.path {
        body.insert("path".into(), json!(spec.path));
    }
    if current.user_type != spec.user_type {
        body.insert("type".into(), json!(spec.user_type));
    }
    if let Some(attributes) = merged_attributes(&current.attributes, &spec.attributes, marker) {
        body.insert("attributes".into(), Value::Object(attributes));
    }
    if body.is_empty() {
        return Ok(None);
    }
    let req = RequestSpec::patch(format!("core/users/{}/", current.pk));
    let updated = c.send_body("user.update", req, &Value::Object(body)).await;
    keep_user(c, current.pk, updated).map(Some)
}

pub(super) async fn set_password(
    c: &AuthentikClient,
    user_pk: i64,
    password: &Secret,
) -> Result<(), IdentityError> {
    let req = RequestSpec::post(format!("core/users/{user_pk}/set_password/"));
    c.send_body_empty(
        "user.set_password",
        req,
        &json!({"password": password.expose()}),
    )
    .await
}

pub(super) async fn delete_user(c: &AuthentikClient, pk: i64) -> Result<(), IdentityError> {
    match c
        .http
        .send(
            "user.delete",
            RequestSpec::delete(format!("core/users/{pk}/")),
        )
        .await
    {
        Ok(_) => {
            c.snapshots.users.remove(&pk.to_string());
            Ok(())
        }
        Err(e) if e.category() == ErrorCategory::NotFound => {
            c.snapshots.users.remove(&pk.to_string());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn list_users(
    c: &AuthentikClient,
    installation: &str,
    kind: &str,
) -> Result<Vec<UserObs>, IdentityError> {
    let mut users: Vec<UserObs> = c
        .user_snapshot()
        .await?
        .all()
        .into_iter()
        .filter(|u| of_installation_kind(&u.attributes, installation, kind))
        .collect();
    users.sort_by_key(|u| u.pk);
    Ok(users)
}

/// Records a membership change in both snapshots (the user's group pks, the group's user pks).
fn record_membership(c: &AuthentikClient, group_pk: &str, user_pk: i64, member: bool) {
    c.snapshots.users.modify(&user_pk.to_string(), |user| {
        user.groups.retain(|g| g != group_pk);
        if member {
            user.groups.push(group_pk.to_owned());
        }
    });
    c.snapshots.groups.modify(group_pk, |group| {
        group.users.retain(|u| *u != user_pk);
        if member {
            group.users.push(user_pk);
        }
    });
}

pub(super) async fn add_member(
    c: &AuthentikClient,
    group_pk: &str,
    user_pk: i64,
) -> Result<(), IdentityError> {
    let req = RequestSpec::post(format!("core/groups/{group_pk}/add_user/"));
    c.send_body_empty("group.add_user", req, &json!({"pk": user_pk}))
        .await?;
    record_membership(c, group_pk, user_pk, true);
    Ok(())
}

pub(super) async fn remove_member(
    c: &AuthentikClient,
    group_pk: &str,
    user_pk: i64,
) -> Result<(), IdentityError> {
    let req = RequestSpec::post(format!("core/groups/{group_pk}/remove_user/"));
    match c
        .send_body_empty("group.remove_user", req, &json!({"pk": user_pk}))
        .await
    {
        Err(e) if not_found(&e) => {}
        other => other?,
    }
    record_membership(c, group_pk, user_pk, false);
    Ok(())
}

pub(super) async fn list_sessions(
    c: &AuthentikClient,
    username: &str,
) -> Result<Vec<SessionObs>, IdentityError> {
    let req = RequestSpec::get("core/authenticated_sessions/").query("user__username", username);
    c.all_pages("session.list", req).await
}

pub(super) async fn end_sessions(
    c: &AuthentikClient,
    user_pk: i64,
    username: &str,
) -> Result<usize, IdentityError> {
    #[derive(serde::Deserialize)]
    struct Deleted {
        #[serde(default)]
        deleted: usize,
    }
    let req = RequestSpec::delete("core/authenticated_sessions/bulk_delete/")
        .query("user_pks", user_pk.to_string());
    match c.json::<Deleted>("session.bulk_delete", req).await {
        Ok(done) => return Ok(done.deleted),
        // before 2026.2 there is no bulk_delete: the path is read as a session UUID (404)
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(e),
    }
    let mut ended = 0;
    for session in c
        .list_sessions(username)
        .await?
        .into_iter()
        .filter(|s| s.user == user_pk)
    {
        let req = RequestSpec::delete(format!("core/authenticated_sessions/{}/", session.uuid));
        match c.http.send("session.delete", req).await {
            Ok(_) => ended += 1,
            Err(e) if e.category() == ErrorCategory::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ended)
}

pub(super) async fn confirmed_authenticators(
    c: &AuthentikClient,
    user_pk: i64,
) -> Result<usize, IdentityError> {
    let req = RequestSpec::get("authenticators/admin/all/").query("user", user_pk.to_string());
    let devices: Vec<DeviceObs> = c.json("authenticator.list", req).await?;
    Ok(devices
        .iter()
        .filter(|d| d.confirmed && !d.device_type.to_lowercase().contains("endpoint"))
        .count())
}
