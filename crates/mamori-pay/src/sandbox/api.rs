//! The JSON API under `/v1/`, for the shop's server (bearer API key).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::state::{fingerprint_create, fingerprint_refund, new_id, Payment, Refund};
use super::App;
use crate::connector::IDEMPOTENCY_HEADER;
use crate::wire::{self, CreateRequest, ErrorBody, ErrorDetail, RefundRequest, WireStatus};

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/payments", post(create))
        .route("/v1/payments/{id}", get(fetch))
        .route("/v1/payments/{id}/refunds", post(refund))
        .route("/v1/payments/{id}/cancel", post(cancel))
}

/// An API refusal. Messages are fixed texts: none repeats a request value.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

impl ApiError {
    const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        ApiError {
            status,
            code,
            message,
        }
    }
    const fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such payment")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.to_owned(),
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mamori-sandbox\""),
            );
        }
        resp
    }
}

fn json_ok<T: serde::Serialize>(status: StatusCode, body: &T, replayed: bool) -> Response {
    let mut resp = (status, Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        // The scheme name is case-insensitive (RFC 9110, section 11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim());
    match presented {
        Some(key) if app.authorized(key) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API key",
        )),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|k| wire::is_valid_idempotency_key(k))
        .map(str::to_owned)
        .ok_or(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "an Idempotency-Key header of 1-255 visible ASCII characters is required",
        ))
}

fn checked_id(id: &str) -> Result<(), ApiError> {
    if wire::is_valid_payment_id(id) {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

fn bad_json(_: JsonRejection) -> ApiError {
    // The rejection's text can quote the body; answer with a fixed one.
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "the body is not the JSON this endpoint takes",
    )
}

async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Json<CreateRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let key = idempotency_key(&headers)?;
    let Json(req) = body.map_err(bad_json)?;
    wire::check_create(&req)
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", m))?;
    let fp = fingerprint_create(&req);
    let mut book = app.lock();
    if let Some((seen_fp, id)) = book.create_keys.get(&key) {
        if *seen_fp != fp {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "this Idempotency-Key was used with other parameters",
            ));
        }
        let p = book.payments.get(id).ok_or(ApiError::not_found())?;
        return Ok(json_ok(StatusCode::OK, &p.to_object(&app.base), true));
    }
    if book.payments.len() >= app.max_payments {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_payments",
            "the sandbox holds as many payments as it may; restart it",
        ));
    }
    let payment = Payment {
        id: new_id("pay"),
        order_ref: req.order_ref,
        amount_jpy: req.amount_jpy,
        description: req.description,
        return_url: req.return_url,
        cancel_url: req.cancel_url,
        status: WireStatus::Pending,
        failure_reason: None,
        refunded_jpy: 0,
        card: None,
        created: chrono::Utc::now().timestamp(),
    };
    let object = payment.to_object(&app.base);
    book.create_keys.insert(key, (fp, payment.id.clone()));
    book.payments.insert(payment.id.clone(), payment);
    drop(book);
    tracing::info!(payment = %object.id, "sandbox: payment created");
    Ok(json_ok(StatusCode::CREATED, &object, false))
}

async fn fetch(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    checked_id(&id)?;
    let book = app.lock();
    let p = book.payments.get(&id).ok_or(ApiError::not_found())?;
    Ok(json_ok(StatusCode::OK, &p.to_object(&app.base), false))
}

async fn refund(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<RefundRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    checked_id(&id)?;
    let key = idempotency_key(&headers)?;
    let Json(req) = body.map_err(bad_json)?;
    let fp = fingerprint_refund(req.amount_jpy);
    let mut book = app.lock();
    let scoped_key = (id.clone(), key);
    if let Some((seen_fp, refund_id)) = book.refund_keys.get(&scoped_key) {
        if *seen_fp != fp {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "this Idempotency-Key was used with other parameters",
            ));
        }
        let r = book.refunds.get(refund_id).ok_or(ApiError::not_found())?;
        let p = book.payments.get(&id).ok_or(ApiError::not_found())?;
        return Ok(json_ok(
            StatusCode::OK,
            &r.to_object(&p.to_object(&app.base)),
            true,
        ));
    }
    let p = book.payments.get_mut(&id).ok_or(ApiError::not_found())?;
    if !matches!(p.status, WireStatus::Succeeded | WireStatus::Refunded) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "only a paid payment can be refunded",
        ));
    }
    let remaining = p.amount_jpy - p.refunded_jpy;
    if req.amount_jpy < 1 || req.amount_jpy > remaining {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_amount",
            "amount_jpy must be between 1 and the amount not yet refunded",
        ));
    }
    p.refunded_jpy += req.amount_jpy;
    p.status = WireStatus::Refunded;
    let object = p.to_object(&app.base);
    let refund = Refund {
        id: new_id("re"),
        payment_id: id.clone(),
        amount_jpy: req.amount_jpy,
        created: chrono::Utc::now().timestamp(),
    };
    let answer = refund.to_object(&object);
    book.refund_keys.insert(scoped_key, (fp, refund.id.clone()));
    book.refunds.insert(refund.id.clone(), refund);
    drop(book);
    tracing::info!(payment = %id, refund = %answer.id, "sandbox: refunded");
    app.emit("payment.refunded", object);
    Ok(json_ok(StatusCode::CREATED, &answer, false))
}

async fn cancel(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    checked_id(&id)?;
    let mut book = app.lock();
    let p = book.payments.get_mut(&id).ok_or(ApiError::not_found())?;
    match p.status {
        WireStatus::Canceled => Ok(json_ok(StatusCode::OK, &p.to_object(&app.base), true)),
        WireStatus::Pending | WireStatus::RequiresAction => {
            p.status = WireStatus::Canceled;
            let object = p.to_object(&app.base);
            drop(book);
            tracing::info!(payment = %id, "sandbox: canceled by the shop");
            app.emit("payment.canceled", object.clone());
            Ok(json_ok(StatusCode::OK, &object, false))
        }
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "only an unpaid payment can be canceled",
        )),
    }
}
