//! Integration tests: kube-rs and the real kubectl against a devcluster over HTTPS.

mod builtins;
mod common;
mod crud;
mod durability;
mod kubectl;
mod watch;
