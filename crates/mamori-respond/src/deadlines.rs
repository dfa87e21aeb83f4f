//! The deadlines an incident starts, as pure functions of its 発覚 (the time the shop knew), in
//! Japanese dates.
//!
//! - **速報** to the PPC (個人情報保護法施行規則8条1項): 速やかに; the PPC's guidelines
//!   (通則編 3-5-3-3) read this as about three to five days from 発覚, so the desk shows the
//!   window from the 3rd to the 5th calendar day after it.
//! - **確報** (規則8条2項): within 30 days of 発覚, 60 days where the cause is 不正の目的
//!   (規則7条3号). As the guidelines (通則編 3-5-3-4) count it: the day of 発覚 is day 1, and
//!   when the last day is a Saturday, Sunday, national holiday or a government year-end closing
//!   day (12月29日から1月3日), the next day that is none of these is the last.
//! - **The card companies** (Visa's "What To Do If Compromised" and the acquirers who follow it):
//!   the incident reported within 3 business days of discovery, the affected accounts within 10
//!   business days. A business day is a weekday that is not a national holiday and not a bank
//!   holiday of the year end (12月31日から1月3日); the day of discovery is not counted.
//!
//! National holidays (振替休日 and 国民の休日 included) come from the `jpholiday` crate, which
//! computes them by the holiday law's rules, equinoxes included.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use serde::Serialize;

/// Whether `d` is a national holiday of Japan (祝日, 振替休日, 国民の休日).
pub fn is_national_holiday(d: NaiveDate) -> bool {
    jpholiday::jpholiday::JPHoliday::new().is_holiday(&d)
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Government offices' year-end closing (行政機関の休日に関する法律 1条: 12月29日から1月3日).
fn is_government_year_end(d: NaiveDate) -> bool {
    (d.month() == 12 && d.day() >= 29) || (d.month() == 1 && d.day() <= 3)
}

/// Banks' year-end holidays (銀行法施行令 5条: 12月31日から1月3日).
fn is_bank_year_end(d: NaiveDate) -> bool {
    (d.month() == 12 && d.day() == 31) || (d.month() == 1 && d.day() <= 3)
}

/// Whether government offices (the PPC) are closed on `d`.
pub fn is_government_closed(d: NaiveDate) -> bool {
    is_weekend(d) || is_national_holiday(d) || is_government_year_end(d)
}

/// Whether `d` is a business day for the card companies and acquirers in Japan.
pub fn is_business_day(d: NaiveDate) -> bool {
    !(is_weekend(d) || is_national_holiday(d) || is_bank_year_end(d))
}

/// The `n`-th business day after `d` (`d` itself not counted).
pub fn add_business_days(d: NaiveDate, n: u32) -> NaiveDate {
    let mut day = d;
    let mut left = n;
    while left > 0 {
        // The end of chrono's calendar ends the count (unreachable from a real 発覚).
        let Some(next) = day.succ_opt() else { break };
        day = next;
        if is_business_day(day) {
            left -= 1;
        }
    }
    day
}

/// Parses a time as staff type it: RFC 3339 (`2027-01-08T09:30:00+09:00`), or
/// `YYYY-MM-DD HH:MM`, `YYYY-MM-DDTHH:MM` (a browser's `datetime-local`) or `YYYY-MM-DD` in
/// Japanese time. None when it is none of these.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    use chrono::{NaiveDateTime, TimeZone as _};
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    mamori_domain::time::jst()
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// The Japanese calendar date of an instant.
pub fn jst_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&mamori_domain::time::jst()).date_naive()
}

/// Who a deadline is owed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// 速報 to the PPC.
    PpcPreliminary,
    /// 確報 to the PPC.
    PpcFinal,
    /// The incident report to the card companies / acquirer.
    CardIncidentReport,
    /// The affected accounts to the card companies / acquirer.
    CardAffectedAccounts,
}

impl DeadlineKind {
    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            DeadlineKind::PpcPreliminary => "個人情報保護委員会への速報",
            DeadlineKind::PpcFinal => "個人情報保護委員会への確報",
            DeadlineKind::CardIncidentReport => "カード会社・アクワイアラへの事故報告",
            DeadlineKind::CardAffectedAccounts => "カード会社・アクワイアラへの対象カード一覧",
        }
    }

    /// What the rule says, in Japanese.
    pub fn rule_ja(self) -> &'static str {
        match self {
            DeadlineKind::PpcPreliminary => "速やかに（発覚から概ね3〜5日以内）",
            DeadlineKind::PpcFinal => "発覚から30日以内（不正の目的によるものは60日以内）",
            DeadlineKind::CardIncidentReport => "発覚から3営業日以内",
            DeadlineKind::CardAffectedAccounts => "発覚から10営業日以内",
        }
    }
}

/// One deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// Which.
    pub kind: DeadlineKind,
    /// The earliest day it is expected (the 速報's window opens), when the rule gives a window.
    pub from: Option<NaiveDate>,
    /// The last day (Japanese date).
    pub due: NaiveDate,
}

impl Deadline {
    /// Days from `today` to the last day (0 on the day, negative once past).
    pub fn days_left(&self, today: NaiveDate) -> i64 {
        (self.due - today).num_days()
    }
}

/// The deadlines of an incident known at `known_at`: the PPC's always (whether a report is owed
/// at all is the desk's question, not the clock's), the card companies' when `cards` is true.
/// `malicious`: the cause is 不正の目的 (規則7条3号).
pub fn deadlines(known_at: DateTime<Utc>, malicious: bool, cards: bool) -> Vec<Deadline> {
    let known = jst_date(known_at);
    let plus = |n: u64| known.checked_add_days(Days::new(n)).unwrap_or(known);
    let mut out = vec![
        Deadline {
            kind: DeadlineKind::PpcPreliminary,
            from: Some(plus(3)),
            due: plus(5),
        },
        Deadline {
            kind: DeadlineKind::PpcFinal,
            from: None,
            due: final_report_due(known, malicious),
        },
    ];
    if cards {
        out.push(Deadline {
            kind: DeadlineKind::CardIncidentReport,
            from: None,
            due: add_business_days(known, 3),
        });
        out.push(Deadline {
            kind: DeadlineKind::CardAffectedAccounts,
            from: None,
            due: add_business_days(known, 10),
        });
    }
    out
}

/// The 確報's last day for an incident known on `known` (the day of 発覚 is day 1; a last day on
/// which government offices are closed moves to the next open day).
pub fn final_report_due(known: NaiveDate, malicious: bool) -> NaiveDate {
    let days = if malicious { 60 } else { 30 };
    let mut due = known.checked_add_days(Days::new(days - 1)).unwrap_or(known);
    while is_government_closed(due) {
        let Some(next) = due.succ_opt() else { break };
        due = next;
    }
    due
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// 09:30 JST on a date.
    fn morning(y: i32, m: u32, day: u32) -> DateTime<Utc> {
        mamori_domain::time::jst()
            .with_ymd_and_hms(y, m, day, 9, 30, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_holiday_crate_knows_2026_and_2027() {
        // The Cabinet Office's published lists.
        let y2026 = [
            d(2026, 1, 1),
            d(2026, 1, 12),
            d(2026, 2, 11),
            d(2026, 2, 23),
            d(2026, 3, 20),
            d(2026, 4, 29),
            d(2026, 5, 3),
            d(2026, 5, 4),
            d(2026, 5, 5),
            d(2026, 5, 6),
            d(2026, 7, 20),
            d(2026, 8, 11),
            d(2026, 9, 21),
            d(2026, 9, 22),
            d(2026, 9, 23),
            d(2026, 10, 12),
            d(2026, 11, 3),
            d(2026, 11, 23),
        ];
        let y2027 = [
            d(2027, 1, 1),
            d(2027, 1, 11),
            d(2027, 2, 11),
            d(2027, 2, 23),
            d(2027, 3, 21),
            d(2027, 3, 22),
            d(2027, 4, 29),
            d(2027, 5, 3),
            d(2027, 5, 4),
            d(2027, 5, 5),
            d(2027, 7, 19),
            d(2027, 8, 11),
            d(2027, 9, 20),
            d(2027, 9, 23),
            d(2027, 10, 11),
            d(2027, 11, 3),
            d(2027, 11, 23),
        ];
        for (year, expected) in [(2026, &y2026[..]), (2027, &y2027[..])] {
            let mut found = Vec::new();
            let mut day = d(year, 1, 1);
            while day.year() == year {
                if is_national_holiday(day) {
                    found.push(day);
                }
                day = day.succ_opt().unwrap();
            }
            assert_eq!(found, expected, "{year}");
        }
    }

    #[test]
    fn friday_before_a_holiday_monday() {
        // 発覚 Friday 2027-01-08; Monday 2027-01-11 is 成人の日.
        let known = morning(2027, 1, 8);
        let all = deadlines(known, false, true);
        let by = |k: DeadlineKind| all.iter().find(|x| x.kind == k).unwrap().clone();

        let pre = by(DeadlineKind::PpcPreliminary);
        assert_eq!(pre.from, Some(d(2027, 1, 11)));
        assert_eq!(pre.due, d(2027, 1, 13));

        // Day 30 is Saturday 2027-02-06; the next day the offices are open is Monday the 8th.
        assert_eq!(by(DeadlineKind::PpcFinal).due, d(2027, 2, 8));

        // Business days: Tue 12, Wed 13, Thu 14 (Monday the 11th is a holiday).
        assert_eq!(by(DeadlineKind::CardIncidentReport).due, d(2027, 1, 14));
        // ... 15, 18, 19, 20, 21, 22, 25.
        assert_eq!(by(DeadlineKind::CardAffectedAccounts).due, d(2027, 1, 25));

        // Days left, seen on the day of 発覚 and later.
        let today = d(2027, 1, 8);
        assert_eq!(by(DeadlineKind::CardIncidentReport).days_left(today), 6);
        assert_eq!(by(DeadlineKind::PpcFinal).days_left(today), 31);
        assert_eq!(
            by(DeadlineKind::PpcPreliminary).days_left(d(2027, 1, 14)),
            -1
        );
    }

    #[test]
    fn malicious_cause_gives_sixty_days() {
        // Day 60 from 2027-01-08 is Monday 2027-03-08, an ordinary working day.
        assert_eq!(final_report_due(d(2027, 1, 8), true), d(2027, 3, 8));
        // From 2026-11-20 (Friday): day 30 is Saturday 2026-12-19 -> Monday the 21st.
        assert_eq!(final_report_due(d(2026, 11, 20), false), d(2026, 12, 21));
    }

    #[test]
    fn year_end_closing_moves_the_final_report() {
        // Known 2026-11-30: day 30 is 2026-12-29, closed until 2027-01-03 (a Sunday): Jan 4th.
        assert_eq!(final_report_due(d(2026, 11, 30), false), d(2027, 1, 4));
    }

    #[test]
    fn business_days_skip_the_bank_year_end() {
        // Known Wednesday 2026-12-30: Thu 31 and Jan 1-3 are bank holidays; Mon 4th, Tue 5th,
        // Wed 6th.
        assert_eq!(add_business_days(d(2026, 12, 30), 3), d(2027, 1, 6));
        // 12月29日 and 30日 are business days for banks (not for the PPC).
        assert!(is_business_day(d(2026, 12, 29)));
        assert!(is_government_closed(d(2026, 12, 29)));
    }

    #[test]
    fn times_in_japanese_time_or_rfc3339() {
        let a = parse_time("2027-01-08 09:30").unwrap();
        assert_eq!(parse_time("2027-01-08T09:30:00+09:00"), Some(a));
        assert_eq!(parse_time("2027-01-08T00:30:00Z"), Some(a));
        assert_eq!(parse_time("2027-01-08T09:30"), Some(a));
        assert_eq!(parse_time("2027-01-08"), parse_time("2027-01-08 00:00"));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn a_late_evening_in_utc_is_the_next_japanese_day() {
        // 2027-01-07 16:00 UTC is 2027-01-08 01:00 JST.
        let at = Utc.with_ymd_and_hms(2027, 1, 7, 16, 0, 0).unwrap();
        assert_eq!(jst_date(at), d(2027, 1, 8));
        let cards_off = deadlines(at, false, false);
        assert_eq!(cards_off.len(), 2);
    }
}
