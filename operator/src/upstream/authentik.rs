//! Authentik REST API v3 client: groups, users, sessions, OAuth2 providers, applications, policy bindings.
