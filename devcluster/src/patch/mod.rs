//! Patch engines: JSON merge patch (RFC 7386), JSON patch (RFC 6902 with evanphx v4 semantics),
//! strategic merge patch for built-in kinds, and server-side apply with managed fields.

pub mod apply;
pub mod fieldset;
pub mod json;
pub mod merge;
pub mod strategic;
