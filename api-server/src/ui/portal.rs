//! The portal: the pages of tenant admins (dashboard, members, domains, SSO apps, security),
//! partner staff (customers, team) and every member (their own account). Each page reads and
//! writes through the JSON API as the signed-in user, so it shows exactly what their role
//! reaches; the navigation offers only those pages.

mod account;
mod apps;
mod domain_records;
mod domains;
pub(super) mod kit;
mod member_actions;
mod members;
mod partner;
mod team;
mod tenant;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::UiError;
use super::api::{Session, UiState, seg};
use super::html::esc;
use super::session::Me;
use kit::{At, page, staff_of};

/// The portal's routes (the UI router adds its state).
pub fn router() -> Router<UiState> {
    Router::new()
        .route("/ui/portal", get(home))
        .route("/ui/t/{tenant}", get(tenant::to_dashboard))
        .route("/ui/t/{tenant}/dashboard", get(tenant::dashboard))
        .route("/ui/t/{tenant}/security", get(tenant::security))
        .route("/ui/t/{tenant}/events", get(members::events))
        .route(
            "/ui/t/{tenant}/members",
            get(members::members).post(members::create_member),
        )
        .route("/ui/t/{tenant}/members/rows", get(members::member_rows))
        .route(
            "/ui/t/{tenant}/members/{member}/credentials",
            post(members::credentials),
        )
        .route(
            "/ui/t/{tenant}/members/{member}/{action}",
            get(member_actions::confirm).post(member_actions::act),
        )
        .route(
            "/ui/t/{tenant}/removed/{member}/restore",
            post(member_actions::restore),
        )
        .route(
            "/ui/t/{tenant}/domains",
            get(domains::list).post(domains::create),
        )
        .route("/ui/t/{tenant}/domains/rows", get(domains::rows))
        .route("/ui/t/{tenant}/domains/{domain}", get(domains::detail))
        .route(
            "/ui/t/{tenant}/domains/{domain}/records",
            get(domains::records),
        )
        .route(
            "/ui/t/{tenant}/domains/{domain}/recheck",
            post(domains::recheck),
        )
        .route(
            "/ui/t/{tenant}/domains/{domain}/dmarc",
            post(domains::dmarc),
        )
        .route(
            "/ui/t/{tenant}/domains/{domain}/primary",
            post(domains::primary),
        )
        .route(
            "/ui/t/{tenant}/domains/{domain}/remove",
            get(domains::confirm_remove).post(domains::remove),
        )
        .route("/ui/t/{tenant}/apps", get(apps::list).post(apps::create))
        .route("/ui/t/{tenant}/apps/rows", get(apps::rows))
        .route("/ui/t/{tenant}/apps/{app}", get(apps::detail))
        .route("/ui/t/{tenant}/apps/{app}/panel", get(apps::panel))
        .route("/ui/t/{tenant}/apps/{app}/secret", post(apps::secret))
        .route(
            "/ui/t/{tenant}/apps/{app}/delete",
            get(apps::confirm_delete).post(apps::delete),
        )
        .route("/ui/p/{partner}", get(partner::to_customers))
        .route(
            "/ui/p/{partner}/customers",
            get(partner::customers).post(partner::create_customer),
        )
        .route(
            "/ui/p/{partner}/customers/rows",
            get(partner::customer_rows),
        )
        .route(
            "/ui/p/{partner}/customers/{tenant}/{action}",
            get(partner::confirm).post(partner::act),
        )
        .route(
            "/ui/p/{partner}/team",
            get(team::team).post(team::create_staff),
        )
        .route("/ui/p/{partner}/team/rows", get(team::team_rows))
        .route(
            "/ui/p/{partner}/team/{member}/credentials",
            post(team::staff_secret),
        )
        .route("/ui/me", get(account::account))
        .route("/ui/me/{tenant}/state", get(account::state))
        .route(
            "/ui/me/{tenant}/reset-password",
            get(account::confirm_reset).post(account::reset),
        )
        .route("/ui/me/{tenant}/credentials", post(account::secret))
        .route(
            "/ui/me/{tenant}/logout",
            get(account::confirm_logout).post(account::logout),
        )
}

/// `GET /ui/portal`: straight to the one place the user works, or a choice of them.
pub async fn home(State(ui): State<UiState>, session: Session) -> Result<Response, UiError> {
    if session.audience == "console" {
        return Ok(Redirect::to("/ui/console").into_response());
    }
    let me = Me::load(&ui, &session).await?;
    let tenants = me.admin_of();
    let partners = staff_of(&me);
    let own = me.value["members"].as_array().map_or(0, Vec::len);
    match (tenants.as_slice(), partners.as_slice()) {
        ([only], []) => {
            return Ok(Redirect::to(&format!("/ui/t/{}/dashboard", seg(only))).into_response());
        }
        ([], [only]) => {
            return Ok(Redirect::to(&format!("/ui/p/{}/customers", seg(only))).into_response());
        }
        ([], []) if own > 0 => return Ok(Redirect::to("/ui/me").into_response()),
        _ => {}
    }
    let mut html = String::from("<h1>Where do you want to work?</h1>");
    if tenants.is_empty() && partners.is_empty() {
        html.push_str(
            "<section class=\"card\"><p>Your account has no workspace here yet. If it should, ask an \
             administrator of your organisation to add you as a member.</p></section>",
        );
    }
    if !tenants.is_empty() {
        html.push_str(
            "<section class=\"card\"><h2>Workspaces you administer</h2><ul class=\"list\">",
        );
        for t in &tenants {
            html.push_str(&format!(
                "<li><a href=\"/ui/t/{}/dashboard\">{}</a></li>",
                seg(t),
                esc(t)
            ));
        }
        html.push_str("</ul></section>");
    }
    if !partners.is_empty() {
        html.push_str("<section class=\"card\"><h2>Partners you work for</h2><ul class=\"list\">");
        for p in &partners {
            html.push_str(&format!(
                "<li><a href=\"/ui/p/{}/customers\">{}</a></li>",
                seg(p),
                esc(p)
            ));
        }
        html.push_str("</ul></section>");
    }
    if own > 0 {
        html.push_str(
            "<p><a class=\"button\" href=\"/ui/me\">My account: password and sessions</a></p>",
        );
    }
    Ok(page(&ui, &me, At::Home, "Portal", &html))
}
