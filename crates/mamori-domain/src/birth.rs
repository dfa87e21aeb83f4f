//! Birth dates, including Japanese era (和暦) input.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::bilingual_error;
use crate::normalize::normalize_digits_and_hyphens;
use crate::personal::REDACTED;

bilingual_error! {
    /// Why a birth date was rejected.
    pub enum BirthDateError {
        Empty => ("birth date is empty", "生年月日を入力してください"),
        InvalidFormat => (
            "birth date must look like 1990-01-02, 1990/1/2 or a Japanese era date such as H2.1.2",
            "生年月日は「1990/1/2」または「平成2年1月2日」の形式で入力してください"
        ),
        InvalidDate => ("no such calendar date", "存在しない日付です"),
        OutsideEra => (
            "the date does not fall within the given era",
            "元号と年月日の組み合わせが正しくありません"
        ),
        InFuture => ("birth date is in the future", "生年月日に未来の日付は指定できません"),
        TooOld => (
            "birth dates before 1873 are not accepted",
            "1873年（明治6年）より前の生年月日は入力できません"
        ),
    }
}

/// Japanese era (元号) from Meiji on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Era {
    /// 明治 (M), 1868–1912.
    Meiji,
    /// 大正 (T), 1912–1926.
    Taisho,
    /// 昭和 (S), 1926–1989.
    Showa,
    /// 平成 (H), 1989–2019.
    Heisei,
    /// 令和 (R), 2019–.
    Reiwa,
}

type Ymd = (i32, u32, u32);

impl Era {
    /// All eras, oldest first.
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// `"平成"`.
    #[must_use]
    pub const fn label_ja(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// `"Heisei"`.
    #[must_use]
    pub const fn label_en(self) -> &'static str {
        match self {
            Era::Meiji => "Meiji",
            Era::Taisho => "Taisho",
            Era::Showa => "Showa",
            Era::Heisei => "Heisei",
            Era::Reiwa => "Reiwa",
        }
    }

    /// The one-letter abbreviation used on forms: M, T, S, H, R.
    #[must_use]
    pub const fn letter(self) -> char {
        match self {
            Era::Meiji => 'M',
            Era::Taisho => 'T',
            Era::Showa => 'S',
            Era::Heisei => 'H',
            Era::Reiwa => 'R',
        }
    }

    /// First day of the era (Gregorian). Meiji's nominal start is given as
    /// 1868-01-01 because 明治元年 was applied to the whole year; dates
    /// before 1873 are rejected anyway (see [`BirthDateError::TooOld`]).
    const fn first_day(self) -> Ymd {
        match self {
            Era::Meiji => (1868, 1, 1),
            Era::Taisho => (1912, 7, 30),
            Era::Showa => (1926, 12, 25),
            Era::Heisei => (1989, 1, 8),
            Era::Reiwa => (2019, 5, 1),
        }
    }

    /// The era in force on `date` and the era year (1 = 元年), or `None`
    /// before 1868.
    #[must_use]
    pub fn of(date: NaiveDate) -> Option<(Era, u32)> {
        let ymd = (date.year(), date.month(), date.day());
        let era = Self::ALL.into_iter().rev().find(|e| e.first_day() <= ymd)?;
        let year = u32::try_from(date.year() - era.first_day().0 + 1).ok()?;
        Some((era, year))
    }

    fn from_prefix(s: &str) -> Option<(Era, &str)> {
        for era in Self::ALL {
            let name = era.label_ja();
            let kanji = name.chars().next().unwrap_or(' ');
            let letter = era.letter();
            if let Some(rest) = s.strip_prefix(name) {
                return Some((era, rest));
            }
            if let Some(rest) = s
                .strip_prefix(kanji)
                .or_else(|| s.strip_prefix(letter))
                .or_else(|| s.strip_prefix(letter.to_ascii_lowercase()))
            {
                return Some((era, rest));
            }
        }
        None
    }
}

/// Earliest accepted birth date: Japan switched to the Gregorian calendar on
/// 明治6年1月1日; earlier era dates were lunisolar and would map wrongly.
const MIN_DATE: Ymd = (1873, 1, 1);

/// A birth date. `Debug` is redacted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "NaiveDate")]
pub struct BirthDate(NaiveDate);

impl BirthDate {
    /// Accepts a date that is not after `today` and not before 1873.
    pub fn new(date: NaiveDate, today: NaiveDate) -> Result<Self, BirthDateError> {
        let d = Self::try_from(date)?;
        if date > today {
            return Err(BirthDateError::InFuture);
        }
        Ok(d)
    }

    /// Parses `1990-01-02`, `1990/1/2`, `1990.1.2`, `1990年1月2日`,
    /// `19900102`, full-width forms, and Japanese era dates such as
    /// `平成2年1月2日`, `平成元年1月8日`, `H2.1.2`, `h02/01/02`, `昭64.1.7`
    /// or `㍻2年1月2日` (Meiji to Reiwa). `today` comes from the caller
    /// because this crate reads no clock.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, BirthDateError> {
        let s = normalize_digits_and_hyphens(input);
        if s.is_empty() {
            return Err(BirthDateError::Empty);
        }
        let (era, rest) = match Era::from_prefix(&s) {
            Some((era, rest)) => (Some(era), rest),
            None => (None, s.as_str()),
        };
        let numbers = tokenize(rest, era.is_some())?;
        let date = match (era, numbers.as_slice()) {
            (None, [(ymd, 8)]) => {
                let (y, md) = (ymd / 10_000, ymd % 10_000);
                make_date(i32::try_from(y).ok(), md / 100, md % 100)?
            }
            (None, [(y, 4), (m, 1..=2), (d, 1..=2)]) => make_date(i32::try_from(*y).ok(), *m, *d)?,
            (Some(era), [(y, 1..=2), (m, 1..=2), (d, 1..=2)]) if *y >= 1 => {
                let first = era.first_day();
                let year = i32::try_from(*y).ok().map(|y| first.0 + y - 1);
                let date = make_date(year, *m, *d)?;
                if Era::of(date).map(|(e, _)| e) != Some(era) {
                    return Err(BirthDateError::OutsideEra);
                }
                date
            }
            _ => return Err(BirthDateError::InvalidFormat),
        };
        Self::new(date, today)
    }

    /// The date.
    #[must_use]
    pub fn date(&self) -> NaiveDate {
        self.0
    }

    /// Age in completed years on `on`, or `None` if `on` is before the birth.
    ///
    /// Follows Japanese law (年齢計算ニ関スル法律 with 民法143条): a person
    /// born on 29 February becomes a year older on 1 March in common years.
    #[must_use]
    pub fn age_on(&self, on: NaiveDate) -> Option<u32> {
        if on < self.0 {
            return None;
        }
        let mut years = on.year() - self.0.year();
        if (on.month(), on.day()) < (self.0.month(), self.0.day()) {
            years -= 1;
        }
        u32::try_from(years).ok()
    }

    /// What every birth date masks to: a birth date says nothing useful half-shown (the year
    /// alone narrows a person down, the day and month are a common security question), so all
    /// of it is hidden.
    pub const MASKED: &'static str = "****-**-**";

    /// [`BirthDate::MASKED`], whatever the date.
    #[must_use]
    pub fn masked(&self) -> String {
        Self::MASKED.to_owned()
    }

    /// `"平成2年1月2日"` (元年 for the first year).
    #[must_use]
    pub fn to_wareki(&self) -> String {
        match Era::of(self.0) {
            Some((era, year)) => {
                let year = if year == 1 {
                    "元".to_owned()
                } else {
                    year.to_string()
                };
                format!(
                    "{}{}年{}月{}日",
                    era.label_ja(),
                    year,
                    self.0.month(),
                    self.0.day()
                )
            }
            None => self.0.format("%Y年%-m月%-d日").to_string(),
        }
    }
}

impl TryFrom<NaiveDate> for BirthDate {
    type Error = BirthDateError;
    /// Checks the lower bound only; the "not in the future" rule needs today's
    /// date, see [`BirthDate::new`].
    fn try_from(date: NaiveDate) -> Result<Self, Self::Error> {
        if (date.year(), date.month(), date.day()) < MIN_DATE {
            return Err(BirthDateError::TooOld);
        }
        Ok(Self(date))
    }
}

impl fmt::Debug for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BirthDate({REDACTED})")
    }
}

/// Splits `1990年1月2日` / `2.1.2` into numbers with their digit counts.
fn tokenize(s: &str, era: bool) -> Result<Vec<(u32, usize)>, BirthDateError> {
    let mut out: Vec<(u32, usize)> = Vec::with_capacity(3);
    let mut current: Option<(u32, usize)> = None;
    for c in s.chars() {
        match c {
            '0'..='9' => {
                let (value, len) = current.unwrap_or((0, 0));
                if len >= 8 {
                    return Err(BirthDateError::InvalidFormat);
                }
                current = Some((value * 10 + (u32::from(c) - u32::from('0')), len + 1));
            }
            // 元年: the first year of an era.
            '元' if era && out.is_empty() && current.is_none() => current = Some((1, 1)),
            '年' | '月' | '日' | '.' | '/' | '-' | ' ' => {
                if let Some(n) = current.take() {
                    out.push(n);
                }
            }
            _ => return Err(BirthDateError::InvalidFormat),
        }
    }
    if let Some(n) = current {
        out.push(n);
    }
    Ok(out)
}

fn make_date(year: Option<i32>, month: u32, day: u32) -> Result<NaiveDate, BirthDateError> {
    let year = year.ok_or(BirthDateError::InvalidDate)?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(BirthDateError::InvalidDate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn today() -> NaiveDate {
        d(2025, 6, 1)
    }

    fn parse(s: &str) -> Result<NaiveDate, BirthDateError> {
        BirthDate::parse(s, today()).map(|b| b.date())
    }

    #[test]
    fn western_forms() {
        for s in [
            "1990-01-02",
            "1990/1/2",
            "1990.1.2",
            "1990年1月2日",
            "1990年01月02日",
            "19900102",
            "１９９０／１／２",
            "１９９０ー０１ー０２",
            "１９９０年１月２日",
            " 1990 / 1 / 2 ",
        ] {
            assert_eq!(parse(s), Ok(d(1990, 1, 2)), "{s}");
        }
    }

    #[test]
    fn japanese_eras() {
        for s in [
            "平成2年1月2日",
            "平成２年１月２日",
            "平2.1.2",
            "H2.1.2",
            "h2/1/2",
            "H02.01.02",
            "Ｈ２．１．２",
            "㍻2年1月2日",
            "平成 2年 1月 2日",
        ] {
            assert_eq!(parse(s), Ok(d(1990, 1, 2)), "{s}");
        }
        assert_eq!(parse("平成元年1月8日"), Ok(d(1989, 1, 8)));
        assert_eq!(parse("昭和64年1月7日"), Ok(d(1989, 1, 7)));
        assert_eq!(parse("S64.1.7"), Ok(d(1989, 1, 7)));
        assert_eq!(parse("令和元年5月1日"), Ok(d(2019, 5, 1)));
        assert_eq!(parse("R3.4.5"), Ok(d(2021, 4, 5)));
        assert_eq!(parse("㋿3年4月5日"), Ok(d(2021, 4, 5)));
        assert_eq!(parse("大正元年7月30日"), Ok(d(1912, 7, 30)));
        assert_eq!(parse("T15.12.24"), Ok(d(1926, 12, 24)));
        assert_eq!(parse("昭和元年12月25日"), Ok(d(1926, 12, 25)));
        assert_eq!(parse("明治45年7月29日"), Ok(d(1912, 7, 29)));
        assert_eq!(parse("M41.3.4"), Ok(d(1908, 3, 4)));
    }

    #[test]
    fn rejections() {
        use BirthDateError as E;
        assert_eq!(parse(""), Err(E::Empty));
        assert_eq!(parse("　"), Err(E::Empty));
        assert_eq!(parse("1990/1"), Err(E::InvalidFormat));
        assert_eq!(parse("90/1/2"), Err(E::InvalidFormat));
        assert_eq!(parse("1990/1/2/3"), Err(E::InvalidFormat));
        assert_eq!(parse("一九九〇年一月二日"), Err(E::InvalidFormat));
        assert_eq!(parse("X2.1.2"), Err(E::InvalidFormat));
        assert_eq!(parse("H0.1.2"), Err(E::InvalidFormat));
        assert_eq!(parse("1990元年1月2日"), Err(E::InvalidFormat));
        assert_eq!(parse("99999999999/1/2"), Err(E::InvalidFormat));
        assert_eq!(parse("1990/2/30"), Err(E::InvalidDate));
        assert_eq!(parse("H2.13.1"), Err(E::InvalidDate));
        assert_eq!(parse("19900230"), Err(E::InvalidDate));
        assert_eq!(parse("平成元年1月7日"), Err(E::OutsideEra));
        assert_eq!(parse("昭和64年1月8日"), Err(E::OutsideEra));
        assert_eq!(parse("平成31年5月1日"), Err(E::OutsideEra));
        assert_eq!(parse("令和元年4月30日"), Err(E::OutsideEra));
        assert_eq!(parse("2025/6/2"), Err(E::InFuture));
        assert_eq!(parse("令和7年6月2日"), Err(E::InFuture));
        assert_eq!(parse("2025/6/1"), Ok(today()));
        assert_eq!(parse("1872/12/31"), Err(E::TooOld));
        assert_eq!(parse("明治5年12月2日"), Err(E::TooOld));
    }

    #[test]
    fn ages() {
        let b = BirthDate::parse("1990/1/2", today()).unwrap();
        assert_eq!(b.age_on(d(2025, 1, 1)), Some(34));
        assert_eq!(b.age_on(d(2025, 1, 2)), Some(35));
        assert_eq!(b.age_on(d(1990, 1, 2)), Some(0));
        assert_eq!(b.age_on(d(1990, 1, 1)), None);
        let leap = BirthDate::parse("2004/2/29", today()).unwrap();
        assert_eq!(leap.age_on(d(2005, 2, 28)), Some(0));
        assert_eq!(leap.age_on(d(2005, 3, 1)), Some(1));
        assert_eq!(leap.age_on(d(2008, 2, 29)), Some(4));
    }

    #[test]
    fn wareki_display_and_era_lookup() {
        let b = BirthDate::parse("1990-01-02", today()).unwrap();
        assert_eq!(b.to_wareki(), "平成2年1月2日");
        let b = BirthDate::parse("2019-05-01", today()).unwrap();
        assert_eq!(b.to_wareki(), "令和元年5月1日");
        assert_eq!(Era::of(d(1989, 1, 7)), Some((Era::Showa, 64)));
        assert_eq!(Era::of(d(1800, 1, 1)), None);
    }

    #[test]
    fn debug_is_redacted() {
        let b = BirthDate::parse("1990-01-02", today()).unwrap();
        let dbg = format!("{b:?}");
        assert!(!dbg.contains("1990"), "{dbg}");
    }
}
