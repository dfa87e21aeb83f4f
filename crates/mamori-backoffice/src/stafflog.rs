//! The staff log: every change a member of staff makes (products, orders, settings, staff,
//! factors, exports, reveals) is appended here with who, what, to what, when, from where and in
//! which request. Details name customers by id and fields by name, never by value.

use std::net::IpAddr;

use mamori_store::{model::StaffLogRow, Records, StoreError};
use mamori_web::errors::AppError;
use serde_json::Value;

use crate::{ctx::Ctx, state::BackofficeState};

/// Who an entry is by and where it came from (no Debug: the address is the client's).
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// The member of staff (None for a system action, e.g. `mamori staff create`).
    pub staff_id: Option<&'a str>,
    /// The request (or command run) it was made in.
    pub request_id: &'a str,
    /// The client's address, if there was a client.
    pub ip: Option<IpAddr>,
}

/// Appends one entry at `at` (Unix seconds): `action` on `target`, with `detail` (ids and field
/// names, never values). Every staff-log entry is written through here.
pub async fn append(
    store: &dyn Records,
    at: i64,
    by: Source<'_>,
    action: &str,
    target: &str,
    detail: &Value,
) -> Result<(), StoreError> {
    let row = StaffLogRow {
        seq: 0,
        at,
        staff_id: by.staff_id.map(str::to_owned),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.to_string(),
        request_id: by.request_id.to_owned(),
        ip: by.ip.map(|i| i.to_string()),
    };
    store.staff_log_append(&row).await.map(|_| ())
}

/// Appends one entry for the request's member of staff (None on public pages, e.g. enrolment
/// steps, where `actor` names the account instead).
pub async fn record(
    state: &BackofficeState,
    c: &Ctx,
    actor: Option<&str>,
    action: &str,
    target: &str,
    detail: Value,
) -> Result<(), AppError> {
    let by = Source {
        staff_id: actor.or_else(|| c.staff.as_ref().map(|s| s.id.as_str())),
        request_id: &c.request_id,
        ip: c.peer,
    };
    append(
        state.store.as_ref(),
        state.now(),
        by,
        action,
        target,
        &detail,
    )
    .await
    .map_err(|err| {
        tracing::error!(action, error = %err, "could not append to the staff log");
        AppError::Internal
    })
}
