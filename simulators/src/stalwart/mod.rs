//! The Stalwart simulator: the v0.16 JMAP management API.
