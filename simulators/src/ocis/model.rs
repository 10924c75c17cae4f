//! The OCIS simulator's state: drives (spaces) with their grants, and groups, rendered in the
//! libre-graph v1.0 and v1beta1 shapes.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Space Viewer unified role id.
pub const ROLE_SPACE_VIEWER: &str = "a8d5fe5e-96e3-418d-825b-534dbdf22b99";
/// Space Editor unified role id.
pub const ROLE_SPACE_EDITOR: &str = "58c63c02-1d89-4572-916a-870abc5a1b7d";
/// Manager unified role id.
pub const ROLE_MANAGER: &str = "312c0871-5ef7-4b3a-85b6-0e4074c64049";
/// Unified roles that exist but only apply to files and folders, never to a space root.
pub const ITEM_ROLES: &[&str] = &[
    "b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5",
    "fb6c3e19-e378-47e5-b277-9732f9de6e21",
    "2d00ce52-1fc2-4dbc-8b95-a73b73395f5a",
    "1c996275-f1c9-4e71-abdf-a42f6495e960",
    "aa97fe03-7980-45ac-9e50-b325749fd7e6",
];

/// The three space roles: (id, legacy v1.0 name, display name, description, weight).
pub const SPACE_ROLES: [(&str, &str, &str, &str, u32); 3] = [
    (
        ROLE_SPACE_VIEWER,
        "viewer",
        "Can view",
        "View and download.",
        1,
    ),
    (
        ROLE_SPACE_EDITOR,
        "editor",
        "Can edit",
        "View, download, upload, edit, add and delete.",
        2,
    ),
    (
        ROLE_MANAGER,
        "manager",
        "Can manage",
        "View, download, upload, edit, add, delete and manage members.",
        3,
    ),
];

/// Who a grant is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    User { id: String, display_name: String },
    Group { id: String },
}

impl Principal {
    /// The permission id OCIS derives from the principal (`u:<id>` / `g:<id>`).
    pub fn permission_id(&self) -> String {
        match self {
            Principal::User { id, .. } => format!("u:{id}"),
            Principal::Group { id } => format!("g:{id}"),
        }
    }
}

/// One space membership.
#[derive(Clone, Debug)]
pub struct Grant {
    pub principal: Principal,
    pub role: String,
}

/// A project or personal space.
#[derive(Clone, Debug)]
pub struct Drive {
    pub id: String,
    pub space_uuid: String,
    pub drive_type: String,
    pub name: String,
    pub description: Option<String>,
    pub alias: String,
    pub quota_total: u64,
    pub disabled: bool,
    pub last_modified: String,
    pub etag: String,
    pub grants: Vec<Grant>,
}

/// A group.
#[derive(Clone, Debug)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
}

/// All state of one simulated OCIS.
pub struct Model {
    pub base_url: String,
    pub drives: BTreeMap<String, Drive>,
    pub groups: BTreeMap<String, Group>,
}

fn legacy_role(role: &str) -> &'static str {
    SPACE_ROLES
        .iter()
        .find(|r| r.0 == role)
        .map(|r| r.1)
        .unwrap_or("viewer")
}

impl Model {
    fn group_name(&self, id: &str) -> String {
        self.groups
            .get(id)
            .map(|g| g.display_name.clone())
            .unwrap_or_default()
    }

    /// A permission in the v1beta1 shape.
    pub fn permission_json(&self, grant: &Grant, invited_by: Option<&Value>) -> Value {
        let granted = match &grant.principal {
            Principal::User { id, display_name } => {
                json!({"user": {"id": id, "displayName": display_name}})
            }
            Principal::Group { id } => {
                json!({"group": {"id": id, "displayName": self.group_name(id)}})
            }
        };
        let mut permission = json!({"id": grant.principal.permission_id(), "roles": [grant.role], "grantedToV2": granted});
        if let Some(invited_by) = invited_by {
            permission["invitation"] = json!({"invitedBy": invited_by});
        }
        permission
    }

    /// A drive as libre-graph returns it; `beta` selects the v1beta1 permission shape.
    pub fn drive_json(&self, drive: &Drive, beta: bool) -> Value {
        let permissions: Vec<Value> = drive
            .grants
            .iter()
            .map(|grant| {
                if beta {
                    self.permission_json(grant, None)
                } else {
                    let identity = match &grant.principal {
                        Principal::User { id, display_name } => {
                            json!({"user": {"id": id, "displayName": display_name}})
                        }
                        Principal::Group { id } => {
                            json!({"group": {"id": id, "displayName": self.group_name(id)}})
                        }
                    };
                    json!({"grantedToIdentities": [identity], "roles": [legacy_role(&grant.role)]})
                }
            })
            .collect();
        let mut root = json!({
            "eTag": format!("\"{}\"", drive.etag),
            "id": drive.id,
            "permissions": permissions,
            "webDavUrl": format!("{}/dav/spaces/{}", self.base_url, drive.id),
        });
        let quota = if drive.disabled {
            root["deleted"] = json!({"state": "trashed"});
            json!({"total": drive.quota_total})
        } else {
            let remaining = if drive.quota_total == 0 {
                1_000_000_000_000u64
            } else {
                drive.quota_total
            };
            json!({"total": drive.quota_total, "used": 0, "remaining": remaining, "state": "normal"})
        };
        let mut out = json!({
            "driveAlias": drive.alias,
            "driveType": drive.drive_type,
            "id": drive.id,
            "lastModifiedDateTime": drive.last_modified,
            "name": drive.name,
            "owner": {"user": {"displayName": "", "id": drive.space_uuid}},
            "quota": quota,
            "root": root,
            "webUrl": format!("{}/f/{}", self.base_url, drive.id),
        });
        if let Some(description) = &drive.description {
            out["description"] = json!(description);
        }
        out
    }

    /// A group as libre-graph returns it.
    pub fn group_json(&self, group: &Group, with_members: bool) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(group.id));
        out.insert("displayName".into(), json!(group.display_name));
        out.insert("groupTypes".into(), json!([]));
        if let Some(description) = &group.description {
            out.insert("description".into(), json!(description));
        }
        if with_members {
            out.insert("members".into(), json!([]));
        }
        Value::Object(out)
    }

    /// Looks a group up by id or by display name, as `GET /groups/{id-or-name}` does.
    pub fn find_group(&self, key: &str) -> Option<&Group> {
        self.groups
            .get(key)
            .or_else(|| self.groups.values().find(|g| g.display_name == key))
    }

    /// The state for the control API's dump.
    pub fn dump(&self) -> Value {
        json!({
            "drives": self.drives.values().map(|d| self.drive_json(d, true)).collect::<Vec<_>>(),
            "groups": self.groups.values().map(|g| self.group_json(g, false)).collect::<Vec<_>>(),
        })
    }
}

/// Why a space name is refused (`validateSpaceName`), or `None`.
pub fn space_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("invalid spacename: spacename must not be empty".into());
    }
    if name.chars().count() > 255 {
        return Some("invalid spacename: spacename must be smaller than 255".into());
    }
    if name.chars().any(|c| "/\\.:?*\"><|".contains(c)) {
        return Some(
            "invalid spacename: spacenames must not contain [/ \\ . : ? * \" > < |]".into(),
        );
    }
    None
}
