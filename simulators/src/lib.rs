//! In-memory Authentik, Stalwart and OCIS speaking their real wire protocols, a DNS server, and a control API for tests.

pub mod authentik;
pub mod control;
pub mod dns;
pub mod ocis;
pub mod runner;
pub mod stalwart;
