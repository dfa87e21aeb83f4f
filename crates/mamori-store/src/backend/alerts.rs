//! [`AlertStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::model::{OutboxRow, Page};
use crate::store::{
    alert_state, AlertFilter, AlertRaised, AlertRow, AlertStore, AlertWebhookRow, GuardSwitchRow,
    NewAlertRow,
};

/// A severity column's rank in SQL (the same order as [`severity_rank`](crate::store::alerts::severity_rank)).
macro_rules! severity_rank {
    ($col:literal) => {
        concat!(
            "(CASE ",
            $col,
            " WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END)"
        )
    };
}

/// The columns of [`AlertRow`], in its field order.
macro_rules! alert_columns {
    () => {
        "id, kind, severity, subject, evidence, state, seen_count, first_seen, last_seen, acked_by, \
         acked_at, ack_reason, closed_by, closed_at"
    };
}

/// The columns of [`AlertWebhookRow`], in its field order.
macro_rules! webhook_columns {
    () => {
        "id, alert_id, body, state, attempts, next_attempt_at, last_error, created_at, sent_at"
    };
}

/// The columns of [`GuardSwitchRow`], in its field order.
macro_rules! switch_columns {
    () => {
        "name, state, reason, alert_id, changed_by, changed_at, detail, incident_id"
    };
}

/// Appends ` WHERE ...` for an [`AlertFilter`].
macro_rules! push_alert_filter {
    ($qb:expr, $f:expr) => {{
        let f: &AlertFilter = $f;
        $qb.push(" WHERE 1 = 1");
        if let Some(v) = &f.state {
            $qb.push(" AND state = ").push_bind(v.clone());
        }
        if let Some(v) = &f.kind {
            $qb.push(" AND kind = ").push_bind(v.clone());
        }
    }};
}

/// Inserts or replaces a guard switch on `$conn`.
macro_rules! put_switch {
    ($conn:expr, $row:expr) => {{
        let row: &GuardSwitchRow = $row;
        sqlx::query(
            "INSERT INTO guard_switches (name, state, reason, alert_id, changed_by, changed_at, \
             detail, incident_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) \
             DO UPDATE SET state = excluded.state, reason = excluded.reason, \
             alert_id = excluded.alert_id, changed_by = excluded.changed_by, \
             changed_at = excluded.changed_at, detail = excluded.detail, \
             incident_id = excluded.incident_id",
        )
        .bind(&row.name)
        .bind(&row.state)
        .bind(&row.reason)
        .bind(&row.alert_id)
        .bind(&row.changed_by)
        .bind(row.changed_at)
        .bind(&row.detail)
        .bind(row.incident_id)
        .execute($conn)
        .await?;
    }};
}

macro_rules! impl_alert_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl AlertStore for $store {
            async fn alert_raise(
                &self,
                a: &NewAlertRow,
                mails: &[OutboxRow],
                webhook_body: Option<&str>,
            ) -> Result<AlertRaised> {
                let mut tx = self.begin_write().await?;
                // The ongoing alert's severity before this occurrence: a repeat that is more
                // severe escalates it (and is announced like a new one).
                let before: Option<String> = sqlx::query_scalar(
                    "SELECT severity FROM alerts WHERE kind = $1 AND subject = $2 \
                     AND state <> 'closed'",
                )
                .bind(&a.kind)
                .bind(&a.subject)
                .fetch_optional(&mut *tx)
                .await?;
                // The unique partial index on (kind, subject) of alerts not closed decides: a
                // repeat lands in DO UPDATE and keeps the ongoing alert's id; a more severe
                // repeat raises its severity and opens it again (an acknowledged warning that
                // turns critical needs someone's eyes again).
                let (id, seen_count): (String, i64) = sqlx::query_as(concat!(
                    "INSERT INTO alerts (id, kind, severity, subject, evidence, state, seen_count, \
                     first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, 'open', 1, $6, $6) \
                     ON CONFLICT (kind, subject) WHERE state <> 'closed' DO UPDATE SET \
                     seen_count = alerts.seen_count + 1, \
                     last_seen = CASE WHEN excluded.last_seen > alerts.last_seen \
                     THEN excluded.last_seen ELSE alerts.last_seen END, \
                     state = CASE WHEN ",
                    severity_rank!("excluded.severity"),
                    " > ",
                    severity_rank!("alerts.severity"),
                    " THEN 'open' ELSE alerts.state END, \
                     severity = CASE WHEN ",
                    severity_rank!("excluded.severity"),
                    " > ",
                    severity_rank!("alerts.severity"),
                    " THEN excluded.severity ELSE alerts.severity END, \
                     evidence = excluded.evidence RETURNING id, seen_count",
                ))
                .bind(&a.id)
                .bind(&a.kind)
                .bind(&a.severity)
                .bind(&a.subject)
                .bind(&a.evidence)
                .bind(a.at)
                .fetch_one(&mut *tx)
                .await?;
                let new = id == a.id;
                let escalated = !new
                    && before.as_deref().is_some_and(|b| {
                        $crate::store::alerts::severity_rank(&a.severity)
                            > $crate::store::alerts::severity_rank(b)
                    });
                if new || escalated {
                    $crate::backend::insert_mail!(tx, mails);
                    if let Some(body) = webhook_body {
                        sqlx::query(
                            "INSERT INTO alert_webhooks (id, alert_id, body, state, attempts, \
                             next_attempt_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
                        )
                        .bind(uuid::Uuid::now_v7().to_string())
                        .bind(&id)
                        .bind(body)
                        .bind(a.at)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(AlertRaised {
                    id,
                    new,
                    escalated,
                    seen_count,
                })
            }

            async fn alert_by_id(&self, id: &str) -> Result<Option<AlertRow>> {
                Ok(sqlx::query_as::<_, AlertRow>(concat!(
                    "SELECT ",
                    alert_columns!(),
                    " FROM alerts WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn alerts_page(
                &self,
                filter: &AlertFilter,
                offset: i64,
                limit: i64,
            ) -> Result<Page<AlertRow>> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(
                    "SELECT ",
                    alert_columns!(),
                    " FROM alerts"
                ));
                push_alert_filter!(qb, filter);
                qb.push(" ORDER BY last_seen DESC, id DESC LIMIT ")
                    .push_bind(limit);
                qb.push(" OFFSET ").push_bind(offset);
                let items = qb.build_query_as::<AlertRow>().fetch_all(self.pool()).await?;
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM alerts");
                push_alert_filter!(qb, filter);
                let total: i64 = qb.build_query_scalar().fetch_one(self.pool()).await?;
                Ok(Page { items, total })
            }

            async fn alert_acknowledge(
                &self,
                id: &str,
                staff_id: &str,
                reason: &str,
                at: i64,
            ) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE alerts SET state = $2, acked_by = $3, ack_reason = $4, acked_at = $5 \
                     WHERE id = $1 AND state = $6",
                )
                .bind(id)
                .bind(alert_state::ACKNOWLEDGED)
                .bind(staff_id)
                .bind(reason)
                .bind(at)
                .bind(alert_state::OPEN)
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn alerts_close(
                &self,
                kind: &str,
                subject_prefix: &str,
                by: &str,
                at: i64,
            ) -> Result<u64> {
                let done = sqlx::query(
                    "UPDATE alerts SET state = $1, closed_by = $2, closed_at = $3 \
                     WHERE state <> $1 AND kind = $4 AND subject LIKE $5 ESCAPE '\\'",
                )
                .bind(alert_state::CLOSED)
                .bind(by)
                .bind(at)
                .bind(kind)
                .bind($crate::backend::like_prefix(subject_prefix))
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected())
            }

            async fn alert_webhook_claim(
                &self,
                limit: i64,
                lease_secs: i64,
                now: i64,
            ) -> Result<Vec<AlertWebhookRow>> {
                // A row another worker claimed meanwhile fails the outer re-check (PostgreSQL
                // re-evaluates it on the locked row), so no delivery is claimed twice at once.
                Ok(sqlx::query_as::<_, AlertWebhookRow>(concat!(
                    "UPDATE alert_webhooks SET attempts = attempts + 1, lease_until = $2 \
                     WHERE id IN (SELECT id FROM alert_webhooks WHERE state = 'pending' \
                     AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
                     ORDER BY next_attempt_at, id LIMIT $3) \
                     AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $1) \
                     RETURNING ",
                    webhook_columns!()
                ))
                .bind(now)
                .bind(now.saturating_add(lease_secs))
                .bind(limit)
                .fetch_all(self.pool())
                .await?)
            }

            async fn alert_webhook_sent(&self, id: &str, at: i64) -> Result<()> {
                sqlx::query(
                    "UPDATE alert_webhooks SET state = 'sent', sent_at = COALESCE(sent_at, $2), \
                     lease_until = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn alert_webhook_failed(
                &self,
                id: &str,
                next_attempt_at: Option<i64>,
                reason: &str,
            ) -> Result<()> {
                let q = match next_attempt_at {
                    Some(next) => sqlx::query(
                        "UPDATE alert_webhooks SET next_attempt_at = $2, last_error = $3, \
                         lease_until = NULL WHERE id = $1 AND state = 'pending'",
                    )
                    .bind(id)
                    .bind(next)
                    .bind(reason),
                    None => sqlx::query(
                        "UPDATE alert_webhooks SET state = 'dead', last_error = $2, \
                         lease_until = NULL WHERE id = $1 AND state = 'pending'",
                    )
                    .bind(id)
                    .bind(reason),
                };
                q.execute(self.pool()).await?;
                Ok(())
            }

            async fn alert_webhooks_of(&self, alert_id: &str) -> Result<Vec<AlertWebhookRow>> {
                Ok(sqlx::query_as::<_, AlertWebhookRow>(concat!(
                    "SELECT ",
                    webhook_columns!(),
                    " FROM alert_webhooks WHERE alert_id = $1 ORDER BY created_at, id"
                ))
                .bind(alert_id)
                .fetch_all(self.pool())
                .await?)
            }

            async fn guard_switch(&self, name: &str) -> Result<Option<GuardSwitchRow>> {
                Ok(sqlx::query_as::<_, GuardSwitchRow>(concat!(
                    "SELECT ",
                    switch_columns!(),
                    " FROM guard_switches WHERE name = $1"
                ))
                .bind(name)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn guard_switches_all(&self) -> Result<Vec<GuardSwitchRow>> {
                Ok(sqlx::query_as::<_, GuardSwitchRow>(concat!(
                    "SELECT ",
                    switch_columns!(),
                    " FROM guard_switches ORDER BY name"
                ))
                .fetch_all(self.pool())
                .await?)
            }

            async fn guard_switch_set(&self, row: &GuardSwitchRow) -> Result<()> {
                put_switch!(self.pool(), row);
                Ok(())
            }

            async fn guard_approve(&self, switch: &GuardSwitchRow, kinds: &[&str]) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                put_switch!(&mut *tx, switch);
                let mut closed = 0;
                for kind in kinds {
                    let done = sqlx::query(
                        "UPDATE alerts SET state = $1, closed_by = $2, closed_at = $3 \
                         WHERE state <> $1 AND kind = $4",
                    )
                    .bind(alert_state::CLOSED)
                    .bind(&switch.changed_by)
                    .bind(switch.changed_at)
                    .bind(*kind)
                    .execute(&mut *tx)
                    .await?;
                    closed += done.rows_affected();
                }
                tx.commit().await?;
                Ok(closed)
            }
        }
    };
}

impl_alert_store!(SqliteStore, sqlx::Sqlite);
impl_alert_store!(PgStore, sqlx::Postgres);
