//! What the incident desk needs from personal values without seeing one: whether an order's
//! deliveries went to someone other than its buyer. The values are opened inside the gateway,
//! compared, and only the answer (shipment numbers) leaves; the opening is recorded first, like
//! every masked read.

use super::*;

/// The fields opened to tell a delivery's recipient from the buyer.
pub const RECIPIENT_COMPARE_FIELDS: &[&str] = &[
    "orders.buyer_name",
    "orders.buyer_address",
    "shipments.name",
    "shipments.address",
];

/// The deliveries of one order whose recipient is not its buyer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherRecipients {
    /// The order.
    pub order_id: String,
    /// The buyer.
    pub customer_id: String,
    /// Shipment numbers (1-based) whose recipient's name or address differs from the buyer's.
    pub shipment_nos: Vec<i64>,
    /// False when the buyer's key is gone (erased): nothing could be compared, so every
    /// delivery is listed (the desk over-reports rather than under-reports).
    pub compared: bool,
}

impl Gateway {
    /// For each order, the deliveries whose recipient (name or address) is not the buyer. One
    /// access event ([`Action::ReadMasked`], [`RECIPIENT_COMPARE_FIELDS`]) names every buyer
    /// before anything is opened; only shipment numbers leave the gateway.
    pub async fn recipients_other_than_buyer(
        &self,
        acc: &Accessor,
        order_ids: &[String],
    ) -> Result<Vec<OtherRecipients>> {
        let mut bundles = Vec::with_capacity(order_ids.len());
        for id in order_ids {
            let bundle = self
                .store
                .order(id)
                .await?
                .ok_or(StoreError::NotFound { what: "order" })?;
            bundles.push(bundle);
        }
        if bundles.is_empty() {
            return Ok(Vec::new());
        }
        let mut customers: Vec<String> = bundles
            .iter()
            .map(|b| b.order.customer_id.clone())
            .collect();
        customers.sort_unstable();
        customers.dedup();
        self.record(acc, Action::ReadMasked, customers, RECIPIENT_COMPARE_FIELDS)
            .await?;
        let mut out = Vec::with_capacity(bundles.len());
        for bundle in bundles {
            let order_id = bundle.order.id.clone();
            let customer_id = bundle.order.customer_id.clone();
            let all: Vec<i64> = bundle.shipments.iter().map(|s| s.shipment_no).collect();
            let key = match self.data_key(&customer_id).await {
                Ok(k) => k,
                Err(StoreError::Erased(_)) => {
                    out.push(OtherRecipients {
                        order_id,
                        customer_id,
                        shipment_nos: all,
                        compared: false,
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            let view = codec::open_order(&key, bundle)?;
            let buyer_name = view.buyer.name.expose();
            let buyer_address = view.buyer.address.expose();
            let mut shipment_nos = Vec::new();
            for (no, s) in all.iter().zip(view.shipments.iter()) {
                if s.recipient.name.expose() != buyer_name
                    || s.recipient.address.expose() != buyer_address
                {
                    shipment_nos.push(*no);
                }
            }
            out.push(OtherRecipients {
                order_id,
                customer_id,
                shipment_nos,
                compared: true,
            });
        }
        Ok(out)
    }
}
