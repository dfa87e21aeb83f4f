//! Yen amounts, consumption-tax rates and qualified-invoice totals.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::AmountOverflow;

/// An amount of Japanese yen (the yen has no minor unit).
///
/// Arithmetic is checked: every operation returns [`AmountOverflow`] instead
/// of wrapping or panicking.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Yen(pub i64);

impl Yen {
    /// Zero yen.
    pub const ZERO: Yen = Yen(0);

    /// The amount as an integer.
    #[must_use]
    pub const fn value(self) -> i64 {
        self.0
    }

    /// `self + other`, or an error on overflow.
    pub fn checked_add(self, other: Yen) -> Result<Yen, AmountOverflow> {
        self.0
            .checked_add(other.0)
            .map(Yen)
            .ok_or(AmountOverflow::Overflow)
    }

    /// `self - other`, or an error on overflow.
    pub fn checked_sub(self, other: Yen) -> Result<Yen, AmountOverflow> {
        self.0
            .checked_sub(other.0)
            .map(Yen)
            .ok_or(AmountOverflow::Overflow)
    }

    /// `self × quantity` (a unit price times an order quantity), or an error on
    /// overflow.
    pub fn checked_mul_qty(self, quantity: u32) -> Result<Yen, AmountOverflow> {
        self.0
            .checked_mul(i64::from(quantity))
            .map(Yen)
            .ok_or(AmountOverflow::Overflow)
    }

    /// Sum of many amounts, or an error on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Yen>>(items: I) -> Result<Yen, AmountOverflow> {
        items
            .into_iter()
            .try_fold(Yen::ZERO, |acc, y| acc.checked_add(y))
    }

    /// `"1,100円（税込）"`: the amount followed by the tax-included mark that
    /// Japanese price display rules (総額表示) expect.
    #[must_use]
    pub fn format_tax_included(self) -> String {
        format!("{self}（税込）")
    }

    /// `"1,100"`: digits grouped by thousands, without the unit.
    #[must_use]
    pub fn format_grouped(self) -> String {
        // Hand-written: grouping an integer is a few lines and not worth a
        // locale-formatting dependency.
        let digits = self.0.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if self.0 < 0 {
            out.push('-');
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}

impl fmt::Display for Yen {
    /// `"1,100円"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}円", self.format_grouped())
    }
}

/// Japanese consumption-tax rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxRate {
    /// Standard rate, 10%.
    Standard,
    /// Reduced rate (軽減税率), 8%: food and beverages other than alcohol and
    /// dining-in, and newspaper subscriptions.
    Reduced,
}

impl TaxRate {
    /// Both rates, standard first (the order used on invoices).
    pub const ALL: [TaxRate; 2] = [TaxRate::Standard, TaxRate::Reduced];

    /// The rate in percent (10 or 8).
    #[must_use]
    pub const fn percent(self) -> u32 {
        match self {
            TaxRate::Standard => 10,
            TaxRate::Reduced => 8,
        }
    }

    /// The mark that flags reduced-rate items on receipts and invoices: `"※"`
    /// for the reduced rate, `""` for the standard rate. Pair it with
    /// [`REDUCED_RATE_NOTE_JA`].
    #[must_use]
    pub const fn reduced_mark(self) -> &'static str {
        match self {
            TaxRate::Standard => "",
            TaxRate::Reduced => "※",
        }
    }

    /// `"10%"` or `"8%※"`.
    #[must_use]
    pub const fn label_ja(self) -> &'static str {
        match self {
            TaxRate::Standard => "10%",
            TaxRate::Reduced => "8%※",
        }
    }

    /// `"10%"` or `"8% (reduced rate)"`.
    #[must_use]
    pub const fn label_en(self) -> &'static str {
        match self {
            TaxRate::Standard => "10%",
            TaxRate::Reduced => "8% (reduced rate)",
        }
    }

    /// Storage key: `"standard"` or `"reduced"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TaxRate::Standard => "standard",
            TaxRate::Reduced => "reduced",
        }
    }

    /// The rate of a storage key (the inverse of [`TaxRate::as_str`]).
    #[must_use]
    pub fn from_storage(key: &str) -> Option<TaxRate> {
        match key {
            "standard" => Some(TaxRate::Standard),
            "reduced" => Some(TaxRate::Reduced),
            _ => None,
        }
    }

    /// Tax-included price of a tax-excluded amount, rounded down (the
    /// rounding most shops use for display prices).
    ///
    /// Returns an error instead of a wrong value when the result exceeds the
    /// range of `i64`.
    pub fn tax_included(self, excl: Yen) -> Result<Yen, AmountOverflow> {
        let num = i128::from(excl.0) * i128::from(100 + self.percent());
        let incl = num.div_euclid(100);
        i64::try_from(incl)
            .map(Yen)
            .map_err(|_| AmountOverflow::Overflow)
    }

    /// Consumption tax contained in a tax-included amount:
    /// `floor(incl × rate / (100 + rate))`. Cannot overflow.
    #[must_use]
    pub fn tax_within(self, incl: Yen) -> Yen {
        let rate = i128::from(self.percent());
        let tax = (i128::from(incl.0) * rate).div_euclid(100 + rate);
        // |tax| < |incl|, so it always fits back into i64.
        Yen(i64::try_from(tax).unwrap_or(incl.0))
    }
}

/// Footnote that explains [`TaxRate::reduced_mark`] on a Japanese invoice.
pub const REDUCED_RATE_NOTE_JA: &str = "※は軽減税率（8%）対象商品です。";

/// One line of a qualified invoice (適格請求書): a tax-included amount at a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// Tax rate of the line.
    pub rate: TaxRate,
    /// Tax-included amount of the line (unit price × quantity).
    pub amount_incl: Yen,
}

/// Totals for one tax rate on an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateTotal {
    /// The rate.
    pub rate: TaxRate,
    /// Sum of the tax-included amounts at this rate.
    pub amount_incl: Yen,
    /// Tax contained in `amount_incl`, rounded down once for the whole rate.
    pub tax: Yen,
}

/// Totals of a qualified invoice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InvoiceTotals {
    /// One entry per rate that occurs, standard rate first.
    pub per_rate: Vec<RateTotal>,
    /// Sum of all tax-included amounts.
    pub total_incl: Yen,
    /// Sum of the per-rate taxes.
    pub total_tax: Yen,
}

/// Computes qualified-invoice totals.
///
/// The invoice rules (消費税法施行令 70条の10) allow one rounding per tax rate
/// per invoice: the tax is computed once over the sum of each rate's amounts
/// and rounded down, never per line (per-line rounding under-reports tax; see
/// the tests for a concrete case).
///
/// Returns an error if a sum leaves the range of `i64` (the brief's
/// `-> InvoiceTotals` would otherwise have to wrap or panic).
pub fn invoice_totals(lines: &[InvoiceLine]) -> Result<InvoiceTotals, AmountOverflow> {
    let mut per_rate = Vec::with_capacity(TaxRate::ALL.len());
    let mut total_incl = Yen::ZERO;
    let mut total_tax = Yen::ZERO;
    for rate in TaxRate::ALL {
        let mut amount_incl = Yen::ZERO;
        let mut any = false;
        for line in lines.iter().filter(|l| l.rate == rate) {
            amount_incl = amount_incl.checked_add(line.amount_incl)?;
            any = true;
        }
        if !any {
            continue;
        }
        let tax = rate.tax_within(amount_incl);
        total_incl = total_incl.checked_add(amount_incl)?;
        total_tax = total_tax.checked_add(tax)?;
        per_rate.push(RateTotal {
            rate,
            amount_incl,
            tax,
        });
    }
    Ok(InvoiceTotals {
        per_rate,
        total_incl,
        total_tax,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_groups_thousands() {
        assert_eq!(Yen(0).to_string(), "0円");
        assert_eq!(Yen(999).to_string(), "999円");
        assert_eq!(Yen(1_100).to_string(), "1,100円");
        assert_eq!(Yen(1_234_567).to_string(), "1,234,567円");
        assert_eq!(Yen(-1_100).to_string(), "-1,100円");
        assert_eq!(Yen(i64::MIN).to_string(), "-9,223,372,036,854,775,808円");
        assert_eq!(Yen(1_100).format_tax_included(), "1,100円（税込）");
    }

    #[test]
    fn tax_rates() {
        assert_eq!(TaxRate::Standard.percent(), 10);
        assert_eq!(TaxRate::Reduced.percent(), 8);
        assert_eq!(TaxRate::Reduced.label_ja(), "8%※");
        assert_eq!(TaxRate::Reduced.reduced_mark(), "※");
        assert_eq!(TaxRate::Standard.reduced_mark(), "");
        assert_eq!(TaxRate::Standard.tax_included(Yen(1_000)), Ok(Yen(1_100)));
        assert_eq!(TaxRate::Reduced.tax_included(Yen(1_000)), Ok(Yen(1_080)));
        // 198 × 1.08 = 213.84 → 213 (rounded down).
        assert_eq!(TaxRate::Reduced.tax_included(Yen(198)), Ok(Yen(213)));
        assert_eq!(TaxRate::Standard.tax_within(Yen(1_100)), Yen(100));
        assert_eq!(TaxRate::Reduced.tax_within(Yen(1_080)), Yen(80));
        // 1,000 × 10 / 110 = 90.9 → 90.
        assert_eq!(TaxRate::Standard.tax_within(Yen(1_000)), Yen(90));
        assert_eq!(
            TaxRate::Standard.tax_included(Yen(i64::MAX)),
            Err(AmountOverflow::Overflow)
        );
    }

    #[test]
    fn per_rate_rounding_differs_from_per_line_rounding() {
        // Three standard-rate lines of 105円: per line floor(105×10/110) = 9,
        // so per-line rounding would report 27円; the invoice rule computes
        // floor(315×10/110) = floor(28.6) = 28円.
        let lines = [InvoiceLine {
            rate: TaxRate::Standard,
            amount_incl: Yen(105),
        }; 3];
        let per_line: i64 = lines
            .iter()
            .map(|l| l.rate.tax_within(l.amount_incl).0)
            .sum();
        assert_eq!(per_line, 27);
        let totals = invoice_totals(&lines).unwrap();
        assert_eq!(totals.total_tax, Yen(28));
        assert_eq!(totals.total_incl, Yen(315));
        assert_ne!(totals.total_tax.0, per_line);
    }

    #[test]
    fn mixed_rates_are_split() {
        let lines = [
            InvoiceLine {
                rate: TaxRate::Reduced,
                amount_incl: Yen(1_080),
            },
            InvoiceLine {
                rate: TaxRate::Standard,
                amount_incl: Yen(2_200),
            },
            InvoiceLine {
                rate: TaxRate::Reduced,
                amount_incl: Yen(540),
            },
        ];
        let t = invoice_totals(&lines).unwrap();
        assert_eq!(
            t.per_rate,
            vec![
                RateTotal {
                    rate: TaxRate::Standard,
                    amount_incl: Yen(2_200),
                    tax: Yen(200)
                },
                RateTotal {
                    rate: TaxRate::Reduced,
                    amount_incl: Yen(1_620),
                    tax: Yen(120)
                },
            ]
        );
        assert_eq!(t.total_incl, Yen(3_820));
        assert_eq!(t.total_tax, Yen(320));
        assert_eq!(invoice_totals(&[]).unwrap().per_rate, vec![]);
    }

    #[test]
    fn invoice_overflow_is_an_error() {
        let lines = [InvoiceLine {
            rate: TaxRate::Standard,
            amount_incl: Yen(i64::MAX),
        }; 2];
        assert_eq!(invoice_totals(&lines), Err(AmountOverflow::Overflow));
    }

    fn rate_strategy() -> impl Strategy<Value = TaxRate> {
        prop_oneof![Just(TaxRate::Standard), Just(TaxRate::Reduced)]
    }

    proptest! {
        #[test]
        fn tax_per_rate_is_floor_of_sum(
            lines in proptest::collection::vec((rate_strategy(), 0_i64..10_000_000), 0..30)
        ) {
            let lines: Vec<InvoiceLine> = lines
                .into_iter()
                .map(|(rate, amount)| InvoiceLine { rate, amount_incl: Yen(amount) })
                .collect();
            let totals = invoice_totals(&lines).unwrap();
            let mut tax_sum = 0_i64;
            for rt in &totals.per_rate {
                let sum: i64 = lines.iter().filter(|l| l.rate == rt.rate).map(|l| l.amount_incl.0).sum();
                let r = i64::from(rt.rate.percent());
                prop_assert_eq!(rt.amount_incl.0, sum);
                // Non-negative amounts: integer division is floor.
                prop_assert_eq!(rt.tax.0, sum * r / (100 + r));
                // Per-line rounding can only lose tax, never add it.
                let per_line: i64 = lines.iter().filter(|l| l.rate == rt.rate)
                    .map(|l| l.amount_incl.0 * r / (100 + r)).sum();
                prop_assert!(per_line <= rt.tax.0);
                tax_sum += rt.tax.0;
            }
            prop_assert_eq!(totals.total_tax.0, tax_sum);
            prop_assert_eq!(totals.total_incl.0, lines.iter().map(|l| l.amount_incl.0).sum::<i64>());
        }

        #[test]
        fn yen_add_never_overflows_silently(a in any::<i64>(), b in any::<i64>()) {
            match Yen(a).checked_add(Yen(b)) {
                Ok(sum) => prop_assert_eq!(i128::from(sum.0), i128::from(a) + i128::from(b)),
                Err(_) => prop_assert!(i64::try_from(i128::from(a) + i128::from(b)).is_err()),
            }
            match Yen(a).checked_sub(Yen(b)) {
                Ok(d) => prop_assert_eq!(i128::from(d.0), i128::from(a) - i128::from(b)),
                Err(_) => prop_assert!(i64::try_from(i128::from(a) - i128::from(b)).is_err()),
            }
        }

        #[test]
        fn yen_mul_never_overflows_silently(a in any::<i64>(), q in any::<u32>()) {
            let exact = i128::from(a) * i128::from(q);
            match Yen(a).checked_mul_qty(q) {
                Ok(p) => prop_assert_eq!(i128::from(p.0), exact),
                Err(_) => prop_assert!(i64::try_from(exact).is_err()),
            }
        }

        #[test]
        fn tax_included_is_exact_or_error(a in any::<i64>(), rate in rate_strategy()) {
            let r = i128::from(rate.percent());
            let exact = (i128::from(a) * (100 + r)).div_euclid(100);
            match rate.tax_included(Yen(a)) {
                Ok(v) => prop_assert_eq!(i128::from(v.0), exact),
                Err(_) => prop_assert!(i64::try_from(exact).is_err()),
            }
            let tax = rate.tax_within(Yen(a));
            prop_assert_eq!(i128::from(tax.0), (i128::from(a) * r).div_euclid(100 + r));
        }
    }
}
