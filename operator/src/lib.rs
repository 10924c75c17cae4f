//! Dezky controllers and the clients of the upstream systems they converge.

pub mod upstream;
