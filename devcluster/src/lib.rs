//! devcluster: an embedded Kubernetes-compatible API server for one machine.

pub mod admission;
