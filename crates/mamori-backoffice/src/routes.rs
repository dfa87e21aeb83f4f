//! The single route table, the router built from it, and the guard every route runs first.
//!
//! [`ROUTES`] lists every back-office route with the access it needs. [`router`] mounts each
//! route's handler with the [`guard`] as its innermost-but-first layer, parameterised by that
//! route's own [`RouteSpec`]: a handler cannot be reached without its check, and a route cannot
//! be added without saying what it needs (the permission test iterates over the same table).

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{FromRequestParts as _, Request, State},
    middleware::{from_fn_with_state, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{any, on, MethodFilter, MethodRouter},
    Router,
};
use http::{header, HeaderValue, Method, StatusCode};
use mamori_staff::{Permission, Role};
use mamori_web::{
    errors::{AppError, KeepErrorBody},
    page::render,
    ratelimit::rate_limit,
    session::Session,
};

use crate::{
    account, alerts, assets, audit, auth, csp_reports,
    ctx::{keys, Ctx, CurrentStaff},
    customers, dashboard, guard as file_guard, incident_inquiries, incident_notices,
    incident_public_notice, incident_reports, incident_scope, incidents, orders, products, scripts,
    security, settings, staff_admin, stafflog,
    state::BackofficeState,
};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone who passed the allow-list: login, enrolment, static files.
    Public,
    /// A signed-in member of staff of any role (logout, step-up, the start page).
    Authenticated,
    /// A signed-in member of staff whose role grants this permission.
    Perm(Permission),
}

impl Access {
    /// Whether a signed-in member of staff with `role` may use the route.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Access::Public | Access::Authenticated => true,
            Access::Perm(p) => role.can(p),
        }
    }
}

/// The HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteMethod {
    /// `GET` (pages, files).
    Get,
    /// `POST` (forms and JSON).
    Post,
}

impl RouteMethod {
    /// The axum filter.
    pub const fn filter(self) -> MethodFilter {
        match self {
            RouteMethod::Get => MethodFilter::GET,
            RouteMethod::Post => MethodFilter::POST,
        }
    }

    /// The HTTP method.
    pub fn method(self) -> Method {
        match self {
            RouteMethod::Get => Method::GET,
            RouteMethod::Post => Method::POST,
        }
    }
}

/// Makes a route's method router (with any extra layer such as a rate limit).
pub type MakeHandler = fn(&Arc<BackofficeState>) -> MethodRouter<Arc<BackofficeState>>;

/// One route.
#[derive(Debug)]
pub struct RouteSpec {
    /// Method.
    pub method: RouteMethod,
    /// Path pattern (axum syntax, `{id}` for a parameter).
    pub path: &'static str,
    /// Who may use it.
    pub access: Access,
    /// Needs a fresh second factor (within the step-up window): exports, staff changes, factor
    /// and password changes, refunds.
    pub step_up: bool,
    /// The handler.
    pub handler: MakeHandler,
}

macro_rules! route {
    ($m:ident $path:literal, $access:expr, $step:expr, $h:path) => {
        RouteSpec {
            method: RouteMethod::$m,
            path: $path,
            access: $access,
            step_up: $step,
            handler: |_| on(RouteMethod::$m.filter(), $h),
        }
    };
    ($m:ident $path:literal, $access:expr, $step:expr, $h:path, limit: $limit:ident) => {
        RouteSpec {
            method: RouteMethod::$m,
            path: $path,
            access: $access,
            step_up: $step,
            handler: |s| {
                on(RouteMethod::$m.filter(), $h)
                    .route_layer(from_fn_with_state(s.limits.$limit.clone(), rate_limit))
            },
        }
    };
}

use Access::{Authenticated, Perm, Public};
use Permission as P;

const STEP: bool = true;
const NO: bool = false;

/// Every route of the back office. The permission test is generated from this table.
pub static ROUTES: &[RouteSpec] = &[
    // Files and language.
    route!(Get "/static/{file}", Public, NO, assets::serve),
    route!(Get "/favicon.ico", Public, NO, auth::favicon),
    route!(Get "/lang/{code}", Public, NO, auth::set_lang),
    // Sign-in with password, then passkey, TOTP or a recovery code.
    route!(Get "/login", Public, NO, auth::login_form),
    route!(Post "/login", Public, NO, auth::login_submit, limit: login_ip),
    route!(Get "/login/factor", Public, NO, auth::factor_form),
    route!(Post "/login/totp", Public, NO, auth::login_totp, limit: login_ip),
    route!(Post "/login/recovery", Public, NO, auth::login_recovery, limit: login_ip),
    route!(Post "/login/passkey/begin", Public, NO, auth::login_passkey_begin, limit: login_ip),
    route!(Post "/login/passkey/finish", Public, NO, auth::login_passkey_finish, limit: login_ip),
    // Enrolment from the one-time link.
    route!(Get "/enrol", Public, NO, auth::enrol_landing),
    route!(Post "/enrol", Public, NO, auth::enrol_start, limit: login_ip),
    route!(Get "/enrol/password", Public, NO, auth::enrol_password_form),
    route!(Post "/enrol/password", Public, NO, auth::enrol_password),
    route!(Get "/enrol/factor", Public, NO, auth::enrol_factor_form),
    route!(Post "/enrol/totp", Public, NO, auth::enrol_totp, limit: login_ip),
    route!(Post "/enrol/passkey/begin", Public, NO, auth::enrol_passkey_begin),
    route!(Post "/enrol/passkey/finish", Public, NO, auth::enrol_passkey_finish),
    route!(Get "/enrol/done", Public, NO, auth::enrol_done),
    // Any signed-in member of staff.
    route!(Get "/", Authenticated, NO, auth::home),
    route!(Post "/logout", Authenticated, NO, auth::logout),
    route!(Get "/step-up", Authenticated, NO, auth::step_up_form),
    route!(Post "/step-up/totp", Authenticated, NO, auth::step_up_totp, limit: login_ip),
    route!(Post "/step-up/recovery", Authenticated, NO, auth::step_up_recovery, limit: login_ip),
    route!(Post "/step-up/passkey/begin", Authenticated, NO, auth::step_up_passkey_begin),
    route!(Post "/step-up/passkey/finish", Authenticated, NO, auth::step_up_passkey_finish),
    // Own account.
    route!(Get "/account", Perm(P::OwnAccount), NO, account::show),
    route!(Post "/account/password", Perm(P::OwnAccount), STEP, account::password),
    route!(Get "/account/passkeys/new", Perm(P::OwnAccount), STEP, account::passkey_form),
    route!(Post "/account/passkeys/begin", Perm(P::OwnAccount), STEP, account::passkey_begin),
    route!(Post "/account/passkeys/finish", Perm(P::OwnAccount), STEP, account::passkey_finish),
    route!(Post "/account/passkeys/{id}/delete", Perm(P::OwnAccount), STEP, account::passkey_delete),
    route!(Get "/account/totp", Perm(P::OwnAccount), STEP, account::totp_form),
    route!(Post "/account/totp", Perm(P::OwnAccount), STEP, account::totp_confirm),
    route!(Post "/account/totp/delete", Perm(P::OwnAccount), STEP, account::totp_delete),
    route!(Post "/account/recovery", Perm(P::OwnAccount), STEP, account::recovery),
    // Work.
    route!(Get "/dashboard", Perm(P::Dashboard), NO, dashboard::show),
    route!(Get "/orders", Perm(P::OrdersView), NO, orders::list),
    route!(Get "/orders/export", Perm(P::OrdersExport), STEP, orders::export_form),
    route!(Post "/orders/export", Perm(P::OrdersExport), STEP, orders::export, limit: export),
    route!(Get "/orders/{id}", Perm(P::OrdersView), NO, orders::detail),
    route!(Post "/orders/{id}/transition", Perm(P::OrdersManage), NO, orders::transition),
    route!(Post "/orders/{id}/cancel", Perm(P::OrdersManage), NO, orders::cancel),
    route!(Get "/orders/{id}/refund", Perm(P::OrdersManage), STEP, orders::refund_confirm),
    route!(Post "/orders/{id}/refund", Perm(P::OrdersManage), STEP, orders::refund),
    route!(Get "/orders/{id}/partial-refund", Perm(P::OrdersManage), STEP, orders::partial_refund_form),
    route!(Post "/orders/{id}/partial-refund", Perm(P::OrdersManage), STEP, orders::partial_refund),
    route!(Get "/customers", Perm(P::CustomersView), NO, customers::list),
    route!(Get "/customers/export", Perm(P::CustomersExport), STEP, customers::export_form),
    route!(Post "/customers/export", Perm(P::CustomersExport), STEP, customers::export, limit: export),
    route!(Get "/customers/{id}", Perm(P::CustomersView), NO, customers::detail),
    route!(Post "/customers/{id}/reveal", Perm(P::CustomersReveal), NO, customers::reveal, limit: reveal),
    route!(Get "/products", Perm(P::ProductsView), NO, products::list),
    route!(Get "/products/new", Perm(P::ProductsManage), NO, products::new_form),
    route!(Post "/products", Perm(P::ProductsManage), NO, products::create),
    route!(Get "/products/{id}", Perm(P::ProductsView), NO, products::detail),
    route!(Post "/products/{id}", Perm(P::ProductsManage), NO, products::update),
    route!(Post "/products/{id}/stock", Perm(P::ProductsManage), NO, products::stock),
    route!(Post "/products/{id}/images", Perm(P::ProductsManage), NO, products::upload_image),
    route!(Get "/products/{id}/images/{image}", Perm(P::ProductsView), NO, products::image),
    route!(Get "/staff", Perm(P::StaffManage), NO, staff_admin::list),
    route!(Post "/staff/invite", Perm(P::StaffManage), STEP, staff_admin::invite),
    route!(Post "/staff/{id}/link", Perm(P::StaffManage), STEP, staff_admin::reissue),
    route!(Post "/staff/{id}/role", Perm(P::StaffManage), STEP, staff_admin::change_role),
    route!(Post "/staff/{id}/disable", Perm(P::StaffManage), STEP, staff_admin::disable),
    route!(Post "/staff/{id}/enable", Perm(P::StaffManage), STEP, staff_admin::enable),
    route!(Get "/settings", Perm(P::SettingsManage), NO, settings::show),
    route!(Post "/settings", Perm(P::SettingsManage), NO, settings::save),
    route!(Get "/settings/shipping", Perm(P::SettingsManage), NO, settings::shipping_show),
    route!(Post "/settings/shipping", Perm(P::SettingsManage), NO, settings::shipping_save),
    route!(Get "/ledger", Perm(P::LedgerView), NO, audit::ledger),
    route!(Get "/staff-log", Perm(P::StaffLogView), NO, audit::staff_log),
    route!(Get "/alerts", Perm(P::AlertsView), NO, alerts::list),
    route!(Get "/alerts/{id}", Perm(P::AlertsView), NO, alerts::detail),
    route!(Post "/alerts/{id}/acknowledge", Perm(P::AlertsManage), NO, alerts::acknowledge),
    route!(Get "/csp-reports", Perm(P::AlertsView), NO, csp_reports::list),
    route!(Get "/scripts", Perm(P::AlertsView), NO, scripts::list),
    route!(Post "/scripts", Perm(P::GuardApprove), STEP, scripts::change),
    route!(Get "/guard", Perm(P::AlertsView), NO, file_guard::show),
    route!(Post "/guard/approve", Perm(P::GuardApprove), STEP, file_guard::approve),
    route!(Get "/security", Perm(P::AlertsView), NO, security::dashboard::show),
    route!(Get "/security/self-check", Perm(P::AlertsView), NO, security::selfcheck::show),
    route!(Get "/canaries", Perm(P::AlertsView), NO, security::canaries::list),
    route!(Post "/canaries", Perm(P::CanariesManage), STEP, security::canaries::plant_more),
    route!(Post "/canaries/mail/{id}/open", Perm(P::CanariesManage), STEP, security::canaries::open_mail),
    route!(Get "/incidents", Perm(P::IncidentsView), NO, incidents::list),
    route!(Get "/incidents/new", Perm(P::IncidentsManage), NO, incidents::new_form),
    route!(Post "/incidents", Perm(P::IncidentsManage), NO, incidents::open),
    route!(Get "/incidents/{id}", Perm(P::IncidentsView), NO, incidents::detail),
    route!(Post "/incidents/{id}/note", Perm(P::IncidentsManage), NO, incidents::note),
    route!(Post "/incidents/{id}/scope", Perm(P::IncidentsManage), NO, incidents::scope),
    route!(Post "/incidents/{id}/switch", Perm(P::IncidentsManage), STEP, incidents::switch),
    route!(Post "/incidents/{id}/key-leak", Perm(P::IncidentsManage), NO, incident_scope::key_leak),
    route!(Get "/incidents/{id}/report", Perm(P::IncidentsView), NO, incident_reports::show),
    route!(Get "/incidents/{id}/notices", Perm(P::IncidentsView), NO, incident_notices::show),
    route!(Post "/incidents/{id}/notices", Perm(P::IncidentsManage), STEP, incident_notices::start),
    route!(Post "/incidents/{id}/notices/resume", Perm(P::IncidentsManage), STEP, incident_notices::resume),
    route!(Post "/incidents/{id}/notices/letters", Perm(P::IncidentsManage), STEP, incident_notices::letters, limit: export),
    route!(Get "/incidents/{id}/public-notice", Perm(P::IncidentsView), NO, incident_public_notice::show),
    route!(Post "/incidents/{id}/public-notice", Perm(P::IncidentsManage), STEP, incident_public_notice::save),
    route!(Post "/incidents/{id}/public-notice/publish", Perm(P::IncidentsManage), STEP, incident_public_notice::publish),
    route!(Post "/incidents/{id}/public-notice/unpublish", Perm(P::IncidentsManage), STEP, incident_public_notice::unpublish),
    route!(Get "/inquiries", Perm(P::CustomersView), NO, incident_inquiries::desks),
    route!(Get "/incidents/{id}/inquiries", Perm(P::CustomersView), NO, incident_inquiries::list),
    route!(Get "/incidents/{id}/inquiries/{inquiry}", Perm(P::CustomersReveal), NO, incident_inquiries::detail, limit: reveal),
    route!(Post "/incidents/{id}/inquiries/{inquiry}/answered", Perm(P::CustomersReveal), NO, incident_inquiries::answered),
    route!(Post "/incidents/{id}/report", Perm(P::IncidentsManage), NO, incident_reports::save),
    route!(Get "/incidents/{id}/report/pdf", Perm(P::IncidentsView), NO, incident_reports::pdf),
    route!(Get "/incidents/{id}/report/text", Perm(P::IncidentsView), NO, incident_reports::text),
    route!(Get "/incidents/{id}/report/card.csv", Perm(P::IncidentsView), NO, incident_reports::card_csv),
    route!(Get "/incidents/{id}/report/timeline.csv", Perm(P::IncidentsView), NO, incident_reports::timeline_csv),
];

/// The back office's routes, each behind its guard, without the stack's layers. Any other path,
/// and any 404 a handler answers, gets the back office's own "not found" page.
pub fn router(state: Arc<BackofficeState>) -> Router {
    let mut router = Router::new();
    for spec in ROUTES {
        let method_router =
            (spec.handler)(&state).route_layer(from_fn_with_state((state.clone(), spec), guard));
        router = router.route(spec.path, method_router);
    }
    router
        // A catch-all route rather than a fallback: the web stack sets its own fallback (the
        // shop's page) after these routes are merged.
        .route("/{*rest}", any(|| async { StatusCode::NOT_FOUND }))
        .layer(from_fn_with_state(state.clone(), not_found_page))
        .with_state(state)
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    c: Ctx,
}

/// Middleware: a 404 from any back-office route becomes the back office's own page (its frame,
/// its language, a way back to its start page), kept as it is by the stack's error pages.
async fn not_found_page(
    State(state): State<Arc<BackofficeState>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let mut saved = parts.clone();
    let res = next.run(Request::from_parts(parts, body)).await;
    if res.status() != StatusCode::NOT_FOUND {
        return res;
    }
    let Ok(mut c) = Ctx::from_request_parts(&mut saved, &state).await else {
        return res;
    };
    if c.staff.is_none() {
        // An unknown path runs no guard: load the member of staff for the menu.
        c.staff = signed_in(&state, &c.session).await.ok().flatten();
    }
    let mut page = render(&NotFound { c });
    if page.status().is_success() {
        *page.status_mut() = StatusCode::NOT_FOUND;
        page.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        page.extensions_mut().insert(KeepErrorBody);
    }
    page
}

/// `/login?next=<path>` for a GET (so the page comes back after sign-in), `/login` otherwise.
fn to_login(req: &Request) -> Response {
    if req.method() == Method::GET {
        let next = req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
        Redirect::to(&format!("/login?{q}")).into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}

/// A same-origin path to come back to after a step-up: the page itself for a GET, the page the
/// form was on (its `Referer`, when it is this back office) for a POST.
fn come_back_path(req: &Request, origin: &str) -> String {
    if req.method() == Method::GET {
        return req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
    }
    req.headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix(origin))
        .filter(|p| crate::auth::is_local_path(p))
        .unwrap_or("/")
        .to_owned()
}

/// Whether the session's last second factor is within the step-up window.
pub fn fresh_factor(state: &BackofficeState, session: &Session) -> bool {
    let window = i64::try_from(state.config.step_up_window.as_secs()).unwrap_or(i64::MAX);
    session
        .get::<i64>(keys::FACTOR_AT)
        .is_some_and(|at| state.now().saturating_sub(at) <= window && at <= state.now() + 60)
}

/// Loads the signed-in member of staff of this session, if the account is still active; a
/// session whose account is gone or disabled is ended.
async fn signed_in(
    state: &BackofficeState,
    session: &Session,
) -> Result<Option<CurrentStaff>, AppError> {
    let Some(id) = session.get::<String>(keys::STAFF) else {
        return Ok(None);
    };
    let row = state.store.staff_by_id(&id).await.map_err(|err| {
        tracing::error!(error = %err, "could not load the signed-in staff member");
        AppError::Internal
    })?;
    let Some(row) = row.filter(|r| r.state == mamori_staff::state::ACTIVE) else {
        session.destroy();
        return Ok(None);
    };
    let Some(role) = Role::parse(&row.role) else {
        tracing::error!("a staff row has an unknown role");
        return Err(AppError::Internal);
    };
    // The incident desk's "freeze staff": every member of staff but the owners is signed out
    // and refused until it is lifted (this process's switchboard, refreshed every 500 ms).
    if state.switches.staff_frozen() && role != Role::Owner {
        session.destroy();
        return Ok(None);
    }
    Ok(Some(CurrentStaff {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        role,
    }))
}

/// The guard: runs before every handler with that route's [`RouteSpec`].
///
/// - [`Access::Public`]: passes (the signed-in member of staff, if any, is loaded for the page
///   header).
/// - Otherwise: no signed-in, active member of staff → the login page (303); a role without the
///   permission → 403, and the refusal goes to the staff log; a step-up route without a fresh
///   second factor → the step-up page (303), which comes back afterwards.
pub async fn guard(
    State((state, spec)): State<(Arc<BackofficeState>, &'static RouteSpec)>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        tracing::error!("back-office guard without the session layer");
        return AppError::Internal.into_response();
    };
    if spec.access == Access::Public {
        if spec.path != "/static/{file}" {
            if let Ok(Some(staff)) = signed_in(&state, &session).await {
                req.extensions_mut().insert(staff);
            }
        }
        return next.run(req).await;
    }
    let staff = match signed_in(&state, &session).await {
        Ok(Some(s)) => s,
        Ok(None) => return to_login(&req),
        Err(e) => return e.into_response(),
    };
    if !spec.access.allows(staff.role) {
        tracing::warn!(
            route = spec.path,
            role = staff.role.as_str(),
            "role lacks the permission"
        );
        let request_id = crate::request_id(&req);
        let by = stafflog::Source {
            staff_id: Some(&staff.id),
            request_id: &request_id,
            ip: crate::peer_ip(&req),
        };
        let appended = stafflog::append(
            state.store.as_ref(),
            state.now(),
            by,
            "access.denied",
            &format!("{} {}", spec.method.method(), spec.path),
            &serde_json::json!({ "role": staff.role.as_str() }),
        )
        .await;
        if let Err(err) = appended {
            tracing::error!(error = %err, "could not record a refused access");
        }
        return AppError::Forbidden.into_response();
    }
    if spec.step_up && !fresh_factor(&state, &session) {
        let back = come_back_path(&req, &state.config.origin());
        if session.insert(keys::STEP_UP_NEXT, &back).is_err() {
            return AppError::Internal.into_response();
        }
        return Redirect::to("/step-up").into_response();
    }
    req.extensions_mut().insert(staff);
    next.run(req).await
}
