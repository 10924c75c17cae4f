//! The OCIS simulator: libre-graph drives, groups and permissions.
