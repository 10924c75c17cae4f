//! The Stalwart simulator held to the real wire format: hand-written JMAP requests in the exact
//! shapes of `shared/upstreams/stalwart.md`, checked against the responses the notes record.

use dezky_simulators::stalwart::{Stalwart, StalwartConfig};
use serde_json::{Value, json};

struct Server {
    url: String,
    http: reqwest::Client,
}

const USING: [&str; 2] = ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"];

async fn start() -> Server {
    let sim = Stalwart::new(StalwartConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, sim.router()).await });
    Server {
        url,
        http: reqwest::Client::new(),
    }
}

impl Server {
    async fn raw(&self, auth: Option<(&str, &str)>, body: &Value) -> reqwest::Response {
        let mut request = self.http.post(format!("{}/jmap", self.url)).json(body);
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        request.send().await.expect("send")
    }

    /// Sends method calls as the admin and returns `methodResponses`.
    async fn calls(&self, calls: Value) -> Vec<Value> {
        let response = self
            .raw(
                Some(("admin", "stalwart-admin-secret")),
                &json!({"using": USING, "methodCalls": calls}),
            )
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        body["methodResponses"]
            .as_array()
            .expect("methodResponses")
            .clone()
    }

    /// One call; returns its arguments object.
    async fn call(&self, name: &str, args: Value) -> Value {
        let responses = self.calls(json!([[name, args, "c"]])).await;
        assert_eq!(
            responses[0][0], name,
            "unexpected response {}",
            responses[0]
        );
        responses[0][1].clone()
    }

    async fn domain(&self, name: &str) -> String {
        let r = self
            .call(
                "x:Domain/set",
                json!({"create": {"d1": {"name": name, "dkimManagement": {"@type": "Manual"}}}}),
            )
            .await;
        r["created"]["d1"]["id"]
            .as_str()
            .expect("domain id")
            .to_string()
    }
}

#[tokio::test]
async fn domain_create_query_and_duplicate_follow_the_notes() {
    let s = start().await;
    // 4.3: full create with manual DKIM.
    let r = s
        .call(
            "x:Domain/set",
            json!({"create":{"d1":{"name":"example.org","aliases":{},"description":"Example org",
                "certificateManagement":{"@type":"Manual"},"dkimManagement":{"@type":"Manual"},
                "dnsManagement":{"@type":"Manual"},"subAddressing":{"@type":"Enabled"}}}}),
        )
        .await;
    assert_eq!(r["accountId"], "d333333");
    let id = r["created"]["d1"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        r["created"]["d1"].as_object().expect("created").len(),
        1,
        "created holds only the id"
    );
    // 4.2: find by name, exact and case-sensitive.
    let q = s
        .call("x:Domain/query", json!({"filter":{"name":"example.org"}}))
        .await;
    assert_eq!(q["ids"], json!([id]));
    assert_eq!(q["position"], 0);
    let q = s
        .call("x:Domain/query", json!({"filter":{"name":"EXAMPLE.ORG"}}))
        .await;
    assert_eq!(q["ids"], json!([]));
    // Duplicate (upper case is normalized first).
    let r = s
        .call(
            "x:Domain/set",
            json!({"create":{"d2":{"name":"Example.ORG"}}}),
        )
        .await;
    assert_eq!(
        r["notCreated"]["d2"],
        json!({"type":"primaryKeyViolation","properties":["name"],"objectId":{"object":"Domain","id":id}})
    );
    // Refused names.
    for bad in ["acme.example", "localhost"] {
        let r = s
            .call("x:Domain/set", json!({"create":{"x":{"name":bad}}}))
            .await;
        assert_eq!(r["notCreated"]["x"]["type"], "invalidPatch");
        assert_eq!(r["notCreated"]["x"]["description"], "Invalid domain name");
        assert_eq!(r["notCreated"]["x"]["properties"], json!(["name"]));
    }
    // IDN names are stored as punycode.
    let r = s
        .call(
            "x:Domain/set",
            json!({"create":{"i":{"name":"Bücher.com","dkimManagement":{"@type":"Manual"}}}}),
        )
        .await;
    let idn = r["created"]["i"]["id"].clone();
    let g = s
        .call("x:Domain/get", json!({"ids":[idn],"properties":["name"]}))
        .await;
    assert_eq!(g["list"][0]["name"], "xn--bcher-kva.com");
    assert!(g.get("state").is_none(), "x:*/get has no state");
}

#[tokio::test]
async fn request_level_and_method_level_errors() {
    let s = start().await;
    // No credentials: 401 with both challenges.
    let r = s
        .raw(None, &json!({"using": USING, "methodCalls": []}))
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers().get_all("www-authenticate").iter().count(), 2);
    // Missing `using`: HTTP 400 problem+json notRequest.
    let r = s
        .raw(
            Some(("admin", "stalwart-admin-secret")),
            &json!({"methodCalls": []}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["type"], "urn:ietf:params:jmap:error:notRequest");
    // `using` is not checked for x: methods: an empty list works.
    let r = s
        .raw(
            Some(("admin", "stalwart-admin-secret")),
            &json!({"using": [], "methodCalls": [["x:Domain/query", {}, "0"]]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Unknown method, unsupported filter, OR filter: method-level errors under HTTP 200.
    let responses = s
        .calls(json!([
            ["x:Domain/set/set", {}, "0"],
            ["x:Account/query", {"filter": {"email": "a@b.test"}}, "1"],
            ["x:Domain/query", {"filter": {"operator": "OR", "conditions": []}}, "2"],
            ["x:Domain/changes", {}, "3"]
        ]))
        .await;
    assert_eq!(
        responses[0],
        json!(["error", {"type": "unknownMethod", "description": "x:Domain/set/set"}, "0"])
    );
    assert_eq!(responses[1][1]["type"], "unsupportedFilter");
    assert_eq!(responses[2][1]["type"], "unsupportedFilter");
    assert_eq!(responses[3][1]["type"], "unknownMethod");
}

#[tokio::test]
async fn account_create_errors_and_the_global_email_index() {
    let s = start().await;
    let g = s.domain("acme.test").await;
    // 4.6 create, with an alias.
    let r = s
        .call(
            "x:Account/set",
            json!({"create":{"a1":{"@type":"User","name":"alice","domainId":g,"description":"Alice Example",
                "credentials":{"0":{"@type":"Password","secret":"correct horse battery staple 42"}},
                "aliases":{"0":{"name":"info","domainId":g,"enabled":true}},
                "quotas":{"maxDiskQuota":1073741824},"roles":{"@type":"User"},"permissions":{"@type":"Inherit"},
                "encryptionAtRest":{"@type":"Disabled"},"locale":"en_US"}}}),
        )
        .await;
    let alice = r["created"]["a1"]["id"]
        .as_str()
        .expect("account id")
        .to_string();
    let cases = [
        // the address of another account's alias
        (
            json!({"@type":"User","name":"info","domainId":g}),
            json!({"type":"primaryKeyViolation","properties":["email"],"objectId":{"object":"Account","id":alice}}),
        ),
        (
            json!({"@type":"User","name":"bob","domainId":g,"credentials":{"0":{"@type":"Password","secret":"password1"}}}),
            json!("invalidProperties"),
        ),
        (
            json!({"@type":"User","name":"a(b)","domainId":g}),
            json!("invalidPatch"),
        ),
        (
            json!({"@type":"User","name":"bob","domainId":"zz"}),
            json!({"type":"invalidForeignKey","objectId":{"object":"Domain","id":"zz"}}),
        ),
        (
            json!({"@type":"User","name":"bob"}),
            json!({"type":"validationFailed","validationErrors":[{"type":"Required","property":"domainId"}]}),
        ),
        (json!({"name":"bob","domainId":g}), json!("invalidPatch")),
        (
            json!({"@type":"User","name":"bob","domainId":g,"aliases":[]}),
            json!("invalidPatch"),
        ),
        (
            json!({"@type":"User","name":"bob","domainId":g,"fooBar":1}),
            json!("invalidPatch"),
        ),
        (
            json!({"@type":"User","name":"bob","domainId":g,"emailAddress":"x@y.test"}),
            json!("invalidPatch"),
        ),
    ];
    for (input, expected) in cases {
        let r = s
            .call("x:Account/set", json!({"create": {"x": input.clone()}}))
            .await;
        let error = &r["notCreated"]["x"];
        if expected.is_string() {
            assert_eq!(error["type"], expected, "for {input}: {error}");
        } else {
            assert_eq!(error, &expected, "for {input}");
        }
    }
    let weak = s.call("x:Account/set", json!({"create":{"w":{"@type":"User","name":"w","domainId":g,"credentials":{"0":{"@type":"Password","secret":"short"}}}}})).await;
    assert_eq!(weak["notCreated"]["w"]["properties"], json!(["secret"]));
    assert_eq!(
        weak["notCreated"]["w"]["description"],
        "Password must be at least 8 characters long."
    );
    // 4.7: lookup by name + domain, with the back-reference; secrets are masked.
    let responses = s
        .calls(json!([
            ["x:Account/query", {"filter": {"name": "alice", "domainId": g, "@type": "User"}}, "q"],
            ["x:Account/get", {"#ids": {"resultOf": "q", "name": "x:Account/query", "path": "/ids"},
                "properties": ["name","domainId","emailAddress","aliases","quotas","credentials","permissions"]}, "g"]
        ]))
        .await;
    let account = &responses[1][1]["list"][0];
    assert_eq!(account["emailAddress"], "alice@acme.test");
    assert_eq!(account["credentials"]["0"]["secret"], "****");
    assert_eq!(account["quotas"]["maxDiskQuota"], 1073741824u64);
    assert!(
        account.get("description").is_none(),
        "only asked properties"
    );
}

#[tokio::test]
async fn patches_passwords_and_suspension() {
    let s = start().await;
    let g = s.domain("acme.test").await;
    let r = s
        .call(
            "x:Account/set",
            json!({"create":{"a":{"@type":"User","name":"jdoe","domainId":g,
            "credentials":{"0":{"@type":"Password","secret":"Old-Secret-4711"}}}}}),
        )
        .await;
    let id = r["created"]["a"]["id"].as_str().expect("id").to_string();
    let login = |password: &'static str| {
        let http = s.http.clone();
        let url = format!("{}/jmap/session", s.url);
        async move {
            http.get(url)
                .basic_auth("jdoe@acme.test", Some(password))
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        }
    };
    assert_eq!(login("Old-Secret-4711").await, 200);
    assert_eq!(login("wrong-password-1").await, 401);
    // 4.8 pointer patch; 4.9 password reset; array → invalidPatch; pointer into an absent variant.
    let r = s
        .call("x:Account/set", json!({"update":{&id:{"quotas/maxDiskQuota":2147483648u64,"aliases/0":{"name":"jane","domainId":g},"credentials/0/secret":"New-Secret-0815"}}}))
        .await;
    assert_eq!(r["updated"], json!({&id: null}));
    assert_eq!(login("Old-Secret-4711").await, 401);
    assert_eq!(login("New-Secret-0815").await, 200);
    let r = s
        .call(
            "x:Account/set",
            json!({"update":{&id:{"permissions/disabledPermissions/authenticate":true}}}),
        )
        .await;
    assert_eq!(
        r["notUpdated"][&id]["description"],
        "Invalid JSON Pointer path"
    );
    let r = s.call("x:Account/set", json!({"update":{&id:{"credentials/1":{"@type":"Password","secret":"Another-Secret-99"}}}})).await;
    assert_eq!(
        r["notUpdated"][&id]["description"],
        "Only one password credential is allowed."
    );
    let r = s
        .call("x:Account/set", json!({"update":{&id:{"fooBar":1}}}))
        .await;
    assert_eq!(
        r["notUpdated"][&id],
        json!({"type":"invalidPatch","description":"Invalid property","properties":["fooBar"]})
    );
    // 4.10 suspend: right password → 403, wrong → 401; resume keeps the password.
    let r = s
        .call(
            "x:Account/set",
            json!({"update":{&id:{"permissions":{"@type":"Merge","enabledPermissions":{},
            "disabledPermissions":{"authenticate":true,"emailReceive":true}}}}}),
        )
        .await;
    assert_eq!(r["updated"], json!({&id: null}));
    assert_eq!(login("New-Secret-0815").await, 403);
    assert_eq!(login("Old-Secret-4711").await, 401);
    s.call(
        "x:Account/set",
        json!({"update":{&id:{"permissions":{"@type":"Inherit"}}}}),
    )
    .await;
    assert_eq!(login("New-Secret-0815").await, 200);
    // The alias logs in too; a user may not call registry methods.
    let alias = s
        .http
        .post(format!("{}/jmap", s.url))
        .basic_auth("jane@acme.test", Some("New-Secret-0815"))
        .json(&json!({"using": USING, "methodCalls": [["x:Domain/query", {}, "0"]]}))
        .send()
        .await
        .expect("send");
    assert_eq!(alias.status(), 200);
    let body: Value = alias.json().await.expect("json");
    assert_eq!(body["methodResponses"][0][1]["type"], "forbidden");
}

#[tokio::test]
async fn domain_in_use_dkim_and_zone_file() {
    let s = start().await;
    // One request: domain + account by creation reference (4.6).
    let responses = s
        .calls(json!([
            ["x:Domain/set", {"create": {"d1": {"name": "example.org", "dkimManagement": {"@type": "Manual"}}}}, "0"],
            ["x:Account/set", {"create": {"a1": {"@type": "User", "name": "alice", "domainId": "#d1",
                "credentials": {"0": {"@type": "Password", "secret": "correct horse battery staple 42"}}}}}, "1"]
        ]))
        .await;
    let d = responses[0][1]["created"]["d1"]["id"]
        .as_str()
        .expect("domain")
        .to_string();
    let a = responses[1][1]["created"]["a1"]["id"]
        .as_str()
        .expect("account")
        .to_string();
    // DKIM: a plain-string privateKey is refused, a bad key too.
    let r = s.call("x:DkimSignature/set", json!({"create":{"k":{"@type":"Dkim1Ed25519Sha256","domainId":d,"selector":"s1","privateKey":"x"}}})).await;
    assert_eq!(r["notCreated"]["k"]["properties"], json!(["privateKey"]));
    let r = s.call("x:DkimSignature/set", json!({"create":{"k":{"@type":"Dkim1Ed25519Sha256","domainId":d,"selector":"s1",
        "privateKey":{"@type":"Text","secret":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}}}})).await;
    assert_eq!(r["notCreated"]["k"]["type"], "invalidProperties");
    // A real PKCS#8 Ed25519 key (48 bytes DER) is accepted.
    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOZy3fUHKNU+ZNWJNQbqvnWwbNOKBIWyFYgMPY9qhe5d\n-----END PRIVATE KEY-----\n";
    let r = s.call("x:DkimSignature/set", json!({"create":{"k":{"@type":"Dkim1Ed25519Sha256","domainId":d,"selector":"v1-ed25519-20260821","stage":"active",
        "privateKey":{"@type":"Text","secret":pem}}}})).await;
    let k = r["created"]["k"]["id"]
        .as_str()
        .expect("dkim id")
        .to_string();
    let g = s.call("x:DkimSignature/get", json!({"ids":[k],"properties":["@type","selector","stage","publicKey","domainId","privateKey"]})).await;
    let key = &g["list"][0];
    assert_eq!(key["privateKey"], json!({"@type":"Text","secret":"****"}));
    let public = key["publicKey"].as_str().expect("publicKey");
    // Zone file: DKIM first, then SPF, MX, DMARC.
    let z = s
        .call(
            "x:Domain/get",
            json!({"ids":[d],"properties":["name","dnsZoneFile"]}),
        )
        .await;
    let zone = z["list"][0]["dnsZoneFile"].as_str().expect("zone");
    assert!(zone.starts_with(&format!("v1-ed25519-20260821._domainkey.example.org. IN TXT \"v=DKIM1; k=ed25519; h=sha256; p={public}\"\n")), "{zone}");
    assert!(zone.contains(
        "example.org. IN TXT \"v=spf1 mx -all\"\nexample.org. IN MX 10 mail.dezky.test.\n"
    ));
    assert!(zone.contains(
        "_dmarc.example.org. IN TXT \"v=DMARC1; p=reject; rua=mailto:postmaster@example.org\""
    ));
    // 4.12: the domain is linked to the account and the DKIM key.
    let r = s.call("x:Domain/set", json!({"destroy":[d]})).await;
    let error = &r["notDestroyed"][&d];
    assert_eq!(error["type"], "objectIsLinked");
    assert_eq!(error["objectId"], json!({"object":"Domain","id":d}));
    let linked = error["linkedObjects"].as_array().expect("linked");
    assert!(linked.contains(&json!({"object":"Account","id":a})));
    assert!(linked.contains(&json!({"object":"DkimSignature","id":k})));
    // Delete order: account → DKIM → domain; then notFound.
    let responses = s
        .calls(json!([
            ["x:Account/set", {"destroy": [a]}, "0"],
            ["x:DkimSignature/set", {"destroy": [k]}, "1"],
            ["x:Domain/set", {"destroy": [d]}, "2"],
            ["x:Domain/set", {"destroy": [d]}, "3"]
        ]))
        .await;
    assert_eq!(responses[2][1]["destroyed"], json!([d]));
    assert_eq!(responses[3][1]["notDestroyed"][&d]["type"], "notFound");
}

#[tokio::test]
async fn automatic_dkim_creates_keys_and_query_pages() {
    let s = start().await;
    let r = s
        .call("x:Domain/set", json!({"create":{"d":{"name":"auto.test"}}}))
        .await;
    let d = r["created"]["d"]["id"].clone();
    let responses = s
        .calls(json!([
            ["x:DkimSignature/query", {"filter": {"domainId": d}}, "q"],
            ["x:DkimSignature/get", {"#ids": {"resultOf": "q", "name": "x:DkimSignature/query", "path": "/ids"},
                "properties": ["@type", "selector", "stage", "publicKey", "domainId"]}, "g"]
        ]))
        .await;
    let mut types: Vec<String> = responses[1][1]["list"]
        .as_array()
        .expect("list")
        .iter()
        .map(|k| k["@type"].as_str().unwrap_or_default().to_string())
        .collect();
    types.sort();
    assert_eq!(types, ["Dkim1Ed25519Sha256", "Dkim1RsaSha256"]);
    for n in 0..5 {
        s.domain(&format!("d{n}.test")).await;
    }
    let page = s.call("x:Domain/query", json!({"sort":[{"property":"name","isAscending":true}],"position":2,"limit":2,"calculateTotal":true})).await;
    assert_eq!(page["total"], 6);
    assert_eq!(page["position"], 2);
    assert_eq!(page["ids"].as_array().expect("ids").len(), 2);
}

#[tokio::test]
async fn api_keys_authenticate_as_bearer_tokens() {
    let sim = Stalwart::new(StalwartConfig {
        api_key: Some("API_dezkytestkey".into()),
        ..StalwartConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, sim.router()).await });
    let http = reqwest::Client::new();
    let body = json!({"using": USING, "methodCalls": [["x:Domain/query", {}, "0"]]});
    let ok = http
        .post(format!("{url}/jmap"))
        .bearer_auth("API_dezkytestkey")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    let bad = http
        .post(format!("{url}/jmap"))
        .bearer_auth("API_wrong")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 401);
    // Unauthenticated session: 200 with no accounts.
    let session: Value = http
        .get(format!("{url}/jmap/session"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(session["accounts"], json!({}));
}
