//! The Authentik simulator as an OIDC provider, driven like a browser and a relying party would:
//! discovery, JWKS, authorization code with PKCE through the login form, token, userinfo,
//! refresh, end-session, client credentials with an app password, and refusals.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::support::{Server, start_with_console_app as start, verify};

const REDIRECT: &str = "http://127.0.0.1:9999/callback";

impl Server {
    fn location(response: &reqwest::Response) -> String {
        response
            .headers()
            .get("location")
            .expect("location")
            .to_str()
            .expect("str")
            .to_owned()
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.url)
        } else {
            location.to_owned()
        }
    }

    /// Runs the browser part of the code flow; returns the redirect to the client (code or error).
    async fn authorize(
        &self,
        username: &str,
        password: &str,
        challenge: &str,
    ) -> Result<url::Url, u16> {
        let authorize = format!(
            "{}/application/o/authorize/?client_id=dezky-console&response_type=code&scope=openid%20email%20profile%20offline_access&redirect_uri={}&state=st4te&nonce=n0nce&code_challenge={challenge}&code_challenge_method=S256",
            self.url,
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        );
        let mut response = self.browser.get(&authorize).await;
        if response.status() == 302 && Self::location(&response).starts_with("/if/flow/") {
            let login_page = self
                .browser
                .get(&self.absolute(&Self::location(&response)))
                .await;
            let html = login_page.text().await.expect("html");
            assert!(html.contains("name=\"password\""), "a login form: {html}");
            let next = url::Url::parse(&self.absolute(&Self::location(&response))).expect("url");
            let next = next
                .query_pairs()
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v.into_owned())
                .expect("next");
            let submitted = self
                .browser
                .post_form(
                    &format!("{}/if/flow/default-authentication-flow/", self.url),
                    &[
                        ("username", username),
                        ("password", password),
                        ("next", next.as_str()),
                    ],
                )
                .await;
            if submitted.status() != 302 {
                return Err(submitted.status().as_u16());
            }
            response = self
                .browser
                .get(&self.absolute(&Self::location(&submitted)))
                .await;
        }
        if response.status() != 302 {
            return Err(response.status().as_u16());
        }
        Ok(url::Url::parse(&Self::location(&response)).expect("redirect"))
    }
}

#[tokio::test]
async fn authorization_code_with_pkce_issues_verifiable_tokens_with_groups() {
    let s = start().await;
    s.user("jdoe", "pw-jdoe-1234", Some("tenant-acme")).await;
    let issuer = format!("{}/application/o/dezky-console/", s.url);
    let discovery: Value = s
        .http
        .get(format!("{issuer}.well-known/openid-configuration"))
        .send()
        .await
        .expect("d")
        .json()
        .await
        .expect("json");
    assert_eq!(discovery["issuer"], issuer);
    assert_eq!(discovery["jwks_uri"], format!("{issuer}jwks/"));
    assert_eq!(
        discovery["authorization_endpoint"],
        format!("{}/application/o/authorize/", s.url)
    );
    assert!(
        discovery["code_challenge_methods_supported"]
            .as_array()
            .expect("m")
            .contains(&json!("S256"))
    );
    let jwks_response = s
        .http
        .get(format!("{issuer}jwks/"))
        .send()
        .await
        .expect("jwks");
    assert_eq!(
        jwks_response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().expect("s")),
        Some("*")
    );
    let jwks: Value = jwks_response.json().await.expect("json");

    let verifier = "a-long-random-code-verifier-0123456789-abcdefghijklmnop";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let redirect = s
        .authorize("jdoe", "pw-jdoe-1234", &challenge)
        .await
        .expect("redirected with a code");
    assert!(redirect.as_str().starts_with(REDIRECT));
    let pairs: std::collections::HashMap<String, String> =
        redirect.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], "st4te");
    let code = pairs["code"].clone();

    // a wrong verifier is refused and burns the code
    let (status, err) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "dezky-console"),
            ("code_verifier", "wrong"),
        ])
        .await;
    assert_eq!(
        (status, err["error"].clone()),
        (400, json!("invalid_grant"))
    );
    let redirect = s
        .authorize("jdoe", "pw-jdoe-1234", &challenge)
        .await
        .expect("session cookie: no second login");
    let code: String = redirect
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let (status, tokens) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "dezky-console"),
            ("code_verifier", verifier),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let id = verify(tokens["id_token"].as_str().expect("id_token"), &jwks);
    assert_eq!(id["iss"], issuer);
    assert_eq!(id["aud"], "dezky-console");
    assert_eq!(id["nonce"], "n0nce");
    assert_eq!(id["groups"], json!(["tenant-acme"]));
    assert_eq!(id["preferred_username"], "jdoe");
    assert_eq!(id["email"], "jdoe@acme.test");
    assert!(id["exp"].as_i64().expect("exp") > id["iat"].as_i64().expect("iat"));
    let access = verify(tokens["access_token"].as_str().expect("access"), &jwks);
    assert_eq!(access["azp"], "dezky-console");
    assert_eq!(access["sub"], id["sub"]);
    assert_eq!(access["groups"], json!(["tenant-acme"]));

    let info: Value = s
        .http
        .get(format!("{}/application/o/userinfo/", s.url))
        .bearer_auth(tokens["access_token"].as_str().expect("a"))
        .send()
        .await
        .expect("ui")
        .json()
        .await
        .expect("json");
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["groups"], json!(["tenant-acme"]));

    // introspection and revocation of the access token
    let access_token = tokens["access_token"].as_str().expect("access").to_owned();
    let introspect = |token: String| {
        let url = format!("{}/application/o/introspect/", s.url);
        let api = s.http.clone();
        async move {
            api.post(url)
                .form(&[("token", token.as_str()), ("client_id", "dezky-console")])
                .send()
                .await
                .expect("introspect")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let active = introspect(access_token.clone()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], id["sub"]);
    let revoked = s
        .http
        .post(format!("{}/application/o/revoke/", s.url))
        .form(&[
            ("token", access_token.as_str()),
            ("client_id", "dezky-console"),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        introspect(access_token.clone()).await,
        json!({"active": false})
    );
    let gone = s
        .http
        .get(format!("{}/application/o/userinfo/", s.url))
        .bearer_auth(&access_token)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(gone.status(), 401);

    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token");
    let (status, refreshed) = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "dezky-console"),
        ])
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let (status, _) = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "dezky-console"),
        ])
        .await;
    assert_eq!(status, 400, "a refresh token is used once");

    // end-session logs the browser out: the next authorize asks for a login again
    let end = s
        .browser
        .get(&format!(
            "{issuer}end-session/?post_logout_redirect_uri={}",
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(end.status(), 302);
    assert_eq!(Server::location(&end), REDIRECT);
    let again = s.browser.get(&format!("{}/application/o/authorize/?client_id=dezky-console&response_type=code&scope=openid&redirect_uri={REDIRECT}&code_challenge={challenge}&code_challenge_method=S256", s.url)).await;
    assert!(Server::location(&again).starts_with("/if/flow/"));
}

#[tokio::test]
async fn wrong_passwords_suspended_users_and_unbound_members_are_refused() {
    let s = start().await;
    let pk = s.user("jdoe", "pw-jdoe-1234", None).await;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(
        b"verifier-verifier-verifier-verifier-verifier",
    ));
    assert_eq!(
        s.authorize("jdoe", "wrong", &challenge)
            .await
            .expect_err("refused"),
        200,
        "the form is shown again"
    );
    s.api(
        reqwest::Method::PATCH,
        &format!("core/users/{pk}/"),
        json!({"is_active": false}),
    )
    .await;
    assert!(
        s.authorize("jdoe", "pw-jdoe-1234", &challenge)
            .await
            .is_err(),
        "suspended users cannot log in"
    );

    // an application bound to a group lets only its members in
    s.user("alice", "pw-alice-1234", Some("tenant-acme")).await;
    s.user("mallory", "pw-mallory-1234", Some("tenant-evil"))
        .await;
    let app = s
        .api(
            reqwest::Method::GET,
            "core/applications/dezky-console/",
            json!(null),
        )
        .await;
    let groups = s
        .api(
            reqwest::Method::GET,
            "core/groups/?name=tenant-acme",
            json!(null),
        )
        .await;
    s.api(
        reqwest::Method::POST,
        "policies/bindings/",
        json!({"target": app["pk"], "group": groups["results"][0]["pk"], "order": 0}),
    )
    .await;
    s.authorize("alice", "pw-alice-1234", &challenge)
        .await
        .expect("member gets in");
    let s2 = s.with_new_browser();
    assert_eq!(
        s2.authorize("mallory", "pw-mallory-1234", &challenge)
            .await
            .expect_err("denied"),
        403
    );
}
