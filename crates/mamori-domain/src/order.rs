//! Order lines and the order state machine.

use std::borrow::Cow;

use serde::Deserialize;

use crate::error::{AmountOverflow, Language, Localized};
use crate::gift::{Noshi, Personalisation};
use crate::labels::labelled_enum;
use crate::money::{invoice_totals, InvoiceLine, InvoiceTotals, TaxRate, Yen};
use crate::payment::PaymentMethod;

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderItem {
    /// Stock-keeping unit of the product.
    pub sku: String,
    /// Product name at the time of the order.
    pub product_name: String,
    /// Unit price including tax (prices are shown tax-included, 総額表示).
    pub unit_price_incl: Yen,
    /// Tax rate of the product.
    pub rate: TaxRate,
    /// Number of units.
    pub quantity: u32,
    /// Engraving, if ordered.
    #[serde(default)]
    pub personalisation: Option<Personalisation>,
    /// Noshi wrapping, if ordered.
    #[serde(default)]
    pub noshi: Option<Noshi>,
}

impl OrderItem {
    /// `unit_price_incl × quantity`, or an error on overflow.
    pub fn line_total(&self) -> Result<Yen, AmountOverflow> {
        self.unit_price_incl.checked_mul_qty(self.quantity)
    }

    /// The line as it enters the invoice totals.
    pub fn invoice_line(&self) -> Result<InvoiceLine, AmountOverflow> {
        Ok(InvoiceLine {
            rate: self.rate,
            amount_incl: self.line_total()?,
        })
    }
}

/// Invoice totals of an order's items (tax once per rate).
pub fn order_invoice_totals(items: &[OrderItem]) -> Result<InvoiceTotals, AmountOverflow> {
    let lines = items
        .iter()
        .map(OrderItem::invoice_line)
        .collect::<Result<Vec<_>, _>>()?;
    invoice_totals(&lines)
}

labelled_enum! {
    /// Where an order is in its life.
    pub enum OrderState / UnknownOrderState ("unknown order state", "注文ステータスの値が正しくありません") {
        /// 入金待ち: placed, not yet paid (or, for pay-on-handover methods, not
        /// yet being prepared).
        PendingPayment => ("pending_payment", "入金待ち", "Awaiting payment"),
        /// 入金済み: paid in advance, not yet being prepared.
        Paid => ("paid", "入金済み", "Paid"),
        /// 発送準備中.
        Preparing => ("preparing", "発送準備中", "Preparing for shipment"),
        /// 発送済み (for store pickup: ready at the store).
        Shipped => ("shipped", "発送済み", "Shipped"),
        /// 配達完了 (for cash on delivery and store pickup this is also when
        /// payment is collected).
        Delivered => ("delivered", "配達完了", "Delivered"),
        /// キャンセル: cancelled before any money was taken.
        Cancelled => ("cancelled", "キャンセル", "Cancelled"),
        /// 返金済み: money was taken and returned.
        Refunded => ("refunded", "返金済み", "Refunded"),
    }
}

/// A new order starts waiting for its payment.
impl Default for OrderState {
    fn default() -> Self {
        Self::PendingPayment
    }
}

labelled_enum! {
    /// Something that happens to an order.
    pub enum OrderEvent / UnknownOrderEvent ("unknown order event", "注文操作の値が正しくありません") {
        /// 入金確認: an advance payment arrived.
        PaymentConfirmed => ("payment_confirmed", "入金確認", "Payment confirmed"),
        /// 発送準備開始.
        StartPreparing => ("start_preparing", "発送準備開始", "Start preparing"),
        /// 発送.
        Ship => ("ship", "発送", "Ship"),
        /// 配達完了確認.
        ConfirmDelivery => ("confirm_delivery", "配達完了確認", "Confirm delivery"),
        /// キャンセル.
        Cancel => ("cancel", "キャンセル", "Cancel"),
        /// 返金.
        Refund => ("refund", "返金", "Refund"),
    }
}

/// An event that the state machine does not allow in the current state.
/// Carries only enum values, never order contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("cannot apply {} to an order in state {} paid by {}", event.as_str(), from.as_str(), method.as_str())]
pub struct InvalidTransition {
    /// State the order was in.
    pub from: OrderState,
    /// Rejected event.
    pub event: OrderEvent,
    /// Payment method of the order.
    pub method: PaymentMethod,
}

impl InvalidTransition {
    /// Japanese message for back-office staff.
    #[must_use]
    pub fn message_ja(&self) -> String {
        format!(
            "「{}」の注文（{}）に「{}」は実行できません",
            self.from.label_ja(),
            self.method.label_ja(),
            self.event.label_ja()
        )
    }

    /// English message.
    #[must_use]
    pub fn message_en(&self) -> String {
        format!(
            "Cannot {} an order that is {} ({})",
            self.event.label_en().to_lowercase(),
            self.from.label_en().to_lowercase(),
            self.method.label_en().to_lowercase()
        )
    }
}

impl Localized for InvalidTransition {
    fn message(&self, lang: Language) -> Cow<'static, str> {
        Cow::Owned(match lang {
            Language::Ja => self.message_ja(),
            Language::En => self.message_en(),
        })
    }
}

impl OrderEvent {
    /// The event's name on a button for an order paid by `method`: for store pickup 受取準備開始,
    /// 受取準備完了 and 受け渡し完了 where delivered orders are prepared, shipped and delivered.
    #[must_use]
    pub fn label_for(self, method: PaymentMethod, lang: Language) -> &'static str {
        let pickup = method == PaymentMethod::StorePickup;
        match (self, pickup, lang) {
            (OrderEvent::StartPreparing, true, Language::Ja) => "受取準備開始",
            (OrderEvent::StartPreparing, true, Language::En) => "Start preparing for pickup",
            (OrderEvent::Ship, true, Language::Ja) => "受取準備完了",
            (OrderEvent::Ship, true, Language::En) => "Ready for pickup",
            (OrderEvent::ConfirmDelivery, true, Language::Ja) => "受け渡し完了",
            (OrderEvent::ConfirmDelivery, true, Language::En) => "Handed over",
            (_, _, Language::Ja) => self.label_ja(),
            (_, _, Language::En) => self.label_en(),
        }
    }
}

impl OrderState {
    /// The state an order starts in, whatever the payment method.
    pub const INITIAL: OrderState = OrderState::PendingPayment;

    /// Applies an event.
    ///
    /// Rules:
    /// - prepaid methods (card, bank transfer): 入金待ち → 入金済み →
    ///   発送準備中 → 発送済み → 配達完了; preparing needs payment first;
    /// - pay-on-handover methods (代引き, store pickup): 入金待ち → 発送準備中
    ///   directly, payment is collected at delivery; `PaymentConfirmed` is
    ///   never valid for them, and `Paid` is not a state they can be in;
    /// - `Cancel` only before anything was collected and before shipping:
    ///   from 入金待ち, and for pay-on-handover also from 発送準備中; a paid
    ///   order is ended with `Refund` instead;
    /// - `Refund` only after payment: prepaid orders from 入金済み on, pay-on-
    ///   handover orders only once delivered;
    /// - キャンセル and 返金済み are final.
    pub fn apply(
        self,
        event: OrderEvent,
        method: PaymentMethod,
    ) -> Result<OrderState, InvalidTransition> {
        use OrderEvent as E;
        use OrderState as S;
        let on_handover = method.collects_on_handover();
        let next = match (self, event) {
            (S::PendingPayment, E::PaymentConfirmed) if !on_handover => S::Paid,
            (S::PendingPayment, E::StartPreparing) if on_handover => S::Preparing,
            (S::PendingPayment, E::Cancel) => S::Cancelled,
            (S::Paid, E::StartPreparing) if !on_handover => S::Preparing,
            (S::Paid | S::Preparing | S::Shipped, E::Refund) if !on_handover => S::Refunded,
            (S::Preparing, E::Ship) => S::Shipped,
            (S::Preparing, E::Cancel) if on_handover => S::Cancelled,
            (S::Shipped, E::ConfirmDelivery) => S::Delivered,
            (S::Delivered, E::Refund) => S::Refunded,
            _ => {
                return Err(InvalidTransition {
                    from: self,
                    event,
                    method,
                })
            }
        };
        Ok(next)
    }

    /// Events that [`OrderState::apply`] accepts now, for showing buttons in
    /// the back office.
    #[must_use]
    pub fn allowed_events(self, method: PaymentMethod) -> Vec<OrderEvent> {
        OrderEvent::ALL
            .iter()
            .copied()
            .filter(|e| self.apply(*e, method).is_ok())
            .collect()
    }

    /// Events a member of staff may take now: [`OrderState::allowed_events`] without 入金確認 for
    /// card orders, whose payment only the provider confirms (its signed webhook or the lookup on
    /// the customer's return); a card order waiting for payment was declined or abandoned.
    #[must_use]
    pub fn staff_events(self, method: PaymentMethod) -> Vec<OrderEvent> {
        self.allowed_events(method)
            .into_iter()
            .filter(|e| !(method == PaymentMethod::Card && *e == OrderEvent::PaymentConfirmed))
            .collect()
    }

    /// Whether the order's money has been received, so a receipt (領収書) may be issued:
    /// prepaid orders from 入金済み until a refund, pay-on-handover orders once delivered (the
    /// money is collected at the door or the counter).
    #[must_use]
    pub fn is_paid_for(self, method: PaymentMethod) -> bool {
        if method.collects_on_handover() {
            matches!(self, OrderState::Delivered)
        } else {
            matches!(
                self,
                OrderState::Paid
                    | OrderState::Preparing
                    | OrderState::Shipped
                    | OrderState::Delivered
            )
        }
    }

    /// The state's name for a customer who pays with `method`: a store-pickup order is
    /// 受取準備完了 (ready for pickup) where others are shipped, and お受け取り済み (picked up)
    /// where others are delivered.
    #[must_use]
    pub fn label_for(self, method: PaymentMethod, lang: Language) -> &'static str {
        let pickup = method == PaymentMethod::StorePickup;
        match (self, pickup, lang) {
            (OrderState::Preparing, true, Language::Ja) => "受取準備中",
            (OrderState::Preparing, true, Language::En) => "Being prepared for pickup",
            (OrderState::Shipped, true, Language::Ja) => "受取準備完了",
            (OrderState::Shipped, true, Language::En) => "Ready for pickup",
            (OrderState::Delivered, true, Language::Ja) => "お受け取り済み",
            (OrderState::Delivered, true, Language::En) => "Picked up",
            (_, _, Language::Ja) => self.label_ja(),
            (_, _, Language::En) => self.label_en(),
        }
    }

    /// Whether no event can change the state any more.
    #[must_use]
    pub const fn is_final(self) -> bool {
        matches!(self, OrderState::Cancelled | OrderState::Refunded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderEvent as E;
    use OrderState as S;

    #[test]
    fn store_pickup_is_ready_for_pickup_not_shipped() {
        let pickup = PaymentMethod::StorePickup;
        assert_eq!(S::Shipped.label_for(pickup, Language::Ja), "受取準備完了");
        assert_eq!(
            S::Delivered.label_for(pickup, Language::Ja),
            "お受け取り済み"
        );
        assert_eq!(
            S::Shipped.label_for(PaymentMethod::Card, Language::Ja),
            "発送済み"
        );
        assert_eq!(S::Paid.label_for(pickup, Language::En), "Paid");
    }

    #[test]
    fn store_pickup_buttons_speak_of_pickup() {
        let pickup = PaymentMethod::StorePickup;
        assert_eq!(E::Ship.label_for(pickup, Language::Ja), "受取準備完了");
        assert_eq!(
            E::ConfirmDelivery.label_for(pickup, Language::Ja),
            "受け渡し完了"
        );
        assert_eq!(E::Ship.label_for(PaymentMethod::Card, Language::Ja), "発送");
    }

    #[test]
    fn staff_do_not_confirm_card_payments() {
        use PaymentMethod as M;
        assert!(!S::PendingPayment
            .staff_events(M::Card)
            .contains(&E::PaymentConfirmed));
        assert!(S::PendingPayment.staff_events(M::Card).contains(&E::Cancel));
        assert!(S::PendingPayment
            .staff_events(M::BankTransfer)
            .contains(&E::PaymentConfirmed));
    }

    #[test]
    fn paid_for_only_once_money_was_received() {
        use PaymentMethod as M;
        for m in [M::Card, M::BankTransfer] {
            assert!(!S::PendingPayment.is_paid_for(m));
            assert!(S::Paid.is_paid_for(m) && S::Shipped.is_paid_for(m));
            assert!(!S::Refunded.is_paid_for(m) && !S::Cancelled.is_paid_for(m));
        }
        for m in [M::CashOnDelivery, M::StorePickup] {
            assert!(!S::PendingPayment.is_paid_for(m));
            assert!(!S::Preparing.is_paid_for(m) && !S::Shipped.is_paid_for(m));
            assert!(S::Delivered.is_paid_for(m));
        }
    }

    const X: Option<OrderState> = None;

    /// Expected result of every (state, event) pair for the methods in the
    /// order [Card, CashOnDelivery, BankTransfer, StorePickup].
    const TABLE: [(OrderState, OrderEvent, [Option<OrderState>; 4]); 42] = [
        (
            S::PendingPayment,
            E::PaymentConfirmed,
            [Some(S::Paid), X, Some(S::Paid), X],
        ),
        (
            S::PendingPayment,
            E::StartPreparing,
            [X, Some(S::Preparing), X, Some(S::Preparing)],
        ),
        (S::PendingPayment, E::Ship, [X, X, X, X]),
        (S::PendingPayment, E::ConfirmDelivery, [X, X, X, X]),
        (S::PendingPayment, E::Cancel, [Some(S::Cancelled); 4]),
        (S::PendingPayment, E::Refund, [X, X, X, X]),
        (S::Paid, E::PaymentConfirmed, [X, X, X, X]),
        (
            S::Paid,
            E::StartPreparing,
            [Some(S::Preparing), X, Some(S::Preparing), X],
        ),
        (S::Paid, E::Ship, [X, X, X, X]),
        (S::Paid, E::ConfirmDelivery, [X, X, X, X]),
        (S::Paid, E::Cancel, [X, X, X, X]),
        (
            S::Paid,
            E::Refund,
            [Some(S::Refunded), X, Some(S::Refunded), X],
        ),
        (S::Preparing, E::PaymentConfirmed, [X, X, X, X]),
        (S::Preparing, E::StartPreparing, [X, X, X, X]),
        (S::Preparing, E::Ship, [Some(S::Shipped); 4]),
        (S::Preparing, E::ConfirmDelivery, [X, X, X, X]),
        (
            S::Preparing,
            E::Cancel,
            [X, Some(S::Cancelled), X, Some(S::Cancelled)],
        ),
        (
            S::Preparing,
            E::Refund,
            [Some(S::Refunded), X, Some(S::Refunded), X],
        ),
        (S::Shipped, E::PaymentConfirmed, [X, X, X, X]),
        (S::Shipped, E::StartPreparing, [X, X, X, X]),
        (S::Shipped, E::Ship, [X, X, X, X]),
        (S::Shipped, E::ConfirmDelivery, [Some(S::Delivered); 4]),
        (S::Shipped, E::Cancel, [X, X, X, X]),
        (
            S::Shipped,
            E::Refund,
            [Some(S::Refunded), X, Some(S::Refunded), X],
        ),
        (S::Delivered, E::PaymentConfirmed, [X, X, X, X]),
        (S::Delivered, E::StartPreparing, [X, X, X, X]),
        (S::Delivered, E::Ship, [X, X, X, X]),
        (S::Delivered, E::ConfirmDelivery, [X, X, X, X]),
        (S::Delivered, E::Cancel, [X, X, X, X]),
        (S::Delivered, E::Refund, [Some(S::Refunded); 4]),
        (S::Cancelled, E::PaymentConfirmed, [X, X, X, X]),
        (S::Cancelled, E::StartPreparing, [X, X, X, X]),
        (S::Cancelled, E::Ship, [X, X, X, X]),
        (S::Cancelled, E::ConfirmDelivery, [X, X, X, X]),
        (S::Cancelled, E::Cancel, [X, X, X, X]),
        (S::Cancelled, E::Refund, [X, X, X, X]),
        (S::Refunded, E::PaymentConfirmed, [X, X, X, X]),
        (S::Refunded, E::StartPreparing, [X, X, X, X]),
        (S::Refunded, E::Ship, [X, X, X, X]),
        (S::Refunded, E::ConfirmDelivery, [X, X, X, X]),
        (S::Refunded, E::Cancel, [X, X, X, X]),
        (S::Refunded, E::Refund, [X, X, X, X]),
    ];

    const METHODS: [PaymentMethod; 4] = [
        PaymentMethod::Card,
        PaymentMethod::CashOnDelivery,
        PaymentMethod::BankTransfer,
        PaymentMethod::StorePickup,
    ];

    #[test]
    fn every_state_event_method_triple() {
        // The table must cover every pair exactly once.
        let mut seen = std::collections::HashSet::new();
        for (state, event, _) in TABLE {
            assert!(
                seen.insert((state, event)),
                "duplicate row {state:?} {event:?}"
            );
        }
        assert_eq!(seen.len(), OrderState::ALL.len() * OrderEvent::ALL.len());
        assert_eq!(METHODS.len(), PaymentMethod::ALL.len());

        let mut checked = 0;
        for (state, event, expected) in TABLE {
            for (method, want) in METHODS.into_iter().zip(expected) {
                let got = state.apply(event, method);
                match want {
                    Some(next) => assert_eq!(got, Ok(next), "{state:?} + {event:?} ({method:?})"),
                    None => assert_eq!(
                        got,
                        Err(InvalidTransition {
                            from: state,
                            event,
                            method
                        }),
                        "{state:?} + {event:?} ({method:?})"
                    ),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 6 * 4);
    }

    #[test]
    fn happy_paths() {
        let run = |method, events: &[OrderEvent]| {
            events
                .iter()
                .try_fold(OrderState::INITIAL, |s, e| s.apply(*e, method))
        };
        assert_eq!(
            run(
                PaymentMethod::Card,
                &[
                    E::PaymentConfirmed,
                    E::StartPreparing,
                    E::Ship,
                    E::ConfirmDelivery
                ]
            ),
            Ok(S::Delivered)
        );
        assert_eq!(
            run(
                PaymentMethod::CashOnDelivery,
                &[E::StartPreparing, E::Ship, E::ConfirmDelivery, E::Refund]
            ),
            Ok(S::Refunded)
        );
        assert_eq!(
            S::PendingPayment.allowed_events(PaymentMethod::CashOnDelivery),
            vec![E::StartPreparing, E::Cancel]
        );
        assert!(S::Cancelled.allowed_events(PaymentMethod::Card).is_empty());
        assert!(S::Refunded.is_final() && !S::Delivered.is_final());
    }

    #[test]
    fn storage_keys() {
        let keys: Vec<_> = OrderState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            keys,
            [
                "pending_payment",
                "paid",
                "preparing",
                "shipped",
                "delivered",
                "cancelled",
                "refunded"
            ]
        );
        for s in OrderState::ALL {
            assert_eq!(OrderState::parse(s.as_str()), Ok(*s));
            assert_eq!(s.as_str().parse::<OrderState>(), Ok(*s));
        }
        for e in OrderEvent::ALL {
            assert_eq!(OrderEvent::parse(e.as_str()), Ok(*e));
        }
        assert_eq!(OrderState::parse("Paid"), Err(UnknownOrderState::Unknown));
        assert_eq!(S::PendingPayment.label_ja(), "入金待ち");
        assert_eq!(S::Preparing.label_ja(), "発送準備中");
    }

    #[test]
    fn invalid_transition_messages() {
        let err = S::Shipped
            .apply(E::Cancel, PaymentMethod::Card)
            .unwrap_err();
        assert_eq!(
            err.message_ja(),
            "「発送済み」の注文（クレジットカード）に「キャンセル」は実行できません"
        );
        assert_eq!(
            err.message_en(),
            "Cannot cancel an order that is shipped (credit card)"
        );
        assert_eq!(
            err.to_string(),
            "cannot apply cancel to an order in state shipped paid by card"
        );
    }

    fn item(price: i64, rate: TaxRate, quantity: u32) -> OrderItem {
        OrderItem {
            sku: "SKU-1".into(),
            product_name: "煎茶".into(),
            unit_price_incl: Yen(price),
            rate,
            quantity,
            personalisation: None,
            noshi: None,
        }
    }

    #[test]
    fn line_totals_and_invoice() {
        assert_eq!(
            item(1_080, TaxRate::Reduced, 3).line_total(),
            Ok(Yen(3_240))
        );
        assert_eq!(
            item(i64::MAX, TaxRate::Reduced, 2).line_total(),
            Err(AmountOverflow::Overflow)
        );
        let totals = order_invoice_totals(&[
            item(1_080, TaxRate::Reduced, 3),
            item(2_200, TaxRate::Standard, 1),
        ])
        .unwrap();
        assert_eq!(totals.total_incl, Yen(5_440));
        assert_eq!(totals.total_tax, Yen(240 + 200));
    }
}
