//! The back office's security pages, for owners, managers and auditors (`alerts_view`):
//!
//! - [`dashboard`] (`GET /security`): personal-data reads per time bucket by role and by
//!   principal (the ledger's access events, counts only), alerts by severity, CSP reports,
//!   declined payments and staff sign-ins with their failures, as SVG plots drawn on the server
//!   ([`plots`]), and the principals that opened the most customers today (the mass-read limits'
//!   counters); over the last 24 hours or 7 days;
//! - [`selfcheck`] (`GET /security/self-check`): the card guideline's five measures and the
//!   IPA EC-site guideline's items that software can meet, each with evidence checked when the
//!   page loads;
//! - [`canaries`] (`GET/POST /canaries`, `POST /canaries/mail/{id}/open`): the planted canary
//!   customers (ids and planting times, to owners only; never opened), planting more, and the
//!   mail received for the canary domain.

pub mod canaries;
pub mod dashboard;
pub mod plots;
pub mod selfcheck;

use chrono::DateTime;
use mamori_staff::Role;

use crate::{ctx::Ctx, state::jst};

/// The page's language for texts built outside a template (`Ctx::t` without the request, so
/// that the figures can be computed and timed on their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Words {
    /// English (else Japanese).
    pub en: bool,
}

impl Words {
    /// The language of the page of `c`.
    pub fn of(c: &Ctx) -> Self {
        Words { en: c.en() }
    }

    /// Japanese or English.
    pub fn t(self, ja: &'static str, en: &'static str) -> &'static str {
        if self.en {
            en
        } else {
            ja
        }
    }

    /// A role's label.
    pub fn role_name(self, role: Role) -> &'static str {
        if self.en {
            role.label_en()
        } else {
            role.label_ja()
        }
    }
}

/// Seconds of JST ahead of UTC: buckets start on JST hours (and 6-hour marks).
const JST_OFFSET: i64 = 9 * 3600;

/// The time window a page looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The last 24 hours, by hour.
    Day,
    /// The last 7 days, by 6 hours.
    Week,
}

impl Window {
    /// From the query's `w` (`24h`, `7d`); anything else is the last 24 hours.
    pub fn parse(w: Option<&str>) -> Self {
        match w {
            Some("7d") => Window::Week,
            _ => Window::Day,
        }
    }

    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
        }
    }

    /// One bucket, in seconds.
    pub fn bucket_secs(self) -> i64 {
        match self {
            Window::Day => 3600,
            Window::Week => 6 * 3600,
        }
    }

    /// Buckets in the window.
    pub fn buckets(self) -> i64 {
        match self {
            Window::Day => 24,
            Window::Week => 28,
        }
    }

    /// `[from, to)` in Unix seconds for a window ending with the bucket that holds `now`.
    pub fn bounds(self, now: i64) -> (i64, i64) {
        let w = self.bucket_secs();
        let to = (now + JST_OFFSET).div_euclid(w) * w + w - JST_OFFSET;
        (to - w * self.buckets(), to)
    }

    /// The label of the bucket starting at `start` (JST).
    pub fn label(self, start: i64) -> String {
        let Some(t) = DateTime::from_timestamp(start, 0) else {
            return String::new();
        };
        let t = t.with_timezone(&jst());
        match self {
            Window::Day => t.format("%H時").to_string(),
            Window::Week => t.format("%m/%d %H時").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_with_the_bucket_of_now_on_jst_marks() {
        // 2026-12-07 05:16:56 UTC = 14:16:56 JST.
        let now = 1_796_620_616;
        let (from, to) = Window::Day.bounds(now);
        assert_eq!(to - from, 86_400);
        assert!(from < now && now < to);
        assert_eq!(Window::Day.label(to - 3600), "14時");
        let (from, to) = Window::Week.bounds(now);
        assert_eq!(to - from, 7 * 86_400);
        assert!(now < to && to - now <= 6 * 3600);
        assert_eq!(Window::Week.label(to - 6 * 3600), "12/07 12時");
        assert_eq!(Window::parse(Some("7d")), Window::Week);
        assert_eq!(Window::parse(Some("x")), Window::Day);
    }
}
