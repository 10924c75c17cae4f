//! OCIS libre-graph client: project spaces, groups and space permissions.
