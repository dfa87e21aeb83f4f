//! An order's later mails: whom to write to (a recorded read of the buyer's name and email), and
//! shipping with its mail (the state, the tracking numbers and the queued mail in one
//! transaction, see [`crate::Fulfilment::ship_order`]).

use mamori_domain::{Email, PersonName, Personal};

use super::{Gateway, MailDraft};
use crate::access::{Accessor, Action};
use crate::codec;
use crate::error::Result;

impl Gateway {
    /// Moves an order from one of `from` to `to` (compare-and-set), records each delivery's
    /// tracking number (`(shipment_no, number)`) and queues `mail` to the order's customer, in
    /// one transaction. False when the order is missing or not in one of `from` (nothing
    /// changed, no mail). With a mail, the write of [`fields::MAIL`] is recorded first, as in
    /// [`Gateway::transition_order_with_mail`].
    pub async fn ship_order_with_mail(
        &self,
        acc: &Accessor,
        order_id: &str,
        from: &[mamori_domain::OrderState],
        to: mamori_domain::OrderState,
        tracking: &[(i64, String)],
        mail: Option<MailDraft>,
    ) -> Result<bool> {
        let Some(rows) = self.state_change_mail(acc, order_id, from, mail).await? else {
            return Ok(false);
        };
        self.store
            .ship_order(order_id, from, to, crate::now(), tracking, &rows)
            .await
    }
}

/// The ledger's names of what a mail about an order needs from it: whom to write to.
pub const CONTACT_FIELDS: &[&str] = &["orders.buyer_name", "orders.buyer_email"];

impl Gateway {
    /// The buyer's name and email of an order, to write to them about it (a notice that it was
    /// paid, shipped, cancelled or refunded). Recorded first as one [`Action::Read`] naming the
    /// order's customer and [`CONTACT_FIELDS`]. `None` (nothing recorded) when the customer was
    /// erased: there is no one to write to. [`crate::StoreError::NotFound`] for an unknown
    /// order.
    pub async fn order_contact(
        &self,
        acc: &Accessor,
        order_id: &str,
    ) -> Result<Option<(Personal<PersonName>, Personal<Email>)>> {
        let o = self
            .store
            .order_row(order_id)
            .await?
            .ok_or(crate::StoreError::NotFound { what: "order" })?;
        if o.buyer_name_ct.is_none() || o.buyer_email_ct.is_none() {
            return Ok(None);
        }
        self.record(
            acc,
            Action::Read,
            vec![o.customer_id.clone()],
            CONTACT_FIELDS,
        )
        .await?;
        let key = self.data_key(&o.customer_id).await?;
        const T: &str = "orders";
        let name = codec::open_name(&key, T, "buyer_name", &o.id, &o.buyer_name_ct)?;
        let email = codec::open_email(&key, T, "buyer_email", &o.id, &o.buyer_email_ct)?;
        Ok(name
            .zip(email)
            .map(|(n, e)| (Personal::new(n), Personal::new(e))))
    }
}
