//! OCIS libre-graph client: project spaces, groups and space permissions.
//!
//! [`FilesClient`] is the contract the controllers use; [`OcisClient`] implements it over the
//! shared [`UpstreamHttp`] with the app-token Basic auth. Space names are not unique in OCIS,
//! so a space is found by its marker: `driveAlias` = `project/<marker key>` (set on create,
//! not editable in the web UI, unlike name and description). A space with the desired name
//! and a non-Dezky alias is reported as [`FilesError::AdoptionRequired`]; spaces carrying
//! another object's marker are simply not ours (names may repeat), so they never block a
//! create. Groups have unique names; their marker is kept in `description`.

mod client;
mod snapshots;

use std::future::Future;

pub use client::OcisClient;

use super::http::{ErrorCategory, UpstreamError};
use super::marker::{MARKER_PREFIX, Marker};

/// The Space Viewer unified role id.
pub const ROLE_SPACE_VIEWER: &str = "a8d5fe5e-96e3-418d-825b-534dbdf22b99";
/// The Space Editor unified role id.
pub const ROLE_SPACE_EDITOR: &str = "58c63c02-1d89-4572-916a-870abc5a1b7d";
/// The Manager unified role id.
pub const ROLE_MANAGER: &str = "312c0871-5ef7-4b3a-85b6-0e4074c64049";

/// A role in a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpaceRole {
    Viewer,
    Editor,
    Manager,
}

impl SpaceRole {
    /// The unified role id OCIS uses for this role on a space root.
    pub fn role_id(self) -> &'static str {
        match self {
            SpaceRole::Viewer => ROLE_SPACE_VIEWER,
            SpaceRole::Editor => ROLE_SPACE_EDITOR,
            SpaceRole::Manager => ROLE_MANAGER,
        }
    }

    /// The role of a unified role id, if it is a space role.
    pub fn from_role_id(id: &str) -> Option<SpaceRole> {
        [SpaceRole::Viewer, SpaceRole::Editor, SpaceRole::Manager]
            .into_iter()
            .find(|r| r.role_id() == id)
    }
}

/// The desired state of a project space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceSpec {
    /// Display name; must not contain `/ \ . : ? * " > < |`.
    pub name: String,
    pub description: Option<String>,
    /// Quota in bytes; 0 means unlimited.
    pub quota_bytes: u64,
}

/// A space as OCIS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    pub id: String,
    pub drive_type: String,
    pub name: String,
    pub description: Option<String>,
    pub alias: Option<String>,
    pub quota_bytes: u64,
    pub used_bytes: Option<u64>,
    /// Disabled ("trashed"): only restore or purge are possible.
    pub disabled: bool,
}

impl Space {
    /// The marker key carried in the drive alias, if any.
    pub fn marker(&self) -> Option<&str> {
        self.alias
            .as_deref()?
            .strip_prefix("project/")
            .filter(|m| m.starts_with(MARKER_PREFIX))
    }
}

/// The drive alias that carries a marker.
pub fn space_alias(marker: &Marker) -> String {
    format!("project/{}", marker.key())
}

/// An OCIS group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesGroup {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
}

/// Who a space permission is granted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    User {
        id: String,
    },
    Group {
        id: String,
    },
    /// A public link or anything else without a user or group.
    Other,
}

/// One permission on a space root (v1beta1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpacePermission {
    /// `u:<id>` / `g:<id>`.
    pub id: String,
    pub role_ids: Vec<String>,
    pub grantee: Grantee,
}

impl SpacePermission {
    /// The space role of this permission, if it has one.
    pub fn role(&self) -> Option<SpaceRole> {
        self.role_ids
            .iter()
            .find_map(|r| SpaceRole::from_role_id(r))
    }
}

/// A failed files operation.
#[derive(thiserror::Error, Debug)]
pub enum FilesError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("ocis already has an unmarked {object} {id} with this name; adoption required")]
    AdoptionRequired { object: &'static str, id: String },
    #[error("ocis {object} {id} holds this name and is not ours")]
    NameTaken { object: &'static str, id: String },
    #[error("ocis has {} spaces carrying the same marker", ids.len())]
    DuplicateSpaces { ids: Vec<String> },
    #[error("ocis answer to {operation} is malformed: {reason}")]
    Protocol {
        operation: &'static str,
        reason: String,
    },
}

impl FilesError {
    /// The bounded category, for metrics, event reasons and requeue decisions.
    pub fn category(&self) -> ErrorCategory {
        match self {
            FilesError::Upstream(error) => error.category(),
            FilesError::AdoptionRequired { .. }
            | FilesError::NameTaken { .. }
            | FilesError::DuplicateSpaces { .. } => ErrorCategory::Conflict,
            FilesError::Protocol { .. } => ErrorCategory::Protocol,
        }
    }

    /// True when retrying cannot help until something changes.
    pub fn is_permanent(&self) -> bool {
        match self {
            FilesError::Upstream(error) => error.is_permanent(),
            _ => true,
        }
    }
}

/// The files upstream contract (crossplane style): observe is read-only; create adopts our
/// marked object and reports an unmarked natural-key clash without touching it (unless
/// `adopt`); update changes only managed fields; delete of what is gone is success.
pub trait FilesClient {
    /// Every project space (OCIS does not page drives; an `@odata.nextLink` would be followed).
    fn list_project_spaces(&self) -> impl Future<Output = Result<Vec<Space>, FilesError>> + Send;
    /// One space by id.
    fn get_space(&self, id: &str)
    -> impl Future<Output = Result<Option<Space>, FilesError>> + Send;
    /// The project space carrying this marker.
    fn find_space(
        &self,
        marker: &Marker,
    ) -> impl Future<Output = Result<Option<Space>, FilesError>> + Send;
    /// Creates the space (its creator, our service account, becomes its Manager) or adopts it.
    fn create_space(
        &self,
        spec: &SpaceSpec,
        marker: &Marker,
        adopt: bool,
    ) -> impl Future<Output = Result<Space, FilesError>> + Send;
    /// Brings name, description and quota to `spec`; returns the space after any change and
    /// whether anything was written.
    fn update_space(
        &self,
        current: &Space,
        spec: &SpaceSpec,
    ) -> impl Future<Output = Result<(Space, bool), FilesError>> + Send;
    /// Disables a space (soft delete); gone or already disabled is success.
    fn disable_space(&self, id: &str) -> impl Future<Output = Result<(), FilesError>> + Send;
    /// Restores a disabled space.
    fn restore_space(&self, id: &str) -> impl Future<Output = Result<Space, FilesError>> + Send;
    /// Purges a disabled space for good (refused by OCIS while enabled); gone is success.
    fn purge_space(&self, id: &str) -> impl Future<Output = Result<(), FilesError>> + Send;
    /// Every group.
    fn list_groups(&self) -> impl Future<Output = Result<Vec<FilesGroup>, FilesError>> + Send;
    /// A group by name.
    fn find_group(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<FilesGroup>, FilesError>> + Send;
    /// Creates the group or adopts it.
    fn create_group(
        &self,
        name: &str,
        marker: &Marker,
        adopt: bool,
    ) -> impl Future<Output = Result<FilesGroup, FilesError>> + Send;
    /// Deletes a group; gone is success.
    fn delete_group(&self, id: &str) -> impl Future<Output = Result<(), FilesError>> + Send;
    /// The permissions on a space's root.
    fn list_permissions(
        &self,
        space_id: &str,
    ) -> impl Future<Output = Result<Vec<SpacePermission>, FilesError>> + Send;
    /// Grants a group a role on a space (one request per group); an existing grant is
    /// brought to `role`.
    fn share_with_group(
        &self,
        space_id: &str,
        group_id: &str,
        role: SpaceRole,
    ) -> impl Future<Output = Result<SpacePermission, FilesError>> + Send;
    /// Changes the role of a permission.
    fn set_permission_role(
        &self,
        space_id: &str,
        permission_id: &str,
        role: SpaceRole,
    ) -> impl Future<Output = Result<SpacePermission, FilesError>> + Send;
    /// Removes a permission; gone is success.
    fn remove_permission(
        &self,
        space_id: &str,
        permission_id: &str,
    ) -> impl Future<Output = Result<(), FilesError>> + Send;
}
