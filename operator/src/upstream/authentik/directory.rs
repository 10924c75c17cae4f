//! Groups, users, membership, sessions and MFA status of the Authentik client.

use serde_json::{Map, Value, json};

use super::client::{
    AuthentikClient, is_key_clash, marker_attributes, merged_attributes, not_found,
};
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
    let by_marker = json!({ ATTR_MARKER: marker.key() }).to_string();
    let req = RequestSpec::get("core/groups/")
        .query("attributes", by_marker)
        .query("include_users", "false");
    if let Some(group) = c.first::<GroupObs>("group.list", req).await? {
        return Ok(Observed::Ours(group));
    }
    let req = RequestSpec::get("core/groups/")
        .query("name", name)
        .query("include_users", "false");
    Ok(match c.first::<GroupObs>("group.list", req).await? {
        None => Observed::Missing,
        Some(group) => {
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
                .send_body("group.create", RequestSpec::post("core/groups/"), &body)
                .await
            {
                Ok(group) => return Ok(group),
                // created concurrently (or by a create whose answer was lost): classify what is there
                Err(e) if is_key_clash(&e, "name") => c.observe_group(&spec.name, marker).await?,
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
            c.send_body("group.adopt", req, &json!({ "attributes": attributes }))
                .await
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
    Ok(Some(
        c.send_body("group.update", req, &Value::Object(body))
            .await?,
    ))
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
        Ok(_) => Ok(()),
        Err(e) if e.category() == ErrorCategory::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn list_groups(
    c: &AuthentikClient,
    installation: &str,
    kind: &str,
) -> Result<Vec<GroupObs>, IdentityError> {
    let filter = json!({ ATTR_INSTALLATION: installation, ATTR_KIND: kind }).to_string();
    let req = RequestSpec::get("core/groups/")
        .query("attributes", filter)
        .query("include_users", "false");
    c.all_pages("group.list", req).await
}

pub(super) async fn observe_user(
    c: &AuthentikClient,
    username: &str,
    marker: &Marker,
) -> Result<Observed<UserObs>, IdentityError> {
    let by_marker = json!({ ATTR_MARKER: marker.key() }).to_string();
    let req = RequestSpec::get("core/users/")
        .query("attributes", by_marker)
        .query("include_groups", "false");
    if let Some(user) = c.first::<UserObs>("user.list", req).await? {
        return Ok(Observed::Ours(user));
    }
    let req = RequestSpec::get("core/users/")
        .query("username", username)
        .query("include_groups", "false");
    Ok(match c.first::<UserObs>("user.list", req).await? {
        None => Observed::Missing,
        Some(user) => {
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
                .send_body("user.create", RequestSpec::post("core/users/"), &body)
                .await
            {
                Ok(user) => return Ok(user),
                Err(e) if is_key_clash(&e, "username") => {
                    c.observe_user(&spec.username, marker).await?
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
            c.send_body("user.adopt", req, &json!({ "attributes": attributes }))
                .await
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
    Ok(Some(
        c.send_body("user.update", req, &Value::Object(body))
            .await?,
    ))
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
        Ok(_) => Ok(()),
        Err(e) if e.category() == ErrorCategory::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn list_users(
    c: &AuthentikClient,
    installation: &str,
    kind: &str,
) -> Result<Vec<UserObs>, IdentityError> {
    let filter = json!({ ATTR_INSTALLATION: installation, ATTR_KIND: kind }).to_string();
    let req = RequestSpec::get("core/users/")
        .query("attributes", filter)
        .query("include_groups", "false");
    c.all_pages("user.list", req).await
}

pub(super) async fn add_member(
    c: &AuthentikClient,
    group_pk: &str,
    user_pk: i64,
) -> Result<(), IdentityError> {
    let req = RequestSpec::post(format!("core/groups/{group_pk}/add_user/"));
    c.send_body_empty("group.add_user", req, &json!({"pk": user_pk}))
        .await
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
        Err(e) if not_found(&e) => Ok(()),
        other => other,
    }
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
