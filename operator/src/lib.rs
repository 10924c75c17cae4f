//! Dezky controllers and the clients of the upstream systems they converge.

pub mod backoff;
pub mod breaker;
pub mod conditions;
pub mod config;
pub mod controllers;
pub mod quantity;
pub mod runtime;
pub mod upstream;
