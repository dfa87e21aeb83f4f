//! Shipping rates by prefecture and the cash-on-delivery fee table, as a shop sets them.
//!
//! A rate is found for a delivery's prefecture: its own rate if the shop set one, else its
//! region's ([`Region`]: the groups carriers price by), else the shop's base rate. A delivery
//! whose items come to the free-shipping threshold or more ships free. Everything is tax
//! included (standard rate), as the order stores it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    payment::{COD_FEE_BANDS, COD_FEE_TOP},
    PaymentMethod, Prefecture, Yen,
};

/// Highest shipping rate or fee a shop may set (tax included).
pub const MAX_SHIPPING_RATE: Yen = Yen(100_000);

/// The region groups of the 47 prefectures that carriers' rate tables use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// 北海道.
    Hokkaido,
    /// 東北 (青森・岩手・宮城・秋田・山形・福島).
    Tohoku,
    /// 関東 (茨城・栃木・群馬・埼玉・千葉・東京・神奈川・山梨).
    Kanto,
    /// 信越 (新潟・長野).
    Shinetsu,
    /// 北陸 (富山・石川・福井).
    Hokuriku,
    /// 東海 (岐阜・静岡・愛知・三重).
    Tokai,
    /// 近畿 (滋賀・京都・大阪・兵庫・奈良・和歌山).
    Kinki,
    /// 中国 (鳥取・島根・岡山・広島・山口).
    Chugoku,
    /// 四国 (徳島・香川・愛媛・高知).
    Shikoku,
    /// 九州 (福岡・佐賀・長崎・熊本・大分・宮崎・鹿児島).
    Kyushu,
    /// 沖縄.
    Okinawa,
}

impl Region {
    /// Every region, north to south.
    pub const ALL: [Region; 11] = [
        Region::Hokkaido,
        Region::Tohoku,
        Region::Kanto,
        Region::Shinetsu,
        Region::Hokuriku,
        Region::Tokai,
        Region::Kinki,
        Region::Chugoku,
        Region::Shikoku,
        Region::Kyushu,
        Region::Okinawa,
    ];

    /// The region of a prefecture.
    #[must_use]
    pub const fn of(p: Prefecture) -> Region {
        match p.code() {
            1 => Region::Hokkaido,
            2..=7 => Region::Tohoku,
            8..=14 | 19 => Region::Kanto,
            15 | 20 => Region::Shinetsu,
            16..=18 => Region::Hokuriku,
            21..=24 => Region::Tokai,
            25..=30 => Region::Kinki,
            31..=35 => Region::Chugoku,
            36..=39 => Region::Shikoku,
            40..=46 => Region::Kyushu,
            _ => Region::Okinawa,
        }
    }

    /// Storage and form key (`"kanto"`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Region::Hokkaido => "hokkaido",
            Region::Tohoku => "tohoku",
            Region::Kanto => "kanto",
            Region::Shinetsu => "shinetsu",
            Region::Hokuriku => "hokuriku",
            Region::Tokai => "tokai",
            Region::Kinki => "kinki",
            Region::Chugoku => "chugoku",
            Region::Shikoku => "shikoku",
            Region::Kyushu => "kyushu",
            Region::Okinawa => "okinawa",
        }
    }

    /// Japanese name (`"関東"`).
    #[must_use]
    pub const fn label_ja(self) -> &'static str {
        match self {
            Region::Hokkaido => "北海道",
            Region::Tohoku => "東北",
            Region::Kanto => "関東",
            Region::Shinetsu => "信越",
            Region::Hokuriku => "北陸",
            Region::Tokai => "東海",
            Region::Kinki => "近畿",
            Region::Chugoku => "中国",
            Region::Shikoku => "四国",
            Region::Kyushu => "九州",
            Region::Okinawa => "沖縄",
        }
    }

    /// English name (`"Kanto"`).
    #[must_use]
    pub const fn label_en(self) -> &'static str {
        match self {
            Region::Hokkaido => "Hokkaido",
            Region::Tohoku => "Tohoku",
            Region::Kanto => "Kanto",
            Region::Shinetsu => "Shin'etsu",
            Region::Hokuriku => "Hokuriku",
            Region::Tokai => "Tokai",
            Region::Kinki => "Kinki",
            Region::Chugoku => "Chugoku",
            Region::Shikoku => "Shikoku",
            Region::Kyushu => "Kyushu",
            Region::Okinawa => "Okinawa",
        }
    }

    /// The prefectures of the region, in JIS order.
    pub fn prefectures(self) -> impl Iterator<Item = Prefecture> {
        Prefecture::ALL
            .into_iter()
            .filter(move |p| Region::of(*p) == self)
    }
}

/// A shop's shipping rates: per delivery address, tax included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingRates {
    /// The rate where neither the prefecture nor its region has one.
    pub base: Yen,
    /// Rates per region.
    #[serde(default)]
    pub regions: BTreeMap<Region, Yen>,
    /// Rates per prefecture (over its region's).
    #[serde(default)]
    pub prefectures: BTreeMap<Prefecture, Yen>,
    /// A delivery whose items come to this much or more ships free (`None`: never free).
    #[serde(default)]
    pub free_from: Option<Yen>,
}

impl ShippingRates {
    /// One rate everywhere, free from `free_from`.
    #[must_use]
    pub fn flat(base: Yen, free_from: Option<Yen>) -> Self {
        Self {
            base,
            regions: BTreeMap::new(),
            prefectures: BTreeMap::new(),
            free_from,
        }
    }

    /// The rate to `p` before the free-shipping threshold: the prefecture's, else its region's,
    /// else the base rate.
    #[must_use]
    pub fn rate_to(&self, p: Prefecture) -> Yen {
        self.prefectures
            .get(&p)
            .or_else(|| self.regions.get(&Region::of(p)))
            .copied()
            .unwrap_or(self.base)
    }

    /// Shipping for one delivery to `p` whose items come to `items_total`, paid by `method`:
    /// nothing for store pickup or from the threshold, else [`Self::rate_to`].
    #[must_use]
    pub fn fee(&self, p: Prefecture, items_total: Yen, method: PaymentMethod) -> Yen {
        if method == PaymentMethod::StorePickup || self.free_from.is_some_and(|f| items_total >= f)
        {
            Yen::ZERO
        } else {
            self.rate_to(p)
        }
    }

    /// The lowest and highest rate over the 47 prefectures.
    #[must_use]
    pub fn range(&self) -> (Yen, Yen) {
        let rates = Prefecture::ALL.iter().map(|p| self.rate_to(*p));
        let lo = rates.clone().min().unwrap_or(self.base);
        let hi = rates.max().unwrap_or(self.base);
        (lo, hi)
    }

    /// True when every rate is within `0..=`[`MAX_SHIPPING_RATE`] and the threshold is not
    /// negative.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        let ok = |y: &Yen| (0..=MAX_SHIPPING_RATE.0).contains(&y.0);
        ok(&self.base)
            && self.regions.values().all(ok)
            && self.prefectures.values().all(ok)
            && self.free_from.is_none_or(|f| f.0 >= 0)
    }
}

/// A shop's cash-on-delivery fee table (代引き手数料, tax included), by the order's total before
/// the fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodFees {
    /// (upper bound of the total, exclusive; fee), by rising bound.
    pub bands: Vec<(Yen, Yen)>,
    /// The fee at or above the last bound.
    pub top: Yen,
}

impl Default for CodFees {
    /// The standard table of [`crate::cod_fee`].
    fn default() -> Self {
        Self {
            bands: COD_FEE_BANDS.to_vec(),
            top: COD_FEE_TOP,
        }
    }
}

impl CodFees {
    /// The fee for an order total before the fee.
    #[must_use]
    pub fn fee(&self, total: Yen) -> Yen {
        self.bands
            .iter()
            .find(|(limit, _)| total < *limit)
            .map_or(self.top, |(_, fee)| *fee)
    }

    /// The fee `method` adds to an order of `total`: [`Self::fee`] for cash on delivery,
    /// nothing otherwise.
    #[must_use]
    pub fn for_method(&self, method: PaymentMethod, total: Yen) -> Yen {
        match method {
            PaymentMethod::CashOnDelivery => self.fee(total),
            _ => Yen::ZERO,
        }
    }

    /// True when the bounds rise strictly, are positive, and every fee is within
    /// `0..=`[`MAX_SHIPPING_RATE`].
    #[must_use]
    pub fn is_valid(&self) -> bool {
        let fee_ok = |y: &Yen| (0..=MAX_SHIPPING_RATE.0).contains(&y.0);
        self.bands.iter().all(|(b, f)| b.0 > 0 && fee_ok(f))
            && self.bands.windows(2).all(|w| w[0].0 < w[1].0)
            && fee_ok(&self.top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefecture_has_one_region() {
        let total: usize = Region::ALL.iter().map(|r| r.prefectures().count()).sum();
        assert_eq!(total, 47);
        assert_eq!(Region::of(Prefecture::Tokyo), Region::Kanto);
        assert_eq!(Region::of(Prefecture::Yamanashi), Region::Kanto);
        assert_eq!(Region::of(Prefecture::Niigata), Region::Shinetsu);
        assert_eq!(Region::of(Prefecture::Mie), Region::Tokai);
        assert_eq!(Region::of(Prefecture::Okinawa), Region::Okinawa);
        assert_eq!(Region::of(Prefecture::Hokkaido), Region::Hokkaido);
        assert_eq!(Region::of(Prefecture::Kagoshima), Region::Kyushu);
    }

    #[test]
    fn prefecture_over_region_over_base() {
        let mut r = ShippingRates::flat(Yen(770), Some(Yen(11_000)));
        r.regions.insert(Region::Hokkaido, Yen(1_320));
        r.regions.insert(Region::Okinawa, Yen(1_540));
        r.prefectures.insert(Prefecture::Okinawa, Yen(2_200));
        let card = PaymentMethod::Card;
        assert_eq!(r.fee(Prefecture::Tokyo, Yen(5_000), card), Yen(770));
        assert_eq!(r.fee(Prefecture::Hokkaido, Yen(5_000), card), Yen(1_320));
        assert_eq!(r.fee(Prefecture::Okinawa, Yen(5_000), card), Yen(2_200));
        assert_eq!(r.fee(Prefecture::Okinawa, Yen(11_000), card), Yen::ZERO);
        assert_eq!(r.fee(Prefecture::Okinawa, Yen(10_999), card), Yen(2_200));
        assert_eq!(
            r.fee(Prefecture::Tokyo, Yen(1), PaymentMethod::StorePickup),
            Yen::ZERO
        );
        assert_eq!(r.range(), (Yen(770), Yen(2_200)));
        r.free_from = None;
        assert_eq!(r.fee(Prefecture::Tokyo, Yen(1_000_000), card), Yen(770));
        assert!(r.is_valid());
        r.base = Yen(-1);
        assert!(!r.is_valid());
    }

    #[test]
    fn cod_table_default_is_the_standard_one() {
        let d = CodFees::default();
        for total in [0, 9_999, 10_000, 29_999, 30_000, 99_999, 100_000, 300_000] {
            assert_eq!(d.fee(Yen(total)), crate::cod_fee(Yen(total)), "{total}");
        }
        assert!(d.is_valid());
        let own = CodFees {
            bands: vec![(Yen(50_000), Yen(300))],
            top: Yen(600),
        };
        assert_eq!(
            own.for_method(PaymentMethod::CashOnDelivery, Yen(49_999)),
            Yen(300)
        );
        assert_eq!(
            own.for_method(PaymentMethod::CashOnDelivery, Yen(50_000)),
            Yen(600)
        );
        assert_eq!(own.for_method(PaymentMethod::Card, Yen(50_000)), Yen::ZERO);
        let falling = CodFees {
            bands: vec![(Yen(50_000), Yen(300)), (Yen(10_000), Yen(400))],
            top: Yen(600),
        };
        assert!(!falling.is_valid());
    }

    #[test]
    fn stored_form_round_trips() {
        let mut r = ShippingRates::flat(Yen(770), None);
        r.regions.insert(Region::Kyushu, Yen(990));
        r.prefectures.insert(Prefecture::Tokyo, Yen(660));
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"kyushu\":990") && json.contains("\"tokyo\":660"));
        let back: ShippingRates = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
