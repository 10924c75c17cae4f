//! The OCIS collections the client observes from memory: project spaces and groups. OCIS
//! answers both lists whole (no paging, `ocis.md` 2.2); an `@odata.nextLink`, which the
//! libre-graph schema allows, is followed. Kept fresh by the client's own writes (see
//! [`crate::upstream::snapshot`]).

use super::client::{Collection, DriveWire, GroupWire, OcisClient, is_status};
use super::{FilesError, FilesGroup, Space};
use crate::upstream::http::{RequestSpec, UpstreamHttp};
use crate::upstream::snapshot::{Keyed, Snapshot};

/// The most pages one listing follows.
const MAX_PAGES: usize = 1000;

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

impl OcisClient {
    /// Every item of a collection, following `@odata.nextLink` when the server gives one.
    pub(super) async fn collection<W: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        request: RequestSpec,
    ) -> Result<Vec<W>, FilesError> {
        let mut out = Vec::new();
        let mut request = Some(request);
        let mut pages = 0;
        while let Some(current) = request.take() {
            let response = self.http.send(operation, current).await?;
            // A NOT_FOUND from the storage backend renders as a 200 with body `null`.
            let list: Option<Collection<W>> = response.json("ocis", operation)?;
            let Some(list) = list else { break };
            out.extend(list.value);
            pages += 1;
            // a bounded number of pages guards against a server that links in a circle
            if pages < MAX_PAGES {
                request = list.next_link.and_then(|link| self.relative(&link));
            }
        }
        Ok(out)
    }

    /// A request for a link the server gave, when it is under the base URL.
    fn relative(&self, link: &str) -> Option<RequestSpec> {
        let url = self.http.base_url().join(link).ok()?;
        let path = url.path().strip_prefix(self.http.base_url().path())?;
        let mut request = RequestSpec::get(path.to_string());
        for (key, value) in url.query_pairs() {
            request = request.query(key.into_owned(), value.into_owned());
        }
        Some(request)
    }

    pub(super) async fn spaces(
        &self,
        operation: &'static str,
        request: RequestSpec,
    ) -> Result<Vec<Space>, FilesError> {
        Ok(self
            .collection::<DriveWire>(operation, request)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Every project space, loaded when stale.
    pub(super) async fn space_snapshot(&self) -> Result<&Snapshot<Space>, FilesError> {
        let snapshot = &self.snapshots.spaces;
        snapshot.ensure(|| self.list_project_spaces_live()).await?;
        Ok(snapshot)
    }

    pub(super) async fn list_project_spaces_live(&self) -> Result<Vec<Space>, FilesError> {
        let request =
            RequestSpec::get("graph/v1.0/drives").query("$filter", "driveType eq 'project'");
        self.spaces("space.list", request).await
    }

    /// Every group, loaded when stale.
    pub(super) async fn group_snapshot(&self) -> Result<&Snapshot<FilesGroup>, FilesError> {
        let snapshot = &self.snapshots.groups;
        snapshot
            .ensure(|| async {
                let groups = self
                    .collection::<GroupWire>("group.list", RequestSpec::get("graph/v1.0/groups"))
                    .await?;
                Ok::<_, FilesError>(groups.into_iter().map(Into::into).collect())
            })
            .await?;
        Ok(snapshot)
    }

    /// Puts a written space into the snapshot; a space found gone leaves it.
    pub(super) fn keep_space(
        &self,
        id: &str,
        written: Result<Space, FilesError>,
    ) -> Result<Space, FilesError> {
        match &written {
            Ok(space) => self.snapshots.spaces.put(space.clone()),
            Err(FilesError::Upstream(e)) if is_status(e, 404) => self.snapshots.spaces.remove(id),
            Err(_) => {}
        }
        written
    }

    /// Marks every snapshot stale: the next observation reloads each collection.
    pub fn invalidate_snapshots(&self) {
        self.snapshots.spaces.invalidate();
        self.snapshots.groups.invalidate();
    }
}
