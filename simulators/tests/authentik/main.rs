//! The Authentik simulator held to the real Authentik: its REST API v3 (`wire`, `wire_sso`) and
//! its OIDC provider for browsers and machines (`oidc`, `oidc_machine`), in one test binary.

mod oidc;
mod oidc_machine;
mod support;
mod wire;
mod wire_sso;
