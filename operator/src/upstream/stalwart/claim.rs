//! Adoption or refusal of an existing Stalwart domain or account by the marker it carries: ours
//! is used as it is, an unmarked one is marked only when adoption is allowed, another owner's is
//! never taken over. What is adopted goes into the client's snapshot.

use serde_json::json;

use super::{MailDomain, MailError, Mailbox, MailboxSpec, StalwartClient, describe};
use crate::upstream::marker::{Marker, Ownership};

impl StalwartClient {
    /// Adopts (or refuses) an existing domain according to its marker.
    pub(super) async fn claim_domain(
        &self,
        domain: MailDomain,
        marker: &Marker,
        adopt: bool,
    ) -> Result<MailDomain, MailError> {
        match marker.classify(domain.marker()) {
            Ownership::Ours => Ok(domain),
            Ownership::Foreign => Err(MailError::NameTaken {
                object: "Domain",
                id: domain.id,
            }),
            Ownership::Unmarked if !adopt => Err(MailError::AdoptionRequired {
                object: "Domain",
                id: domain.id,
            }),
            Ownership::Unmarked => {
                self.update(
                    "domain.adopt",
                    "Domain",
                    &domain.id,
                    json!({"description": marker.key()}),
                )
                .await?;
                let adopted = MailDomain {
                    description: Some(marker.key()),
                    ..domain
                };
                self.snapshots.domains.put(adopted.clone());
                Ok(adopted)
            }
        }
    }

    /// Adopts (or refuses) an existing account according to its marker.
    pub(super) async fn claim_mailbox(
        &self,
        mailbox: Mailbox,
        spec: &MailboxSpec,
        marker: &Marker,
        adopt: bool,
    ) -> Result<Mailbox, MailError> {
        match marker.classify(mailbox.marker()) {
            Ownership::Ours => Ok(mailbox),
            Ownership::Foreign => Err(MailError::NameTaken {
                object: "Account",
                id: mailbox.id,
            }),
            Ownership::Unmarked if !adopt => Err(MailError::AdoptionRequired {
                object: "Account",
                id: mailbox.id,
            }),
            Ownership::Unmarked => {
                let description = describe(spec.display_name.as_deref(), marker);
                self.update(
                    "account.adopt",
                    "Account",
                    &mailbox.id,
                    json!({"description": description}),
                )
                .await?;
                let adopted = Mailbox {
                    description: Some(description),
                    ..mailbox
                };
                self.snapshots.mailboxes.put(adopted.clone());
                Ok(adopted)
            }
        }
    }
}
