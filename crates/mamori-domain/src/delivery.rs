//! Delivery time slots and delivery-date rules.

use chrono::{Days, NaiveDate};

use crate::error::bilingual_error;
use crate::labels::labelled_enum;

labelled_enum! {
    /// Delivery time slot (お届け時間帯) as offered by the major carriers.
    pub enum DeliverySlot / UnknownDeliverySlot ("unknown delivery slot", "お届け時間帯が正しくありません") {
        /// 指定なし.
        Unspecified => ("unspecified", "指定なし", "No preference"),
        /// 午前中 (until noon).
        Morning => ("morning", "午前中", "Morning"),
        /// 14時～16時.
        From14To16 => ("14_16", "14時～16時", "14:00-16:00"),
        /// 16時～18時.
        From16To18 => ("16_18", "16時～18時", "16:00-18:00"),
        /// 18時～20時.
        From18To20 => ("18_20", "18時～20時", "18:00-20:00"),
        /// 19時～21時.
        From19To21 => ("19_21", "19時～21時", "19:00-21:00"),
    }
}

bilingual_error! {
    /// Why a requested delivery date was rejected.
    pub enum DeliveryDateError {
        TooEarly => (
            "the requested delivery date is too early",
            "ご指定のお届け日は選択できません（最短お届け日より前です）"
        ),
        TooLate => (
            "the requested delivery date is too far ahead",
            "ご指定のお届け日は選択できません（指定可能期間を過ぎています）"
        ),
        OutOfRange => ("date is out of range", "日付が範囲外です"),
    }
}

/// Earliest date a customer may pick: the order date plus `lead_days`
/// calendar days (Japanese carriers deliver every day, so weekends are not
/// skipped; the shop's own preparation time belongs in `lead_days`).
/// `None` only if the date would pass chrono's maximum.
#[must_use]
pub fn earliest_delivery_date(order_date: NaiveDate, lead_days: u32) -> Option<NaiveDate> {
    order_date.checked_add_days(Days::new(u64::from(lead_days)))
}

/// Checks a requested delivery date: not before
/// [`earliest_delivery_date`] and at most `window_days` after it (carriers
/// hold parcels only so long; shops typically offer 7–14 days).
pub fn check_requested_delivery_date(
    order_date: NaiveDate,
    lead_days: u32,
    window_days: u32,
    requested: NaiveDate,
) -> Result<(), DeliveryDateError> {
    let earliest =
        earliest_delivery_date(order_date, lead_days).ok_or(DeliveryDateError::OutOfRange)?;
    let latest =
        earliest_delivery_date(earliest, window_days).ok_or(DeliveryDateError::OutOfRange)?;
    if requested < earliest {
        Err(DeliveryDateError::TooEarly)
    } else if requested > latest {
        Err(DeliveryDateError::TooLate)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn earliest_date() {
        assert_eq!(
            earliest_delivery_date(d(2025, 12, 30), 3),
            Some(d(2026, 1, 2))
        );
        assert_eq!(
            earliest_delivery_date(d(2024, 2, 28), 1),
            Some(d(2024, 2, 29))
        );
        assert_eq!(
            earliest_delivery_date(d(2025, 6, 1), 0),
            Some(d(2025, 6, 1))
        );
        assert_eq!(earliest_delivery_date(NaiveDate::MAX, 1), None);
    }

    #[test]
    fn requested_dates() {
        let order = d(2025, 6, 1);
        assert_eq!(
            check_requested_delivery_date(order, 2, 7, d(2025, 6, 2)),
            Err(DeliveryDateError::TooEarly)
        );
        assert_eq!(
            check_requested_delivery_date(order, 2, 7, d(2025, 6, 3)),
            Ok(())
        );
        assert_eq!(
            check_requested_delivery_date(order, 2, 7, d(2025, 6, 10)),
            Ok(())
        );
        assert_eq!(
            check_requested_delivery_date(order, 2, 7, d(2025, 6, 11)),
            Err(DeliveryDateError::TooLate)
        );
    }

    #[test]
    fn slots() {
        let labels: Vec<_> = DeliverySlot::ALL.iter().map(|s| s.label_ja()).collect();
        assert_eq!(
            labels,
            [
                "指定なし",
                "午前中",
                "14時～16時",
                "16時～18時",
                "18時～20時",
                "19時～21時"
            ]
        );
        for s in DeliverySlot::ALL {
            assert_eq!(DeliverySlot::parse(s.as_str()), Ok(*s));
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }
}
