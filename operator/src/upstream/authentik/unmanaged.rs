//! Accounts the platform does not manage: an unmarked user in an unmarked group, created or found
//! by name. `dezky dev` uses it for its platform operator (a member of `platform-admins`), which no
//! Dezky resource describes, so it must not carry our marker and no controller ever adopts it.

use serde_json::{Value, json};

use super::{AuthentikClient, IdentityError};
use crate::upstream::http::{RequestSpec, Secret};

/// An account outside every Dezky resource.
#[derive(Debug, Clone)]
pub struct UnmanagedAccount<'a> {
    /// The username (an e-mail address for people).
    pub username: &'a str,
    /// The display name.
    pub name: &'a str,
    /// The Authentik path the user lives under.
    pub path: &'a str,
    /// The group the user belongs to (created when missing).
    pub group: &'a str,
}

impl AuthentikClient {
    /// Finds or creates the group and the user (active, with `password`), and adds the user to
    /// the group. Idempotent: a second call only resets the password and re-adds the membership.
    pub async fn ensure_unmanaged_account(
        &self,
        account: &UnmanagedAccount<'_>,
        password: &Secret,
    ) -> Result<(), IdentityError> {
        let group_pk = match self
            .first::<Value>(
                "group.find",
                RequestSpec::get("core/groups/")
                    .query("name", account.group)
                    .query("include_users", "false"),
            )
            .await?
        {
            Some(group) => pk_string(&group),
            None => {
                let group: Value = self
                    .send_body(
                        "group.create",
                        RequestSpec::post("core/groups/"),
                        &json!({"name": account.group}),
                    )
                    .await?;
                pk_string(&group)
            }
        };
        let user_pk = match self
            .first::<Value>(
                "user.find",
                RequestSpec::get("core/users/").query("username", account.username),
            )
            .await?
        {
            Some(user) => user["pk"].as_i64().unwrap_or_default(),
            None => {
                let user: Value = self
                    .send_body(
                        "user.create",
                        RequestSpec::post("core/users/"),
                        &json!({
                            "username": account.username,
                            "name": account.name,
                            "email": account.username,
                            "path": account.path,
                            "is_active": true,
                        }),
                    )
                    .await?;
                user["pk"].as_i64().unwrap_or_default()
            }
        };
        self.send_body_empty(
            "user.set_password",
            RequestSpec::post(format!("core/users/{user_pk}/set_password/")),
            &json!({"password": password.expose()}),
        )
        .await?;
        self.send_body_empty(
            "group.add_user",
            RequestSpec::post(format!("core/groups/{group_pk}/add_user/")),
            &json!({"pk": user_pk}),
        )
        .await
    }
}

fn pk_string(object: &Value) -> String {
    object["pk"].as_str().unwrap_or_default().to_owned()
}
