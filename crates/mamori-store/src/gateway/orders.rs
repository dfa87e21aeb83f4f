//! Orders: placing them (once per idempotency key), reading them back, moving their state with mail.

use super::*;

impl Gateway {
    /// Writes an order once per idempotency key, recording the collection of its personal parts.
    pub async fn place_order(
        &self,
        acc: &Accessor,
        order: &NewOrder,
        order_number: &str,
    ) -> Result<PlacedOrder> {
        self.place_order_with_mail(acc, order, order_number, None)
            .await
    }

    /// [`Gateway::place_order`] that also queues `mail` (e.g. the order confirmation) in the
    /// order's transaction: the mail exists if and only if the order was written. A resubmission
    /// with a used idempotency key returns the earlier order and queues nothing.
    pub async fn place_order_with_mail(
        &self,
        acc: &Accessor,
        order: &NewOrder,
        order_number: &str,
        mail: Option<MailDraft>,
    ) -> Result<PlacedOrder> {
        self.place_order_split(acc, order, order_number, mail, &[])
            .await
    }

    /// [`Gateway::place_order_with_mail`] for an order with several deliveries: `item_shipments`
    /// gives the delivery of each line (1-based into `order.shipments`, parallel to
    /// `order.items`; stored as `order_items.shipment_no`). Empty sends every line with the
    /// first delivery. [`StoreError::BadInput`] when it does not fit the order (nothing recorded).
    pub async fn place_order_split(
        &self,
        acc: &Accessor,
        order: &NewOrder,
        order_number: &str,
        mail: Option<MailDraft>,
        item_shipments: &[i64],
    ) -> Result<PlacedOrder> {
        if !item_shipments.is_empty()
            && (item_shipments.len() != order.items.len()
                || item_shipments
                    .iter()
                    .any(|n| *n < 1 || *n > order.shipments.len() as i64))
        {
            return Err(StoreError::BadInput {
                field: "item_shipments",
                reason: "every order line needs one of the order's deliveries",
            });
        }
        if order.shipments.is_empty() || order.items.is_empty() {
            return Err(StoreError::BadInput {
                field: "order",
                reason: "an order needs at least one item and one delivery",
            });
        }
        self.record(
            acc,
            Action::Write,
            vec![order.customer_id.clone()],
            &fields::with_mail(fields::ORDER, mail.is_some()),
        )
        .await?;
        let key = self.data_key(&order.customer_id).await?;
        let id = new_id();
        let bundle = codec::seal_order(&key, &id, order_number, order, item_shipments)?;
        let mail = mail_rows(&key, &order.customer_id, mail.as_ref())?;
        match self.store.insert_order_with_mail(&bundle, &mail).await? {
            OrderInsert::Inserted => Ok(PlacedOrder {
                order_id: id,
                existing: false,
            }),
            OrderInsert::Existing { order_id } => Ok(PlacedOrder {
                order_id,
                existing: true,
            }),
        }
    }

    /// A customer's order history (no personal fields decrypted, but recorded as a look at their orders).
    pub async fn orders_of(&self, acc: &Accessor, customer_id: &str) -> Result<Vec<OrderHeader>> {
        let rows = self.store.orders_of(customer_id).await?;
        self.record(
            acc,
            Action::Read,
            vec![customer_id.to_owned()],
            fields::ORDER_SUMMARY,
        )
        .await?;
        Ok(rows)
    }

    /// One order with its personal parts decrypted.
    pub async fn order(&self, acc: &Accessor, order_id: &str) -> Result<OrderView> {
        let bundle = self
            .store
            .order(order_id)
            .await?
            .ok_or(StoreError::NotFound { what: "order" })?;
        let customer_id = bundle.order.customer_id.clone();
        self.record(acc, Action::Read, vec![customer_id.clone()], fields::ORDER)
            .await?;
        let key = self.data_key(&customer_id).await?;
        codec::open_order(&key, bundle)
    }

    /// Moves an order to its next state (no personal data involved); [`StoreError::Transition`]
    /// when the state machine does not allow the event.
    pub fn next_state(
        current: OrderState,
        event: mamori_domain::OrderEvent,
        method: PaymentMethod,
    ) -> Result<OrderState> {
        current.apply(event, method).map_err(StoreError::Transition)
    }

    /// Moves an order from one of the states `from` to `to` (compare-and-set, e.g. a payment
    /// webhook moving `pending_payment` to `paid`), queueing `mail` to the order's customer in the
    /// same transaction. False when the order is missing or not in one of `from`: then nothing
    /// changed and no mail was queued, so a replayed webhook does not send a second mail.
    ///
    /// With a mail, the write of [`fields::MAIL`] is recorded first (the order's state itself is
    /// not personal); an erased customer's order gives [`StoreError::Erased`] and stays as it was
    /// (move it without a mail).
    pub async fn transition_order_with_mail(
        &self,
        acc: &Accessor,
        order_id: &str,
        from: &[OrderState],
        to: OrderState,
        mail: Option<MailDraft>,
    ) -> Result<bool> {
        let Some(rows) = self.state_change_mail(acc, order_id, from, mail).await? else {
            return Ok(false);
        };
        self.store
            .transition_order(order_id, from, to, now(), &rows)
            .await
    }

    /// The outbox rows of a mail about an order's change of state, sealed with the customer's
    /// key after the write of [`fields::MAIL`] is recorded. `None` when the order is missing or
    /// not in one of `from` (then nothing is recorded: the change will not happen); no rows
    /// without a mail.
    pub(super) async fn state_change_mail(
        &self,
        acc: &Accessor,
        order_id: &str,
        from: &[OrderState],
        mail: Option<MailDraft>,
    ) -> Result<Option<Vec<OutboxRow>>> {
        let Some(m) = mail else {
            return Ok(Some(Vec::new()));
        };
        let Some(header) = self.store.order_header(order_id).await? else {
            return Ok(None);
        };
        if !from.contains(&header.state) {
            return Ok(None);
        }
        let customer_id = header.customer_id;
        self.record(
            acc,
            Action::Write,
            vec![customer_id.clone()],
            &[fields::MAIL],
        )
        .await?;
        let key = self.data_key(&customer_id).await?;
        Ok(Some(mail_rows(&key, &customer_id, Some(&m))?))
    }
}
