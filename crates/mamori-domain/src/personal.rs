//! The `Personal<T>` wrapper that keeps personal data out of logs.

use std::fmt;

use serde::Deserialize;

/// Text printed instead of a personal value by `Debug` and `Display`.
pub const REDACTED: &str = "[redacted]";

/// Wrapper for every personal value (name, address, phone, e-mail, birth date…).
///
/// `Debug` and `Display` print `[redacted]`, so a value cannot reach a log line
/// or an error message by accident; code that really needs the value (a
/// template, the database layer) must call [`Personal::expose`], which is easy
/// to find in review. There is deliberately no `Serialize` implementation, so a
/// `Personal` cannot slip into a JSON log; `Deserialize` is provided because
/// reading a value in is harmless.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(transparent)]
pub struct Personal<T>(T);

impl<T> Personal<T> {
    /// Wraps a personal value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrows the value. Every call site is a place where personal data is
    /// handled on purpose.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// Transforms the value while keeping it wrapped.
    pub fn map<U, F: FnOnce(T) -> U>(self, f: F) -> Personal<U> {
        Personal(f(self.0))
    }

    /// Borrows the value as a wrapped reference (for example to `map` without
    /// consuming).
    pub const fn as_ref(&self) -> Personal<&T> {
        Personal(&self.0)
    }
}

impl<T> From<T> for Personal<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Personal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Personal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let p = Personal::new("山田太郎".to_owned());
        assert_eq!(format!("{p:?}"), "[redacted]");
        assert_eq!(format!("{p}"), "[redacted]");
        assert_eq!(format!("{p:#?}"), "[redacted]");
        assert_eq!(p.expose(), "山田太郎");
    }

    #[test]
    fn map_and_into_inner_keep_value() {
        let p = Personal::new(21_u32).map(|n| n * 2);
        assert_eq!(*p.expose(), 42);
        assert_eq!(p.into_inner(), 42);
    }

    #[test]
    fn equality_and_hash_follow_inner_value() {
        use std::collections::HashSet;
        let a = Personal::new("a".to_owned());
        let b = Personal::new("a".to_owned());
        let c = Personal::new("c".to_owned());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let set: HashSet<_> = [a, b, c].into_iter().collect();
        assert_eq!(set.len(), 2);
    }
}
