//! For the auditor: the access ledger (recent entries or those naming one customer: time,
//! principal, purpose, action, customers, fields, reason; never a value, since the ledger holds
//! none) and the staff log with filters (member of staff, action, dates).

use std::{collections::HashMap, sync::Arc};

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use mamori_store::{
    access::{AccessEvent, Principal},
    model::StaffLogFilter,
};
use mamori_web::{errors::AppError, page::render};
use serde::Deserialize;

use crate::{
    ctx::Ctx,
    fail,
    forms::{day_start_us, offset, query_of, Pager, DAY_US, PAGE_SIZE},
    labels,
    state::{fmt_secs, fmt_us, BackofficeState},
};

/// One ledger entry as shown.
#[derive(Clone)]
pub struct LedgerLine {
    /// Leaf index.
    pub seq: i64,
    /// When (JST).
    pub at: String,
    /// Who (`staff: 山田 (id)`, `customer: id`, `system: job`).
    pub principal: String,
    /// Purpose code.
    pub purpose: String,
    /// The action's label (`閲覧（伏せ字）`, ...).
    pub action: &'static str,
    /// Customer ids.
    pub customers: String,
    /// Field labels.
    pub fields: String,
    /// The reason given, if any.
    pub reason: String,
}

async fn staff_names(state: &BackofficeState) -> Result<HashMap<String, String>, AppError> {
    Ok(state
        .store
        .staff_list()
        .await
        .map_err(fail("staff list"))?
        .into_iter()
        .map(|s| (s.id, s.display_name))
        .collect())
}

fn ledger_line(c: &Ctx, seq: i64, bytes: &[u8], names: &HashMap<String, String>) -> LedgerLine {
    match AccessEvent::from_bytes(bytes) {
        Ok(e) => {
            let principal = match &e.principal {
                Principal::Staff(id) => match names.get(id) {
                    Some(n) => format!("{}: {n} ({id})", c.t("スタッフ", "staff")),
                    None => format!("{}: {id}", c.t("スタッフ", "staff")),
                },
                Principal::Customer(id) => format!("{}: {id}", c.t("顧客本人", "customer")),
                Principal::Guest(id) => format!("{}: {id}", c.t("ゲスト", "guest")),
                Principal::System(job) => format!("{}: {job}", c.t("システム", "system")),
            };
            LedgerLine {
                seq,
                at: fmt_us(e.at_us),
                principal,
                purpose: e.purpose,
                action: labels::ledger_action(c, e.action),
                customers: e.customers.join(", "),
                fields: e
                    .fields
                    .iter()
                    .map(|f| labels::ledger_field(c, f))
                    .collect::<Vec<_>>()
                    .join("、"),
                reason: e.reason.unwrap_or_default(),
            }
        }
        Err(_) => LedgerLine {
            seq,
            at: "-".to_owned(),
            principal: "-".to_owned(),
            purpose: c.t("（読み取れない記録）", "(unreadable entry)").to_owned(),
            action: "-",
            customers: String::new(),
            fields: String::new(),
            reason: String::new(),
        },
    }
}

/// `GET /ledger?customer=&page=`.
#[derive(Debug, Default, Deserialize)]
pub struct LedgerQuery {
    /// Only entries naming this customer id.
    pub customer: Option<String>,
    /// Page (newest first).
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    c: Ctx,
    customer: String,
    entries: Vec<LedgerLine>,
    pager: Pager,
    size: u64,
}

/// `GET /ledger`: the newest entries, or those naming one customer, newest first.
pub async fn ledger(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<LedgerQuery>,
) -> Result<Response, AppError> {
    let names = staff_names(&state).await?;
    let store = &state.store;
    let size = store.ledger_size().await.map_err(fail("ledger size"))?;
    let customer = q
        .customer
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let skip = u64::try_from(offset(q.page)).unwrap_or(0);
    let per = u64::try_from(PAGE_SIZE).unwrap_or(50);
    let mut entries = Vec::new();
    let total;
    match &customer {
        Some(id) => {
            let mut seqs = store
                .ledger_events_of(id)
                .await
                .map_err(fail("ledger of customer"))?;
            seqs.sort_unstable_by(|a, b| b.cmp(a));
            total = seqs.len() as u64;
            for seq in seqs.into_iter().skip(skip as usize).take(per as usize) {
                for e in store
                    .ledger_entries(seq, 1)
                    .await
                    .map_err(fail("ledger entry"))?
                {
                    entries.push(ledger_line(&c, e.seq, &e.event, &names));
                }
            }
        }
        None => {
            total = size;
            let end = size.saturating_sub(skip);
            let start = end.saturating_sub(per);
            let mut rows = store
                .ledger_entries(start, end - start)
                .await
                .map_err(fail("ledger entries"))?;
            rows.reverse();
            entries = rows
                .iter()
                .map(|e| ledger_line(&c, e.seq, &e.event, &names))
                .collect();
        }
    }
    let query = query_of(&[("customer", customer.as_deref())]);
    let pager = Pager::new(q.page, i64::try_from(total).unwrap_or(i64::MAX), query);
    Ok(render(&LedgerPage {
        c,
        customer: customer.unwrap_or_default(),
        entries,
        pager,
        size,
    }))
}

/// One staff log entry as shown (no `Debug`: it names a member of staff).
#[derive(Clone)]
pub struct LogLine {
    /// Position.
    pub seq: i64,
    /// When (JST).
    pub at: String,
    /// Who.
    pub staff: String,
    /// Action label.
    pub action: String,
    /// Action code (what the filter takes).
    pub code: String,
    /// Target.
    pub target: String,
    /// Details, one `項目：値` per entry.
    pub detail: Vec<String>,
    /// Client address.
    pub ip: String,
    /// Request id.
    pub request_id: String,
}

/// `GET /staff-log?staff=&action=&from=&to=&page=`.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    /// Staff id.
    pub staff: Option<String>,
    /// Action prefix (`orders.`, `customers.reveal`).
    pub action: Option<String>,
    /// First day (JST).
    pub from: Option<String>,
    /// Last day (JST, inclusive).
    pub to: Option<String>,
    /// Page.
    pub page: Option<i64>,
}

/// A member of staff in the filter's select (no `Debug`: it holds a name).
#[derive(Clone)]
pub struct StaffOption {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Selected.
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "staff_log.html")]
struct LogPage {
    c: Ctx,
    staff: Vec<StaffOption>,
    action: String,
    from: String,
    to: String,
    entries: Vec<LogLine>,
    pager: Pager,
    problem: Option<&'static str>,
}

/// `GET /staff-log`.
pub async fn staff_log(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<LogQuery>,
) -> Result<Response, AppError> {
    let names = staff_names(&state).await?;
    let mut problem = None;
    let mut day = |t: Option<&str>| match day_start_us(t) {
        Ok(v) => v.map(|us| us.div_euclid(1_000_000)),
        Err(_) => {
            problem = Some(c.t(
                "日付は YYYY-MM-DD で入力してください。",
                "Dates are YYYY-MM-DD.",
            ));
            None
        }
    };
    let from = day(q.from.as_deref());
    let to = day(q.to.as_deref()).map(|t| t + DAY_US / 1_000_000);
    let filter = StaffLogFilter {
        staff_id: q.staff.clone().filter(|s| !s.is_empty()),
        action_prefix: q
            .action
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        from,
        to,
    };
    let page = state
        .store
        .staff_log_page(&filter, offset(q.page), PAGE_SIZE)
        .await
        .map_err(fail("staff log"))?;
    let entries = page
        .items
        .into_iter()
        .map(|r| LogLine {
            seq: r.seq,
            at: fmt_secs(r.at),
            staff: match &r.staff_id {
                Some(id) => names.get(id).cloned().unwrap_or_else(|| id.clone()),
                None => c.t("（システム）", "(system)").to_owned(),
            },
            action: labels::log_action(&c, &r.action),
            code: r.action,
            target: r.target,
            detail: labels::log_detail(&c, &r.detail),
            ip: r.ip.unwrap_or_default(),
            request_id: r.request_id,
        })
        .collect();
    let mut staff: Vec<StaffOption> = names
        .iter()
        .map(|(id, name)| StaffOption {
            id: id.clone(),
            name: name.clone(),
            selected: filter.staff_id.as_deref() == Some(id.as_str()),
        })
        .collect();
    staff.sort_by(|a, b| a.name.cmp(&b.name));
    let query = query_of(&[
        ("staff", q.staff.as_deref()),
        ("action", q.action.as_deref()),
        ("from", q.from.as_deref()),
        ("to", q.to.as_deref()),
    ]);
    let pager = Pager::new(q.page, page.total, query);
    Ok(render(&LogPage {
        c,
        staff,
        action: q.action.unwrap_or_default(),
        from: q.from.unwrap_or_default(),
        to: q.to.unwrap_or_default(),
        entries,
        pager,
        problem,
    }))
}
