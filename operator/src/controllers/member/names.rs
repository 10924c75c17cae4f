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

/// Parses a Kubernetes quantity (`5Gi`, `500M`, `1e9`, `1.5Gi`) into bytes.
pub fn quantity_bytes(quantity: &str) -> Option<u64> {
    let q = quantity.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "m" => 1e-3,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    let bytes = (number * factor).ceil();
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

/// Parses a Go duration (`168h`, `1h30m`, `90s`, `1.5h`) as the Tenant's retention uses it.
pub fn go_duration(text: &str) -> Option<std::time::Duration> {
    let mut total = 0f64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, tail) = rest.split_at(split);
        let number: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * seconds;
        rest = tail;
    }
    Some(std::time::Duration::from_secs_f64(total))
}

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
