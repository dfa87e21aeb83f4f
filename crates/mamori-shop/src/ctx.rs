//! What every shop page knows about its request: language, CSP nonce, CSRF token, the signed-in
//! member, the cart's size, the public notice's banner and a one-time message. Extracted once per request.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use mamori_store::{Accessor, Principal};
use mamori_web::{
    csrf::CsrfToken,
    errors::{AppError, RequestId},
    i18n::Lang,
    page::Layout,
    session::{Session, ACCOUNT_KEY},
};

use crate::{cart, state::ShopState};

/// Session key of the one-time message shown on the next page.
pub const FLASH_KEY: &str = "flash";
/// Session key of the guest's per-session id (a principal for the ledger, not personal).
pub const GUEST_KEY: &str = "guest_session";

/// The page context. Templates hold it as `c`.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Language and nonce.
    pub layout: Layout,
    /// The session's CSRF token.
    pub csrf: CsrfToken,
    /// The signed-in member's customer id.
    pub member: Option<String>,
    /// Units in the cart.
    pub cart_count: u32,
    /// Shop name (the back office's setting, else the configuration's).
    pub shop_name: String,
    /// The invoice registration number shown (the back office's setting, else the
    /// configuration's).
    pub registration_number: String,
    /// The shop's settings from the back office (payment methods and delivery slots offered).
    pub settings: std::sync::Arc<mamori_web::settings::ShopSettings>,
    /// Card payment is closed by the guard (a change to the payment path waits for an owner's
    /// approval): set by the checkout's pages, which then offer the other methods with a notice.
    pub card_closed: bool,
    /// Card payment is stopped for this client (card testing: too many declines); the other
    /// methods stay offered, with a notice.
    pub card_stopped: bool,
    /// The published public notice the banner links, if any.
    pub notice: Option<crate::oshirase::NoticeBanner>,
    /// A message left by the previous request (shown once).
    pub flash: Option<String>,
    /// The request id (for accessors and error references).
    pub request_id: String,
    /// The session.
    pub session: Session,
}

impl Ctx {
    /// Japanese or English, whichever the page speaks. Both are given at every call site so that a
    /// missing translation cannot compile.
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

    /// The language.
    pub fn lang(&self) -> Lang {
        self.layout.lang
    }

    /// The accessor for gateway calls made by this request.
    pub fn accessor(&self, purpose: &str) -> Accessor {
        let principal = match &self.member {
            Some(id) => Principal::Customer(id.clone()),
            None => Principal::Guest(guest_id(&self.session)),
        };
        Accessor {
            principal,
            purpose: purpose.to_owned(),
            request_id: self.request_id.clone(),
            channel: None,
            reason: None,
        }
    }

    /// Leaves a message for the next page.
    pub fn flash_next(&self, text: &str) {
        if self.session.insert(FLASH_KEY, &text).is_err() {
            tracing::warn!("could not store a flash message");
        }
    }
}

/// The guest session's stable id (made on first use).
pub fn guest_id(session: &Session) -> String {
    if let Some(id) = session.get::<String>(GUEST_KEY) {
        return id;
    }
    let id = uuid::Uuid::new_v4().to_string();
    if session.insert(GUEST_KEY, &id).is_err() {
        tracing::warn!("could not store the guest session id");
    }
    id
}

impl FromRequestParts<Arc<ShopState>> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ShopState>,
    ) -> Result<Self, Self::Rejection> {
        let layout = Layout::from_request_parts(parts, state).await?;
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Internal)?;
        let request_id = RequestId::from_request_parts(parts, state)
            .await
            .map(|r| r.0)
            .unwrap_or_default();
        // Browsing creates no session: a visitor's token comes from its own cookie.
        let csrf = CsrfToken::for_request(parts)?;
        let settings = state
            .catalogue
            .settings(state.store.as_ref(), &state.config.shop_name)
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "shop settings unavailable");
                AppError::Internal
            })?;
        let member = session.get::<String>(ACCOUNT_KEY);
        let cart_count = cart::count(state, &session, member.as_deref()).await;
        let notice = crate::oshirase::banner(state).await;
        let flash = session.get::<String>(FLASH_KEY);
        if flash.is_some() {
            session.remove(FLASH_KEY);
        }
        Ok(Ctx {
            layout,
            csrf,
            member,
            cart_count,
            shop_name: settings.name.clone(),
            registration_number: if settings.registration_number.is_empty() {
                state.config.registration_number.clone()
            } else {
                settings.registration_number.clone()
            },
            settings,
            card_closed: false,
            card_stopped: false,
            notice,
            flash,
            request_id,
            session,
        })
    }
}
