//! What the gateway hands over and takes in: orders as checkout makes them and stored orders as
//! the gateway opens them. Plain data with personal values wrapped in `Personal`; the codec and
//! the gateway both use them, so they live here, below both.

use mamori_domain::{
    Address, DeliverySlot, Email, OrderItem, PaymentMethod, PersonName, Personal, PhoneNumber,
    Recipient, Yen,
};

use super::OrderHeader;

/// Buyer details copied onto an order at checkout.
#[derive(Clone, Debug)]
pub struct Buyer {
    /// Name.
    pub name: Personal<PersonName>,
    /// Email.
    pub email: Personal<Email>,
    /// Phone.
    pub phone: Personal<PhoneNumber>,
    /// Billing address.
    pub address: Personal<Address>,
}

/// One delivery of a new order.
#[derive(Clone, Debug)]
pub struct NewShipment {
    /// Who receives it (may differ from the buyer).
    pub recipient: Recipient,
    /// Requested date.
    pub delivery_date: Option<chrono::NaiveDate>,
    /// Requested slot.
    pub slot: DeliverySlot,
}

/// A new order as checkout hands it over.
#[derive(Clone, Debug)]
pub struct NewOrder {
    /// The buyer's customer id (member or guest).
    pub customer_id: String,
    /// Same key, same order: resubmits and second tabs do not make a second order.
    pub idempotency_key: String,
    /// How it is paid.
    pub payment_method: PaymentMethod,
    /// Buyer snapshot.
    pub buyer: Buyer,
    /// Lines.
    pub items: Vec<OrderItem>,
    /// Deliveries (at least one).
    pub shipments: Vec<NewShipment>,
    /// Shipping fee, tax included (every delivery's, as the shop's rates gave them at checkout;
    /// the order keeps it).
    pub shipping_fee: Yen,
    /// The payment method's fee (代引き手数料), tax included, as the shop's table gave it at
    /// checkout (the order keeps it); `None`: the standard table ([`PaymentMethod::fee`]).
    pub payment_fee: Option<Yen>,
}

/// What `place_order` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedOrder {
    /// Order id.
    pub order_id: String,
    /// True when the idempotency key had been used: the earlier order is returned, nothing new written.
    pub existing: bool,
}

/// A delivery of a stored order, decrypted.
#[derive(Clone, Debug)]
pub struct ShipmentView {
    /// Recipient.
    pub recipient: Recipient,
    /// Requested date.
    pub delivery_date: Option<String>,
    /// Slot code.
    pub slot: String,
}

/// A stored order, decrypted.
#[derive(Clone, Debug)]
pub struct OrderView {
    /// Non-personal header (amounts, state, numbers); its sealed fields are left as they are.
    pub header: OrderHeader,
    /// Buyer snapshot.
    pub buyer: Buyer,
    /// Lines.
    pub items: Vec<OrderItem>,
    /// The delivery (`shipment_no`, 1-based) each line goes to, parallel to `items`.
    pub item_shipments: Vec<i64>,
    /// Deliveries.
    pub shipments: Vec<ShipmentView>,
}
