//! Names and small parsers of the Member controller: group and Secret names, addresses,
//! markers of retired members, Kubernetes quantities, Go durations and the seat rank.

use dezky_crds::member::FileRole;

use crate::upstream::marker::MARKER_PREFIX;

/// The file-role group name of a tenant.
pub fn file_role_group(tenant: &str, role: FileRole) -> String {
    let role = match role {
        FileRole::Viewer => "viewer",
        FileRole::Editor => "editor",
        FileRole::Manager => "manager",
    };
    format!("tenant-{tenant}-files-{role}")
}

/// The Secret holding a member's one-time password.
pub fn credentials_secret_name(member: &str) -> String {
    format!("member-{member}-credentials")
}

/// Splits an address into local part and domain (both lower-cased).
pub fn split_address(address: &str) -> Option<(String, String)> {
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some((local.to_ascii_lowercase(), domain.to_ascii_lowercase()))
}

/// The name of the Member whose marker `key` is, when it is a Member of this installation in
/// `namespace` (i.e. of the same tenant); used to recognise a retired member's objects.
pub fn member_of_namespace<'a>(
    key: &'a str,
    installation: &str,
    namespace: &str,
) -> Option<&'a str> {
    let prefix = format!("{MARKER_PREFIX}{installation}:Member:{namespace}/");
    key.strip_prefix(prefix.as_str())
        .filter(|name| !name.is_empty())
}

/// A Kubernetes quantity (`5Gi`, `500M`, `1e9`) in bytes: the operator's one quantity parser.
pub use crate::quantity::parse_bytes as quantity_bytes;

/// A Go duration (`168h`, `1h30m`) as the Tenant's retention uses it: the configuration's parser.
pub use crate::config::go_duration::parse as go_duration;

/// The seat rank of a Member among the live Members of its tenant: oldest first (creation time,
/// then name). Returns whether `name` is within `seats`.
pub fn holds_seat(members: &[(String, String)], name: &str, seats: i32) -> bool {
    let mut ordered: Vec<&(String, String)> = members.iter().collect();
    ordered.sort_by(|a, b| (a.1.as_str(), a.0.as_str()).cmp(&(b.1.as_str(), b.0.as_str())));
    ordered
        .iter()
        .position(|(n, _)| n == name)
        .is_some_and(|rank| rank < usize::try_from(seats.max(0)).unwrap_or(0))
}
