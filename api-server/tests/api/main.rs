//! API server tests over real HTTP: devcluster, the Authentik simulator as the issuer, and the
//! API server, each test on its own free ports and state directory.

mod authn;
mod common;
mod console;
mod console_platform;
mod fixtures;
mod matrix;
mod portal;
mod system;
mod tenant_admin;
