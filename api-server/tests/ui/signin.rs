//! The sign-in over plain HTTP: PKCE and state, the cookies' attributes, forged sessions and
//! cross-site posts refused.

use std::collections::BTreeMap;
use std::time::Duration;

use dezky_crds::Member;
use kube::Api;

use crate::platform::{PASSWORD, Platform};

/// The `Location` of a redirect and the `name=value` of each cookie it sets, with its attributes.
async fn hop(http: &reqwest::Client, req: reqwest::RequestBuilder) -> (u16, String, Vec<String>) {
    let r = http
        .execute(req.build().expect("request"))
        .await
        .expect("response");
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    (r.status().as_u16(), location, cookies)
}

fn cookie_pair(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_uses_pkce_and_state_and_the_session_refuses_forgeries() {
    let p = Platform::start().await;
    p.tenant("acme", "Acme Corp").await;
    p.member("acme", "ann", "ann@acme.test", "admin").await;
    p.person("ann@acme.test", false).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let members: Api<Member> = Api::namespaced(p.client.clone(), "tenant-acme");

    // no session: to the sign-in
    let (status, location, _) = hop(&http, http.get(format!("{}/ui/console", p.base))).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/ui/login/console?next=%2Fui%2Fconsole")
    );
    // a forged session is refused by the API, so the UI asks to sign in again
    let (status, location, _) = hop(
        &http,
        http.get(format!("{}/ui/t/acme/members", p.base))
            .header("cookie", "dezky_session=portal~e30.e30.forged"),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/ui/login/portal?next=%2Fui%2Ft%2Facme%2Fmembers")
    );

    // the authorization request carries state and an S256 challenge
    let (_, authorize, cookies) = hop(
        &http,
        http.get(format!(
            "{}/ui/login/portal?next=%2Fui%2Ft%2Facme%2Fmembers",
            p.base
        )),
    )
    .await;
    let url = reqwest::Url::parse(&authorize).expect("authorize URL");
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["client_id"], p.sims.info.oidc.portal.client_id);
    assert_eq!(q["redirect_uri"], format!("{}/ui/callback", p.base));
    let login_cookie = cookie_pair(&cookies, "dezky_login");
    let attributes = cookies
        .iter()
        .find(|c| c.starts_with("dezky_login="))
        .expect("cookie");
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Lax"));
    assert!(
        !login_cookie.contains(&q["code_challenge"]),
        "the verifier must not be the challenge"
    );

    // log in at the identity provider
    let (_, login_page, _) = hop(&http, http.get(&authorize)).await;
    let login_url = url.join(&login_page).expect("login URL");
    let next: String = login_url
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .expect("next");
    let (_, back, idp_cookies) = hop(
        &http,
        http.post(login_url.clone()).form(&[
            ("username", "ann@acme.test"),
            ("password", PASSWORD),
            ("next", next.as_str()),
        ]),
    )
    .await;
    let idp_session = idp_cookies
        .first()
        .and_then(|c| c.split(';').next())
        .expect("the identity provider's session")
        .to_owned();
    let (_, callback, _) = hop(
        &http,
        http.get(url.join(&back).expect("authorize again"))
            .header("cookie", &idp_session),
    )
    .await;
    assert!(
        callback.starts_with(&format!("{}/ui/callback?", p.base)),
        "{callback}"
    );

    // a callback whose state is not this browser's is refused, and starts no session
    let tampered = reqwest::Url::parse(&callback).expect("callback URL");
    let code: String = tampered
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let (status, _, cookies) = hop(
        &http,
        http.get(format!("{}/ui/callback?code={code}&state=other", p.base))
            .header("cookie", &login_cookie),
    )
    .await;
    assert_eq!(status, 400);
    assert!(!cookies.iter().any(|c| c.starts_with("dezky_session=")));
    let (status, _, _) = hop(&http, http.get(&callback)).await;
    assert_eq!(
        status, 400,
        "a callback without the login cookie is refused"
    );

    // the right browser gets a session cookie and comes back to the page it asked for: HttpOnly, SameSite=Lax, not Secure over http
    let (status, location, cookies) =
        hop(&http, http.get(&callback).header("cookie", &login_cookie)).await;
    assert_eq!((status, location.as_str()), (303, "/ui/t/acme/members"));
    let session = cookies
        .iter()
        .find(|c| c.starts_with("dezky_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    assert!(!session.contains("Secure"));
    let session = cookie_pair(&cookies, "dezky_session");

    // a create posted from another site is refused and writes nothing
    for _ in 0..50 {
        let (status, _, _) = hop(
            &http,
            http.get(format!("{}/ui/t/acme/members", p.base))
                .header("cookie", &session),
        )
        .await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _, _) = hop(
        &http,
        http.post(format!("{}/ui/t/acme/members", p.base))
            .header("cookie", &session)
            .header("origin", "http://evil.test")
            .form(&[
                ("email", "mallory@acme.test"),
                ("display_name", "M"),
                ("role", "admin"),
            ]),
    )
    .await;
    assert_eq!(status, 403);
    assert!(members.get_opt("mallory").await.expect("get").is_none());
    // the same form from this site creates the member
    let (status, location, _) = hop(
        &http,
        http.post(format!("{}/ui/t/acme/members", p.base))
            .header("cookie", &session)
            .header("origin", p.base.as_str())
            .form(&[
                ("email", "bob@acme.test"),
                ("display_name", "Bob"),
                ("role", "member"),
            ]),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/ui/t/acme/members?created=bob")
    );
    assert!(members.get_opt("bob").await.expect("get").is_some());
    p.shutdown().await;
}
