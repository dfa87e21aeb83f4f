//! The injectable clock sessions and rate limits read: mamori's one clock, from
//! `mamori_domain::time` (so that expiry is tested by moving time rather than by sleeping).

pub use mamori_domain::time::{Clock, ManualClock, SystemClock};

pub(crate) use mamori_domain::time::to_delta;
