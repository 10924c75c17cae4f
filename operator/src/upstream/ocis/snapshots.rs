//! The OCIS collections the client observes from memory: project spaces and groups. OCIS
//! answers both lists whole (no paging, `ocis.md` 2.2); an `@odata.nextLink`, which the
//! libre-graph schema allows, is followed. Kept fresh by the client's own writes (see
//! [`crate::upstream::snapshot`]).

use super::{FilesGroup, Space};
use crate::upstream::http::UpstreamHttp;
use crate::upstream::snapshot::{Keyed, Snapshot};

/// Lookup key of a space by the marker key in its drive alias.
pub(super) fn by_marker(key: &str) -> String {
    format!("marker:{key}")
}

/// Lookup key of a group by its display name.
pub(super) fn by_name(name: &str) -> String {
    format!("name:{name}")
}

impl Keyed for Space {
    fn id(&self) -> String {
        self.id.clone()
    }
    fn lookup_keys(&self) -> Vec<String> {
        self.marker().map(by_marker).into_iter().collect()
    }
}

impl Keyed for FilesGroup {
    fn id(&self) -> String {
        self.id.clone()
    }
    fn lookup_keys(&self) -> Vec<String> {
        vec![by_name(&self.display_name)]
    }
}

/// The snapshots of one OCIS client.
#[derive(Clone, Debug)]
pub(super) struct Snapshots {
    pub(super) spaces: Snapshot<Space>,
    pub(super) groups: Snapshot<FilesGroup>,
}

impl Snapshots {
    pub(super) fn new(http: &UpstreamHttp) -> Self {
        Self {
            spaces: http.snapshot("project_spaces"),
            groups: http.snapshot("groups"),
        }
    }
}
