//! mamori's storefront: catalogue, cart, checkout in which the card never touches mamori,
//! members and MyPage, receipts, and the mail every change sends.
//!
//! The crate is a set of axum routes over a [`ShopState`]; [`shop_router`] mounts them in the
//! hardened stack of `mamori-web` (CSP nonce, CSRF, sessions, error pages, body limit).
//! Personal data is reached only through `mamori_store::Gateway`, so every read and write of it is
//! on the access ledger with the page that caused it.
//!
//! | folder / module | what lives there |
//! |---|---|
//! | [`catalogue`] | home, categories, search, product pages, product images (`/images/{id}`) |
//! | [`cart`] | the cart (session for guests, stored for members, merged at login) |
//! | [`checkout`] | buyer and delivery form, confirmation, order placement, payment redirect, return, webhook |
//! | [`members`] | registration with mail confirmation, login, logout, password reset |
//! | [`mypage`] | order history and detail, address book, profile, password and email change, withdrawal |
//! | [`oshirase`] | the public notice after an incident (`/oshirase/{id}`), its banner on every page, MyPage's "was my data affected?" (`/mypage/affected`) |
//! | [`inquiry`] | the inquiry desk's form under a published notice (`/oshirase/{id}/inquiry`), sealed through the gateway, rate-limited |
//! | [`receipt`] | the printable 適格請求書 of a paid order, its issuer as at first issue |
//! | [`mail`] | mail drafts sealed into the outbox, the outbox the mail worker reads |
//! | [`adapters`] | SQL-backed session store and webhook replay guard |
//! | [`forms`] | field-by-field validation that keeps what the user typed |

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod adapters;
pub mod cache;
pub mod card_testing;
pub mod cart;
pub mod catalogue;
pub mod checkout;
pub mod ctx;
pub mod forms;
pub mod housekeeping;
pub mod inquiry;
pub mod mail;
pub mod members;
pub mod mypage;
pub mod oshirase;
pub mod receipt;
pub mod state;

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, State},
    middleware::from_fn_with_state,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use http::{header, HeaderMap, HeaderValue};
use mamori_web::{
    errors::AppError,
    i18n::{Lang, LANG_COOKIE},
    page::render,
    ratelimit::rate_limit,
    security::{CspOrigin, PagePolicy},
    WebStack,
};

pub use state::{ShopConfig, ShopState};

/// The path the payment provider posts webhooks to (exempt from CSRF: it is authenticated by its
/// HMAC signature instead).
pub const WEBHOOK_PATH: &str = "/payments/webhook";

/// The paths that keep working while the shop is closed for maintenance: the provider's webhook
/// and the customer's return from the provider's page (a payment made just before the switch
/// still settles its order), the public notices with their inquiry forms (`/oshirase/`, a
/// prefix: the maintenance page links the notice, and people ask while the shop is closed) and
/// the assets their pages use (the stylesheet).
pub const MAINTENANCE_EXEMPT: &[&str] =
    &[WEBHOOK_PATH, "/checkout/return", "/oshirase/", "/assets/"];

/// Maps a store or other internal failure to the 500 page, logging what failed (a fixed text and
/// the error's kind, never a personal value).
pub(crate) fn fail<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> AppError {
    move |err| {
        tracing::error!(what, error = %err, "request failed");
        AppError::Internal
    }
}

/// The shop's routes without the stack's layers.
pub fn routes(state: Arc<ShopState>) -> Router {
    let private = PagePolicy::new().private();
    // The provider's origin (scheme, host, port): a URL with a path is not a CSP source.
    let provider = state.config.provider_origin.origin().ascii_serialization();
    let checkout_policy = match CspOrigin::parse(&provider) {
        Ok(origin) => PagePolicy::new().private().allow_form_action(origin),
        Err(err) => {
            // The checkout page then cannot post to the provider; the redirect still works
            // because it is a 303 from the shop, not a form post.
            tracing::warn!(error = %err, "provider origin not usable in CSP");
            PagePolicy::new().private()
        }
    };
    let payment_limits = from_fn_with_state(state.limits.payment_session.clone(), rate_limit);
    let payment_ip = from_fn_with_state(state.limits.payment_ip.clone(), rate_limit);
    Router::new()
        .route("/", get(catalogue::home))
        .route("/category/{slug}", get(catalogue::category))
        .route("/search", get(catalogue::search))
        .route("/product/{sku}", get(catalogue::product))
        .route("/images/{id}", get(catalogue::image))
        .route("/lang/{code}", get(set_lang))
        .route("/legal", get(legal))
        // Browsers ask for it unprompted; an empty answer keeps their consoles free of 404s.
        .route(
            "/favicon.ico",
            get(|| async { http::StatusCode::NO_CONTENT }),
        )
        .route("/privacy", get(privacy))
        .route("/terms", get(terms))
        .route("/oshirase/{id}", get(oshirase::show))
        .route(
            "/oshirase/{id}/inquiry",
            get(inquiry::form)
                .post(inquiry::submit)
                .route_layer(private.clone().layer()),
        )
        .route(
            "/mypage/affected",
            get(oshirase::affected).route_layer(private.clone().layer()),
        )
        .route(
            "/cart",
            get(cart::show).route_layer(private.clone().layer()),
        )
        .route("/cart/add", post(cart::add))
        .route("/cart/update", post(cart::update))
        .route(
            "/checkout",
            get(checkout::form)
                .post(checkout::submit)
                .route_layer(private.clone().layer()),
        )
        .route(
            "/checkout/address",
            post(checkout::use_address).route_layer(private.clone().layer()),
        )
        .route(
            "/checkout/confirm",
            get(checkout::confirm).route_layer(checkout_policy.clone().layer()),
        )
        .route(
            "/checkout/place",
            post(checkout::place)
                .route_layer(payment_limits.clone())
                .route_layer(payment_ip.clone()),
        )
        .route(
            "/checkout/retry",
            post(checkout::retry)
                .route_layer(payment_limits)
                .route_layer(payment_ip),
        )
        .route(
            "/checkout/card-step",
            post(card_testing::card_step)
                .route_layer(from_fn_with_state(
                    state.limits.payment_session.clone(),
                    rate_limit,
                ))
                .route_layer(from_fn_with_state(
                    state.limits.payment_ip.clone(),
                    rate_limit,
                )),
        )
        .route(
            "/checkout/return",
            get(checkout::payment_return).route_layer(private.clone().layer()),
        )
        .route(
            "/checkout/cancel",
            get(checkout::payment_cancel).route_layer(checkout_policy.layer()),
        )
        .route(
            "/checkout/complete/{number}",
            get(checkout::complete).route_layer(private.clone().layer()),
        )
        .route(
            "/orders/{number}/receipt",
            get(receipt::guest_receipt).route_layer(private.clone().layer()),
        )
        .route(
            "/mypage/orders/{number}/receipt",
            get(receipt::member_receipt).route_layer(private.layer()),
        )
        .route(WEBHOOK_PATH, post(checkout::webhook))
        .merge(members::routes(&state))
        .merge(mypage::routes(&state))
        .with_state(state)
}

/// The shop in the full stack.
pub fn shop_router(state: Arc<ShopState>, stack: &WebStack) -> Router {
    stack.wrap(routes(state))
}

/// `GET /lang/{ja|en}`: pins the language in a cookie and goes back to the page the link was on
/// (same-origin `Referer` only, so this is no open redirect).
async fn set_lang(Path(code): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let lang = Lang::parse(&code).ok_or(AppError::NotFound)?;
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| same_origin_path(r, &headers))
        .unwrap_or_else(|| "/".to_owned());
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

/// The path and query of `referer` if it points at this host.
fn same_origin_path(referer: &str, headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let url = mamori_pay::url::Url::parse(referer).ok()?;
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str()?),
        None => url.host_str()?.to_owned(),
    };
    if authority != host {
        return None;
    }
    let mut path = url.path().to_owned();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    Some(path)
}

#[derive(Template)]
#[template(path = "legal.html")]
struct Legal {
    c: ctx::Ctx,
    config: Arc<ShopConfig>,
    /// The 代引き fee bands in words.
    cod_fees: String,
    /// Shipping rates per region, when they differ (empty: one rate).
    shipping_rates: Vec<String>,
    /// Each offered payment method with when it is paid.
    methods: Vec<String>,
    /// 引渡時期 unless the merchant wrote their own.
    default_delivery: String,
}

/// `GET /legal`: 特定商取引法に基づく表記, from the configuration and the back office's settings.
async fn legal(State(state): State<Arc<ShopState>>, c: ctx::Ctx) -> Response {
    use mamori_domain::{PaymentMethod, Region, Yen};
    let en = c.en();
    let table = c.settings.cod_fees_or_default();
    let yen = |y: Yen| {
        if en {
            format!("¥{}", y.format_grouped())
        } else {
            y.to_string()
        }
    };
    let mut bands: Vec<String> = table
        .bands
        .iter()
        .map(|(upto, fee)| {
            if en {
                format!("under {}: {}", yen(*upto), yen(*fee))
            } else {
                format!("{}未満 {}", yen(*upto), yen(*fee))
            }
        })
        .collect();
    bands.push(if en {
        format!("above: {}", yen(table.top))
    } else {
        format!("それ以上 {}", yen(table.top))
    });
    // Rates by region when they differ, with the prefectures whose rate is their own.
    let rates = c
        .settings
        .shipping_rates(state.config.shipping_fee, state.config.free_shipping_from);
    let (lo, hi) = rates.range();
    let shipping_rates: Vec<String> = if lo == hi {
        Vec::new()
    } else {
        Region::ALL
            .iter()
            .map(|r| {
                let own = rates.regions.get(r).copied().unwrap_or(rates.base);
                let exceptions: Vec<String> = r
                    .prefectures()
                    .filter(|p| rates.rate_to(*p) != own)
                    .map(|p| {
                        let name = if en { p.label_en() } else { p.short_ja() };
                        format!("{name} {}", yen(rates.rate_to(p)))
                    })
                    .collect();
                let name = if en { r.label_en() } else { r.label_ja() };
                if exceptions.is_empty() {
                    format!("{name} {}", yen(own))
                } else if en {
                    format!("{name} {} ({})", yen(own), exceptions.join(", "))
                } else {
                    format!("{name} {}（{}）", yen(own), exceptions.join("、"))
                }
            })
            .collect()
    };
    let days = c.settings.bank_transfer_days;
    let methods = PaymentMethod::ALL
        .iter()
        .filter(|m| c.settings.offers(**m))
        .map(|m| {
            let when = match (m, en) {
                (PaymentMethod::Card, false) => "ご注文時にお支払いいただきます。".to_owned(),
                (PaymentMethod::Card, true) => "paid when you order.".to_owned(),
                (PaymentMethod::BankTransfer, false) => {
                    format!("ご注文後{days}日以内にお振り込みください（前払い）。")
                }
                (PaymentMethod::BankTransfer, true) => {
                    format!("paid within {days} days of the order (in advance).")
                }
                (PaymentMethod::CashOnDelivery, false) => {
                    "商品お受け取り時に配達員にお支払いください。".to_owned()
                }
                (PaymentMethod::CashOnDelivery, true) => {
                    "paid to the carrier on delivery.".to_owned()
                }
                (PaymentMethod::StorePickup, false) => {
                    "店頭でのお受け取り時にお支払いください。".to_owned()
                }
                (PaymentMethod::StorePickup, true) => {
                    "paid at the store when you collect.".to_owned()
                }
            };
            format!("{}：{when}", c.t(m.label_ja(), m.label_en()))
        })
        .collect();
    let lead = state.config.delivery_lead_days;
    let default_delivery = if en {
        format!("Shipped within {lead} business days of the order (of the payment, for prepaid orders); you may choose a later delivery date.")
    } else {
        format!("ご注文（前払いの場合はご入金の確認）から{lead}営業日以内に発送します。お届け日のご指定も承ります。")
    };
    render(&Legal {
        c,
        config: state.config.clone(),
        cod_fees: bands.join(if en { ", " } else { "、" }),
        shipping_rates,
        methods,
        default_delivery,
    })
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct Privacy {
    c: ctx::Ctx,
    config: Arc<ShopConfig>,
}

/// `GET /privacy`: the privacy policy with the merchant's purposes of use.
async fn privacy(State(state): State<Arc<ShopState>>, c: ctx::Ctx) -> Response {
    render(&Privacy {
        c,
        config: state.config.clone(),
    })
}

#[derive(Template)]
#[template(path = "terms.html")]
struct Terms {
    c: ctx::Ctx,
}

/// `GET /terms`: the terms registration asks members to agree to.
async fn terms(c: ctx::Ctx) -> Response {
    render(&Terms { c })
}

/// What a running shop is made of, before it listens.
pub struct Assembly {
    /// The shared state.
    pub state: Arc<ShopState>,
    /// The web stack (sessions in the database, the webhook exempt from CSRF).
    pub stack: WebStack,
    /// The incident desk's "close the shop" switch, when installed.
    pub maintenance: Option<mamori_web::maintenance::Maintenance>,
}

impl std::fmt::Debug for Assembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly").finish_non_exhaustive()
    }
}

impl Assembly {
    /// Sends the CSP violation reports of every page to `sink` (by default they are kept in
    /// memory only); `serve` gives it the guard's sink, which stores and alerts.
    pub fn with_csp_sink(mut self, sink: Arc<dyn mamori_web::security::CspReportSink>) -> Self {
        self.stack = self.stack.with_csp_sink(sink);
        self
    }

    /// Builds each page's `script-src` from `policy` (the script inventory's digests, installed
    /// by `mamori_guard::inventory`) instead of the response's nonce.
    pub fn with_script_policy(mut self, policy: Arc<mamori_web::security::ScriptPolicy>) -> Self {
        self.stack = self.stack.with_script_policy(policy);
        self
    }

    /// Counts card declines and failed sign-ins with `config` and raises what crosses a
    /// threshold through `alarm` (`serve` and tests give the guard's); by default the defaults
    /// and no alarm.
    pub fn with_fraud(
        mut self,
        config: mamori_store::fraud::FraudConfig,
        alarm: Option<Arc<dyn mamori_store::fraud::FraudAlarm>>,
    ) -> Self {
        let mut state = (*self.state).clone();
        let mut watch = mamori_store::fraud::FraudWatch::new(state.store.clone(), config);
        if let Some(alarm) = alarm {
            watch = watch.with_alarm(alarm);
        }
        state.fraud = watch;
        self.state = Arc::new(state);
        self
    }

    /// Answers every page with the maintenance page while `switch` is on (the incident desk's
    /// "close the shop"), except the provider's webhook and the payment return
    /// ([`MAINTENANCE_EXEMPT`]), so that no payment is lost.
    pub fn with_maintenance(mut self, switch: mamori_web::maintenance::Maintenance) -> Self {
        self.maintenance = Some(switch);
        self
    }

    /// Limits the inquiry form ([`inquiry`]) to `per_ip` sendings per client address and
    /// `shop_wide` for the whole shop (by default [`inquiry::PER_IP`] and
    /// [`inquiry::SHOP_WIDE`]).
    pub fn with_inquiry_limits(
        mut self,
        per_ip: mamori_web::ratelimit::RateLimit,
        shop_wide: mamori_web::ratelimit::RateLimit,
    ) -> Self {
        use mamori_web::ratelimit::{KeyKind, RateLimitRule, RateLimiter};
        let mut state = (*self.state).clone();
        let client_ip = state.limits.inquiry_ip.client_ip.clone();
        state.limits.inquiry_ip =
            RateLimitRule::new(per_ip, KeyKind::Ip, 100_000, state.clock.clone())
                .with_client_ip(client_ip);
        state.limits.inquiry_shop = Arc::new(RateLimiter::new(shop_wide, 2, state.clock.clone()));
        self.state = Arc::new(state);
        self
    }

    /// The public notice's banner of this shop: refresh it (`NoticeBoard::spawn_refresh`) so
    /// that a publish or withdrawal through any process shows here.
    pub fn notices(&self) -> oshirase::NoticeBoard {
        self.state.notices.clone()
    }

    /// The router with every layer.
    pub fn router(&self) -> Router {
        let app = shop_router(self.state.clone(), &self.stack);
        match &self.maintenance {
            // Outside the stack, so that every path (the fallback's too) answers it; the page
            // sets its own strict headers (it has no script, no style, no form).
            Some(m) => app.layer(axum::middleware::from_fn_with_state(
                m.gate(MAINTENANCE_EXEMPT.iter().map(|p| (*p).to_owned()).collect()),
                mamori_web::maintenance::maintenance_layer,
            )),
            None => app,
        }
    }

    /// Removes expired sessions, old sent mail and expired tokens ([`housekeeping`]); run it
    /// periodically.
    pub fn housekeeper(&self) -> housekeeping::Housekeeper {
        housekeeping::Housekeeper {
            sessions: self.stack.sessions.clone(),
            session: self.stack.config.session.clone(),
            store: self.state.store.clone(),
            clock: self.stack.clock.clone(),
        }
    }
}

/// Parts the shop is assembled from.
pub struct Parts {
    /// The gateway over the store, key ring and ledger.
    pub gateway: mamori_store::Gateway,
    /// The payment provider.
    pub psp: Arc<dyn mamori_pay::PaymentConnector>,
    /// The provider's webhook signing secret.
    pub webhook_secret: secrecy::SecretString,
    /// Settings.
    pub config: ShopConfig,
    /// HTTPS in front (cookies `Secure`, HSTS).
    pub tls: bool,
    /// Clock for sessions and rate limits.
    pub clock: Arc<dyn mamori_web::clock::Clock>,
}

/// Builds the state and stack: sessions sealed in the database, webhook replay guard in the
/// database, rate limits on login, registration, reset, payment and the inquiry form.
pub fn assemble(parts: Parts) -> Assembly {
    use mamori_web::ratelimit::{KeyKind, RateLimit, RateLimitRule, RateLimiter};
    let Parts {
        gateway,
        psp,
        webhook_secret,
        config,
        tls,
        clock,
    } = parts;
    let store = gateway.records();
    let rule =
        |limit: RateLimit, key: KeyKind| RateLimitRule::new(limit, key, 100_000, clock.clone());
    let limits = state::Limits {
        login_ip: rule(RateLimit::per_minute(20), KeyKind::Ip),
        login_account: Arc::new(RateLimiter::new(
            RateLimit::per_hour(10),
            100_000,
            clock.clone(),
        )),
        register_ip: rule(RateLimit::per_hour(20), KeyKind::Ip),
        reset_ip: rule(RateLimit::per_hour(10), KeyKind::Ip),
        payment_session: rule(RateLimit::per_hour(10), KeyKind::Session),
        payment_ip: rule(RateLimit::per_hour(30), KeyKind::Ip),
        inquiry_ip: rule(inquiry::PER_IP, KeyKind::Ip),
        inquiry_shop: Arc::new(RateLimiter::new(inquiry::SHOP_WIDE, 2, clock.clone())),
    };
    let guard = Arc::new(adapters::SqlReplayGuard::new(store.clone()));
    let webhooks = Arc::new(mamori_pay::WebhookVerifier::new(webhook_secret, guard));
    // Sessions are cached as briefly as the catalogue (a logout elsewhere shows within that).
    let sessions = Arc::new(
        mamori_store::gateway::SqlSessionStore::new(
            &gateway,
            mamori_store::gateway::SessionTable::Storefront,
        )
        .with_cache(config.cache_ttl, 100_000),
    );
    let stack = WebStack::new(mamori_web::WebConfig {
        tls,
        csrf_exempt_paths: vec![WEBHOOK_PATH.to_owned()],
        csrf_visitor_cookie: true,
        ..mamori_web::WebConfig::default()
    })
    .with_session_store(sessions)
    .with_clock(clock.clone());
    let catalogue = cache::CatalogueCache::new(config.cache_ttl);
    let fraud = mamori_store::fraud::FraudWatch::new(
        store.clone(),
        mamori_store::fraud::FraudConfig::default(),
    );
    let notices = oshirase::NoticeBoard::new(store.clone());
    let state = Arc::new(ShopState {
        catalogue,
        gateway,
        store,
        psp,
        webhooks,
        config: Arc::new(config),
        limits,
        fraud,
        clock,
        notices,
    });
    Assembly {
        state,
        stack,
        maintenance: None,
    }
}
