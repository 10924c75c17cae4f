//! The JWT attack suite: every forged or unacceptable token is refused with 401 problem+json.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::{Env, now};

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn parts(token: &str) -> (Value, Value, String) {
    let mut it = token.split('.');
    let h = URL_SAFE_NO_PAD
        .decode(it.next().expect("header"))
        .expect("b64");
    let p = URL_SAFE_NO_PAD
        .decode(it.next().expect("payload"))
        .expect("b64");
    let s = it.next().expect("signature").to_owned();
    (
        serde_json::from_slice(&h).expect("json"),
        serde_json::from_slice(&p).expect("json"),
        s,
    )
}

async fn status_of(env: &Env, token: &str) -> (u16, String, Value) {
    env.call(reqwest::Method::GET, "/api/v1/me", Some(token), None)
        .await
}

async fn assert_refused(env: &Env, what: &str, token: &str) {
    let (status, ct, body) = status_of(env, token).await;
    assert_eq!(status, 401, "{what}: expected 401, got {status} {body}");
    assert_eq!(ct, "application/problem+json", "{what}");
    assert_eq!(body["status"], 401, "{what}");
    assert!(body["detail"].is_string(), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_unacceptable_tokens_are_refused() {
    let env = Env::start().await;
    let good = env.portal("ann@acme.test").await;
    // the controls: a real simulator token and a real test-issuer token are accepted
    assert_eq!(status_of(&env, &good).await.0, 200);
    let issuer = &env.issuer;
    assert_eq!(
        status_of(
            &env,
            &issuer.sign(&issuer.claims("bob@acme.test"), &issuer.kid)
        )
        .await
        .0,
        200
    );

    let (no_token, _, body) = env
        .call(reqwest::Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(no_token, 401, "{body}");

    let mut c = issuer.claims("x@acme.test");
    c["iss"] = json!("http://127.0.0.1:1/not-trusted/");
    assert_refused(&env, "wrong issuer", &issuer.sign(&c, &issuer.kid)).await;

    let mut c = issuer.claims("x@acme.test");
    c["aud"] = json!("some-other-client");
    assert_refused(&env, "wrong audience", &issuer.sign(&c, &issuer.kid)).await;

    let mut c = issuer.claims("x@acme.test");
    c["exp"] = json!(now() - 600);
    c["iat"] = json!(now() - 1200);
    c["nbf"] = json!(now() - 1200);
    assert_refused(&env, "expired", &issuer.sign(&c, &issuer.kid)).await;

    let mut c = issuer.claims("x@acme.test");
    c["nbf"] = json!(now() + 600);
    assert_refused(&env, "not yet valid", &issuer.sign(&c, &issuer.kid)).await;

    assert_refused(
        &env,
        "unknown kid",
        &issuer.sign(&issuer.claims("x@acme.test"), "no-such-key"),
    )
    .await;

    let (header, payload, signature) = parts(&good);
    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    assert_refused(
        &env,
        "alg none",
        &format!("{}.{}.", b64json(&none_header), b64json(&payload)),
    )
    .await;
    assert_refused(
        &env,
        "alg none with the old signature",
        &format!(
            "{}.{}.{signature}",
            b64json(&none_header),
            b64json(&payload)
        ),
    )
    .await;

    // HS256 keyed with the issuer's public RSA key material (the key-confusion attack)
    let jwks: Value = env
        .http
        .get(format!("{}jwks/", env.sims.info.oidc.portal.issuer))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let jwk = &jwks["keys"][0];
    let modulus = URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().expect("n"))
        .expect("n");
    for secret in [modulus, jwk.to_string().into_bytes()] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = header["kid"].as_str().map(str::to_owned);
        let forged =
            jsonwebtoken::encode(&h, &payload, &EncodingKey::from_secret(&secret)).expect("hs256");
        assert_refused(&env, "HS256 with the RSA public key", &forged).await;
    }

    let mut tampered = payload.clone();
    tampered["email"] = json!("root@acme.test");
    assert_refused(
        &env,
        "tampered payload",
        &format!("{}.{}.{signature}", b64json(&header), b64json(&tampered)),
    )
    .await;

    assert_refused(&env, "garbage", "not-a-jwt").await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kids_refresh_the_keys_at_a_bounded_rate() {
    let env = Env::start().await;
    let issuer = &env.issuer;
    let before = issuer.jwks_hits.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..20 {
        let t = issuer.sign(&issuer.claims("x@acme.test"), "rotated-away");
        assert_eq!(status_of(&env, &t).await.0, 401);
    }
    let after = issuer.jwks_hits.load(std::sync::atomic::Ordering::SeqCst);
    // jwksMinRefreshSeconds is 1 in the tests: 20 quick requests fetch the JWKS at most twice
    assert!(
        after - before <= 2,
        "the JWKS was fetched {} times",
        after - before
    );
    env.shutdown().await;
}
