//! Publishing a MailDomain's DNS records into the dev DNS server, as the domain's owner would at
//! their DNS provider: `dezky dev` does it for the example domains, and `dezky dev dns publish
//! DOMAIN` for any other. Goes through the simulators' control API, like any script would.

use anyhow::{Context, bail};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use dezky_crds::MailDomain;
use dezky_crds::maildomain::{DnsRecordState, DnsRecordType};

/// The simulators' control API.
#[derive(Debug, Clone)]
pub struct DnsControl {
    /// Base URL of the control API.
    pub url: String,
    /// Its bearer token.
    pub token: String,
}

impl DnsControl {
    async fn send(&self, method: reqwest::Method, body: serde_json::Value) -> anyhow::Result<()> {
        let url = format!("{}/control/v1/dns/records", self.url.trim_end_matches('/'));
        let resp = reqwest::Client::new()
            .request(method, &url)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .context("failed to reach the simulators' control API")?;
        if !resp.status().is_success() {
            bail!("the DNS control API answered {}", resp.status());
        }
        Ok(())
    }
}

/// Publishes every record of `domain`'s MailDomain that DNS does not hold as expected (a wrong
/// value is replaced), then asks the operator to check again (`dezky.io/recheck`). Returns how
/// many records were published; 0 when everything already verifies.
pub async fn publish_domain(
    client: &Client,
    control: &DnsControl,
    domain: &str,
) -> anyhow::Result<usize> {
    let listed = list_mail_domains(client).await?;
    publish_listed(client, control, &listed, domain).await
}

/// [`publish_domain`] for several domains over one list of the MailDomains, so publishing N
/// domains costs one list, not N. Each domain gets its own result.
pub async fn publish_domains<'d>(
    client: &Client,
    control: &DnsControl,
    domains: &'d [String],
) -> anyhow::Result<Vec<(&'d str, anyhow::Result<usize>)>> {
    let listed = list_mail_domains(client).await?;
    let mut results = Vec::with_capacity(domains.len());
    for domain in domains {
        results.push((
            domain.as_str(),
            publish_listed(client, control, &listed, domain).await,
        ));
    }
    Ok(results)
}

async fn list_mail_domains(client: &Client) -> anyhow::Result<Vec<MailDomain>> {
    let domains: Api<MailDomain> = Api::all(client.clone());
    Ok(domains
        .list(&ListParams::default())
        .await
        .context("failed to list the MailDomains")?
        .items)
}

async fn publish_listed(
    client: &Client,
    control: &DnsControl,
    listed: &[MailDomain],
    domain: &str,
) -> anyhow::Result<usize> {
    let Some(md) = listed.iter().find(|d| d.spec.domain == domain) else {
        bail!("no MailDomain has spec.domain {domain}");
    };
    let records = md
        .status
        .as_ref()
        .map(|s| s.dns_records.clone())
        .unwrap_or_default();
    let mut published = 0;
    for record in records
        .iter()
        .filter(|r| r.state != DnsRecordState::Verified)
    {
        let record_type = match record.type_ {
            DnsRecordType::MX => "MX",
            DnsRecordType::TXT => "TXT",
            DnsRecordType::CNAME => "CNAME",
        };
        if record.state == DnsRecordState::Mismatch {
            control
                .send(
                    reqwest::Method::DELETE,
                    json!({"name": record.name, "type": record_type}),
                )
                .await?;
        }
        control
            .send(
                reqwest::Method::PUT,
                json!({"name": record.name, "type": record_type, "value": record.value}),
            )
            .await?;
        published += 1;
    }
    if published > 0 {
        let ns = md.namespace().unwrap_or_default();
        let api: Api<MailDomain> = Api::namespaced(client.clone(), &ns);
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let patch = json!({"metadata": {"annotations": {dezky_crds::ANNOTATION_RECHECK: stamp}}});
        api.patch(
            &md.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .with_context(|| format!("failed to ask for a re-check of {domain}"))?;
    }
    Ok(published)
}
