//! Clients of the upstream systems (Authentik, Stalwart, OCIS, DNS), one trait per upstream, over one shared HTTP layer.

pub mod authentik;
pub mod dns;
pub mod http;
pub mod marker;
pub mod ocis;
pub mod snapshot;
pub mod stalwart;
pub mod stripe;
