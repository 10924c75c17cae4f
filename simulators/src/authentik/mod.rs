//! The Authentik simulator: REST API v3 and an OIDC provider.
