//! Time as the staff service reads it: mamori's one clock, from `mamori_domain::time`.

pub use mamori_domain::time::{Clock, ManualClock, SystemClock};
