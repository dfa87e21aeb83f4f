//! The two database backends. Their SQL is the same text wherever the dialects agree (both accept
//! `$n` placeholders, `ON CONFLICT`, partial indexes), so the shared statements are written once in
//! [`shared_store_methods`] and expanded for each backend's own typed driver; what differs (opening,
//! migrations, how the ledger's end is locked) lives in each backend's file.
//!
//! A macro rather than generic code over `sqlx::Database`: the trait bounds sqlx needs for generic
//! executors are long and fragile, and a macro keeps each backend on its native, typed driver.

mod alerts;
mod backoffice;
mod canary_mail;
mod catalogue;
mod csp_reports;
mod customers;
mod fraud;
mod incidents;
mod inquiries;
mod leases;
mod ledger;
mod notices;
mod observations;
mod orders;
mod outbox;
mod postgres;
mod public_notices;
mod reads;
mod scripts;
mod security;
mod sessions;
mod sqlite;
mod staff;
mod storefront;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::error::StoreError;

/// Maps a unique-constraint failure to a domain error and passes the rest on.
pub(crate) fn unique_violation_as(err: sqlx::Error, as_err: StoreError) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => as_err,
        _ => StoreError::Database(err),
    }
}

pub(crate) fn hash32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Malformed {
        table: "ledger_entries",
        column: "leaf_hash",
    })
}

/// Rows per multi-row INSERT: well under both SQLite's and PostgreSQL's bind-parameter limits.
pub(crate) const INSERT_CHUNK: usize = 1000;

/// `text` with LIKE's wildcards and escape character escaped (use with `ESCAPE '\\'`).
pub(crate) fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A LIKE pattern matching values that start with `prefix` (use with `ESCAPE '\\'`).
pub(crate) fn like_prefix(prefix: &str) -> String {
    format!("{}%", like_escape(prefix))
}

/// The columns of [`crate::model::StaffRow`], in its field order.
macro_rules! staff_columns {
    () => {
        "id, email, display_name, role, state, password_hash, failed_logins, locked_until, created_at, \
         updated_at, last_login_at"
    };
}
pub(crate) use staff_columns;

/// The columns of [`crate::model::PasskeyRow`], in its field order.
macro_rules! passkey_columns {
    () => {
        "id, staff_id, credential_id, passkey, label, created_at, last_used_at"
    };
}
pub(crate) use passkey_columns;

/// The columns of [`crate::model::ProductImageRow`], in its field order.
macro_rules! image_columns {
    () => {
        "id, product_id, content_type, bytes, width, height, sha256, created_at"
    };
}
pub(crate) use image_columns;

/// The columns of [`crate::model::StaffLogRow`], in its field order.
macro_rules! staff_log_columns {
    () => {
        "seq, at, staff_id, action, target, detail, request_id, ip"
    };
}
pub(crate) use staff_log_columns;

/// The columns of [`crate::model::CustomerRow`], in its field order.
macro_rules! customer_columns {
    () => {
        "id, kind, email_bidx, name_ct, email_ct, phone_ct, birth_date_ct, gender_ct, \
         password_hash, created_at, updated_at, erased_at, email_verified_at"
    };
}
pub(crate) use customer_columns;

/// Appends ` WHERE ...` for a [`crate::model::StaffLogFilter`] to a query builder.
macro_rules! push_staff_log_filter {
    ($qb:expr, $f:expr) => {{
        let f: &StaffLogFilter = $f;
        $qb.push(" WHERE 1 = 1");
        if let Some(v) = &f.staff_id {
            $qb.push(" AND staff_id = ").push_bind(v.clone());
        }
        if let Some(v) = &f.action_prefix {
            $qb.push(" AND action LIKE ")
                .push_bind($crate::backend::like_prefix(v))
                .push(" ESCAPE '\\'");
        }
        if let Some(v) = f.from {
            $qb.push(" AND at >= ").push_bind(v);
        }
        if let Some(v) = f.to {
            $qb.push(" AND at < ").push_bind(v);
        }
    }};
}
pub(crate) use push_staff_log_filter;

/// Appends ` WHERE ...` for a [`crate::model::OrderFilter`] to a query builder.
macro_rules! push_order_filter {
    ($qb:expr, $f:expr) => {{
        let f: &OrderFilter = $f;
        $qb.push(" WHERE 1 = 1");
        if let Some(v) = f.state {
            $qb.push(" AND state = ").push_bind(v.as_str());
        }
        if let Some(v) = &f.number_prefix {
            $qb.push(" AND order_number LIKE ")
                .push_bind($crate::backend::like_prefix(v))
                .push(" ESCAPE '\\'");
        }
        if let Some(v) = f.placed_from_us {
            $qb.push(" AND placed_at >= ").push_bind(v);
        }
        if let Some(v) = f.placed_to_us {
            $qb.push(" AND placed_at < ").push_bind(v);
        }
    }};
}
pub(crate) use push_order_filter;

/// An order's sale in the sales figures: its total less what was refunded of it so far (partial
/// refunds; a fully refunded order is left out of the figures altogether). For `SUM(...)` over
/// `orders`.
macro_rules! net_of_refunds {
    () => {
        "total - COALESCE((SELECT SUM(r.amount) FROM order_refunds r \
         WHERE r.order_id = orders.id), 0)"
    };
}
pub(crate) use net_of_refunds;

/// The columns of [`crate::model::OrderRow`], in its field order.
macro_rules! order_columns {
    () => {
        "id, order_number, customer_id, idempotency_key, state, payment_method, items_total, cod_fee, \
         shipping_fee, total, tax_standard, tax_reduced, buyer_name_ct, buyer_email_ct, buyer_phone_ct, \
         buyer_address_ct, placed_at, updated_at"
    };
}
pub(crate) use order_columns;

/// The columns of [`crate::model::ProductRow`], in its field order.
macro_rules! product_columns {
    () => {
        "id, sku, category_id, name_ja, name_en, description_ja, description_en, price_incl, tax_rate, stock, \
         offers_personalisation, offers_noshi, active, created_at, updated_at"
    };
}
pub(crate) use product_columns;

/// The columns of [`crate::model::PaymentRow`], in its field order.
macro_rules! payment_columns {
    () => {
        "order_id, provider, payment_id, status, amount, brand, last4, created_at, updated_at"
    };
}
pub(crate) use payment_columns;

/// Inserts outbox rows (state `pending`, no attempts) inside the open transaction `$tx`.
macro_rules! insert_mail {
    ($tx:ident, $rows:expr) => {
        for m in $rows {
            sqlx::query(
                "INSERT INTO mail_outbox (id, customer_id, kind, payload_ct, state, attempts, \
                 next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6)",
            )
            .bind(&m.id)
            .bind(&m.customer_id)
            .bind(&m.kind)
            .bind(&m.payload_ct)
            .bind(m.next_attempt_at)
            .bind(m.created_at)
            .execute(&mut *$tx)
            .await?;
        }
    };
}
pub(crate) use insert_mail;

/// The part of an outbox claim that runs inside the backend's own transaction: selects the due
/// rows with `$select_sql` (which carries the backend's lock clause) and claims each with a
/// conditional UPDATE that re-checks the row is still claimable.
macro_rules! outbox_claim_in_tx {
    ($conn:expr, $select_sql:expr, $limit:expr, $lease_secs:expr, $now:expr) => {{
        let conn = $conn;
        let now: i64 = $now;
        let lease_until = now.saturating_add($lease_secs);
        let ids: Vec<String> = sqlx::query_scalar($select_sql)
            .bind(now)
            .bind($limit)
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let claimed = sqlx::query_as::<_, OutboxClaimRow>(
                "UPDATE mail_outbox SET claim_token = $2, attempts = attempts + 1, lease_until = $3 \
                 WHERE id = $1 AND state = 'pending' AND next_attempt_at <= $4 \
                 AND (lease_until IS NULL OR lease_until <= $4) \
                 RETURNING id, customer_id, kind, payload_ct, claim_token AS token, attempts AS attempt, \
                 lease_until, created_at",
            )
            .bind(&id)
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(lease_until)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
            out.extend(claimed);
        }
        Ok::<_, StoreError>(out)
    }};
}
pub(crate) use outbox_claim_in_tx;

/// Selects claimable outbox ids (`$1` now, `$2` limit); each backend appends its lock clause.
macro_rules! outbox_due_sql {
    () => {
        "SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
         AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at, id LIMIT $2"
    };
}
pub(crate) use outbox_due_sql;

/// How many customers `$principal` opened since each of `$sinces` (Unix seconds, exclusive), in
/// one statement on `$exec` (a pool or the append's transaction): `Vec<i64>`, empty for none.
macro_rules! read_opens_counts {
    ($db:ty, $exec:expr, $principal:expr, $sinces:expr) => {{
        let sinces: &[i64] = $sinces;
        let mut counts: Vec<i64> = Vec::with_capacity(sinces.len());
        if let Some(earliest) = sinces.iter().copied().min() {
            let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT ");
            for (i, since) in sinces.iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                qb.push("COUNT(CASE WHEN opened_at > ")
                    .push_bind(*since)
                    .push(" THEN 1 END)");
            }
            qb.push(" FROM read_opens WHERE principal = ")
                .push_bind($principal)
                .push(" AND opened_at > ")
                .push_bind(earliest);
            use sqlx::Row as _;
            let row = qb.build().fetch_one($exec).await?;
            for i in 0..sinces.len() {
                counts.push(row.try_get::<i64, _>(i)?);
            }
        }
        counts
    }};
}
pub(crate) use read_opens_counts;

/// Charges a read to its budget inside the ledger's append transaction: `None` when it fits (the
/// customers' latest opens are written to `read_opens`), else the refusal (and the principal's
/// stop is written to `read_principals` when this read set it). A principal already stopped is
/// refused without counting.
macro_rules! read_budget_charge {
    ($db:ty, $conn:expr, $budget:expr, $subjects:expr) => {{
        let conn = $conn;
        let b: &ReadBudget = $budget;
        let subjects: &[String] = $subjects;
        let state: Option<(Option<i64>, Option<i64>, Option<i64>, Option<i64>, i64, i64)> =
            sqlx::query_as(
                "SELECT stopped_at, stop_window, stop_opened, stop_limit, reset_at, approved_until \
                 FROM read_principals WHERE principal = $1",
            )
            .bind(&b.principal)
            .fetch_optional(&mut *conn)
            .await?;
        let (reset_at, approved_until) = state.map(|s| (s.4, s.5)).unwrap_or((0, 0));
        match state {
            Some((Some(_), w, o, l, _, _)) => Some(BudgetRefusal {
                principal: b.principal.clone(),
                window_secs: w.unwrap_or(0),
                opened: o.unwrap_or(0),
                max: l.unwrap_or(0),
                new_stop: false,
            }),
            _ if subjects.is_empty() => None,
            _ => {
                let limits: Vec<BudgetLimit> = b
                    .limits
                    .iter()
                    .filter(|l| !(l.ceiling && approved_until > b.at))
                    .copied()
                    .collect();
                let since = |l: &BudgetLimit| (b.at - l.window_secs).max(reset_at);
                // When each of these customers was last opened by this principal.
                let mut last = std::collections::HashMap::<String, i64>::new();
                for chunk in subjects.chunks($crate::backend::INSERT_CHUNK) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "SELECT customer_id, opened_at FROM read_opens WHERE principal = ",
                    );
                    qb.push_bind(&b.principal).push(" AND customer_id IN (");
                    let mut sep = qb.separated(", ");
                    for c in chunk {
                        sep.push_bind(c);
                    }
                    qb.push(")");
                    let rows: Vec<(String, i64)> =
                        qb.build_query_as().fetch_all(&mut *conn).await?;
                    last.extend(rows);
                }
                // Distinct customers opened in each window, in one statement.
                let sinces: Vec<i64> = limits.iter().map(since).collect();
                let counts =
                    $crate::backend::read_opens_counts!($db, &mut *conn, &b.principal, &sinces);
                let mut crossed = None;
                for (l, count) in limits.iter().zip(&counts) {
                    let s = since(l);
                    let new = subjects
                        .iter()
                        .filter(|c| last.get(*c).is_none_or(|t| *t <= s))
                        .count() as i64;
                    if count + new > l.max {
                        crossed = Some((l, count + new));
                        break;
                    }
                }
                match crossed {
                    Some((l, opened)) => {
                        sqlx::query(
                            "INSERT INTO read_principals (principal, stopped_at, stop_window, \
                             stop_opened, stop_limit) VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (principal) DO UPDATE SET stopped_at = excluded.stopped_at, \
                             stop_window = excluded.stop_window, stop_opened = excluded.stop_opened, \
                             stop_limit = excluded.stop_limit, lifted_by = NULL, lifted_at = NULL",
                        )
                        .bind(&b.principal)
                        .bind(b.at)
                        .bind(l.window_secs)
                        .bind(opened)
                        .bind(l.max)
                        .execute(&mut *conn)
                        .await?;
                        Some(BudgetRefusal {
                            principal: b.principal.clone(),
                            window_secs: l.window_secs,
                            opened,
                            max: l.max,
                            new_stop: true,
                        })
                    }
                    None => {
                        for chunk in subjects.chunks($crate::backend::INSERT_CHUNK) {
                            let mut qb = sqlx::QueryBuilder::<$db>::new(
                                "INSERT INTO read_opens (principal, customer_id, opened_at) ",
                            );
                            qb.push_values(chunk.iter(), |mut row, c| {
                                row.push_bind(&b.principal).push_bind(c).push_bind(b.at);
                            });
                            qb.push(
                                " ON CONFLICT (principal, customer_id) DO UPDATE \
                                 SET opened_at = excluded.opened_at",
                            );
                            qb.build().execute(&mut *conn).await?;
                        }
                        None
                    }
                }
            }
        }
    }};
}
pub(crate) use read_budget_charge;

/// The part of a ledger append that runs inside the backend's locked transaction: reads the end of
/// the log, inserts the batch after it, advances the frontier and optionally signs a checkpoint.
macro_rules! ledger_append_in_tx {
    ($db:ty, $conn:expr, $state_sql:expr, $events:expr, $signer:expr) => {{
        let conn = $conn;
        let events: &[PendingEvent] = $events;
        let (size, frontier): (i64, Vec<u8>) =
            sqlx::query_as($state_sql).fetch_one(&mut *conn).await?;
        let mut frontier = mamori_ledger::Frontier::from_bytes(&frontier)?;
        if frontier.size() != size as u64 {
            return Err(StoreError::LedgerInconsistent {
                entry: size as u64,
                what: "the frontier does not match the log's size",
            });
        }
        let first = size as u64;
        let now = now_us();
        // Reads charged to a budget are decided here, in order, under the ledger's lock: the
        // count, the decision and the record are one step for every process on the database.
        let mut refused: Vec<(usize, BudgetRefusal)> = Vec::new();
        let mut accepted: Vec<&PendingEvent> = Vec::with_capacity(events.len());
        for (idx, e) in events.iter().enumerate() {
            match &e.budget {
                None => accepted.push(e),
                Some(b) => {
                    match $crate::backend::read_budget_charge!($db, &mut *conn, b, &e.subjects) {
                        None => accepted.push(e),
                        Some(r) => refused.push((idx, r)),
                    }
                }
            }
        }
        for (ci, chunk) in accepted.chunks($crate::backend::INSERT_CHUNK).enumerate() {
            let base = first + (ci * $crate::backend::INSERT_CHUNK) as u64;
            let mut qb = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO ledger_entries (seq, leaf_hash, event, recorded_at) ",
            );
            qb.push_values(chunk.iter().enumerate(), |mut b, (i, e)| {
                b.push_bind((base + i as u64) as i64)
                    .push_bind(&e.leaf_hash[..])
                    .push_bind(&e.event[..])
                    .push_bind(now);
            });
            qb.build().execute(&mut *conn).await?;
            let subjects: Vec<(i64, &str)> = chunk
                .iter()
                .enumerate()
                .flat_map(|(i, e)| {
                    e.subjects
                        .iter()
                        .map(move |s| ((base + i as u64) as i64, s.as_str()))
                })
                .collect();
            for sub in subjects.chunks($crate::backend::INSERT_CHUNK) {
                // Into the append-ordered table; `ledger_index` moves them into the index later.
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO ledger_subjects_recent (seq, customer_id) ",
                );
                qb.push_values(sub.iter(), |mut b, (seq, c)| {
                    b.push_bind(*seq).push_bind(*c);
                });
                qb.build().execute(&mut *conn).await?;
            }
        }
        for e in &accepted {
            frontier.push(e.leaf_hash);
        }
        let new_size = frontier.size();
        let root = frontier.root();
        sqlx::query("UPDATE ledger_state SET size = $1, frontier = $2 WHERE id = 1")
            .bind(new_size as i64)
            .bind(frontier.to_bytes())
            .execute(&mut *conn)
            .await?;
        let mut note = None;
        // A batch whose every read was refused appended nothing: no new head to sign.
        let grew = events.is_empty() || !accepted.is_empty();
        if let (Some(signer), true) = ($signer, grew) {
            let signed = signer.sign(new_size, root);
            sqlx::query(
                "INSERT INTO ledger_checkpoints (size, note, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (size) DO NOTHING",
            )
            .bind(new_size as i64)
            .bind(&signed)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            note = Some(signed);
        }
        Ok::<_, StoreError>((
            AppendOutcome {
                first_seq: first,
                size: new_size,
                root,
                refused,
            },
            note,
        ))
    }};
}
pub(crate) use ledger_append_in_tx;
