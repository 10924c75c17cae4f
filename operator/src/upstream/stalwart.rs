//! Stalwart v0.16 JMAP management API client: domains, DKIM, accounts.
