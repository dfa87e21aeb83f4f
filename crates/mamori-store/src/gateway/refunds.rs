//! Refunds with their mail: the refund's row and the customer's mail in one transaction (see
//! [`crate::Refunds::refund_insert`]).

use super::{Gateway, MailDraft};
use crate::access::Accessor;
use crate::error::{Result, StoreError};
use crate::store::{RefundInsert, RefundRow};

impl Gateway {
    /// Records a refund of an order and queues `mail` to its customer in one transaction, if the
    /// order's refunds with it come to its total or less; a key seen before records nothing.
    /// With a mail, the write of [`super::fields::MAIL`] is recorded first, as in
    /// [`Gateway::transition_order_with_mail`] (a refund refused afterwards over-reports, never
    /// under-reports). [`StoreError::NotFound`] for an unknown order.
    pub async fn refund_with_mail(
        &self,
        acc: &Accessor,
        row: &RefundRow,
        mail: Option<MailDraft>,
    ) -> Result<RefundInsert> {
        let header = self
            .store
            .order_header(&row.order_id)
            .await?
            .ok_or(StoreError::NotFound { what: "order" })?;
        let rows = self
            .state_change_mail(acc, &row.order_id, &[header.state], mail)
            .await?
            .unwrap_or_default();
        self.store.refund_insert(row, header.total, &rows).await
    }
}
