//! [`OcisClient`]: the [`FilesClient`] contract over libre-graph.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::snapshots::{Snapshots, by_marker};
use super::{
    FilesClient, FilesError, FilesGroup, Grantee, Space, SpacePermission, SpaceRole, SpaceSpec,
    space_alias,
};
use crate::upstream::http::{RequestSpec, UpstreamError, UpstreamHttp};
use crate::upstream::marker::{Marker, Ownership};

/// The OCIS client; cheap to clone.
#[derive(Clone, Debug)]
pub struct OcisClient {
    pub(super) http: UpstreamHttp,
    /// The collections observations are answered from.
    pub(super) snapshots: Snapshots,
}

#[derive(Deserialize)]
pub(super) struct DriveWire {
    id: String,
    #[serde(rename = "driveType", default)]
    drive_type: String,
    #[serde(default)]
    name: String,
    description: Option<String>,
    #[serde(rename = "driveAlias")]
    drive_alias: Option<String>,
    quota: Option<QuotaWire>,
    root: Option<Value>,
}

#[derive(Deserialize)]
struct QuotaWire {
    total: Option<u64>,
    used: Option<u64>,
}

impl From<DriveWire> for Space {
    fn from(w: DriveWire) -> Self {
        let disabled = w
            .root
            .as_ref()
            .and_then(|r| r.get("deleted"))
            .and_then(|d| d.get("state"))
            .and_then(Value::as_str)
            == Some("trashed");
        Space {
            id: w.id,
            drive_type: w.drive_type,
            name: w.name,
            description: w.description,
            alias: w.drive_alias,
            quota_bytes: w.quota.as_ref().and_then(|q| q.total).unwrap_or(0),
            used_bytes: w.quota.as_ref().and_then(|q| q.used),
            disabled,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct GroupWire {
    id: String,
    #[serde(rename = "displayName", default)]
    display_name: String,
    description: Option<String>,
}

impl From<GroupWire> for FilesGroup {
    fn from(w: GroupWire) -> Self {
        FilesGroup {
            id: w.id,
            display_name: w.display_name,
            description: w.description,
        }
    }
}

#[derive(Deserialize)]
struct PermissionWire {
    id: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(rename = "grantedToV2")]
    granted_to: Option<Value>,
}

impl From<PermissionWire> for SpacePermission {
    fn from(w: PermissionWire) -> Self {
        let id_of = |key: &str| {
            w.granted_to
                .as_ref()
                .and_then(|g| g.get(key))
                .and_then(|p| p.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let grantee = match (id_of("user"), id_of("group")) {
            (Some(id), _) => Grantee::User { id },
            (None, Some(id)) => Grantee::Group { id },
            _ => Grantee::Other,
        };
        SpacePermission {
            id: w.id,
            role_ids: w.roles,
            grantee,
        }
    }
}

/// `{"value": [...]}`, where OCIS may also answer a bare `null`.
#[derive(Deserialize)]
pub(super) struct Collection<T> {
    #[serde(default = "Vec::new")]
    pub(super) value: Vec<T>,
    /// The next page, when the server pages (libre-graph allows it; OCIS does not do it).
    #[serde(rename = "@odata.nextLink", default)]
    pub(super) next_link: Option<String>,
}

/// Percent-encodes one path segment (drive ids contain `$`, which OCIS wants as `%24`).
fn segment(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(super) fn is_status(error: &UpstreamError, status: u16) -> bool {
    error.status() == Some(status)
}

impl OcisClient {
    /// A client over `http`, whose base URL is the OCIS root (requests go to `graph/...`).
    pub fn new(http: UpstreamHttp) -> OcisClient {
        OcisClient {
            snapshots: Snapshots::new(&http),
            http,
        }
    }

    fn drive_path(id: &str) -> String {
        format!("graph/v1.0/drives/{}", segment(id))
    }

    fn root_path(id: &str) -> String {
        format!("graph/v1beta1/drives/{}/root", segment(id))
    }

    async fn claim_group(
        &self,
        group: FilesGroup,
        marker: &Marker,
        adopt: bool,
    ) -> Result<FilesGroup, FilesError> {
        match marker.classify(group.description.as_deref()) {
            Ownership::Ours => Ok(group),
            Ownership::Foreign => Err(FilesError::NameTaken {
                object: "group",
                id: group.id,
            }),
            Ownership::Unmarked if !adopt => Err(FilesError::AdoptionRequired {
                object: "group",
                id: group.id,
            }),
            Ownership::Unmarked => {
                // PATCH /groups/{id} accepts displayName and members only in OCIS 7 (ocis.md 3.3),
                // so an adopted group keeps its description and is recognised by name from then on
                // through the caller's status; it is returned as adopted.
                Ok(group)
            }
        }
    }
}

impl FilesClient for OcisClient {
    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn list_project_spaces(&self) -> Result<Vec<Space>, FilesError> {
        let mut spaces = self.space_snapshot().await?.all();
        spaces.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(spaces)
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn get_space(&self, id: &str) -> Result<Option<Space>, FilesError> {
        match self
            .http
            .send_json::<DriveWire>("space.get", RequestSpec::get(Self::drive_path(id)))
            .await
        {
            Ok(drive) => {
                let space: Space = drive.into();
                if space.drive_type == "project" {
                    self.snapshots.spaces.put(space.clone());
                }
                Ok(Some(space))
            }
            Err(error) if is_status(&error, 404) => {
                self.snapshots.spaces.remove(id);
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip(self, marker), fields(upstream = "ocis", marker = %marker))]
    async fn find_space(&self, marker: &Marker) -> Result<Option<Space>, FilesError> {
        let mut ours = self.space_snapshot().await?.find(&by_marker(&marker.key()));
        match ours.len() {
            0 => Ok(None),
            1 => Ok(ours.pop()),
            _ => Err(FilesError::DuplicateSpaces {
                ids: ours.into_iter().map(|s| s.id).collect(),
            }),
        }
    }

    #[tracing::instrument(skip(self, spec, marker), fields(upstream = "ocis", marker = %marker))]
    async fn create_space(
        &self,
        spec: &SpaceSpec,
        marker: &Marker,
        adopt: bool,
    ) -> Result<Space, FilesError> {
        // Names are not unique and nothing refuses a second space with our alias, so the
        // decision to create is taken on a live list, which also reloads the snapshot.
        let snapshot = &self.snapshots.spaces;
        snapshot.reload(|| self.list_project_spaces_live()).await?;
        let spaces = snapshot.all();
        let key = marker.key();
        let mut ours: Vec<&Space> = spaces
            .iter()
            .filter(|s| s.marker() == Some(key.as_str()))
            .collect();
        if ours.len() > 1 {
            return Err(FilesError::DuplicateSpaces {
                ids: ours.iter().map(|s| s.id.clone()).collect(),
            });
        }
        if let Some(space) = ours.pop() {
            return Ok(space.clone());
        }
        if let Some(unmarked) = spaces
            .iter()
            .find(|s| s.name == spec.name.trim() && s.marker().is_none())
        {
            if !adopt {
                return Err(FilesError::AdoptionRequired {
                    object: "space",
                    id: unmarked.id.clone(),
                });
            }
            let request = RequestSpec::patch(Self::drive_path(&unmarked.id))
                .json(&json!({"driveAlias": space_alias(marker)}))
                .map_err(encode_error)?;
            let adopted = self
                .http
                .send_json::<DriveWire>("space.adopt", request)
                .await
                .map(Space::from)
                .map_err(FilesError::from);
            return self.keep_space(&unmarked.id, adopted);
        }
        let mut body = json!({"name": spec.name, "driveType": "project", "driveAlias": space_alias(marker), "quota": {"total": spec.quota_bytes}});
        if let Some(description) = &spec.description {
            body["description"] = json!(description);
        }
        let request = RequestSpec::post("graph/v1.0/drives")
            .json(&body)
            .map_err(encode_error)?;
        let drive: DriveWire = self.http.send_json("space.create", request).await?;
        let created: Space = drive.into();
        self.snapshots.spaces.put(created.clone());
        Ok(created)
    }

    #[tracing::instrument(skip(self, current, spec), fields(upstream = "ocis", space = %current.id))]
    async fn update_space(
        &self,
        current: &Space,
        spec: &SpaceSpec,
    ) -> Result<(Space, bool), FilesError> {
        let mut patch = Map::new();
        if current.name != spec.name.trim() {
            patch.insert("name".into(), json!(spec.name));
        }
        if let Some(description) = &spec.description
            && current.description.as_ref() != Some(description)
        {
            patch.insert("description".into(), json!(description));
        }
        if current.quota_bytes != spec.quota_bytes {
            patch.insert("quota".into(), json!({"total": spec.quota_bytes}));
        }
        if patch.is_empty() {
            return Ok((current.clone(), false));
        }
        let request = RequestSpec::patch(Self::drive_path(&current.id))
            .json(&Value::Object(patch))
            .map_err(encode_error)?;
        let updated = self
            .http
            .send_json::<DriveWire>("space.update", request)
            .await
            .map(Space::from)
            .map_err(FilesError::from);
        Ok((self.keep_space(&current.id, updated)?, true))
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn disable_space(&self, id: &str) -> Result<(), FilesError> {
        match self
            .http
            .send("space.disable", RequestSpec::delete(Self::drive_path(id)))
            .await
        {
            Ok(_) => {
                self.snapshots
                    .spaces
                    .modify(id, |space| space.disabled = true);
                Ok(())
            }
            Err(error) if is_status(&error, 404) => {
                self.snapshots.spaces.remove(id);
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn restore_space(&self, id: &str) -> Result<Space, FilesError> {
        // "needs an empty body … to fulfil the … specification"
        let request = RequestSpec::patch(Self::drive_path(id))
            .header("Restore", "T")
            .json(&json!({}))
            .map_err(encode_error)?;
        let restored = self
            .http
            .send_json::<DriveWire>("space.restore", request)
            .await
            .map(Space::from)
            .map_err(FilesError::from);
        self.keep_space(id, restored)
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn purge_space(&self, id: &str) -> Result<(), FilesError> {
        match self
            .http
            .send(
                "space.purge",
                RequestSpec::delete(Self::drive_path(id)).header("Purge", "T"),
            )
            .await
        {
            Ok(_) => {
                self.snapshots.spaces.remove(id);
                Ok(())
            }
            Err(error) if is_status(&error, 404) => {
                self.snapshots.spaces.remove(id);
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn list_groups(&self) -> Result<Vec<FilesGroup>, FilesError> {
        let mut groups = self.group_snapshot().await?.all();
        groups.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
        Ok(groups)
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn find_group(&self, name: &str) -> Result<Option<FilesGroup>, FilesError> {
        let request = RequestSpec::get(format!("graph/v1.0/groups/{}", segment(name)));
        match self.http.send_json::<GroupWire>("group.get", request).await {
            Ok(group) if group.display_name == name => {
                let group: FilesGroup = group.into();
                self.snapshots.groups.put(group.clone());
                Ok(Some(group))
            }
            Ok(_) => Ok(None),
            Err(error) if is_status(&error, 404) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip(self, marker), fields(upstream = "ocis"))]
    async fn create_group(
        &self,
        name: &str,
        marker: &Marker,
        adopt: bool,
    ) -> Result<FilesGroup, FilesError> {
        if let Some(existing) = self.find_group(name).await? {
            return self.claim_group(existing, marker, adopt).await;
        }
        let request = RequestSpec::post("graph/v1.0/groups")
            .json(&json!({"displayName": name, "description": marker.key()}))
            .map_err(encode_error)?;
        match self
            .http
            .send_json::<GroupWire>("group.create", request)
            .await
        {
            Ok(group) => {
                let group: FilesGroup = group.into();
                self.snapshots.groups.put(group.clone());
                Ok(group)
            }
            Err(error) if is_status(&error, 409) => {
                // nameAlreadyExists: created concurrently (e.g. by the proxy's group sync).
                let existing = self
                    .find_group(name)
                    .await?
                    .ok_or(FilesError::Upstream(error))?;
                self.claim_group(existing, marker, adopt).await
            }
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn delete_group(&self, id: &str) -> Result<(), FilesError> {
        match self
            .http
            .send(
                "group.delete",
                RequestSpec::delete(format!("graph/v1.0/groups/{}", segment(id))),
            )
            .await
        {
            Ok(_) => {
                self.snapshots.groups.remove(id);
                Ok(())
            }
            Err(error) if is_status(&error, 404) => {
                self.snapshots.groups.remove(id);
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn list_permissions(&self, space_id: &str) -> Result<Vec<SpacePermission>, FilesError> {
        let request = RequestSpec::get(format!("{}/permissions", Self::root_path(space_id)));
        let list: Collection<PermissionWire> =
            self.http.send_json("permission.list", request).await?;
        Ok(list.value.into_iter().map(Into::into).collect())
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn share_with_group(
        &self,
        space_id: &str,
        group_id: &str,
        role: SpaceRole,
    ) -> Result<SpacePermission, FilesError> {
        let body = json!({"recipients": [{"@libre.graph.recipient.type": "group", "objectId": group_id}], "roles": [role.role_id()]});
        let request = RequestSpec::post(format!("{}/invite", Self::root_path(space_id)))
            .json(&body)
            .map_err(encode_error)?;
        match self
            .http
            .send_json::<Collection<PermissionWire>>("permission.invite", request)
            .await
        {
            Ok(list) => list
                .value
                .into_iter()
                .next()
                .map(Into::into)
                .ok_or(FilesError::Protocol {
                    operation: "permission.invite",
                    reason: "no permission returned".into(),
                }),
            Err(error) if is_status(&error, 409) => {
                // Already a member: converge its role instead.
                let id = format!("g:{group_id}");
                let existing = self
                    .list_permissions(space_id)
                    .await?
                    .into_iter()
                    .find(|p| p.id == id)
                    .ok_or(FilesError::Upstream(error))?;
                if existing.role() == Some(role) {
                    Ok(existing)
                } else {
                    self.set_permission_role(space_id, &id, role).await
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn set_permission_role(
        &self,
        space_id: &str,
        permission_id: &str,
        role: SpaceRole,
    ) -> Result<SpacePermission, FilesError> {
        let request = RequestSpec::patch(format!(
            "{}/permissions/{}",
            Self::root_path(space_id),
            segment(permission_id)
        ))
        .json(&json!({"roles": [role.role_id()]}))
        .map_err(encode_error)?;
        let permission: PermissionWire = self.http.send_json("permission.update", request).await?;
        Ok(permission.into())
    }

    #[tracing::instrument(skip(self), fields(upstream = "ocis"))]
    async fn remove_permission(
        &self,
        space_id: &str,
        permission_id: &str,
    ) -> Result<(), FilesError> {
        let request = RequestSpec::delete(format!(
            "{}/permissions/{}",
            Self::root_path(space_id),
            segment(permission_id)
        ));
        match self.http.send("permission.delete", request).await {
            Ok(_) => Ok(()),
            Err(error) if is_status(&error, 404) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

fn encode_error(_: serde_json::Error) -> FilesError {
    FilesError::Protocol {
        operation: "encode",
        reason: "failed to encode a request body".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::ocis::ROLE_SPACE_EDITOR;

    #[test]
    fn drive_ids_are_encoded_and_markers_read_from_aliases() {
        assert_eq!(segment("abc$12-3"), "abc%2412-3");
        let marker = Marker {
            installation: "p".into(),
            kind: "Tenant".into(),
            namespace: None,
            name: "acme".into(),
            uid: "u".into(),
        };
        let space = Space {
            id: "s".into(),
            drive_type: "project".into(),
            name: "Acme".into(),
            description: None,
            alias: Some(space_alias(&marker)),
            quota_bytes: 0,
            used_bytes: None,
            disabled: false,
        };
        assert_eq!(space.marker(), Some(marker.key().as_str()));
        assert_eq!(
            Space {
                alias: Some("project/acme".into()),
                ..space
            }
            .marker(),
            None
        );
        assert_eq!(
            SpaceRole::from_role_id(ROLE_SPACE_EDITOR),
            Some(SpaceRole::Editor)
        );
    }
}
