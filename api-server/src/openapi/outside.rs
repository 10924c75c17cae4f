//! The operations the server answers outside the route table, documented so that the OpenAPI
//! document is complete: the Stripe webhook (`/webhooks/stripe`), which Stripe calls with a
//! signature instead of a bearer token and which is served only when billing is configured.

use serde_json::{Value, json};

use super::problem_response;
use crate::webhooks::{PATH, SIGNATURE_HEADER};

/// Every operation served outside the route table: its path, its method (lower case) and its
/// OpenAPI operation object.
pub fn operations() -> Vec<(&'static str, &'static str, Value)> {
    vec![(PATH, "post", stripe_webhook())]
}

fn stripe_webhook() -> Value {
    json!({
        "operationId": "post_webhooks_stripe",
        "summary": "Receive a Stripe event delivery (signed with the webhook secret; served only when billing is configured)",
        "tags": ["billing"],
        "security": [],
        "parameters": [{
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": true,
            "description": "Stripe's signature of the body: `t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">` with the webhook secret, within five minutes",
            "schema": {"type": "string", "minLength": 1, "examples": ["t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"]},
        }],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
            "type": "object",
            "description": "A Stripe event, exactly as Stripe signed it",
            "required": ["id", "type"],
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string"},
                "data": {"type": "object"},
            },
        }}}},
        "responses": {
            "200": {"description": "Accepted: applied, already so, not ours, a replay or an event the server ignores", "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"type": "string", "enum": ["applied", "unchanged", "unknown tenant", "duplicate", "ignored"]}},
            }}}},
            "400": problem_response("The signature is missing, stale or does not verify (`errors` names the Stripe-Signature header), or the signed body is not a Stripe event"),
            "404": problem_response("Billing is not configured: the endpoint is not served"),
            "409": problem_response("The same event is being applied right now; Stripe retries it"),
            "500": problem_response("The event could not be applied; Stripe retries it"),
        },
    })
}
