//! [`IncidentStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{
    CardAttemptRow, CardPageVisitRow, IncidentRow, IncidentStore, NewIncidentRow, ReportVersionRow,
    ScopeRow, StoredCustomerRow, StoredOrderRow, TimelineRow,
};

/// Runs `insert`, an INSERT that reads the next number of its sequence in itself: two inserts
/// racing for one number meet the unique key, and the loser tries again (up to five times).
pub(super) async fn with_next_number<F, Fut>(mut insert: F) -> Result<i64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<i64, sqlx::Error>>,
{
    let mut tries = 0;
    loop {
        match insert().await {
            Ok(n) => return Ok(n),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() && tries < 5 => {
                tries += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The columns of [`IncidentRow`], in its field order.
macro_rules! incident_columns {
    () => {
        "id, kind, state, title, known_at, window_from, window_to, principal, malicious, alert_id, \
         opened_by, opened_at, updated_at"
    };
}

/// The columns of [`TimelineRow`], in its field order.
macro_rules! timeline_columns {
    () => {
        "incident_id, seq, at, kind, actor, text, ref_id, ledger_seq"
    };
}

/// The columns of [`ReportVersionRow`], in its field order.
macro_rules! report_columns {
    () => {
        "id, incident_id, kind, version, saved_at, saved_by, scope_id, content, content_sha256, \
         timeline_seq"
    };
}

/// The columns of [`ScopeRow`], in its field order.
macro_rules! scope_columns {
    () => {
        "id, incident_id, computed_at, computed_by, tree_size, root_hash, content, content_sha256"
    };
}

macro_rules! impl_incident_store {
    ($store:ty) => {
        #[async_trait]
        impl IncidentStore for $store {
            async fn incident_insert(&self, r: &NewIncidentRow) -> Result<i64> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO incidents (kind, state, title, known_at, window_from, window_to, \
                     principal, malicious, alert_id, opened_by, opened_at, updated_at) \
                     VALUES ($1, 'open', $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
                )
                .bind(&r.kind)
                .bind(&r.title)
                .bind(r.known_at)
                .bind(r.window_from)
                .bind(r.window_to)
                .bind(&r.principal)
                .bind(i64::from(r.malicious))
                .bind(&r.alert_id)
                .bind(&r.opened_by)
                .bind(r.opened_at)
                .fetch_one(self.pool())
                .await?;
                Ok(id)
            }

            async fn incident_by_id(&self, id: i64) -> Result<Option<IncidentRow>> {
                Ok(sqlx::query_as::<_, IncidentRow>(concat!(
                    "SELECT ",
                    incident_columns!(),
                    " FROM incidents WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn incidents_list(&self, offset: i64, limit: i64) -> Result<Vec<IncidentRow>> {
                Ok(sqlx::query_as::<_, IncidentRow>(concat!(
                    "SELECT ",
                    incident_columns!(),
                    " FROM incidents ORDER BY id DESC LIMIT $1 OFFSET $2"
                ))
                .bind(limit)
                .bind(offset)
                .fetch_all(self.pool())
                .await?)
            }

            async fn incident_set_state(&self, id: i64, state: &str, at: i64) -> Result<bool> {
                let done =
                    sqlx::query("UPDATE incidents SET state = $1, updated_at = $2 WHERE id = $3")
                        .bind(state)
                        .bind(at)
                        .bind(id)
                        .execute(self.pool())
                        .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn incident_timeline_append(&self, e: &TimelineRow) -> Result<i64> {
                with_next_number(|| {
                    sqlx::query_scalar(
                        "INSERT INTO incident_timeline (incident_id, seq, at, kind, actor, text, \
                         ref_id, ledger_seq) SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, \
                         $6, $7 FROM incident_timeline WHERE incident_id = $1 RETURNING seq",
                    )
                    .bind(e.incident_id)
                    .bind(e.at)
                    .bind(&e.kind)
                    .bind(&e.actor)
                    .bind(&e.text)
                    .bind(&e.ref_id)
                    .bind(e.ledger_seq)
                    .fetch_one(self.pool())
                })
                .await
            }

            async fn incident_timeline(&self, id: i64) -> Result<Vec<TimelineRow>> {
                Ok(sqlx::query_as::<_, TimelineRow>(concat!(
                    "SELECT ",
                    timeline_columns!(),
                    " FROM incident_timeline WHERE incident_id = $1 ORDER BY seq"
                ))
                .bind(id)
                .fetch_all(self.pool())
                .await?)
            }

            async fn incident_scope_save(&self, r: &ScopeRow) -> Result<()> {
                sqlx::query(concat!(
                    "INSERT INTO incident_scopes (",
                    scope_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(&r.id)
                .bind(r.incident_id)
                .bind(r.computed_at)
                .bind(&r.computed_by)
                .bind(r.tree_size)
                .bind(&r.root_hash)
                .bind(&r.content)
                .bind(&r.content_sha256)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn incident_scopes(&self, id: i64) -> Result<Vec<ScopeRow>> {
                Ok(sqlx::query_as::<_, ScopeRow>(concat!(
                    "SELECT ",
                    scope_columns!(),
                    " FROM incident_scopes WHERE incident_id = $1 ORDER BY computed_at, id"
                ))
                .bind(id)
                .fetch_all(self.pool())
                .await?)
            }

            async fn card_page_visits(&self, from: i64, to: i64) -> Result<Vec<CardPageVisitRow>> {
                Ok(sqlx::query_as::<_, CardPageVisitRow>(
                    "SELECT p.payment_id, p.created_at, p.brand, o.id AS order_id, o.order_number, \
                     o.customer_id, c.kind AS customer_kind, \
                     (SELECT COUNT(*) FROM shipments s WHERE s.order_id = o.id) AS shipments, \
                     (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id \
                      AND i.personalisation_ct IS NOT NULL) AS personalised_lines \
                     FROM payments p JOIN orders o ON o.id = p.order_id \
                     JOIN customers c ON c.id = o.customer_id \
                     WHERE p.created_at >= $1 AND p.created_at < $2 \
                     ORDER BY p.created_at, p.payment_id",
                )
                .bind(from)
                .bind(to)
                .fetch_all(self.pool())
                .await?)
            }

            async fn customers_stored_at(&self, at_us: i64) -> Result<Vec<StoredCustomerRow>> {
                Ok(sqlx::query_as::<_, StoredCustomerRow>(
                    "SELECT c.id AS customer_id, c.kind, c.erased_at, \
                     CAST(CASE WHEN c.name_ct IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_name, \
                     CAST(CASE WHEN c.email_ct IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_email, \
                     CAST(CASE WHEN c.phone_ct IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_phone, \
                     CAST(CASE WHEN c.birth_date_ct IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_birth_date, \
                     CAST(CASE WHEN c.gender_ct IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_gender, \
                     (SELECT COUNT(*) FROM addresses a WHERE a.customer_id = c.id \
                      AND a.created_at <= $1) AS addresses \
                     FROM customers c \
                     WHERE c.created_at <= $1 AND (c.erased_at IS NULL OR c.erased_at > $1) \
                     ORDER BY c.id",
                )
                .bind(at_us)
                .fetch_all(self.pool())
                .await?)
            }

            async fn card_page_attempts(&self, from: i64, to: i64) -> Result<Vec<CardAttemptRow>> {
                Ok(sqlx::query_as::<_, CardAttemptRow>(
                    "SELECT p.payment_id, p.provider, p.brand, p.created_at, p.amount, p.status, \
                     o.order_number FROM payments p JOIN orders o ON o.id = p.order_id \
                     WHERE p.created_at >= $1 AND p.created_at < $2 \
                     ORDER BY p.created_at, p.payment_id",
                )
                .bind(from)
                .bind(to)
                .fetch_all(self.pool())
                .await?)
            }

            async fn orders_stored_at(&self, at_us: i64) -> Result<Vec<StoredOrderRow>> {
                Ok(sqlx::query_as::<_, StoredOrderRow>(
                    "SELECT o.id AS order_id, o.customer_id, \
                     (SELECT COUNT(*) FROM shipments s WHERE s.order_id = o.id) AS shipments, \
                     (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id \
                      AND i.personalisation_ct IS NOT NULL) AS personalised_lines, \
                     (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id \
                      AND i.noshi_ct IS NOT NULL) AS noshi_lines \
                     FROM orders o JOIN customers c ON c.id = o.customer_id \
                     WHERE o.placed_at <= $1 AND c.created_at <= $1 \
                     AND (c.erased_at IS NULL OR c.erased_at > $1) \
                     ORDER BY o.id",
                )
                .bind(at_us)
                .fetch_all(self.pool())
                .await?)
            }

            async fn incident_report_save(&self, r: &ReportVersionRow) -> Result<i64> {
                with_next_number(|| {
                    sqlx::query_scalar(
                        "INSERT INTO incident_reports (id, incident_id, kind, version, saved_at, \
                         saved_by, scope_id, content, content_sha256, timeline_seq) \
                         SELECT $1, $2, $3, COALESCE(MAX(version), 0) + 1, $4, $5, $6, $7, $8, $9 \
                         FROM incident_reports WHERE incident_id = $2 AND kind = $3 \
                         RETURNING version",
                    )
                    .bind(&r.id)
                    .bind(r.incident_id)
                    .bind(&r.kind)
                    .bind(r.saved_at)
                    .bind(&r.saved_by)
                    .bind(&r.scope_id)
                    .bind(&r.content)
                    .bind(&r.content_sha256)
                    .bind(r.timeline_seq)
                    .fetch_one(self.pool())
                })
                .await
            }

            async fn incident_reports(&self, id: i64) -> Result<Vec<ReportVersionRow>> {
                Ok(sqlx::query_as::<_, ReportVersionRow>(concat!(
                    "SELECT ",
                    report_columns!(),
                    " FROM incident_reports WHERE incident_id = $1 ORDER BY saved_at, kind, version"
                ))
                .bind(id)
                .fetch_all(self.pool())
                .await?)
            }
        }
    };
}

impl_incident_store!(SqliteStore);
impl_incident_store!(PgStore);
