//! The staff log: every change a member of staff makes (products, orders, settings, staff,
//! factors, exports, reveals) is appended here with who, what, to what, when, from where and in
//! which request. Details name customers by id and fields by name, never by value.

use mamori_store::model::StaffLogRow;
use mamori_web::errors::AppError;
use serde_json::Value;

use crate::{ctx::Ctx, state::BackofficeState};

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
    let staff_id = actor
        .map(str::to_owned)
        .or_else(|| c.staff.as_ref().map(|s| s.id.clone()));
    let row = StaffLogRow {
        seq: 0,
        at: state.now(),
        staff_id,
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.to_string(),
        request_id: c.request_id.clone(),
        ip: c.ip(),
    };
    state
        .store
        .staff_log_append(&row)
        .await
        .map(|_| ())
        .map_err(|err| {
            tracing::error!(action, error = %err, "could not append to the staff log");
            AppError::Internal
        })
}
