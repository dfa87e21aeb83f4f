//! Time as the whole of mamori reads it: one injectable [`Clock`] (so that expiry, lockout, rate
//! limits and deadlines are tested by moving time rather than by sleeping) and Japan Standard
//! Time ([`jst`]), the zone of every screen, mail, receipt and report.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, FixedOffset, Offset as _, TimeDelta, Utc};

/// Japan Standard Time (UTC+9, no daylight saving).
pub fn jst() -> FixedOffset {
    // 9 h is always a valid offset; the fallback (UTC) is unreachable but keeps this total.
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The source of "now".
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// The current instant in Unix seconds.
    fn now_secs(&self) -> i64 {
        self.now().timestamp()
    }
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to; for tests and benchmarks. Clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new(DateTime::UNIX_EPOCH)
    }
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// A clock standing at `secs` Unix seconds.
    pub fn at_secs(secs: i64) -> Self {
        Self::new(from_secs(secs))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += to_delta(by);
    }

    /// Moves the clock by `secs` seconds (backwards when negative).
    pub fn advance_secs(&self, secs: i64) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += TimeDelta::try_seconds(secs).unwrap_or(TimeDelta::MAX);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Sets the clock to `secs` Unix seconds.
    pub fn set_secs(&self, secs: i64) {
        self.set(from_secs(secs));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `d` as a chrono duration, saturating.
pub fn to_delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn from_secs(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let c = ManualClock::at_secs(1_795_132_810);
        let other = c.clone();
        assert_eq!(c.now_secs(), 1_795_132_810);
        c.advance_secs(30);
        assert_eq!(other.now_secs(), 1_795_132_840);
        other.advance(std::time::Duration::from_secs(60));
        assert_eq!(c.now_secs(), 1_795_132_900);
        c.set_secs(5);
        assert_eq!(other.now_secs(), 5);
    }

    #[test]
    fn jst_is_nine_hours_ahead() {
        let at = from_secs(0).with_timezone(&jst());
        assert_eq!(at.format("%Y-%m-%d %H:%M").to_string(), "1970-01-01 09:00");
    }
}
