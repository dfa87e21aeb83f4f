//! Payment methods, the state of a payment attempt and the cash-on-delivery fee table.

use crate::labels::labelled_enum;
use crate::money::Yen;

labelled_enum! {
    /// How the customer pays.
    pub enum PaymentMethod / UnknownPaymentMethod ("unknown payment method", "お支払い方法が正しくありません") {
        /// クレジットカード: paid when the order is placed.
        Card => ("card", "クレジットカード", "Credit card"),
        /// 代金引換: the carrier collects payment on delivery.
        CashOnDelivery => ("cash_on_delivery", "代金引換", "Cash on delivery"),
        /// 銀行振込（前払い）: paid before shipping.
        BankTransfer => ("bank_transfer", "銀行振込（前払い）", "Bank transfer (prepaid)"),
        /// 店頭受取: paid at the shop when the goods are picked up.
        StorePickup => ("store_pickup", "店頭受取（店頭払い）", "Pay at store pickup"),
    }
}

labelled_enum! {
    /// Where one payment attempt at the provider stands, as the shop records it (an order has
    /// one attempt per try: a declined card and its retry are two).
    pub enum PaymentAttemptState / UnknownPaymentAttemptState ("unknown payment attempt state", "決済状況の値が正しくありません") {
        /// Opened at the provider, not yet paid.
        Pending => ("pending", "未決済", "pending"),
        /// The provider waits for the customer's authentication (3-D Secure).
        RequiresAction => ("requires_action", "本人認証待ち", "awaiting authentication"),
        /// Paid, for this order and its amount.
        Succeeded => ("succeeded", "決済完了", "succeeded"),
        /// The provider says paid, but not for this order or not this amount: never counts.
        Mismatch => ("mismatch", "照合不一致", "mismatch"),
        /// Declined or failed.
        Failed => ("failed", "決済失敗", "failed"),
        /// Cancelled at the provider before any money was taken.
        Canceled => ("canceled", "取消済み", "cancelled"),
        /// Paid, then refunded.
        Refunded => ("refunded", "返金済み", "refunded"),
    }
}

/// A new attempt starts open at the provider.
impl Default for PaymentAttemptState {
    fn default() -> Self {
        Self::Pending
    }
}

impl PaymentAttemptState {
    /// Whether the attempt is still open at the provider (it could still take money).
    #[must_use]
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            PaymentAttemptState::Pending | PaymentAttemptState::RequiresAction
        )
    }
}

impl PaymentMethod {
    /// Whether payment is collected when the goods are handed over (代引き,
    /// store pickup) rather than before shipping. Such orders are prepared
    /// without a prior payment.
    #[must_use]
    pub const fn collects_on_handover(self) -> bool {
        matches!(
            self,
            PaymentMethod::CashOnDelivery | PaymentMethod::StorePickup
        )
    }

    /// Whether the method can be offered for an order total: cash on
    /// delivery is limited to [`COD_MAX_TOTAL`]; the others have no limit here.
    #[must_use]
    pub fn is_available_for(self, total: Yen) -> bool {
        match self {
            PaymentMethod::CashOnDelivery => total <= COD_MAX_TOTAL,
            _ => true,
        }
    }

    /// Handling fee charged to the customer for this method: the
    /// [`cod_fee`] for cash on delivery, nothing otherwise.
    #[must_use]
    pub fn fee(self, total: Yen) -> Yen {
        match self {
            PaymentMethod::CashOnDelivery => cod_fee(total),
            _ => Yen::ZERO,
        }
    }
}

/// Largest order total accepted for cash on delivery (carriers cap cash
/// collection at 300,000円).
pub const COD_MAX_TOTAL: Yen = Yen(300_000);

/// Cash-on-delivery fee bands: (upper bound of the total, exclusive; fee
/// including 10% tax). These are the bands most Japanese carriers and shops
/// use (e.g. 330円 under 10,000円); a shop with a contract rate should
/// replace the table.
pub const COD_FEE_BANDS: [(Yen, Yen); 3] = [
    (Yen(10_000), Yen(330)),
    (Yen(30_000), Yen(440)),
    (Yen(100_000), Yen(660)),
];

/// Fee for totals from 100,000円 up to [`COD_MAX_TOTAL`].
pub const COD_FEE_TOP: Yen = Yen(1_100);

/// Cash-on-delivery fee (代引き手数料, tax included) for an order total
/// before the fee:
///
/// | total                 | fee     |
/// |-----------------------|---------|
/// | under 10,000円        | 330円   |
/// | 10,000円 – 29,999円   | 440円   |
/// | 30,000円 – 99,999円   | 660円   |
/// | 100,000円 and above   | 1,100円 |
///
/// Totals above [`COD_MAX_TOTAL`] still get the top fee; whether cash on
/// delivery may be offered at all is [`PaymentMethod::is_available_for`].
#[must_use]
pub fn cod_fee(total: Yen) -> Yen {
    COD_FEE_BANDS
        .iter()
        .find(|(limit, _)| total < *limit)
        .map_or(COD_FEE_TOP, |(_, fee)| *fee)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cod_fee_bands() {
        for (total, fee) in [
            (0, 330),
            (9_999, 330),
            (10_000, 440),
            (29_999, 440),
            (30_000, 660),
            (99_999, 660),
            (100_000, 1_100),
            (300_000, 1_100),
        ] {
            assert_eq!(cod_fee(Yen(total)), Yen(fee), "{total}");
        }
        assert!(PaymentMethod::CashOnDelivery.is_available_for(Yen(300_000)));
        assert!(!PaymentMethod::CashOnDelivery.is_available_for(Yen(300_001)));
        assert!(PaymentMethod::Card.is_available_for(Yen(300_001)));
        assert_eq!(PaymentMethod::Card.fee(Yen(5_000)), Yen::ZERO);
        assert_eq!(PaymentMethod::CashOnDelivery.fee(Yen(5_000)), Yen(330));
    }

    #[test]
    fn labels_and_keys() {
        assert_eq!(PaymentMethod::CashOnDelivery.label_ja(), "代金引換");
        for m in PaymentMethod::ALL {
            assert_eq!(PaymentMethod::parse(m.as_str()), Ok(*m));
        }
        assert_eq!(
            PaymentMethod::parse("cod"),
            Err(UnknownPaymentMethod::Unknown)
        );
        for s in PaymentAttemptState::ALL {
            assert_eq!(PaymentAttemptState::parse(s.as_str()), Ok(*s));
        }
        assert_eq!(
            PaymentAttemptState::parse("captured"),
            Err(UnknownPaymentAttemptState::Unknown)
        );
        assert!(PaymentAttemptState::RequiresAction.is_open());
        assert!(!PaymentAttemptState::Failed.is_open());
    }
}
