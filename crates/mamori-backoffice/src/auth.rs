//! Signing in (password, then passkey, TOTP or a recovery code), step-up, logout, enrolment from
//! the one-time link, the new-device mail, and the small public routes (language, favicon).
//!
//! Between the password and the second factor the session holds only a [`Pending`] sign-in;
//! nothing is signed in until a factor passes. The session id is renewed when the password is
//! accepted and again when the sign-in completes. Every failure counts toward the account's
//! lockout in `mamori-staff`; the routes are throttled per IP on top of that.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
    Json,
};
use cookie::{Cookie, SameSite};
use http::{header, HeaderValue, StatusCode};
use mamori_mail::{account::ChangeContext, MailContent, OutgoingMail, Recipient};
use mamori_staff::{
    FactorOutcome, PasskeyAuthenticationState, PasskeyRegistrationState, PasswordStep,
    PublicKeyCredential, RegisterPublicKeyCredential, RelyingParty, StaffAuth, StaffAuthConfig,
    StaffError,
};
use mamori_store::{model::StaffRow, MailDraft};
use mamori_web::{
    clock::Clock,
    errors::{AppError, SafeForm},
    i18n::{Lang, LANG_COOKIE},
    page::render,
    security::PagePolicy,
    session::{Session, ACCOUNT_KEY},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    config::BackofficeConfig,
    ctx::{keys, Ctx, MENU},
    fail,
    routes::fresh_factor,
    stafflog,
    state::{fmt_secs, jst, BackofficeState},
};

/// The long-lived cookie that tells a known browser from a new one (`__Host-` under TLS).
pub const DEVICE_COOKIE: &str = "mamori_staff_device";
/// How long a sign-in may wait between the password and the second factor.
const PENDING_SECS: i64 = 10 * 60;
/// Device cookie lifetime (browsers cap cookies at 400 days).
const DEVICE_COOKIE_DAYS: i64 = 400;

/// The staff service for this back office: the WebAuthn relying party is the public URL (its
/// host as RP id), and its clock is the back office's.
pub fn build_staff_auth(
    gateway: &mamori_store::Gateway,
    config: &BackofficeConfig,
    clock: &Arc<dyn Clock>,
) -> Result<StaffAuth, StaffError> {
    let rp_id = config
        .public_url
        .host_str()
        .ok_or_else(|| StaffError::Config("the public URL has no host".to_owned()))?
        .to_owned();
    let mut rp_origin = config.public_url.clone();
    rp_origin.set_path("");
    let rp = RelyingParty {
        rp_id,
        rp_origin,
        rp_name: format!("{} 管理画面", config.shop_name),
    };
    StaffAuth::new(
        gateway.records(),
        gateway.system_sealer(mamori_store::SystemPurpose::StaffTotp),
        gateway.passwords().clone(),
        clock.clone(),
        StaffAuthConfig::new(rp),
    )
}

/// A path on this back office to go to after a sign-in or step-up: `/…`, not `//…`, no
/// backslash, no control character (no open redirect).
pub fn is_local_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.starts_with("//")
        && !p.contains('\\')
        && !p.chars().any(char::is_control)
        && p.len() <= 512
}

/// A staff service error as the page shows it, in the page's language; internal failures are
/// logged too.
pub(crate) fn staff_error(c: &Ctx, e: &StaffError) -> String {
    if matches!(
        e,
        StaffError::Store(_) | StaffError::Vault(_) | StaffError::Config(_) | StaffError::Task
    ) {
        tracing::error!(error = %e, "staff service failed");
    }
    if c.en() {
        e.message_en()
    } else {
        e.message_ja()
    }
}

fn until_text(c: &Ctx, until: i64) -> String {
    if c.en() {
        format!(
            "Too many failed attempts: the account is locked until {} (JST).",
            fmt_secs(until)
        )
    } else {
        format!(
            "失敗が続いたため、アカウントは {}（日本時間）までロックされています。",
            fmt_secs(until)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Small public routes
// ---------------------------------------------------------------------------------------------

/// `GET /favicon.ico`: nothing (browsers ask unprompted).
pub async fn favicon() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// `GET /lang/{ja|en}`: pins the language in a cookie and goes back to the page the link was on
/// (this back office's pages only).
pub async fn set_lang(
    State(state): State<Arc<BackofficeState>>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let lang = Lang::parse(&code).ok_or(AppError::NotFound)?;
    let origin = state.config.origin();
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix(origin.as_str()))
        .filter(|p| is_local_path(p))
        .unwrap_or("/")
        .to_owned();
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    );
    let mut res = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `GET /`: the first page the role may use.
pub async fn home(c: Ctx) -> Response {
    let target = MENU
        .iter()
        .find(|(p, ..)| c.can(*p))
        .map_or("/account", |(_, _, path, ..)| path);
    Redirect::to(target).into_response()
}

// ---------------------------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------------------------

/// A sign-in between the password and the second factor (in the session).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// Whose password it was.
    pub staff_id: String,
    /// When the password was accepted (Unix seconds).
    pub at: i64,
    /// The account has a passkey.
    pub passkey: bool,
    /// The account has an authenticator app.
    pub totp: bool,
    /// Where to go afterwards.
    pub next: Option<String>,
}

fn pending(state: &BackofficeState, session: &Session) -> Option<Pending> {
    session
        .get::<Pending>(keys::PENDING)
        .filter(|p| state.now().saturating_sub(p.at) <= PENDING_SECS)
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    c: Ctx,
    email: String,
    next: String,
}

/// `GET /login?next=`.
#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    /// Where to go after signing in.
    pub next: Option<String>,
}

/// `GET /login`.
pub async fn login_form(c: Ctx, Query(q): Query<NextQuery>) -> Response {
    if c.staff.is_some() {
        return Redirect::to("/").into_response();
    }
    let next = q.next.filter(|n| is_local_path(n)).unwrap_or_default();
    (
        PagePolicy::new().private(),
        render(&LoginPage {
            c,
            email: String::new(),
            next,
        }),
    )
        .into_response()
}

/// `POST /login` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginForm {
    /// Work email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Where to go afterwards.
    pub next: Option<String>,
}

fn login_again(mut c: Ctx, email: String, next: String, error: String) -> Response {
    c.error = Some(error);
    (
        PagePolicy::new().private(),
        render(&LoginPage { c, email, next }),
    )
        .into_response()
}

/// Writes a failed sign-in step to the staff log as `auth.login_failed` (the security
/// dashboard plots them next to the sign-ins): the account when the step knew it, never the
/// email that was typed. A failure to write is logged and the page goes on.
async fn log_failed_sign_in(
    state: &BackofficeState,
    c: &Ctx,
    staff_id: Option<&str>,
    step: &str,
    outcome: &str,
) {
    let by = stafflog::Source {
        staff_id,
        request_id: &c.request_id,
        ip: c.peer,
    };
    let appended = stafflog::append(
        state.store.as_ref(),
        state.now(),
        by,
        crate::security::dashboard::SIGN_IN_FAILED,
        staff_id.unwrap_or("-"),
        &json!({ "step": step, "outcome": outcome }),
    )
    .await;
    if let Err(err) = appended {
        tracing::error!(error = %err, "could not record a failed sign-in");
    }
}

/// The fraud watch's realm of staff sign-ins.
const STUFFING_REALM: &str = "staff";

/// `POST /login`: the password step.
pub async fn login_submit(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    headers: HeaderMap,
    SafeForm(f): SafeForm<LoginForm>,
) -> Result<Response, AppError> {
    let next = f.next.filter(|n| is_local_path(n));
    let email = f.email.trim().to_owned();
    let password = SecretString::from(f.password);
    // Credential stuffing: a source whose failed sign-ins span many accounts is refused for a
    // while (the address and the names typed are counted as keyed hashes only).
    let watch = state.fraud.get();
    let source = state.gateway.fraud_key(
        "ip",
        &state.limits.login_ip.client_ip.client_key(c.peer, &headers),
    );
    if let Some(watch) = watch {
        if !watch
            .login_allowed(STUFFING_REALM, &source)
            .await
            .map_err(fail("login stuffing check"))?
        {
            return Err(AppError::TooManyRequests {
                retry_after_secs: u64::try_from(watch.config().stuffing.window_secs)
                    .unwrap_or(3600),
            });
        }
    }
    let step = state.auth.login_password(&email, &password).await;
    let shown_next = next.clone().unwrap_or_default();
    match step {
        Ok(PasswordStep::NeedsSecondFactor {
            staff_id,
            passkey,
            totp,
        }) => {
            c.session.renew();
            let p = Pending {
                staff_id,
                at: state.now(),
                passkey,
                totp,
                next,
            };
            c.session
                .insert(keys::PENDING, &p)
                .map_err(fail("pending sign-in"))?;
            Ok(Redirect::to("/login/factor").into_response())
        }
        Ok(PasswordStep::Invalid) => {
            log_failed_sign_in(&state, &c, None, "password", "invalid").await;
            if let Some(watch) = watch {
                let account = state
                    .gateway
                    .fraud_key(STUFFING_REALM, &email.to_lowercase());
                watch
                    .login_failed(STUFFING_REALM, &source, &account)
                    .await
                    .map_err(fail("login failure record"))?;
            }
            let msg = c.t(
                "メールアドレスまたはパスワードが正しくありません。",
                "Wrong email address or password.",
            );
            Ok(login_again(c, email, shown_next, msg.to_owned()))
        }
        Ok(PasswordStep::Locked { until }) => {
            log_failed_sign_in(&state, &c, None, "password", "locked").await;
            let msg = until_text(&c, until);
            Ok(login_again(c, email, shown_next, msg))
        }
        Ok(PasswordStep::Disabled) => {
            log_failed_sign_in(&state, &c, None, "password", "disabled").await;
            let msg = c.t(
                "このアカウントは停止されています。オーナーに連絡してください。",
                "This account is disabled. Please contact an owner.",
            );
            Ok(login_again(c, email, shown_next, msg.to_owned()))
        }
        Err(e) => {
            let msg = staff_error(&c, &e);
            Ok(login_again(c, email, shown_next, msg))
        }
    }
}

/// Which factors a page offers, and where its forms post.
#[derive(Debug, Clone)]
pub struct FactorChoice {
    /// Offer a passkey.
    pub passkey: bool,
    /// Offer a TOTP code.
    pub totp: bool,
    /// `/login` or `/step-up`.
    pub base: &'static str,
}

#[derive(Template)]
#[template(path = "auth/factor.html")]
struct FactorPage {
    c: Ctx,
    f: FactorChoice,
    step_up: bool,
}

fn factor_page(c: Ctx, f: FactorChoice, step_up: bool) -> Response {
    (
        PagePolicy::new().private(),
        render(&FactorPage { c, f, step_up }),
    )
        .into_response()
}

/// `GET /login/factor`.
pub async fn factor_form(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Response {
    let Some(p) = pending(&state, &c.session) else {
        return Redirect::to("/login").into_response();
    };
    let f = FactorChoice {
        passkey: p.passkey,
        totp: p.totp,
        base: "/login",
    };
    factor_page(c, f, false)
}

/// A code form (TOTP or recovery code).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeForm {
    /// The code.
    pub code: String,
}

/// How the second factor was given (for the staff log).
#[derive(Debug, Clone, Copy)]
enum Method {
    Passkey,
    Totp,
    Recovery,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Passkey => "passkey",
            Method::Totp => "totp",
            Method::Recovery => "recovery_code",
        }
    }
}

/// Finishes a sign-in: a new session id holding the member of staff, the second factor's time
/// (so the first minutes need no step-up), the device check and its mail, the staff log.
async fn complete_login(
    state: &BackofficeState,
    c: &Ctx,
    headers: &HeaderMap,
    row: &StaffRow,
    method: Method,
    next: Option<String>,
) -> Result<(String, Option<HeaderValue>), AppError> {
    let s = &c.session;
    s.remove(keys::PENDING);
    s.remove(keys::WEBAUTHN);
    s.renew();
    s.insert(keys::STAFF, &row.id).map_err(fail("session"))?;
    s.insert(ACCOUNT_KEY, &row.id).map_err(fail("session"))?;
    s.insert(keys::FACTOR_AT, &state.now())
        .map_err(fail("session"))?;
    let (secret, set_cookie) = match device_cookie(headers, state.config.tls) {
        Some(v) => (v, None),
        None => {
            let v = StaffAuth::new_device_secret().map_err(fail("device secret"))?;
            let cookie = device_set_cookie(&v, state.config.tls);
            (v, HeaderValue::from_str(&cookie).ok())
        }
    };
    let new_device = state
        .auth
        .device_seen(&row.id, &secret)
        .await
        .map_err(fail("device seen"))?;
    if new_device {
        if let Err(e) = queue_new_device_mail(state, c, headers, row).await {
            // The sign-in stands; the failure is logged (without the address).
            tracing::error!(error = %e, "could not queue the new-device mail");
        }
    }
    stafflog::record(
        state,
        c,
        Some(&row.id),
        "auth.login",
        &row.id,
        json!({ "factor": method.as_str(), "new_device": new_device }),
    )
    .await?;
    Ok((next.unwrap_or_else(|| "/".to_owned()), set_cookie))
}

fn device_cookie_name(tls: bool) -> String {
    if tls {
        format!("__Host-{DEVICE_COOKIE}")
    } else {
        DEVICE_COOKIE.to_owned()
    }
}

/// The device cookie the browser sent, if it looks like one of ours.
fn device_cookie(headers: &HeaderMap, tls: bool) -> Option<SecretString> {
    let name = device_cookie_name(tls);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| {
            (40..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(SecretString::from)
}

fn device_set_cookie(secret: &SecretString, tls: bool) -> String {
    Cookie::build((device_cookie_name(tls), secret.expose_secret().to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(tls)
        .max_age(cookie::time::Duration::days(DEVICE_COOKIE_DAYS))
        .build()
        .to_string()
}

fn redirect_with(to: &str, cookie: Option<HeaderValue>) -> Response {
    let mut res = Redirect::to(to).into_response();
    if let Some(v) = cookie {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The text of the new-device mail (Japanese first, then English).
pub fn new_device_mail(shop: &str, name: &str, ctx: &ChangeContext) -> MailContent {
    let at = ctx.at.format("%Y-%m-%d %H:%M").to_string();
    let ip = ctx
        .ip
        .parse::<std::net::IpAddr>()
        .map_or_else(|_| "-".to_owned(), |i| i.to_string());
    let browser = ctx.browser_display();
    let text = format!(
        "{name} 様\n\n\
         {shop} の管理画面に、これまで使われていない端末（ブラウザ）からログインがありました。\n\n\
         日時: {at}（日本時間）\nIPアドレス: {ip}\nブラウザ: {browser}\n\n\
         心当たりがない場合は、すぐにオーナーに連絡し、パスワードと認証手段を変更してください。\n\n\
         ----\n\n\
         Dear {name},\n\n\
         Someone signed in to the {shop} back office from a browser not used before.\n\n\
         Time: {at} (JST)\nIP address: {ip}\nBrowser: {browser}\n\n\
         If this was not you, tell an owner at once and change your password and factors.\n"
    );
    MailContent {
        subject: format!(
            "【{shop} 管理画面】新しい端末からのログイン / New sign-in to the back office"
        ),
        text,
        html: None,
    }
}

/// Queues the new-device mail to the member of staff through the outbox with
/// `Gateway::queue_system_mail`: sealed under the system key the outbox worker opens unlinked
/// mail with (a staff member is no customer, so there is no customer key, and the ledger, which
/// records customers' data, has nothing to record: the worker's open is recorded as usual).
async fn queue_new_device_mail(
    state: &BackofficeState,
    c: &Ctx,
    headers: &HeaderMap,
    row: &StaffRow,
) -> anyhow::Result<()> {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let at = state.clock.now().with_timezone(&jst());
    let ctx = match c.peer {
        Some(ip) => ChangeContext::new(at, ip, ua),
        None => ChangeContext {
            at,
            ip: "-".to_owned(),
            browser: mamori_mail::account::browser_summary(ua),
        },
    };
    let content = new_device_mail(&state.config.shop_name, &row.display_name, &ctx);
    let to = Recipient::new(row.email.clone())?.with_name(row.display_name.clone());
    let mail =
        OutgoingMail::from_content(to, content).with_header("X-Mamori-Kind", "staff-new-device");
    // The gateway dates the row by the wall clock, which the outbox worker runs on.
    state
        .gateway
        .queue_system_mail(MailDraft {
            kind: "staff_new_device".to_owned(),
            payload: mail.to_payload(),
        })
        .await?;
    Ok(())
}

/// What a second factor answered, for the page.
enum FactorResult {
    Ok(StaffRow),
    Refused(String),
    /// Locked or disabled: the pending sign-in ends.
    Ended(String),
}

fn outcome(c: &Ctx, r: Result<FactorOutcome, StaffError>) -> FactorResult {
    match r {
        Ok(FactorOutcome::Ok(row)) => FactorResult::Ok(*row),
        Ok(FactorOutcome::Invalid) => FactorResult::Refused(
            c.t(
                "確認できませんでした。もう一度お試しください。",
                "That did not verify. Please try again.",
            )
            .to_owned(),
        ),
        Ok(FactorOutcome::Locked { until }) => FactorResult::Ended(until_text(c, until)),
        Ok(FactorOutcome::Disabled) => FactorResult::Ended(
            c.t(
                "このアカウントではログインできません。",
                "This account cannot sign in.",
            )
            .to_owned(),
        ),
        Err(e) => FactorResult::Refused(staff_error(c, &e)),
    }
}

async fn login_code(
    state: &BackofficeState,
    mut c: Ctx,
    headers: &HeaderMap,
    code: String,
    method: Method,
) -> Result<Response, AppError> {
    let Some(p) = pending(state, &c.session) else {
        c.error_next(c.t("もう一度ログインしてください。", "Please sign in again."));
        return Ok(Redirect::to("/login").into_response());
    };
    let code = SecretString::from(code);
    let r = match method {
        Method::Totp => state.auth.second_factor_totp(&p.staff_id, &code).await,
        _ => state.auth.second_factor_recovery(&p.staff_id, &code).await,
    };
    match outcome(&c, r) {
        FactorResult::Ok(row) => {
            let (to, cookie) = complete_login(state, &c, headers, &row, method, p.next).await?;
            Ok(redirect_with(&to, cookie))
        }
        FactorResult::Refused(msg) => {
            log_failed_sign_in(state, &c, Some(&p.staff_id), method.as_str(), "refused").await;
            c.error = Some(msg);
            let f = FactorChoice {
                passkey: p.passkey,
                totp: p.totp,
                base: "/login",
            };
            Ok(factor_page(c, f, false))
        }
        FactorResult::Ended(msg) => {
            log_failed_sign_in(state, &c, Some(&p.staff_id), method.as_str(), "ended").await;
            c.session.remove(keys::PENDING);
            c.error_next(&msg);
            Ok(Redirect::to("/login").into_response())
        }
    }
}

/// `POST /login/totp`.
pub async fn login_totp(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    headers: HeaderMap,
    SafeForm(f): SafeForm<CodeForm>,
) -> Result<Response, AppError> {
    login_code(&state, c, &headers, f.code, Method::Totp).await
}

/// `POST /login/recovery`.
pub async fn login_recovery(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    headers: HeaderMap,
    SafeForm(f): SafeForm<CodeForm>,
) -> Result<Response, AppError> {
    login_code(&state, c, &headers, f.code, Method::Recovery).await
}

/// The begin request of a WebAuthn ceremony (a label for a new passkey).
#[derive(Debug, Default, Deserialize)]
pub struct BeginBody {
    /// The passkey's name (registration).
    pub label: Option<String>,
}

/// `{"ok": false, "message": …}` for the page's script.
pub(crate) fn json_fail(message: String) -> Response {
    (
        PagePolicy::new().private(),
        Json(json!({ "ok": false, "message": message })),
    )
        .into_response()
}

/// `body` (`{"ok": true, …}`) for the page's script.
pub(crate) fn json_ok(body: serde_json::Value) -> Response {
    (PagePolicy::new().private(), Json(body)).into_response()
}

async fn auth_begin(state: &BackofficeState, c: &Ctx, staff_id: &str) -> Response {
    match state.auth.passkey_auth_begin(staff_id).await {
        Ok((options, ceremony)) => {
            if c.session.insert(keys::WEBAUTHN, &ceremony).is_err() {
                return json_fail(
                    c.t("内部エラーが発生しました。", "Internal error.")
                        .to_owned(),
                );
            }
            json_ok(json!({ "ok": true, "options": options }))
        }
        Err(e) => json_fail(staff_error(c, &e)),
    }
}

/// `POST /login/passkey/begin`: the options for `navigator.credentials.get()`.
pub async fn login_passkey_begin(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Response {
    let Some(p) = pending(&state, &c.session) else {
        return json_fail(
            c.t("もう一度ログインしてください。", "Please sign in again.")
                .to_owned(),
        );
    };
    auth_begin(&state, &c, &p.staff_id).await
}

fn take_auth_ceremony(c: &Ctx, staff_id: &str) -> Option<PasskeyAuthenticationState> {
    let st = c.session.get::<PasskeyAuthenticationState>(keys::WEBAUTHN);
    c.session.remove(keys::WEBAUTHN);
    st.filter(|s| s.staff_id() == staff_id)
}

/// `POST /login/passkey/finish`: the browser's assertion.
pub async fn login_passkey_finish(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    headers: HeaderMap,
    Json(cred): Json<PublicKeyCredential>,
) -> Result<Response, AppError> {
    let again = c
        .t("もう一度ログインしてください。", "Please sign in again.")
        .to_owned();
    let Some(p) = pending(&state, &c.session) else {
        return Ok(json_fail(again));
    };
    let Some(ceremony) = take_auth_ceremony(&c, &p.staff_id) else {
        return Ok(json_fail(again));
    };
    let r = state.auth.second_factor_passkey(&ceremony, &cred).await;
    match outcome(&c, r) {
        FactorResult::Ok(row) => {
            let (to, cookie) =
                complete_login(&state, &c, &headers, &row, Method::Passkey, p.next).await?;
            let mut res = json_ok(json!({ "ok": true, "redirect": to }));
            if let Some(v) = cookie {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            Ok(res)
        }
        FactorResult::Refused(msg) => {
            log_failed_sign_in(&state, &c, Some(&p.staff_id), "passkey", "refused").await;
            Ok(json_fail(msg))
        }
        FactorResult::Ended(msg) => {
            log_failed_sign_in(&state, &c, Some(&p.staff_id), "passkey", "ended").await;
            c.session.remove(keys::PENDING);
            Ok(json_fail(msg))
        }
    }
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
) -> Result<Response, AppError> {
    stafflog::record(&state, &c, None, "auth.logout", c.staff_id(), json!({})).await?;
    c.session.destroy();
    Ok(Redirect::to("/login").into_response())
}

// ---------------------------------------------------------------------------------------------
// Step-up
// ---------------------------------------------------------------------------------------------

fn step_up_next(c: &Ctx) -> String {
    let next = c
        .session
        .get::<String>(keys::STEP_UP_NEXT)
        .filter(|n| is_local_path(n))
        .unwrap_or_else(|| "/".to_owned());
    c.session.remove(keys::STEP_UP_NEXT);
    next
}

async fn step_up_choice(state: &BackofficeState, c: &Ctx) -> Result<FactorChoice, AppError> {
    let f = state
        .auth
        .factors(c.staff_id())
        .await
        .map_err(fail("factors"))?;
    Ok(FactorChoice {
        passkey: f.passkeys > 0,
        totp: f.totp,
        base: "/step-up",
    })
}

/// `GET /step-up`: asks for a second factor before a sensitive action.
pub async fn step_up_form(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
) -> Result<Response, AppError> {
    if fresh_factor(&state, &c.session) {
        let next = step_up_next(&c);
        return Ok(Redirect::to(&next).into_response());
    }
    let f = step_up_choice(&state, &c).await?;
    Ok(factor_page(c, f, true))
}

async fn stepped_up(state: &BackofficeState, c: &Ctx, method: Method) -> Result<String, AppError> {
    c.session
        .insert(keys::FACTOR_AT, &state.now())
        .map_err(fail("session"))?;
    stafflog::record(
        state,
        c,
        None,
        "auth.step_up",
        c.staff_id(),
        json!({ "factor": method.as_str() }),
    )
    .await?;
    Ok(step_up_next(c))
}

async fn step_up_code(
    state: &BackofficeState,
    mut c: Ctx,
    code: String,
    method: Method,
) -> Result<Response, AppError> {
    let code = SecretString::from(code);
    let id = c.staff_id().to_owned();
    let r = match method {
        Method::Totp => state.auth.second_factor_totp(&id, &code).await,
        _ => state.auth.second_factor_recovery(&id, &code).await,
    };
    match outcome(&c, r) {
        FactorResult::Ok(_) => {
            let next = stepped_up(state, &c, method).await?;
            Ok(Redirect::to(&next).into_response())
        }
        FactorResult::Refused(msg) => {
            c.error = Some(msg);
            let f = step_up_choice(state, &c).await?;
            Ok(factor_page(c, f, true))
        }
        FactorResult::Ended(msg) => {
            // Locked: the session ends too.
            c.session.destroy();
            c.error_next(&msg);
            Ok(Redirect::to("/login").into_response())
        }
    }
}

/// `POST /step-up/totp`.
pub async fn step_up_totp(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(f): SafeForm<CodeForm>,
) -> Result<Response, AppError> {
    step_up_code(&state, c, f.code, Method::Totp).await
}

/// `POST /step-up/recovery`.
pub async fn step_up_recovery(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(f): SafeForm<CodeForm>,
) -> Result<Response, AppError> {
    step_up_code(&state, c, f.code, Method::Recovery).await
}

/// `POST /step-up/passkey/begin`.
pub async fn step_up_passkey_begin(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Response {
    let id = c.staff_id().to_owned();
    auth_begin(&state, &c, &id).await
}

/// `POST /step-up/passkey/finish`.
pub async fn step_up_passkey_finish(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Json(cred): Json<PublicKeyCredential>,
) -> Result<Response, AppError> {
    let id = c.staff_id().to_owned();
    let Some(ceremony) = take_auth_ceremony(&c, &id) else {
        return Ok(json_fail(
            c.t("もう一度お試しください。", "Please try again.")
                .to_owned(),
        ));
    };
    let r = state.auth.second_factor_passkey(&ceremony, &cred).await;
    match outcome(&c, r) {
        FactorResult::Ok(_) => {
            let next = stepped_up(&state, &c, Method::Passkey).await?;
            Ok(json_ok(json!({ "ok": true, "redirect": next })))
        }
        FactorResult::Refused(msg) => Ok(json_fail(msg)),
        FactorResult::Ended(msg) => {
            c.session.destroy();
            Ok(json_fail(msg))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Enrolment
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/enrol.html")]
struct EnrolLanding {
    c: Ctx,
    token: String,
}

/// `GET /enrol?token=` (no `Debug`: the token is a credential).
#[derive(Default, Deserialize)]
pub struct TokenQuery {
    /// The one-time token.
    pub token: Option<String>,
}

/// `GET /enrol`: a page with a button that uses the link's token (a GET uses nothing up, so a
/// mail scanner or a link preview cannot spend the link).
pub async fn enrol_landing(c: Ctx, Query(q): Query<TokenQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    (
        PagePolicy::new().private(),
        render(&EnrolLanding { c, token }),
    )
        .into_response()
}

/// `POST /enrol` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    /// The one-time token.
    pub token: String,
}

/// `POST /enrol`: uses the token up and starts the enrolment in this session.
pub async fn enrol_start(
    State(state): State<Arc<BackofficeState>>,
    mut c: Ctx,
    SafeForm(f): SafeForm<TokenForm>,
) -> Result<Response, AppError> {
    match state.auth.begin_enrolment(f.token.trim()).await {
        Ok(Some(row)) => {
            c.session.renew();
            c.session.remove(keys::STAFF);
            c.session
                .insert(keys::ENROL, &row.id)
                .map_err(fail("session"))?;
            stafflog::record(
                &state,
                &c,
                Some(&row.id),
                "staff.enrol_start",
                &row.id,
                json!({}),
            )
            .await?;
            Ok(Redirect::to("/enrol/password").into_response())
        }
        Ok(None) => {
            c.error = Some(
                c.t(
                    "この登録リンクは無効か、期限切れか、既に使われています。オーナーに新しいリンクを依頼してください。",
                    "This enrolment link is invalid, expired or used. Please ask an owner for a new one.",
                )
                .to_owned(),
            );
            Ok(render(&EnrolLanding {
                c,
                token: String::new(),
            }))
        }
        Err(e) => Err(fail("begin enrolment")(e)),
    }
}

fn enrolling(c: &Ctx) -> Option<String> {
    c.session.get::<String>(keys::ENROL)
}

fn enrol_expired(c: &Ctx) -> Response {
    c.error_next(c.t(
        "登録の手続きが見つかりません。登録リンクを開き直してください。",
        "No enrolment in progress. Please open your enrolment link again.",
    ));
    Redirect::to("/login").into_response()
}

#[derive(Template)]
#[template(path = "auth/enrol_password.html")]
struct EnrolPassword {
    c: Ctx,
}

/// `GET /enrol/password`.
pub async fn enrol_password_form(c: Ctx) -> Response {
    if enrolling(&c).is_none() {
        return enrol_expired(&c);
    }
    (PagePolicy::new().private(), render(&EnrolPassword { c })).into_response()
}

/// A new password, twice.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPasswordForm {
    /// The password.
    pub password: String,
    /// The same again.
    pub password2: String,
}

/// `POST /enrol/password`.
pub async fn enrol_password(
    State(state): State<Arc<BackofficeState>>,
    mut c: Ctx,
    SafeForm(f): SafeForm<NewPasswordForm>,
) -> Result<Response, AppError> {
    let Some(id) = enrolling(&c) else {
        return Ok(enrol_expired(&c));
    };
    if f.password != f.password2 {
        c.error = Some(
            c.t(
                "確認用のパスワードが一致しません。",
                "The passwords do not match.",
            )
            .to_owned(),
        );
        return Ok(render(&EnrolPassword { c }));
    }
    match state
        .auth
        .set_enrolment_password(&id, &SecretString::from(f.password))
        .await
    {
        Ok(()) => Ok(Redirect::to("/enrol/factor").into_response()),
        Err(e) => {
            c.error = Some(staff_error(&c, &e));
            Ok(render(&EnrolPassword { c }))
        }
    }
}

/// A TOTP secret to show while an authenticator app is being added. No `Debug`: it holds the
/// secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct TotpShown {
    /// Base32 secret.
    pub secret: String,
    /// The `otpauth://` URI.
    pub uri: String,
    /// The QR code (SVG markup made by the staff service from the URI).
    pub qr_svg: String,
}

/// Starts (or, after a wrong code, continues) a TOTP set-up: the sealed secret and what the page
/// shows stay in the session (memory only) until the app is confirmed, so a mistyped code does
/// not invalidate an app already set up.
pub async fn totp_setup(
    state: &BackofficeState,
    c: &Ctx,
    staff_id: &str,
) -> Result<TotpShown, AppError> {
    if c.session.get::<String>(keys::TOTP_SETUP).is_some() {
        if let Some(shown) = c.session.get::<TotpShown>(keys::TOTP_SHOWN) {
            return Ok(shown);
        }
    }
    let t = state
        .auth
        .totp_begin(staff_id)
        .await
        .map_err(fail("totp begin"))?;
    let shown = TotpShown {
        secret: t.secret_base32.expose_secret().to_owned(),
        uri: t.otpauth_uri.expose_secret().to_owned(),
        qr_svg: t.qr_svg.expose_secret().to_owned(),
    };
    c.session
        .insert(keys::TOTP_SETUP, &t.pending)
        .and_then(|()| c.session.insert(keys::TOTP_SHOWN, &shown))
        .map_err(fail("session"))?;
    Ok(shown)
}

/// Forgets a TOTP set-up (after it was confirmed).
pub fn totp_done(c: &Ctx) {
    c.session.remove(keys::TOTP_SETUP);
    c.session.remove(keys::TOTP_SHOWN);
}

#[derive(Template)]
#[template(path = "auth/enrol_factor.html")]
struct EnrolFactor {
    c: Ctx,
    totp: TotpShown,
}

/// `GET /enrol/factor`: a passkey (first choice) or an authenticator app.
pub async fn enrol_factor_form(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
) -> Result<Response, AppError> {
    let Some(id) = enrolling(&c) else {
        return Ok(enrol_expired(&c));
    };
    let factors = state.auth.factors(&id).await.map_err(fail("factors"))?;
    if !factors.password {
        return Ok(Redirect::to("/enrol/password").into_response());
    }
    let totp = totp_setup(&state, &c, &id).await?;
    Ok((
        PagePolicy::new().private(),
        render(&EnrolFactor { c, totp }),
    )
        .into_response())
}

/// Activates the account and leaves its recovery codes in the session for `/enrol/done`.
async fn finish_enrolment(
    state: &BackofficeState,
    c: &Ctx,
    id: &str,
    factor: &str,
) -> Result<(), AppError> {
    let codes = state.auth.activate(id).await.map_err(fail("activate"))?;
    let shown: Vec<String> = codes
        .codes
        .iter()
        .map(|s| s.expose_secret().to_owned())
        .collect();
    c.session
        .insert(keys::CODES, &shown)
        .map_err(fail("session"))?;
    c.session.remove(keys::ENROL);
    totp_done(c);
    stafflog::record(
        state,
        c,
        Some(id),
        "staff.enrolled",
        id,
        json!({ "factor": factor }),
    )
    .await
}

/// `POST /enrol/totp`: confirms the authenticator app with a code and activates the account.
pub async fn enrol_totp(
    State(state): State<Arc<BackofficeState>>,
    mut c: Ctx,
    SafeForm(f): SafeForm<CodeForm>,
) -> Result<Response, AppError> {
    let Some(id) = enrolling(&c) else {
        return Ok(enrol_expired(&c));
    };
    let Some(pending) = c.session.get::<String>(keys::TOTP_SETUP) else {
        return Ok(Redirect::to("/enrol/factor").into_response());
    };
    match state
        .auth
        .totp_confirm(&id, &pending, &SecretString::from(f.code))
        .await
    {
        Ok(()) => {
            finish_enrolment(&state, &c, &id, "totp").await?;
            Ok(Redirect::to("/enrol/done").into_response())
        }
        Err(e) => {
            c.error = Some(staff_error(&c, &e));
            let totp = totp_setup(&state, &c, &id).await?;
            Ok((
                PagePolicy::new().private(),
                render(&EnrolFactor { c, totp }),
            )
                .into_response())
        }
    }
}

/// Starts a passkey registration for `staff_id` (enrolment or own account): the options as
/// JSON, the ceremony and the label in the session.
pub async fn register_begin_for(
    state: &BackofficeState,
    c: &Ctx,
    staff_id: &str,
    body: BeginBody,
) -> Response {
    let label = body
        .label
        .map(|l| {
            l.trim()
                .chars()
                .filter(|ch| !ch.is_control())
                .take(60)
                .collect::<String>()
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| c.t("パスキー", "Passkey").to_owned());
    match state.auth.passkey_register_begin(staff_id).await {
        Ok((options, ceremony)) => {
            let stored = c
                .session
                .insert(keys::WEBAUTHN, &ceremony)
                .and_then(|()| c.session.insert("bo.passkey_label", &label));
            if stored.is_err() {
                return json_fail(
                    c.t("内部エラーが発生しました。", "Internal error.")
                        .to_owned(),
                );
            }
            json_ok(json!({ "ok": true, "options": options }))
        }
        Err(e) => json_fail(staff_error(c, &e)),
    }
}

/// Finishes a passkey registration from the session's ceremony; the passkey row's id on success.
pub async fn register_finish(
    state: &BackofficeState,
    c: &Ctx,
    staff_id: &str,
    cred: &RegisterPublicKeyCredential,
) -> Result<String, String> {
    let ceremony = c.session.get::<PasskeyRegistrationState>(keys::WEBAUTHN);
    let label = c
        .session
        .get::<String>("bo.passkey_label")
        .unwrap_or_else(|| "passkey".to_owned());
    c.session.remove(keys::WEBAUTHN);
    c.session.remove("bo.passkey_label");
    let Some(ceremony) = ceremony.filter(|s| s.staff_id() == staff_id) else {
        return Err(c
            .t("もう一度お試しください。", "Please try again.")
            .to_owned());
    };
    state
        .auth
        .passkey_register_finish(&ceremony, cred, &label)
        .await
        .map(|row| row.id)
        .map_err(|e| staff_error(c, &e))
}

/// `POST /enrol/passkey/begin`.
pub async fn enrol_passkey_begin(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    body: Option<Json<BeginBody>>,
) -> Response {
    let Some(id) = enrolling(&c) else {
        return json_fail(
            c.t(
                "登録リンクを開き直してください。",
                "Please open your enrolment link again.",
            )
            .to_owned(),
        );
    };
    register_begin_for(&state, &c, &id, body.map(|b| b.0).unwrap_or_default()).await
}

/// `POST /enrol/passkey/finish`: stores the passkey and activates the account.
pub async fn enrol_passkey_finish(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Json(cred): Json<RegisterPublicKeyCredential>,
) -> Result<Response, AppError> {
    let Some(id) = enrolling(&c) else {
        return Ok(json_fail(
            c.t(
                "登録リンクを開き直してください。",
                "Please open your enrolment link again.",
            )
            .to_owned(),
        ));
    };
    match register_finish(&state, &c, &id, &cred).await {
        Ok(_) => {
            finish_enrolment(&state, &c, &id, "passkey").await?;
            Ok(json_ok(json!({ "ok": true, "redirect": "/enrol/done" })))
        }
        Err(msg) => Ok(json_fail(msg)),
    }
}

#[derive(Template)]
#[template(path = "auth/codes.html")]
struct CodesPage {
    c: Ctx,
    codes: Vec<String>,
    enrolment: bool,
}

/// Renders recovery codes once (the page is `no-store`).
pub fn codes_page(c: Ctx, codes: Vec<String>, enrolment: bool) -> Response {
    (
        PagePolicy::new().private(),
        render(&CodesPage {
            c,
            codes,
            enrolment,
        }),
    )
        .into_response()
}

/// `GET /enrol/done`: the recovery codes, once; then to the sign-in.
pub async fn enrol_done(c: Ctx) -> Response {
    let Some(codes) = c.session.get::<Vec<String>>(keys::CODES) else {
        return Redirect::to("/login").into_response();
    };
    c.session.remove(keys::CODES);
    codes_page(c, codes, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths() {
        for ok in ["/", "/orders?state=paid", "/customers/abc"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil",
            "https://evil.example/",
            "/a\nb",
        ] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }

    #[test]
    fn new_device_mail_names_the_browser() {
        let at = chrono::Utc::now().with_timezone(&jst());
        let ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                  (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        let ctx = ChangeContext::new(at, std::net::Ipv4Addr::LOCALHOST.into(), ua);
        let mail = new_device_mail("守り商店", "佐藤", &ctx);
        assert!(
            mail.text.contains("ブラウザ: Chrome (macOS)"),
            "{}",
            mail.text
        );
    }
}
