//! The Authentik simulator held to the real REST API v3: hand-written requests in the shapes of
//! `shared/upstreams/authentik.md`, checked against the responses and error shapes it records.

use serde_json::{Value, json};

use super::support::{TOKEN, read, start};

#[tokio::test]
async fn token_authentication_is_bearer_only_and_failures_are_403_detail() {
    let s = start().await;
    let none = read(
        s.http
            .get(format!("{}/api/v3/core/groups/", s.url))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        none,
        (
            403,
            json!({"detail": "Authentication credentials were not provided."})
        )
    );
    let bad = read(
        s.http
            .get(format!("{}/api/v3/core/groups/", s.url))
            .bearer_auth("nope")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(bad, (403, json!({"detail": "Token invalid/expired"})));
    let basic = read(
        s.http
            .get(format!("{}/api/v3/core/groups/", s.url))
            .basic_auth("akadmin", Some(TOKEN))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(basic.0, 403);
    let (status, version) = s.get("admin/version/").await;
    assert_eq!(status, 200);
    assert_eq!(version["version_current"], "2026.8.5");
}

#[tokio::test]
async fn groups_follow_the_documented_shapes() {
    let s = start().await;
    // the GroupRequest example of §5.1
    let (status, group) = s
        .post(
            "core/groups/",
            json!({"name": "tenant:acme", "is_superuser": false, "parents": [], "users": [],
                   "attributes": {"saas.example/tenant": "acme", "saas.example/managed-by": "operator"}, "roles": []}),
        )
        .await;
    assert_eq!(status, 201);
    for key in [
        "pk",
        "num_pk",
        "name",
        "parents_obj",
        "users_obj",
        "roles_obj",
        "inherited_roles_obj",
        "children",
        "children_obj",
    ] {
        assert!(
            group.get(key).is_some(),
            "Group response lacks required key {key}: {group}"
        );
    }
    let pk = group["pk"].as_str().expect("uuid pk").to_owned();
    assert!(uuid::Uuid::parse_str(&pk).is_ok());
    assert!(
        group["parents_obj"].is_null(),
        "parents_obj is null unless include_parents"
    );

    let (status, dup) = s.post("core/groups/", json!({"name": "tenant:acme"})).await;
    assert_eq!(status, 400);
    assert!(
        dup["name"].is_array(),
        "duplicate name is a field error: {dup}"
    );
    let (status, missing) = s.post("core/groups/", json!({})).await;
    assert_eq!(
        (status, missing),
        (400, json!({"name": ["This field is required."]}))
    );

    // attribute filter, include_users=false
    let filter = r#"{"saas.example/tenant":"acme"}"#;
    let (status, page) = s
        .get(&format!(
            "core/groups/?attributes={}&include_users=false",
            urlencode(filter)
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["pagination"]["count"], 1);
    assert!(page["results"][0]["users_obj"].is_null());
    assert!(
        page["results"][0]["users"].is_array(),
        "users pks stay in the response"
    );
    assert!(page["autocomplete"].is_object());
    let (status, bad) = s.get("core/groups/?attributes=notjson").await;
    assert_eq!(
        (status, bad),
        (400, json!(["filter: failed to parse JSON"]))
    );

    // membership through add_user/remove_user: 204, 404 for an unknown user
    let (_, user) = s
        .post(
            "core/users/",
            json!({"username": "alice@acme.io", "name": "Alice"}),
        )
        .await;
    let user_pk = user["pk"].as_i64().expect("int pk");
    let (status, body) = s
        .post(
            &format!("core/groups/{pk}/add_user/"),
            json!({"pk": user_pk}),
        )
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = s
        .post(&format!("core/groups/{pk}/add_user/"), json!({"pk": 99999}))
        .await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (_, with_users) = s.get(&format!("core/groups/{pk}/")).await;
    assert_eq!(with_users["users"], json!([user_pk]));
    assert_eq!(with_users["users_obj"][0]["username"], "alice@acme.io");
    let (status, _) = s
        .post(
            &format!("core/groups/{pk}/remove_user/"),
            json!({"pk": user_pk}),
        )
        .await;
    assert_eq!(status, 204);

    // PATCH leaves users alone; PUT without users wipes them (why the client never PUTs)
    s.post(
        &format!("core/groups/{pk}/add_user/"),
        json!({"pk": user_pk}),
    )
    .await;
    let (_, patched) = s
        .patch(
            &format!("core/groups/{pk}/"),
            json!({"attributes": {"k": "v"}}),
        )
        .await;
    assert_eq!(patched["users"], json!([user_pk]));
    let (_, put) = s
        .call(
            reqwest::Method::PUT,
            &format!("core/groups/{pk}/"),
            Some(json!({"name": "tenant:acme"})),
        )
        .await;
    assert_eq!(put["users"], json!([]));

    let (status, not_found) = s
        .get("core/groups/00000000-0000-0000-0000-000000000000/")
        .await;
    assert_eq!(
        (status, not_found),
        (404, json!({"detail": "No Group matches the given query."}))
    );
    let (status, _) = s.get("core/groups/not-a-uuid/").await;
    assert_eq!(status, 404);
    assert_eq!(s.delete(&format!("core/groups/{pk}/")).await.0, 204);
    assert_eq!(s.delete(&format!("core/groups/{pk}/")).await.0, 404);
}

#[tokio::test]
async fn pagination_uses_page_numbers_with_zero_for_none() {
    let s = start().await;
    for i in 0..45 {
        s.post("core/groups/", json!({"name": format!("g{i:02}")}))
            .await;
    }
    // 45 + the seeded "authentik Admins"; default page size 20
    let (_, first) = s.get("core/groups/").await;
    assert_eq!(
        first["pagination"],
        json!({"next": 2, "previous": 0, "count": 46, "current": 1, "total_pages": 3, "start_index": 1, "end_index": 20})
    );
    let (_, last) = s.get("core/groups/?page=3").await;
    assert_eq!(last["pagination"]["next"], 0);
    assert_eq!(last["pagination"]["previous"], 2);
    assert_eq!(last["results"].as_array().expect("results").len(), 6);
    // page_size is capped at 100
    let (_, big) = s.get("core/groups/?page_size=1000").await;
    assert_eq!(big["results"].as_array().expect("results").len(), 46);
    assert_eq!(big["pagination"]["total_pages"], 1);
    let (status, _) = s.get("core/groups/?page=9").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn users_follow_the_documented_shapes() {
    let s = start().await;
    let (_, group) = s.post("core/groups/", json!({"name": "tenant:acme"})).await;
    // the UserRequest example of §5.2
    let (status, user) = s
        .post(
            "core/users/",
            json!({"username": "alice@acme.io", "name": "Alice Example", "email": "alice@acme.io", "is_active": true,
                   "groups": [group["pk"]], "attributes": {"saas.example/tenant": "acme"}, "path": "tenants/acme", "type": "external"}),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    for key in [
        "pk",
        "uuid",
        "username",
        "name",
        "is_active",
        "last_login",
        "date_joined",
        "is_superuser",
        "groups",
        "groups_obj",
        "roles",
        "roles_obj",
        "email",
        "avatar",
        "attributes",
        "uid",
        "path",
        "type",
        "password_change_date",
        "last_updated",
    ] {
        assert!(user.get(key).is_some(), "User response lacks {key}");
    }
    let pk = user["pk"].as_i64().expect("int pk");
    assert_eq!(user["groups"], json!([group["pk"]]));
    assert_eq!(
        user["uid"].as_str().expect("uid").len(),
        64,
        "uid is a sha256 hex digest"
    );

    let (status, dup) = s
        .post(
            "core/users/",
            json!({"username": "alice@acme.io", "name": ""}),
        )
        .await;
    assert_eq!(
        (status, dup),
        (400, json!({"username": ["This field must be unique."]}))
    );
    let (status, slashes) = s
        .post(
            "core/users/",
            json!({"username": "bob", "name": "", "path": "/tenants/acme/"}),
        )
        .await;
    assert_eq!(
        (status, slashes),
        (
            400,
            json!({"path": ["No leading or trailing slashes allowed."]})
        )
    );
    let (status, isa) = s
        .post(
            "core/users/",
            json!({"username": "svc", "name": "", "type": "internal_service_account"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(isa["type"].is_array());

    let (_, by_path) = s.get("core/users/?path_startswith=tenants/acme").await;
    assert_eq!(by_path["pagination"]["count"], 1);
    let (_, by_username) = s
        .get("core/users/?username=alice@acme.io&include_groups=false")
        .await;
    assert!(by_username["results"][0]["groups_obj"].is_null());

    // set_password: 204, or 400 with an empty body
    let (status, body) = s
        .post(
            &format!("core/users/{pk}/set_password/"),
            json!({"password": "s3cret-Passw0rd"}),
        )
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = s
        .post(&format!("core/users/{pk}/set_password/"), json!({}))
        .await;
    assert_eq!(status, 400);
    assert!(body.is_null() || body.is_object());
    let (status, patched) = s
        .patch(&format!("core/users/{pk}/"), json!({"is_active": false}))
        .await;
    assert_eq!((status, patched["is_active"].clone()), (200, json!(false)));
    assert_eq!(s.delete(&format!("core/users/{pk}/")).await.0, 204);
    let (status, gone) = s.get(&format!("core/users/{pk}/")).await;
    assert_eq!(
        (status, gone),
        (404, json!({"detail": "No User matches the given query."}))
    );
}

#[tokio::test]
async fn sessions_and_authenticators_follow_the_documented_shapes() {
    let s = start().await;
    let (_, user) = s
        .post("core/users/", json!({"username": "alice", "name": "Alice"}))
        .await;
    let pk = user["pk"].as_i64().expect("pk");
    s.post(
        &format!("core/users/{pk}/set_password/"),
        json!({"password": "pw-alice-123"}),
    )
    .await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for _ in 0..2 {
        let response = browser
            .post(format!("{}/if/flow/default-authentication-flow/", s.url))
            .form(&[
                ("username", "alice"),
                ("password", "pw-alice-123"),
                ("next", "/"),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 302);
    }
    let (_, sessions) = s
        .get("core/authenticated_sessions/?user__username=alice")
        .await;
    assert_eq!(sessions["pagination"]["count"], 2);
    let item = &sessions["results"][0];
    for key in [
        "uuid",
        "current",
        "user",
        "last_ip",
        "last_user_agent",
        "last_used",
        "expires",
        "user_agent",
        "geo_ip",
        "asn",
    ] {
        assert!(item.get(key).is_some(), "AuthenticatedSession lacks {key}");
    }
    assert_eq!(item["user"], pk);
    let uuid = item["uuid"].as_str().expect("uuid").to_owned();
    assert_eq!(
        s.delete(&format!("core/authenticated_sessions/{uuid}/"))
            .await
            .0,
        204
    );
    let (status, deleted) = s
        .delete(&format!(
            "core/authenticated_sessions/bulk_delete/?user_pks={pk}"
        ))
        .await;
    assert_eq!((status, deleted), (200, json!({"deleted": 1})));

    s.sim
        .add_device(pk, "authentik_stages_authenticator_totp.TOTPDevice", true)
        .expect("device");
    let (status, devices) = s.get(&format!("authenticators/admin/all/?user={pk}")).await;
    assert_eq!(status, 200);
    let devices = devices.as_array().expect("a bare array, not paginated");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["confirmed"], true);
    assert!(
        devices[0]["pk"].is_string(),
        "device pk is a string since 2024.10"
    );
    assert_eq!(
        devices[0]["type"],
        "authentik_stages_authenticator_totp.TOTPDevice"
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
