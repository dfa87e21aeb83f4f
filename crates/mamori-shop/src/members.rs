//! Members: registration with a mail confirmation, login, logout, and password reset by mail.
//!
//! | route | what it does |
//! |---|---|
//! | `GET/POST /register` | the registration form; creates an unconfirmed member and mails a 24 h link (rate-limited per IP) |
//! | `GET /register/sent` | "check your mail" (the same page whether or not the address was already a member) |
//! | `GET /register/confirm?token=` | consumes the link, marks the address verified, signs in, merges the cart |
//! | `GET/POST /login` | email and password (rate-limited per IP and per account); `?next=` for a local path |
//! | `POST /logout` | ends the session |
//! | `GET/POST /password/forgot` | mails a 1 h reset link if the address is a member; the same answer either way (rate-limited per IP) |
//! | `GET /password/forgot/sent` | that answer |
//! | `GET/POST /password/reset?token=` | the new password twice; the token is consumed only by a valid submission |
//!
//! The helpers other pages use (MyPage's password checks and notice mails) are public here:
//! [`new_password`], [`Peer`], [`change_context`], [`notice_draft`], [`sign_in`], [`safe_next`].
//!
//! What never happens: a page that tells whether an address is registered (duplicate registration
//! shows the usual page and mails the owner instead; wrong password and unknown address give the
//! same message; "forgot password" answers the same for everyone), and a password sent back into a
//! page after a failed submission.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use askama::Template;
use axum::{
    extract::{ConnectInfo, FromRequestParts, Query, State},
    middleware::from_fn_with_state,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use chrono::{Duration, NaiveDate, Utc};
use http::{request::Parts, HeaderMap};
use mamori_domain::{
    BirthDate, CustomerKind, CustomerProfile, Email, Gender, Language, PersonName, Personal,
    PhoneNumber,
};
use mamori_mail::{
    account::{password_changed, password_reset, registration_confirmation, ChangeContext},
    LinkMail, MailContent, NoticeMail,
};
use mamori_store::{
    gateway::{LoginOutcome, MailDraft},
    Accessor, StoreError,
};
use mamori_web::{
    errors::{AppError, SafeForm},
    i18n::Lang,
    page::render,
    ratelimit::rate_limit,
    security::PagePolicy,
    session::ACCOUNT_KEY,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{
    ctx::Ctx,
    fail,
    forms::FormState,
    mail::draft,
    state::{jst, to_jst, ShopState},
};

/// Shortest password accepted (characters).
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password accepted (characters).
pub const PASSWORD_MAX_CHARS: usize = 128;
/// Token purpose of the registration link.
pub const PURPOSE_CONFIRM_EMAIL: &str = "confirm_email";
/// Token purpose of the password-reset link.
pub const PURPOSE_RESET_PASSWORD: &str = "reset_password";
/// Lifetime of the registration link.
pub const CONFIRM_TTL_SECS: i64 = 24 * 3600;
/// Lifetime of the password-reset link.
pub const RESET_TTL_SECS: i64 = 3600;
/// The fraud watch's realm of members' sign-ins.
const STUFFING_REALM: &str = "member";
/// Longest `next` accepted after login.
const MAX_NEXT_CHARS: usize = 512;

/// The members' routes (registration, login, logout, reset), with their rate limits.
pub fn routes(state: &Arc<ShopState>) -> Router<Arc<ShopState>> {
    let private = PagePolicy::new().private();
    let register_ip = from_fn_with_state(state.limits.register_ip.clone(), rate_limit);
    let login_ip = from_fn_with_state(state.limits.login_ip.clone(), rate_limit);
    let reset_ip = from_fn_with_state(state.limits.reset_ip.clone(), rate_limit);
    Router::new()
        .route(
            "/register",
            // `route_layer` applies to the methods added before it: only the POST is counted.
            post(register_submit)
                .route_layer(register_ip)
                .get(register_form),
        )
        .route("/register/sent", get(register_sent))
        .route("/register/confirm", get(register_confirm))
        .route(
            "/login",
            post(login_submit).route_layer(login_ip).get(login_form),
        )
        .route("/logout", post(logout))
        .route(
            "/password/forgot",
            post(forgot_submit).route_layer(reset_ip).get(forgot_form),
        )
        .route("/password/forgot/sent", get(forgot_sent))
        .route("/password/reset", get(reset_form).post(reset_submit))
        .route_layer(private.layer())
}

// ---------------------------------------------------------------------------------------------
// Shared helpers (MyPage uses them too)
// ---------------------------------------------------------------------------------------------

/// The TCP peer's address, when the server was started with connect info (never a rejection).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// When and from where a change is made: JST now, the client's address (through the trusted
/// proxies the rate limits use) and a browser summary.
pub fn change_context(state: &ShopState, headers: &HeaderMap, peer: Peer) -> ChangeContext {
    let ip = state.limits.login_ip.client_ip.client_ip(peer.0, headers);
    crate::mail::change_context(headers, ip)
}

/// The domain's language for a page language.
pub fn language(lang: Lang) -> Language {
    match lang {
        Lang::Ja => Language::Ja,
        Lang::En => Language::En,
    }
}

/// Today in JST (birth dates may not be after it).
pub fn today_jst() -> NaiveDate {
    Utc::now().with_timezone(&jst()).date_naive()
}

/// Checks a new password typed in `field` (and repeated in `confirm`, if given): 10 to 128
/// characters, not the email address. Both fields are forgotten, so the page never shows them
/// again.
pub fn new_password(
    form: &mut FormState,
    field: &str,
    confirm: Option<&str>,
    email: Option<&Email>,
) -> Option<SecretString> {
    let raw = SecretString::from(form.value(field).to_owned());
    let repeated = confirm.map(|c| SecretString::from(form.value(c).to_owned()));
    form.forget(field);
    if let Some(c) = confirm {
        form.forget(c);
    }
    let text = raw.expose_secret();
    let chars = text.chars().count();
    if chars == 0 {
        form.fail(field, "入力してください。", "Please fill in this field.");
        return None;
    }
    if chars < PASSWORD_MIN_CHARS {
        form.fail(
            field,
            "パスワードは10文字以上にしてください。",
            "Use at least 10 characters.",
        );
        return None;
    }
    if chars > PASSWORD_MAX_CHARS {
        form.fail(
            field,
            "パスワードは128文字以内にしてください。",
            "Use at most 128 characters.",
        );
        return None;
    }
    if text.chars().any(char::is_control) {
        form.fail(
            field,
            "使用できない文字が含まれています。",
            "The password contains characters that cannot be used.",
        );
        return None;
    }
    if email.is_some_and(|e| text.trim().eq_ignore_ascii_case(e.as_str())) {
        form.fail(
            field,
            "メールアドレスと同じパスワードは使えません。",
            "The password must not be your email address.",
        );
        return None;
    }
    if let (Some(c), Some(rep)) = (confirm, repeated) {
        if rep.expose_secret() != text {
            form.fail(
                c,
                "確認用のパスワードが一致しません。",
                "The two passwords do not match.",
            );
            return None;
        }
    }
    Some(raw)
}

/// A typed current password (never sent back to the page).
pub fn current_password(form: &mut FormState, field: &str) -> Option<SecretString> {
    let raw = SecretString::from(form.value(field).to_owned());
    form.forget(field);
    if raw.expose_secret().is_empty() {
        form.fail(
            field,
            "現在のパスワードを入力してください。",
            "Please enter your current password.",
        );
        return None;
    }
    if raw.expose_secret().chars().count() > PASSWORD_MAX_CHARS {
        form.fail(
            field,
            "パスワードが正しくありません。",
            "The password is not correct.",
        );
        return None;
    }
    Some(raw)
}

/// A field was wrong; its message is already on the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInvalid;

/// An optional phone number: `Ok(None)` when blank, `Err` when wrong (the error is on the form).
pub fn optional_phone(
    form: &mut FormState,
    field: &str,
) -> Result<Option<Personal<PhoneNumber>>, FieldInvalid> {
    match form.optional(field) {
        None if form.error(field).is_some() => Err(FieldInvalid),
        None => Ok(None),
        Some(raw) => form
            .check(field, PhoneNumber::parse(&raw))
            .map(|p| Some(Personal::new(p)))
            .ok_or(FieldInvalid),
    }
}

/// An optional birth date (`1990-01-02`, `平成2年1月2日`, `H2.1.2` ...).
pub fn optional_birth_date(
    form: &mut FormState,
    field: &str,
) -> Result<Option<Personal<BirthDate>>, FieldInvalid> {
    match form.optional(field) {
        None if form.error(field).is_some() => Err(FieldInvalid),
        None => Ok(None),
        Some(raw) => form
            .check(field, BirthDate::parse(&raw, today_jst()))
            .map(|b| Some(Personal::new(b)))
            .ok_or(FieldInvalid),
    }
}

/// An optional gender from a `<select>` (blank: not given).
pub fn optional_gender(form: &mut FormState, field: &str) -> Result<Option<Gender>, FieldInvalid> {
    let raw = form.value(field).trim().to_owned();
    if raw.is_empty() {
        return Ok(None);
    }
    form.check(field, Gender::parse(&raw))
        .map(Some)
        .ok_or(FieldInvalid)
}

/// A notice mail (password changed, address book changed, ...) to the member, with the change's
/// context.
pub fn notice_draft(
    state: &ShopState,
    kind: &str,
    profile: &CustomerProfile,
    context: ChangeContext,
    content: impl FnOnce(&NoticeMail) -> MailContent,
) -> Result<MailDraft, AppError> {
    let name = profile.name.expose().full_name();
    let notice = NoticeMail {
        shop: state.config.mail_shop(),
        name: name.clone(),
        context,
    };
    draft(
        kind,
        profile.email.expose().as_str(),
        Some(&name),
        content(&notice),
    )
    .map_err(fail("mail draft"))
}

/// A one-time link sent by mail: what its token is for, how long it works, the page it opens and
/// the mail that carries it.
pub(crate) struct LinkKind {
    /// The token's purpose.
    pub(crate) purpose: &'static str,
    /// The token's lifetime (the mail states when it ends).
    pub(crate) ttl_secs: i64,
    /// The page the link opens; `?token=` follows.
    pub(crate) path: &'static str,
    /// The mail's kind in the outbox.
    pub(crate) mail_kind: &'static str,
    /// The mail's template.
    pub(crate) template: fn(&LinkMail) -> MailContent,
}

/// The registration link (`/register/confirm`, 24 h).
const CONFIRM_LINK: LinkKind = LinkKind {
    purpose: PURPOSE_CONFIRM_EMAIL,
    ttl_secs: CONFIRM_TTL_SECS,
    path: "/register/confirm",
    mail_kind: "registration-confirmation",
    template: registration_confirmation,
};

/// The password-reset link (`/password/reset`, 1 h).
const RESET_LINK: LinkKind = LinkKind {
    purpose: PURPOSE_RESET_PASSWORD,
    ttl_secs: RESET_TTL_SECS,
    path: "/password/reset",
    mail_kind: "password-reset",
    template: password_reset,
};

/// Issues a token of `link`'s kind for `customer_id` (carrying `payload`, if any), and queues the
/// mail with its link to `to` (an address and the name for the salutation).
pub(crate) async fn mail_link(
    state: &ShopState,
    acc: &Accessor,
    customer_id: &str,
    to: (&str, &PersonName),
    link: &LinkKind,
    payload: Option<&[u8]>,
) -> Result<(), AppError> {
    let token = state
        .gateway
        .issue_token(acc, customer_id, link.purpose, link.ttl_secs, payload)
        .await
        .map_err(fail("issue link token"))?;
    let (address, name) = to;
    let full = name.full_name();
    let m = LinkMail {
        shop: state.config.mail_shop(),
        name: full.clone(),
        link: state
            .config
            .link(&format!("{}?token={}", link.path, token.expose_secret())),
        expires_at: to_jst(Utc::now() + Duration::seconds(link.ttl_secs)),
    };
    let mail = draft(link.mail_kind, address, Some(&full), (link.template)(&m))
        .map_err(fail("mail draft"))?;
    state
        .gateway
        .queue_mail(acc, customer_id, mail)
        .await
        .map_err(fail("queue link mail"))?;
    Ok(())
}

/// Signs `customer_id` in on this session: a new session id (the old one stops working), the
/// account key, and the guest cart merged into the member's.
pub async fn sign_in(state: &ShopState, c: &Ctx, customer_id: &str) -> Result<(), AppError> {
    c.session.renew();
    crate::checkout::forget_checkout(&c.session);
    c.session
        .insert(ACCOUNT_KEY, &customer_id)
        .map_err(fail("session insert"))?;
    crate::cart::merge_into_member(state, &c.session, customer_id)
        .await
        .map_err(fail("cart merge"))
}

/// `next` if it is a path on this site (one leading `/`, no scheme, no backslash, no control
/// characters), for redirects after login.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?.trim();
    let ok = n.starts_with('/')
        && !n.starts_with("//")
        && !n.contains('\\')
        && n.chars().count() <= MAX_NEXT_CHARS
        && !n.chars().any(char::is_control);
    ok.then(|| n.to_owned())
}

/// Counts a password check against the account's limit (login, and MyPage's current-password
/// checks): 429 once the account has had too many.
pub(crate) fn check_login_limit(state: &ShopState, email: &Email) -> Result<(), AppError> {
    let account_key = hex::encode(state.gateway.email_index(email));
    state
        .limits
        .login_account
        .check(&account_key)
        .map_err(|wait| AppError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        })
}

/// A page with a title, a message and a link (results, "check your mail", invalid links).
#[derive(Template)]
#[template(path = "members/message.html")]
pub struct MessagePage {
    /// Context.
    pub c: Ctx,
    /// Heading.
    pub title: &'static str,
    /// Paragraph.
    pub body: &'static str,
    /// Element id of the message (tests and e2e find it).
    pub id: &'static str,
    /// A link below: (href, text).
    pub link: Option<(&'static str, &'static str)>,
}

/// Renders a [`MessagePage`].
pub fn message(
    c: Ctx,
    id: &'static str,
    title: (&'static str, &'static str),
    body: (&'static str, &'static str),
    link: Option<(&'static str, (&'static str, &'static str))>,
) -> Response {
    let title = c.t(title.0, title.1);
    let body = c.t(body.0, body.1);
    let link = link.map(|(href, text)| (href, c.t(text.0, text.1)));
    render(&MessagePage {
        c,
        title,
        body,
        id,
        link,
    })
}

/// `?token=...` (nothing else). `Debug` hides the token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// The one-time token.
    #[serde(default)]
    pub token: Option<String>,
}

impl std::fmt::Debug for TokenQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenQuery")
            .field("token", &format_args!("[redacted]"))
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

const REGISTER_FIELDS: &[&str] = &[
    "email",
    "password",
    "family",
    "given",
    "family_kana",
    "given_kana",
    "phone",
    "birth_date",
    "consent",
];

#[derive(Template)]
#[template(path = "members/register.html")]
struct RegisterPage {
    c: Ctx,
    form: FormState,
}

/// `GET /register`.
async fn register_form(c: Ctx) -> Response {
    if c.member.is_some() {
        return Redirect::to("/mypage").into_response();
    }
    let form = FormState::new(c.lang());
    render(&RegisterPage { c, form })
}

/// `POST /register`.
async fn register_submit(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let mut form = FormState::from_submission(c.lang(), map, REGISTER_FIELDS)?;
    let email = form.email("email");
    let password = new_password(
        &mut form,
        "password",
        None,
        email.as_ref().map(Personal::expose),
    );
    let name = form.person_name("");
    let phone = optional_phone(&mut form, "phone");
    let birth_date = optional_birth_date(&mut form, "birth_date");
    if !form.is("consent", "yes") {
        form.fail(
            "consent",
            "利用規約と個人情報の取り扱いへの同意が必要です。",
            "Please agree to the terms and the privacy policy.",
        );
    }
    let (Some(email), Some(password), Some(name), Ok(phone), Ok(birth_date), false) =
        (email, password, name, phone, birth_date, form.has_errors())
    else {
        return Ok(render(&RegisterPage { c, form }));
    };
    let profile = CustomerProfile {
        kind: CustomerKind::Member,
        name: name.clone(),
        email: email.clone(),
        phone,
        birth_date,
        gender: None,
    };
    let acc = c.accessor("members.register").via("register");
    match state
        .gateway
        .register_customer(&acc, &profile, Some(&password))
        .await
    {
        Ok(id) => {
            let to = (email.expose().as_str(), name.expose());
            mail_link(&state, &acc, &id, to, &CONFIRM_LINK, None).await?;
        }
        Err(StoreError::DuplicateMember) => {
            // The page says nothing; the owner of the address hears about it instead.
            if let Some(owner) = state
                .gateway
                .find_member(email.expose())
                .await
                .map_err(fail("find member"))?
            {
                let content = already_registered(&state);
                let mail = draft(
                    "registration-duplicate",
                    email.expose().as_str(),
                    None,
                    content,
                )
                .map_err(fail("mail draft"))?;
                state
                    .gateway
                    .queue_mail(&acc, &owner, mail)
                    .await
                    .map_err(fail("queue duplicate notice"))?;
            }
        }
        Err(err) => return Err(fail("register member")(err)),
    }
    Ok(Redirect::to("/register/sent").into_response())
}

/// The mail to an address that someone tried to register again.
fn already_registered(state: &ShopState) -> MailContent {
    let shop = &state.config.shop_name;
    let forgot = state.config.link("/password/forgot");
    let login = state.config.link("/login");
    let support = &state.config.support_email;
    MailContent {
        subject: format!(
            "【{shop}】会員登録のお申し込みについて / About a registration with your address"
        ),
        text: format!(
            "お客様\n\n\
             このメールアドレスで{shop}への会員登録のお申し込みがありましたが、\n\
             このアドレスはすでに会員として登録されています。新しいアカウントは作成されていません。\n\n\
             ログインはこちら:\n{login}\n\n\
             パスワードをお忘れの場合は、こちらから再設定できます:\n{forgot}\n\n\
             ※お心当たりのない場合は、このメールを破棄してください。アカウントは変更されていません。\n\
             ご不明な点は {support} までお問い合わせください。\n\n\
             ----------------------------------------\n\n\
             Dear customer,\n\n\
             Someone asked to register at {shop} with this email address, which already has an\n\
             account. No new account was created.\n\n\
             Log in here:\n{login}\n\n\
             If you forgot your password, you can reset it here:\n{forgot}\n\n\
             If this was not you, please ignore this mail: your account has not been changed.\n\
             Questions: {support}\n\n\
             {shop}\n"
        ),
        html: None,
    }
}

/// `GET /register/sent`.
async fn register_sent(c: Ctx) -> Response {
    message(
        c,
        "register-sent",
        ("確認メールを送信しました", "Please check your mail"),
        (
            "ご入力のメールアドレスに確認メールをお送りしました。メール内のリンク（24時間有効）を開くと会員登録が完了します。メールが届かない場合は、迷惑メールフォルダもご確認ください。",
            "We have sent a confirmation mail to the address you entered. Open the link in it (valid for 24 hours) to complete your registration. If it does not arrive, please check your spam folder.",
        ),
        Some(("/", ("トップページへ", "Back to the shop"))),
    )
}

/// `GET /register/confirm?token=...`.
async fn register_confirm(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let acc = c.accessor("members.confirm_email");
    let consumed = match q.token.as_deref() {
        Some(t) if !t.is_empty() && t.len() <= 256 => state
            .gateway
            .consume_token(&acc, t, PURPOSE_CONFIRM_EMAIL)
            .await
            .map_err(fail("consume confirmation token"))?,
        _ => None,
    };
    let Some((customer_id, _)) = consumed else {
        return Ok(message(
            c,
            "link-invalid",
            ("リンクが無効です", "This link does not work"),
            (
                "このリンクは使用済みか、有効期限が切れているか、正しくありません。ログインすると確認メールを再送できます。",
                "This link has been used, has expired, or is not valid. Log in to have the confirmation mail sent again.",
            ),
            Some(("/login", ("ログイン", "Log in"))),
        ));
    };
    state
        .gateway
        .verify_email(&acc, &customer_id)
        .await
        .map_err(fail("verify email"))?;
    sign_in(&state, &c, &customer_id).await?;
    c.flash_next(c.t(
        "会員登録が完了しました。ようこそ！",
        "Your registration is complete. Welcome!",
    ));
    Ok(Redirect::to("/mypage").into_response())
}

// ---------------------------------------------------------------------------------------------
// Login and logout
// ---------------------------------------------------------------------------------------------

/// `?next=/path`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextQuery {
    /// Where to go after login.
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "members/login.html")]
struct LoginPage {
    c: Ctx,
    form: FormState,
    /// A message over the whole form (wrong credentials, unconfirmed address).
    notice: Option<&'static str>,
}

/// `GET /login`.
async fn login_form(c: Ctx, Query(q): Query<NextQuery>) -> Response {
    if c.member.is_some() {
        let to = safe_next(q.next.as_deref()).unwrap_or_else(|| "/mypage".to_owned());
        return Redirect::to(&to).into_response();
    }
    let mut form = FormState::new(c.lang());
    if let Some(n) = safe_next(q.next.as_deref()) {
        form.set("next", n);
    }
    render(&LoginPage {
        c,
        form,
        notice: None,
    })
}

/// `POST /login`.
async fn login_submit(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    peer: Peer,
    headers: HeaderMap,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let mut form = FormState::from_submission(c.lang(), map, &["email", "password", "next"])?;
    let email = form.email("email");
    let password = current_password_for_login(&mut form);
    let (Some(email), Some(password)) = (email, password) else {
        return Ok(render(&LoginPage {
            c,
            form,
            notice: None,
        }));
    };
    check_login_limit(&state, email.expose())?;
    // Credential stuffing: a source whose failures span many accounts is refused for a while.
    let source = state.gateway.fraud_key(
        "ip",
        &state.limits.login_ip.client_ip.client_key(peer.0, &headers),
    );
    let stuffing = state.fraud.config().stuffing;
    if !state
        .fraud
        .login_allowed(STUFFING_REALM, &source)
        .await
        .map_err(fail("login stuffing check"))?
    {
        return Err(AppError::TooManyRequests {
            retry_after_secs: u64::try_from(stuffing.window_secs).unwrap_or(3600),
        });
    }
    let acc = c.accessor("members.login");
    let outcome = state
        .gateway
        .member_login(&acc, email.expose(), &password)
        .await
        .map_err(fail("member login"))?;
    match outcome {
        LoginOutcome::Ok { customer_id } => {
            sign_in(&state, &c, &customer_id).await?;
            let to = safe_next(Some(form.value("next"))).unwrap_or_else(|| "/mypage".to_owned());
            c.flash_next(c.t("ログインしました。", "You are logged in."));
            Ok(Redirect::to(&to).into_response())
        }
        LoginOutcome::Unverified { customer_id } => {
            resend_confirmation(&state, &c, &customer_id).await?;
            let notice = c.t(
                "メールアドレスの確認がまだ済んでいません。確認メールを再送しましたので、メール内のリンクを開いてください。",
                "Your email address is not confirmed yet. We have sent the confirmation mail again: please open the link in it.",
            );
            Ok(render(&LoginPage {
                c,
                form,
                notice: Some(notice),
            }))
        }
        LoginOutcome::Invalid => {
            // The account as a keyed hash of its blind index: never the address typed.
            let account = state.gateway.fraud_key(
                STUFFING_REALM,
                &hex::encode(state.gateway.email_index(email.expose())),
            );
            state
                .fraud
                .login_failed(STUFFING_REALM, &source, &account)
                .await
                .map_err(fail("login failure record"))?;
            let notice = c.t(
                "メールアドレスまたはパスワードが正しくありません。",
                "The email address or the password is not correct.",
            );
            Ok(render(&LoginPage {
                c,
                form,
                notice: Some(notice),
            }))
        }
    }
}

fn current_password_for_login(form: &mut FormState) -> Option<SecretString> {
    let raw = SecretString::from(form.value("password").to_owned());
    form.forget("password");
    let n = raw.expose_secret().chars().count();
    if n == 0 {
        form.fail(
            "password",
            "入力してください。",
            "Please fill in this field.",
        );
        return None;
    }
    if n > PASSWORD_MAX_CHARS {
        // Longer than any password we accept: cannot be right, and not worth hashing.
        form.fail(
            "password",
            "パスワードが長すぎます。",
            "The password is too long.",
        );
        return None;
    }
    Some(raw)
}

/// Sends the registration link again (a login with the right password to an unconfirmed account).
async fn resend_confirmation(
    state: &ShopState,
    c: &Ctx,
    customer_id: &str,
) -> Result<(), AppError> {
    let acc = c.accessor("members.resend_confirmation");
    let profile = state
        .gateway
        .customer_profile(&acc, customer_id)
        .await
        .map_err(fail("profile for confirmation"))?;
    let to = (profile.email.expose().as_str(), profile.name.expose());
    mail_link(state, &acc, customer_id, to, &CONFIRM_LINK, None).await
}

/// `POST /logout`.
async fn logout(
    c: Ctx,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    FormState::from_submission(c.lang(), map, &[])?;
    c.session.destroy();
    Ok(Redirect::to("/").into_response())
}

// ---------------------------------------------------------------------------------------------
// Password reset
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "members/forgot.html")]
struct ForgotPage {
    c: Ctx,
    form: FormState,
}

/// `GET /password/forgot`.
async fn forgot_form(c: Ctx) -> Response {
    let form = FormState::new(c.lang());
    render(&ForgotPage { c, form })
}

/// `POST /password/forgot`: the same answer for members and strangers.
async fn forgot_submit(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let mut form = FormState::from_submission(c.lang(), map, &["email"])?;
    let Some(email) = form.email("email") else {
        return Ok(render(&ForgotPage { c, form }));
    };
    let member = state
        .gateway
        .find_member(email.expose())
        .await
        .map_err(fail("find member"))?;
    if let Some(id) = member {
        let acc = c.accessor("members.password_reset");
        let profile = state
            .gateway
            .customer_profile(&acc, &id)
            .await
            .map_err(fail("profile for reset"))?;
        let to = (profile.email.expose().as_str(), profile.name.expose());
        mail_link(&state, &acc, &id, to, &RESET_LINK, None).await?;
    }
    Ok(Redirect::to("/password/forgot/sent").into_response())
}

/// `GET /password/forgot/sent`.
async fn forgot_sent(c: Ctx) -> Response {
    message(
        c,
        "forgot-sent",
        ("メールをご確認ください", "Please check your mail"),
        (
            "ご入力のメールアドレスが会員として登録されている場合、パスワード再設定のご案内をお送りしました。リンクの有効期限は1時間です。",
            "If the address you entered belongs to a member, we have sent a mail with a link to reset the password. The link is valid for one hour.",
        ),
        Some(("/login", ("ログイン画面へ", "Back to log in"))),
    )
}

#[derive(Template)]
#[template(path = "members/reset.html")]
struct ResetPage {
    c: Ctx,
    form: FormState,
}

fn reset_invalid(c: Ctx) -> Response {
    message(
        c,
        "link-invalid",
        ("リンクが無効です", "This link does not work"),
        (
            "このリンクは使用済みか、有効期限が切れているか、正しくありません。お手数ですが、もう一度パスワード再設定をお申し込みください。",
            "This link has been used, has expired, or is not valid. Please ask for a new password reset.",
        ),
        Some(("/password/forgot", ("パスワード再設定", "Reset password"))),
    )
}

/// `GET /password/reset?token=...`: the form (the token is checked when it is submitted).
async fn reset_form(c: Ctx, Query(q): Query<TokenQuery>) -> Response {
    let Some(token) = q.token.filter(|t| !t.is_empty() && t.len() <= 256) else {
        return reset_invalid(c);
    };
    let mut form = FormState::new(c.lang());
    form.set("token", token);
    render(&ResetPage { c, form })
}

/// `POST /password/reset`: validates, then consumes the token, then changes the password.
async fn reset_submit(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    headers: HeaderMap,
    peer: Peer,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let mut form =
        FormState::from_submission(c.lang(), map, &["token", "password", "password_confirm"])?;
    let token = form.value("token").to_owned();
    if token.is_empty() || token.len() > 256 {
        return Ok(reset_invalid(c));
    }
    let Some(password) = new_password(&mut form, "password", Some("password_confirm"), None) else {
        return Ok(render(&ResetPage { c, form }));
    };
    let acc = c.accessor("members.password_reset");
    let Some((customer_id, _)) = state
        .gateway
        .consume_token(&acc, &token, PURPOSE_RESET_PASSWORD)
        .await
        .map_err(fail("consume reset token"))?
    else {
        return Ok(reset_invalid(c));
    };
    let profile = state
        .gateway
        .customer_profile(&acc, &customer_id)
        .await
        .map_err(fail("profile for reset"))?;
    if password
        .expose_secret()
        .trim()
        .eq_ignore_ascii_case(profile.email.expose().as_str())
    {
        // Caught only now that the member is known: give them a fresh link on the same page
        // rather than make them ask again.
        let fresh = state
            .gateway
            .issue_token(
                &acc,
                &customer_id,
                PURPOSE_RESET_PASSWORD,
                RESET_TTL_SECS,
                None,
            )
            .await
            .map_err(fail("issue reset token"))?;
        form.set("token", fresh.expose_secret().to_owned());
        form.fail(
            "password",
            "メールアドレスと同じパスワードは使えません。",
            "The password must not be your email address.",
        );
        return Ok(render(&ResetPage { c, form }));
    }
    let context = change_context(&state, &headers, peer);
    let mail = notice_draft(
        &state,
        "password-changed",
        &profile,
        context,
        password_changed,
    )?;
    state
        .gateway
        .change_password(&acc, &customer_id, &password, Some(mail))
        .await
        .map_err(fail("change password"))?;
    // Opening the link proved the mailbox is theirs.
    state
        .gateway
        .verify_email(&acc, &customer_id)
        .await
        .map_err(fail("verify email"))?;
    c.flash_next(c.t(
        "パスワードを再設定しました。新しいパスワードでログインしてください。",
        "Your password has been reset. Please log in with the new password.",
    ));
    Ok(Redirect::to("/login").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(safe_next(Some("/mypage")), Some("/mypage".to_owned()));
        assert_eq!(
            safe_next(Some("/mypage/orders?x=1")),
            Some("/mypage/orders?x=1".to_owned())
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "mypage",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn password_rules() {
        let email = Email::parse("hanako@example.jp").unwrap();
        let cases: [(&str, &str, bool); 6] = [
            ("", "", false),
            ("short", "short", false),
            ("long enough pass", "long enough pass", true),
            ("long enough pass", "different one!!", false),
            ("hanako@example.jp", "hanako@example.jp", false),
            (&"x".repeat(129), &"x".repeat(129), false),
        ];
        for (pw, confirm, ok) in cases {
            let mut form = FormState::from_submission(
                Lang::Ja,
                HashMap::from([
                    ("p".to_owned(), pw.to_owned()),
                    ("c".to_owned(), confirm.to_owned()),
                ]),
                &["p", "c"],
            )
            .unwrap();
            let got = new_password(&mut form, "p", Some("c"), Some(&email));
            assert_eq!(got.is_some(), ok, "{pw:?}");
            assert_eq!(form.value("p"), "", "password must be forgotten");
            assert_eq!(form.value("c"), "");
        }
    }

    #[test]
    fn token_query_debug_hides_the_token() {
        let q = TokenQuery {
            token: Some("one-time-secret".to_owned()),
        };
        let shown = format!("{q:?}");
        assert!(!shown.contains("one-time-secret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
