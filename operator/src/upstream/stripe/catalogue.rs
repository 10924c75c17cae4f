//! The plan catalogue on the billing server: making sure the prices the configuration names
//! exist (`dezky dev` creates its Plans on localstripe at start; on Stripe they are only checked).

use super::BillingError;
use super::client::{StripeClient, is_not_found};
use super::dialect::CataloguePrice;
use crate::upstream::http::RequestSpec;

impl StripeClient {
    /// Makes sure every entry exists: a missing one is created with its own id where the dialect
    /// can (localstripe Plans), else its absence is the error (Stripe assigns price ids, so a
    /// configured id that Stripe does not know is a configuration mistake). Returns the ids
    /// created; an existing entry is left as it is.
    pub async fn ensure_catalogue(
        &self,
        prices: &[CataloguePrice],
    ) -> Result<Vec<String>, BillingError> {
        let mut created = Vec::new();
        for price in prices {
            let path = self.dialect.catalogue_path(&price.id);
            let error = match self
                .http
                .send("catalogue.get", RequestSpec::get(path))
                .await
            {
                Ok(_) => continue,
                Err(e) if is_not_found(&e) => e,
                Err(e) => return Err(e.into()),
            };
            let Some((path, form)) = self.dialect.catalogue_create(price) else {
                return Err(error.into());
            };
            let _: serde_json::Value = self.post_form("catalogue.create", path, form, None).await?;
            created.push(price.id.clone());
        }
        Ok(created)
    }
}

/// The catalogue `dezky dev` bills with: for each plan of the dev configuration, a monthly price
/// per seat in EUR under an id of its own (`dezky-dev-<plan>`), created on localstripe at start.
pub fn dev_catalogue() -> Vec<(&'static str, CataloguePrice)> {
    [
        ("starter", "Starter", 400),
        ("business", "Business", 1200),
        ("enterprise", "Enterprise", 2500),
    ]
    .into_iter()
    .map(|(plan, name, unit_amount)| {
        (
            plan,
            CataloguePrice {
                id: format!("dezky-dev-{plan}"),
                name: format!("Dezky {name}"),
                unit_amount,
                currency: "eur".into(),
            },
        )
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_catalogue_prices_every_plan_of_the_crd() {
        let catalogue = dev_catalogue();
        let plans: Vec<&str> = catalogue.iter().map(|(p, _)| *p).collect();
        assert_eq!(plans, ["starter", "business", "enterprise"]);
        for plan in [
            dezky_crds::tenant::Plan::Starter,
            dezky_crds::tenant::Plan::Business,
            dezky_crds::tenant::Plan::Enterprise,
        ] {
            let name = super::super::converge::plan_name(plan);
            let (_, price) = catalogue.iter().find(|(p, _)| *p == name).expect("priced");
            assert_eq!(price.id, format!("dezky-dev-{name}"));
            assert!(price.unit_amount > 0);
        }
    }
}
