//! The 名入れ and のし of an order for the member of staff who makes them (the engraving, the
//! printed noshi): a recorded read, like a reveal.
//!
//! The masked order view says only whether a line has 名入れ or のし. What is to be engraved or
//! printed is personal (a child's name, a birth date, the giver's name), so it leaves the gateway
//! only through [`Gateway::order_gifts`] (or the shipping CSV, whose one event names these fields
//! too): recorded first as [`Action::Read`] naming the order's customer and exactly the gift
//! fields the order has, with the accessor's purpose (and reason, if one was given).

use mamori_domain::{Noshi, Personal, Personalisation};

use super::Gateway;
use crate::access::{Accessor, Action};
use crate::codec;
use crate::error::{Result, StoreError};
use crate::model::OrderItemRow;

/// The ledger's name of a line's 名入れ.
pub const PERSONALISATION_FIELD: &str = "order_items.personalisation";
/// The ledger's name of a line's のし.
pub const NOSHI_FIELD: &str = "order_items.noshi";
/// Both gift fields.
pub const GIFT_FIELDS: &[&str] = &[PERSONALISATION_FIELD, NOSHI_FIELD];

/// The gift parts of one order line, as the person making them needs them.
#[derive(Clone, Debug, Default)]
pub struct OrderLineGift {
    /// 1-based line number.
    pub line_no: i64,
    /// Product name at order time.
    pub product_name: String,
    /// 名入れ: the text to engrave, with its date if one was given (`蒼太郎 2025-05-05`).
    pub personalisation: Option<Personal<String>>,
    /// のし: the purpose (表書き) and the name under it (`内祝 / 山田`).
    pub noshi: Option<Personal<String>>,
}

/// `蒼太郎` or `蒼太郎 2025-05-05`.
pub fn personalisation_text(p: &Personalisation) -> String {
    match p.birth_date() {
        Some(b) => format!("{} {}", p.name().expose(), codec::birth_text(b.expose())),
        None => p.name().expose().clone(),
    }
}

/// `内祝` or `内祝 / 山田` (表書き, then the name printed under it).
pub fn noshi_text(n: &Noshi) -> String {
    match n.name() {
        Some(name) => format!("{} / {}", n.purpose().label_ja(), name.expose()),
        None => n.purpose().label_ja().to_owned(),
    }
}

/// The gift fields present on these lines (what a read of them names), in ledger order.
pub(crate) fn present_fields(items: &[OrderItemRow]) -> Vec<&'static str> {
    let mut out = Vec::new();
    if items.iter().any(|i| i.personalisation_ct.is_some()) {
        out.push(PERSONALISATION_FIELD);
    }
    if items.iter().any(|i| i.noshi_ct.is_some()) {
        out.push(NOSHI_FIELD);
    }
    out
}

/// A line's 名入れ and のし as text, each if present.
pub(crate) type GiftTexts = (Option<Personal<String>>, Option<Personal<String>>);

/// Opens one line's gifts as text (the caller has recorded the read).
pub(crate) fn open_line(
    key: &mamori_vault::DataKey,
    order_id: &str,
    it: &OrderItemRow,
) -> Result<GiftTexts> {
    let (p, n) = codec::open_gifts(key, order_id, it)?;
    Ok((
        p.as_ref().map(|p| Personal::new(personalisation_text(p))),
        n.as_ref().map(|n| Personal::new(noshi_text(n))),
    ))
}

impl Gateway {
    /// The 名入れ and のし of an order's lines (only the lines that have one), for the member of
    /// staff who makes them. Recorded first as one [`Action::Read`] naming the order's customer
    /// and the gift fields the order has (`order_items.personalisation`, `order_items.noshi`),
    /// with the accessor's purpose and reason. An order without gifts records nothing and gives
    /// an empty list.
    ///
    /// [`StoreError::NotFound`] for an unknown order; [`StoreError::Erased`] when its customer was
    /// erased (nothing recorded).
    pub async fn order_gifts(&self, acc: &Accessor, order_id: &str) -> Result<Vec<OrderLineGift>> {
        let b = self
            .store
            .order(order_id)
            .await?
            .ok_or(StoreError::NotFound { what: "order" })?;
        if b.order.buyer_name_ct.is_none() {
            return Err(StoreError::Erased(b.order.customer_id.clone()));
        }
        let names = present_fields(&b.items);
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let customer = b.order.customer_id.clone();
        self.record(acc, Action::Read, vec![customer.clone()], &names)
            .await?;
        let key = self.data_key(&customer).await?;
        let mut out = Vec::new();
        for it in &b.items {
            if it.personalisation_ct.is_none() && it.noshi_ct.is_none() {
                continue;
            }
            let (personalisation, noshi) = open_line(&key, &b.order.id, it)?;
            out.push(OrderLineGift {
                line_no: it.line_no,
                product_name: it.product_name.clone(),
                personalisation,
                noshi,
            });
        }
        Ok(out)
    }
}
