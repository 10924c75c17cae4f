//! The OCIS simulator held to the real libre-graph API: hand-written requests in the shapes of
//! `shared/upstreams/ocis.md`, checked against the responses the notes record.

use dezky_simulators::ocis::{
    Ocis, OcisConfig, ROLE_MANAGER, ROLE_SPACE_EDITOR, ROLE_SPACE_VIEWER,
};
use serde_json::{Value, json};

struct Server {
    url: String,
    http: reqwest::Client,
    sim: Ocis,
}

async fn start(config: OcisConfig) -> Server {
    let sim = Ocis::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        url,
        http: reqwest::Client::new(),
        sim,
    }
}

impl Server {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .basic_auth("svc-dezky", Some("ocis-app-token-secret"))
    }

    async fn send(&self, builder: reqwest::RequestBuilder) -> (u16, Value) {
        let response = builder.send().await.expect("send");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).expect("json body")
            },
        )
    }
}

fn encode(id: &str) -> String {
    id.replace('$', "%24")
}

#[tokio::test]
async fn space_lifecycle_create_list_patch_disable_restore_purge() {
    let s = start(OcisConfig::default()).await;
    // 2.1: create.
    let (status, drive) = s
        .send(
            s.req(reqwest::Method::POST, "/graph/v1.0/drives")
                .json(&json!({
            "name": "Acme GmbH", "driveType": "project", "description": "tenant acme",
            "driveAlias": "project/t-7f3c2a9e", "quota": {"total": 10000000000u64}})),
        )
        .await;
    assert_eq!(status, 201);
    let id = drive["id"].as_str().expect("id").to_string();
    let (storage, space) = id.split_once('$').expect("storage$space id");
    assert_eq!(storage.len(), 36);
    assert_eq!(drive["owner"]["user"]["id"], space);
    assert_eq!(drive["driveAlias"], "project/t-7f3c2a9e");
    assert_eq!(drive["quota"]["total"], 10000000000u64);
    assert_eq!(drive["root"]["permissions"][0]["roles"], json!(["manager"]));
    // Names are validated; unknown fields refused; keys match case-insensitively.
    let (status, error) = s
        .send(
            s.req(reqwest::Method::POST, "/graph/v1.0/drives")
                .json(&json!({"name": "acme.com"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "invalidRequest");
    assert!(error["error"]["innererror"]["request-id"].is_string());
    let (status, _) = s
        .send(
            s.req(reqwest::Method::POST, "/graph/v1.0/drives")
                .json(&json!({"name": "x", "tenantId": "t"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, other) = s
        .send(
            s.req(reqwest::Method::POST, "/graph/v1.0/drives")
                .json(&json!({"Name": "Defaults"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        other["quota"]["total"], 1000000000u64,
        "GRAPH_SPACES_DEFAULT_QUOTA"
    );
    assert_eq!(other["driveAlias"], "project/defaults");
    // 2.2: list with the one supported filter; the personal space is filtered out.
    let (status, list) = s
        .send(s.req(
            reqwest::Method::GET,
            "/graph/v1.0/drives?$filter=driveType%20eq%20%27project%27",
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["value"].as_array().expect("value").len(), 2);
    let (_, all) = s
        .send(s.req(reqwest::Method::GET, "/graph/v1.0/drives"))
        .await;
    assert_eq!(all["value"].as_array().expect("value").len(), 3);
    let (status, error) = s
        .send(s.req(
            reqwest::Method::GET,
            "/graph/v1.0/drives?$filter=driveType%20eq%20%27project%27%20and%20id%20eq%20%27x%27",
        ))
        .await;
    assert_eq!(status, 501);
    assert_eq!(error["error"]["code"], "notSupported");
    // 2.4: patch quota and name.
    let (status, patched) = s
        .send(
            s.req(
                reqwest::Method::PATCH,
                &format!("/graph/v1.0/drives/{}", encode(&id)),
            )
            .json(&json!({"name": "Acme GmbH (renamed)", "quota": {"total": 20000000000u64}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["name"], "Acme GmbH (renamed)");
    assert_eq!(
        patched["quota"],
        json!({"remaining": 20000000000u64, "state": "normal", "total": 20000000000u64, "used": 0})
    );
    // 2.5: purge before disable is refused; disable; purge; gone.
    let path = format!("/graph/v1.0/drives/{}", encode(&id));
    let (status, error) = s
        .send(s.req(reqwest::Method::DELETE, &path).header("Purge", "T"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "error: bad request: can't purge enabled space"
    );
    let (status, _) = s.send(s.req(reqwest::Method::DELETE, &path)).await;
    assert_eq!(status, 204);
    let (_, trashed) = s.send(s.req(reqwest::Method::GET, &path)).await;
    assert_eq!(trashed["root"]["deleted"]["state"], "trashed");
    assert!(
        trashed["quota"].get("used").is_none(),
        "disabled spaces show only quota.total"
    );
    let (status, restored) = s
        .send(
            s.req(reqwest::Method::PATCH, &path)
                .header("Restore", "T")
                .json(&json!({})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(restored["root"].get("deleted").is_none());
    s.send(s.req(reqwest::Method::DELETE, &path)).await;
    let (status, _) = s
        .send(s.req(reqwest::Method::DELETE, &path).header("Purge", "T"))
        .await;
    assert_eq!(status, 204);
    let (status, error) = s.send(s.req(reqwest::Method::GET, &path)).await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "itemNotFound");
}

#[tokio::test]
async fn groups_and_space_permissions() {
    let s = start(OcisConfig::default()).await;
    let (status, group) = s
        .send(
            s.req(reqwest::Method::POST, "/graph/v1.0/groups")
                .json(&json!({"displayName": "tenant-acme-files-editor", "description": "d"})),
        )
        .await;
    assert_eq!(status, 201);
    let gid = group["id"].as_str().expect("gid").to_string();
    let (status, error) = s
        .send(
            s.req(reqwest::Method::POST, "/graph/v1.0/groups")
                .json(&json!({"displayName": "tenant-acme-files-editor"})),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error["error"]["code"], "nameAlreadyExists");
    let (status, by_name) = s
        .send(s.req(
            reqwest::Method::GET,
            "/graph/v1.0/groups/tenant-acme-files-editor",
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_name["id"], gid.as_str());
    let (_, drive) = s
        .send(
            s.req(reqwest::Method::POST, "/graph/v1.0/drives")
                .json(&json!({"name": "Acme", "driveType": "project"})),
        )
        .await;
    let drive_id = encode(drive["id"].as_str().expect("id"));
    // 2.6 invite: only recipients[0] is used; the response is a one-element list.
    let other = "00000000-0000-0000-0000-000000000000";
    let (status, invited) = s
        .send(s.req(reqwest::Method::POST, &format!("/graph/v1beta1/drives/{drive_id}/root/invite")).json(&json!({
            "recipients": [{"@libre.graph.recipient.type": "group", "objectId": gid}, {"@libre.graph.recipient.type": "group", "objectId": other}],
            "roles": [ROLE_SPACE_EDITOR]})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(invited["value"][0]["id"], format!("g:{gid}"));
    assert_eq!(invited["value"][0]["roles"], json!([ROLE_SPACE_EDITOR]));
    assert_eq!(
        invited["value"][0]["grantedToV2"]["group"]["displayName"],
        "tenant-acme-files-editor"
    );
    // A file-only role on a space root; an unknown role; a second invite of the same group.
    for (role, message) in [
        (
            "b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5",
            "role not applicable to this resource",
        ),
        ("nope", "unknown unified role, check if the role is enabled"),
    ] {
        let (status, error) = s
            .send(s.req(reqwest::Method::POST, &format!("/graph/v1beta1/drives/{drive_id}/root/invite"))
                .json(&json!({"recipients": [{"@libre.graph.recipient.type": "group", "objectId": gid}], "roles": [role]})))
            .await;
        assert_eq!(
            (status, error["error"]["message"].as_str()),
            (400, Some(message))
        );
    }
    let (status, _) = s
        .send(s.req(reqwest::Method::POST, &format!("/graph/v1beta1/drives/{drive_id}/root/invite"))
            .json(&json!({"recipients": [{"@libre.graph.recipient.type": "group", "objectId": gid}], "roles": [ROLE_SPACE_VIEWER]})))
        .await;
    assert_eq!(status, 409);
    // List: the provisioning account is Manager, the group Space Editor, roles offered.
    let (status, permissions) = s
        .send(s.req(
            reqwest::Method::GET,
            &format!("/graph/v1beta1/drives/{drive_id}/root/permissions"),
        ))
        .await;
    assert_eq!(status, 200);
    let value = permissions["value"].as_array().expect("value");
    assert_eq!(value.len(), 2);
    assert!(value.contains(
        &json!({"id": format!("u:{}", s.sim.service_user_id()), "roles": [ROLE_MANAGER],
        "grantedToV2": {"user": {"id": s.sim.service_user_id(), "displayName": "svc-dezky"}}})
    ));
    assert_eq!(
        permissions["@libre.graph.permissions.roles.allowedValues"]
            .as_array()
            .expect("roles")
            .len(),
        3
    );
    // Change the role, then remove it.
    let perm = format!("/graph/v1beta1/drives/{drive_id}/root/permissions/g:{gid}");
    let (status, changed) = s
        .send(
            s.req(reqwest::Method::PATCH, &perm)
                .json(&json!({"roles": [ROLE_SPACE_VIEWER]})),
        )
        .await;
    assert_eq!(
        (status, &changed["roles"]),
        (200, &json!([ROLE_SPACE_VIEWER]))
    );
    let (status, _) = s.send(s.req(reqwest::Method::DELETE, &perm)).await;
    assert_eq!(status, 204);
    let (status, _) = s.send(s.req(reqwest::Method::DELETE, &perm)).await;
    assert_eq!(status, 404);
    // Group delete.
    let (status, _) = s
        .send(s.req(
            reqwest::Method::DELETE,
            &format!("/graph/v1.0/groups/{gid}"),
        ))
        .await;
    assert_eq!(status, 204);
    let (status, _) = s
        .send(s.req(reqwest::Method::GET, &format!("/graph/v1.0/groups/{gid}")))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn app_token_auth_and_max_quota() {
    let s = start(OcisConfig {
        max_quota: 5000,
        ..OcisConfig::default()
    })
    .await;
    let response = s
        .http
        .get(format!("{}/graph/v1.0/drives", s.url))
        .basic_auth("svc-dezky", Some("wrong"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);
    assert!(
        response.text().await.expect("body").is_empty(),
        "the proxy's 401 has no body"
    );
    let (status, error) = s
        .send(
            s.req(reqwest::Method::POST, "/graph/v1.0/drives")
                .json(&json!({"name": "Big", "quota": {"total": 6000}})),
        )
        .await;
    assert_eq!(
        (status, error["error"]["message"].as_str()),
        (400, Some("requested quota is higher than allowed"))
    );
    let (status, drive) = s
        .send(
            s.req(reqwest::Method::POST, "/graph/v1.0/drives")
                .json(&json!({"name": "Zero", "quota": {"total": 0}})),
        )
        .await;
    assert_eq!((status, &drive["quota"]["total"]), (201, &json!(5000)));
}
