//! What an order's mails need beyond the order itself (migration `0008_order_mail.sql`): the
//! language the customer ordered in, and the carriers' tracking numbers of its deliveries. Both
//! are stored in the clear (neither names a person), so they are part of [`crate::Records`];
//! written once for both backends.

use async_trait::async_trait;
use mamori_domain::Language;

use crate::backend::{PgStore, SqliteStore};
use crate::error::{Result, StoreError};
use crate::model::OutboxRow;

/// `ja` or `en`, as `orders.mail_lang` holds it.
pub fn lang_code(lang: Language) -> &'static str {
    match lang {
        Language::Ja => "ja",
        Language::En => "en",
    }
}

/// The language of a stored code (anything but `en` is Japanese, the shop's first language).
pub fn lang_of(code: &str) -> Language {
    if code == "en" {
        Language::En
    } else {
        Language::Ja
    }
}

/// Order mail language and tracking numbers.
#[async_trait]
pub trait Fulfilment: Send + Sync {
    /// Records the language the customer ordered in ([`StoreError::NotFound`] for an unknown
    /// order).
    async fn set_order_mail_lang(&self, order_id: &str, lang: Language) -> Result<()>;
    /// The language to write the order's mails in (Japanese for orders from before it was
    /// recorded); `None` for an unknown order.
    async fn order_mail_lang(&self, order_id: &str) -> Result<Option<Language>>;
    /// Ships an order: moves it from one of `from` to `to` (compare-and-set, like
    /// [`crate::Store::transition_order`]), sets the tracking number of each delivery
    /// (`(shipment_no, number)`), and queues `mail`, all in one transaction. False (nothing
    /// changed, no mail) when the order is missing or not in one of `from`.
    async fn ship_order(
        &self,
        order_id: &str,
        from: &[mamori_domain::OrderState],
        to: mamori_domain::OrderState,
        at: i64,
        tracking: &[(i64, String)],
        mail: &[OutboxRow],
    ) -> Result<bool>;
    /// The tracking numbers of an order's deliveries, by `shipment_no` (None until shipped).
    async fn tracking_numbers(&self, order_id: &str) -> Result<Vec<(i64, Option<String>)>>;
}

macro_rules! impl_fulfilment {
    ($store:ty) => {
        #[async_trait]
        impl Fulfilment for $store {
            async fn set_order_mail_lang(&self, order_id: &str, lang: Language) -> Result<()> {
                let done = sqlx::query("UPDATE orders SET mail_lang = $1 WHERE id = $2")
                    .bind(lang_code(lang))
                    .bind(order_id)
                    .execute(self.pool())
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { what: "order" });
                }
                Ok(())
            }

            async fn order_mail_lang(&self, order_id: &str) -> Result<Option<Language>> {
                let code: Option<String> =
                    sqlx::query_scalar("SELECT mail_lang FROM orders WHERE id = $1")
                        .bind(order_id)
                        .fetch_optional(self.pool())
                        .await?;
                Ok(code.as_deref().map(lang_of))
            }

            async fn ship_order(
                &self,
                order_id: &str,
                from: &[mamori_domain::OrderState],
                to: mamori_domain::OrderState,
                at: i64,
                tracking: &[(i64, String)],
                mail: &[OutboxRow],
            ) -> Result<bool> {
                if from.is_empty() {
                    return Ok(false);
                }
                let placeholders: Vec<String> =
                    (0..from.len()).map(|i| format!("${}", i + 4)).collect();
                let sql = format!(
                    "UPDATE orders SET state = $1, updated_at = $2 WHERE id = $3 AND state IN ({})",
                    placeholders.join(", ")
                );
                let mut tx = self.begin_write().await?;
                let mut q = sqlx::query(&sql)
                    .bind(to.as_str())
                    .bind(at.saturating_mul(1_000_000))
                    .bind(order_id);
                for f in from {
                    q = q.bind(f.as_str());
                }
                if q.execute(&mut *tx).await?.rows_affected() != 1 {
                    // Dropping the transaction rolls it back; nothing was written.
                    return Ok(false);
                }
                for (no, number) in tracking {
                    sqlx::query(
                        "UPDATE shipments SET tracking_number = $1 \
                         WHERE order_id = $2 AND shipment_no = $3",
                    )
                    .bind(number)
                    .bind(order_id)
                    .bind(*no)
                    .execute(&mut *tx)
                    .await?;
                }
                $crate::backend::insert_mail!(tx, mail);
                tx.commit().await?;
                Ok(true)
            }

            async fn tracking_numbers(&self, order_id: &str) -> Result<Vec<(i64, Option<String>)>> {
                Ok(sqlx::query_as(
                    "SELECT shipment_no, tracking_number FROM shipments \
                     WHERE order_id = $1 ORDER BY shipment_no",
                )
                .bind(order_id)
                .fetch_all(self.pool())
                .await?)
            }
        }
    };
}

impl_fulfilment!(SqliteStore);
impl_fulfilment!(PgStore);
