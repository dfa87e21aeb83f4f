//! What every back-office page knows about its request: language, CSP nonce, CSRF token, the
//! signed-in member of staff (set by the route guard), a one-time message, the client address.

use std::{net::IpAddr, net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    response::{IntoResponse, Redirect, Response},
};
use http::request::Parts;
use mamori_staff::{Permission, Role};
use mamori_store::Accessor;
use mamori_web::{
    csrf::CsrfToken,
    errors::{AppError, RequestId},
    i18n::Lang,
    page::Layout,
    session::Session,
};

use crate::{
    assets::{self, AssetPaths},
    state::BackofficeState,
};

/// Session keys of the back office.
pub mod keys {
    /// The signed-in staff member's id (password and second factor done).
    pub const STAFF: &str = "bo.staff";
    /// When the last second factor was given (Unix seconds): step-up freshness.
    pub const FACTOR_AT: &str = "bo.factor_at";
    /// A sign-in between password and second factor: [`crate::auth::Pending`].
    pub const PENDING: &str = "bo.pending";
    /// The invited staff member enrolling in this session.
    pub const ENROL: &str = "bo.enrol";
    /// A WebAuthn ceremony's state (JSON of webauthn-rs' state; kept on the server side).
    pub const WEBAUTHN: &str = "bo.webauthn";
    /// A TOTP secret being set up (sealed in the session, which lives in memory only).
    pub const TOTP_SETUP: &str = "bo.totp_setup";
    /// What the TOTP set-up page shows (secret, URI, QR code) while it is pending.
    pub const TOTP_SHOWN: &str = "bo.totp_shown";
    /// Recovery codes to show once.
    pub const CODES: &str = "bo.codes";
    /// A one-time message for the next page.
    pub const FLASH: &str = "bo.flash";
    /// A one-time error message for the next page.
    pub const ERROR: &str = "bo.error";
    /// Where to go after the step-up.
    pub const STEP_UP_NEXT: &str = "bo.step_up_next";
}

/// The signed-in member of staff, as the route guard loaded them for this request (from the
/// database, so a role change or a disabled account counts at once). Debug shows the id and
/// role only: the email and name are personal.
#[derive(Clone)]
pub struct CurrentStaff {
    /// Staff id.
    pub id: String,
    /// Work email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
}

impl std::fmt::Debug for CurrentStaff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentStaff")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// One entry of the side menu.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Element id suffix (`nav-<id>`).
    pub id: &'static str,
    /// Where it leads.
    pub path: &'static str,
    /// Its label in the page's language.
    pub label: &'static str,
    /// The page is under it.
    pub current: bool,
}

/// The menu: (permission, id, path, Japanese, English). Only entries the role may use are shown.
pub const MENU: &[(Permission, &str, &str, &str, &str)] = &[
    (
        Permission::Dashboard,
        "dashboard",
        "/dashboard",
        "ダッシュボード",
        "Dashboard",
    ),
    (
        Permission::OrdersView,
        "orders",
        "/orders",
        "注文",
        "Orders",
    ),
    (
        Permission::ProductsView,
        "products",
        "/products",
        "商品",
        "Products",
    ),
    (
        Permission::CustomersView,
        "customers",
        "/customers",
        "顧客",
        "Customers",
    ),
    (
        Permission::StaffManage,
        "staff",
        "/staff",
        "スタッフ",
        "Staff",
    ),
    (
        Permission::SettingsManage,
        "settings",
        "/settings",
        "ショップ設定",
        "Shop settings",
    ),
    (
        Permission::LedgerView,
        "ledger",
        "/ledger",
        "アクセス台帳",
        "Access ledger",
    ),
    (
        Permission::StaffLogView,
        "staff-log",
        "/staff-log",
        "操作ログ",
        "Staff log",
    ),
    (
        Permission::AlertsView,
        "security",
        "/security",
        "セキュリティ",
        "Security",
    ),
    (
        Permission::AlertsView,
        "canaries",
        "/canaries",
        "カナリア顧客",
        "Canaries",
    ),
    (
        Permission::AlertsView,
        "alerts",
        "/alerts",
        "検知アラート",
        "Alerts",
    ),
    (
        Permission::AlertsView,
        "guard",
        "/guard",
        "ファイル監視",
        "File watch",
    ),
    (
        Permission::AlertsView,
        "scripts",
        "/scripts",
        "スクリプト一覧",
        "Scripts",
    ),
    (
        Permission::AlertsView,
        "csp-reports",
        "/csp-reports",
        "CSP違反レポート",
        "CSP reports",
    ),
    (
        Permission::IncidentsView,
        "incidents",
        "/incidents",
        "インシデント",
        "Incidents",
    ),
    (
        Permission::CustomersView,
        "inquiries",
        "/inquiries",
        "お問い合わせ",
        "Inquiries",
    ),
    (
        Permission::OwnAccount,
        "account",
        "/account",
        "アカウント",
        "Account",
    ),
];

/// The page context. Templates hold it as `c`.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Language and nonce.
    pub layout: Layout,
    /// The session's CSRF token.
    pub csrf: CsrfToken,
    /// The signed-in member of staff (None on public pages).
    pub staff: Option<CurrentStaff>,
    /// A message left by the previous request (shown once).
    pub flash: Option<String>,
    /// An error left by the previous request (shown once).
    pub error: Option<String>,
    /// The request id.
    pub request_id: String,
    /// The session.
    pub session: Session,
    /// The shop's name.
    pub shop_name: String,
    /// The request's path.
    pub path: String,
    /// The client's address.
    pub peer: Option<IpAddr>,
    /// The back office's script and stylesheet.
    pub assets: AssetPaths,
}

impl Ctx {
    /// Japanese or English, whichever the page speaks (both given at every call site).
    pub fn t(&self, ja: &'static str, en: &'static str) -> &'static str {
        match self.layout.lang {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }

    /// True for English pages.
    pub fn en(&self) -> bool {
        self.layout.lang == Lang::En
    }

    /// The role's label in the page's language.
    pub fn role_label(&self) -> &'static str {
        match &self.staff {
            Some(s) => self.role_name(s.role),
            None => "",
        }
    }

    /// A role's label in the page's language.
    pub fn role_name(&self, role: Role) -> &'static str {
        if self.en() {
            role.label_en()
        } else {
            role.label_ja()
        }
    }

    /// Whether the signed-in member of staff may do `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.staff.as_ref().is_some_and(|s| s.role.can(p))
    }

    /// The side menu for the signed-in role.
    pub fn nav(&self) -> Vec<NavItem> {
        MENU.iter()
            .filter(|(p, ..)| self.can(*p))
            .map(|(_, id, path, ja, en)| NavItem {
                id,
                path,
                label: self.t(ja, en),
                current: self.path == *path || self.path.starts_with(&format!("{path}/")),
            })
            .collect()
    }

    /// The signed-in staff member's id (empty on public pages, which make no gateway call).
    pub fn staff_id(&self) -> &str {
        self.staff.as_ref().map_or("", |s| s.id.as_str())
    }

    /// The accessor for gateway calls made by this request: the member of staff and `purpose`.
    pub fn accessor(&self, purpose: &str) -> Accessor {
        Accessor::staff(self.staff_id(), purpose, &self.request_id)
    }

    /// Leaves a message for the next page.
    pub fn flash_next(&self, text: &str) {
        if self.session.insert(keys::FLASH, &text).is_err() {
            tracing::warn!("could not store a flash message");
        }
    }

    /// Leaves an error message for the next page.
    pub fn error_next(&self, text: &str) {
        if self.session.insert(keys::ERROR, &text).is_err() {
            tracing::warn!("could not store an error message");
        }
    }
}

/// Redirects to `to` after a form, leaving `result` for that page: a message on success, an
/// error otherwise.
pub fn back(c: &Ctx, to: &str, result: Result<&str, String>) -> Response {
    match result {
        Ok(msg) => c.flash_next(msg),
        Err(msg) => c.error_next(&msg),
    }
    Redirect::to(to).into_response()
}

impl FromRequestParts<Arc<BackofficeState>> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<BackofficeState>,
    ) -> Result<Self, Self::Rejection> {
        let layout = Layout::from_request_parts(parts, state).await?;
        let session = Session::from_request_parts(parts, state).await?;
        let request_id = RequestId::from_request_parts(parts, state)
            .await
            .map(|r| r.0)
            .unwrap_or_default();
        let csrf = CsrfToken::from_request_parts(parts, state).await?;
        let take = |key: &str| {
            let v = session.get::<String>(key);
            if v.is_some() {
                session.remove(key);
            }
            v
        };
        let flash = take(keys::FLASH);
        let error = take(keys::ERROR);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Ctx {
            layout,
            csrf,
            staff: parts.extensions.get::<CurrentStaff>().cloned(),
            flash,
            error,
            request_id,
            session,
            shop_name: state.config.shop_name.clone(),
            path: parts.uri.path().to_owned(),
            peer,
            assets: assets::paths(),
        })
    }
}
