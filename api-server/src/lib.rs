//! Dezky API server and web UI.
