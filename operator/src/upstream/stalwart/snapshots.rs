//! The Stalwart collections the client observes from memory: domains and mailboxes (`User`
//! accounts), each read by pages (`x:*/query` with `position`/`limit`, the ids fed to `x:*/get`
//! in the same request, at most [`PAGE_SIZE`] objects, below the server's `maxObjectsInGet`) and
//! kept fresh by the client's own writes (see [`crate::upstream::snapshot`]).

use super::{MailClient, MailDomain, MailError, Mailbox, Page, StalwartClient};
use crate::upstream::http::UpstreamHttp;
use crate::upstream::snapshot::{Keyed, Snapshot};

/// Objects per page of a snapshot load.
pub const PAGE_SIZE: u64 = 100;

/// Lookup key of a domain by its (normalized) name.
pub(super) fn by_name(name: &str) -> String {
    format!("name:{name}")
}

/// Lookup key of a mailbox by its address: local part and domain id.
pub(super) fn by_address(local_part: &str, domain_id: &str) -> String {
    format!("address:{local_part}@{domain_id}")
}

impl Keyed for MailDomain {
    fn id(&self) -> String {
        self.id.clone()
    }
    fn lookup_keys(&self) -> Vec<String> {
        vec![by_name(&self.name)]
    }
}

impl Keyed for Mailbox {
    fn id(&self) -> String {
        self.id.clone()
    }
    fn lookup_keys(&self) -> Vec<String> {
        vec![by_address(&self.local_part, &self.domain_id)]
    }
}

/// The snapshots of one Stalwart client.
#[derive(Clone, Debug)]
pub(super) struct Snapshots {
    pub(super) domains: Snapshot<MailDomain>,
    pub(super) mailboxes: Snapshot<Mailbox>,
}

impl Snapshots {
    pub(super) fn new(http: &UpstreamHttp) -> Self {
        Self {
            domains: http.snapshot("domains"),
            mailboxes: http.snapshot("mailboxes"),
        }
    }
}

/// Reads every page that `page` returns, from position 0 until no next position is given.
async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, MailError>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, MailError>>,
{
    let mut out = Vec::new();
    let mut position = 0;
    loop {
        let got = page(position).await?;
        out.extend(got.items);
        match got.next {
            // guard against a server that does not move forward
            Some(next) if next > position => position = next,
            _ => return Ok(out),
        }
    }
}

impl StalwartClient {
    /// Every domain, loaded when stale.
    pub(super) async fn domain_snapshot(&self) -> Result<&Snapshot<MailDomain>, MailError> {
        let snapshot = &self.snapshots.domains;
        snapshot
            .ensure(|| all_pages(|position| self.list_domains(position, PAGE_SIZE)))
            .await?;
        Ok(snapshot)
    }

    /// Every mailbox, loaded when stale.
    pub(super) async fn mailbox_snapshot(&self) -> Result<&Snapshot<Mailbox>, MailError> {
        let snapshot = &self.snapshots.mailboxes;
        snapshot
            .ensure(|| all_pages(|position| self.list_mailboxes(None, position, PAGE_SIZE)))
            .await?;
        Ok(snapshot)
    }

    /// Marks every snapshot stale: the next observation reloads each collection.
    pub fn invalidate_snapshots(&self) {
        self.snapshots.domains.invalidate();
        self.snapshots.mailboxes.invalidate();
    }
}
