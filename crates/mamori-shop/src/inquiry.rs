//! The inquiry desk of an incident (issue 12): a form under a published public notice for the
//! people it concerns, whose sendings reach the back office's desk for the incident.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /oshirase/{incident}/inquiry` | the form (お名前, メールアドレス, 電話番号, お問い合わせ内容), only while the incident's notice is published (else 404) |
//! | `POST /oshirase/{incident}/inquiry` | checks the limits, then the fields; stores the inquiry through the gateway and shows its 受付番号 |
//!
//! The values go to `Gateway::submit_inquiry`, which records the collection on the ledger
//! (purpose `oshirase.inquiry`, the member's id when signed in) and seals them under the
//! inquiry system key; the page never says whether the sender is in the incident's scope, so
//! the form is no oracle of who was affected. Sendings are limited per client address
//! ([`PER_IP`]) and for the whole shop ([`SHOP_WIDE`]) with the web layer's limiter; past either,
//! a 429 page says so in Japanese (English second) with `Retry-After`, and nothing is stored.
//! A field that is wrong comes back with its message and every value as typed.

use std::{collections::HashMap, sync::Arc, time::Duration};

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use mamori_domain::{Personal, PhoneNumber};
use mamori_store::gateway::InquiryDraft;
use mamori_web::{
    errors::{AppError, KeepErrorBody, SafeForm},
    page::render,
    ratelimit::RateLimit,
};

use crate::{ctx::Ctx, fail, forms::FormState, members::Peer, state::ShopState};

/// Sendings per client address: 5 an hour.
pub const PER_IP: RateLimit = RateLimit {
    burst: 5,
    per: Duration::from_secs(3600),
};
/// Sendings for the whole shop: 600 an hour.
pub const SHOP_WIDE: RateLimit = RateLimit {
    burst: 600,
    per: Duration::from_secs(3600),
};
/// Longest お名前 (characters).
pub const NAME_MAX_CHARS: usize = 100;
/// Longest お問い合わせ内容 (characters).
pub const MESSAGE_MAX_CHARS: usize = 2000;
/// The ledger purpose of a sending.
pub const PURPOSE: &str = "oshirase.inquiry";

const FIELDS: &[&str] = &["name", "email", "phone", "message"];
/// The one key of the shop-wide bucket.
const SHOP_KEY: &str = "shop";

#[derive(Template)]
#[template(path = "inquiry/form.html")]
struct FormPage {
    c: Ctx,
    id: i64,
    title: String,
    form: FormState,
    name_max: usize,
    message_max: usize,
}

#[derive(Template)]
#[template(path = "inquiry/done.html")]
struct DonePage {
    c: Ctx,
    id: i64,
    reception: String,
}

#[derive(Template)]
#[template(path = "inquiry/limited.html")]
struct LimitedPage {
    c: Ctx,
    id: i64,
    retry_after: u64,
    minutes: u64,
}

/// The published notice's title for `id`, or 404 when its notice is not published.
async fn notice_title(state: &ShopState, c: &Ctx, id: i64) -> Result<String, AppError> {
    let row = crate::oshirase::published(state, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(if c.en() { row.title_en } else { row.title_ja })
}

fn form_page(c: Ctx, id: i64, title: String, form: FormState) -> Response {
    render(&FormPage {
        c,
        id,
        title,
        form,
        name_max: NAME_MAX_CHARS,
        message_max: MESSAGE_MAX_CHARS,
    })
}

/// `GET /oshirase/{incident}/inquiry`.
pub async fn form(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let title = notice_title(&state, &c, id).await?;
    let form = FormState::new(c.lang());
    Ok(form_page(c, id, title, form))
}

fn limited(c: Ctx, id: i64, wait: Duration) -> Response {
    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut res = render(&LimitedPage {
        c,
        id,
        retry_after: secs,
        minutes: secs.div_ceil(60),
    });
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    // The page is the answer (what happened and when to come back), not the generic error page.
    res.extensions_mut().insert(KeepErrorBody);
    res
}

/// A required free text of at most `max` characters (trimmed; a browser's CRLF line ends
/// counted and kept as one LF, as the textarea's own limit counts them).
fn text(form: &mut FormState, name: &str, max: usize) -> Option<String> {
    let v = form.value(name).replace("\r\n", "\n").trim().to_owned();
    if v.is_empty() {
        form.fail(name, "入力してください。", "Please fill in this field.");
        return None;
    }
    if v.chars().count() > max {
        let (ja, en) = if max == MESSAGE_MAX_CHARS {
            (
                "2,000文字以内で入力してください。",
                "Please keep it to 2,000 characters.",
            )
        } else {
            (
                "100文字以内で入力してください。",
                "Please keep it to 100 characters.",
            )
        };
        form.fail(name, ja, en);
        return None;
    }
    Some(v)
}

/// The fields as an [`InquiryDraft`], or `None` with a message next to each wrong field.
fn draft(form: &mut FormState) -> Option<InquiryDraft> {
    let name = text(form, "name", NAME_MAX_CHARS);
    let email = form.email("email");
    let phone = match form.value("phone").trim() {
        "" => Some(None),
        raw => {
            let raw = raw.to_owned();
            form.check("phone", PhoneNumber::parse(&raw))
                .map(|p| Some(Personal::new(p)))
        }
    };
    let message = text(form, "message", MESSAGE_MAX_CHARS);
    Some(InquiryDraft {
        name: Personal::new(name?),
        email: email?,
        phone: phone?,
        message: Personal::new(message?),
    })
}

/// `POST /oshirase/{incident}/inquiry`.
pub async fn submit(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<i64>,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let title = notice_title(&state, &c, id).await?;
    // Every sending counts, whatever its fields: first the client's own bucket, then (only for
    // a client within its own) the shop's.
    let limits = &state.limits;
    let client = limits.inquiry_ip.client_ip.client_key(peer.0, &headers);
    if let Err(wait) = limits.inquiry_ip.limiter.check(&client) {
        tracing::info!("inquiry limit per address reached");
        return Ok(limited(c, id, wait));
    }
    if let Err(wait) = limits.inquiry_shop.check(SHOP_KEY) {
        tracing::warn!("inquiry limit of the shop reached");
        return Ok(limited(c, id, wait));
    }
    let mut form = FormState::from_submission(c.lang(), map, FIELDS)?;
    let Some(draft) = draft(&mut form) else {
        let mut res = form_page(c, id, title, form);
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        // The page is the answer (fields with their messages), not an error page.
        res.extensions_mut().insert(KeepErrorBody);
        return Ok(res);
    };
    let acc = c.accessor(PURPOSE).via(&format!("/oshirase/{id}/inquiry"));
    let receipt = state
        .gateway
        .submit_inquiry(&acc, id, &draft, state.clock.now().timestamp())
        .await
        .map_err(fail("inquiry"))?;
    Ok(render(&DonePage {
        c,
        id,
        reception: receipt.reception,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_web::i18n::Lang;

    fn form(message: &str) -> FormState {
        let map = HashMap::from([
            ("name".to_owned(), "問合 太郎".to_owned()),
            ("email".to_owned(), "taro@example.jp".to_owned()),
            ("phone".to_owned(), String::new()),
            ("message".to_owned(), message.to_owned()),
        ]);
        FormState::from_submission(Lang::Ja, map, FIELDS).unwrap()
    }

    #[test]
    fn the_message_limit_counts_a_line_end_once() {
        // 1,998 characters and a CRLF: 1,999 as the textarea counts them.
        let ok = format!("{}\r\n{}", "あ".repeat(999), "い".repeat(999));
        let mut f = form(&ok);
        let d = draft(&mut f).unwrap();
        assert!(!d.message.expose().contains('\r'));
        assert!(d.phone.is_none());
        let mut f = form(&"あ".repeat(MESSAGE_MAX_CHARS + 1));
        assert!(draft(&mut f).is_none());
        assert!(f.error("message").unwrap().contains("2,000"));
        assert_eq!(f.value("message").chars().count(), MESSAGE_MAX_CHARS + 1);
    }

    #[test]
    fn a_draft_shows_nothing_in_debug() {
        let mut f = form("本文です");
        let d = draft(&mut f).unwrap();
        let shown = format!("{d:?}");
        assert!(!shown.contains("問合") && !shown.contains("taro@") && !shown.contains("本文"));
    }
}
