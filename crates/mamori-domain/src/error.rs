//! Bilingual error plumbing shared by every parser in this crate.
//!
//! Parse errors are unit-only enums on purpose: a variant has no room to carry
//! the rejected input, so an error can be logged or shown to a user without
//! leaking the personal value that failed validation.

use std::borrow::Cow;

/// Language of a user-facing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// Japanese (default for the storefront).
    Ja,
    /// English.
    En,
}

/// An error whose message exists in Japanese and English.
///
/// Implemented by every error type of this crate so that the web layer can
/// render any of them generically.
pub trait Localized {
    /// The message in the requested language. Never contains input values.
    fn message(&self, lang: Language) -> Cow<'static, str>;
}

/// Declares a unit-only `thiserror` enum with an English and a Japanese message
/// per variant. The English message doubles as `Display` and as variant doc.
macro_rules! bilingual_error {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $variant:ident => ($en:literal, $ja:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
        pub enum $name {
            $(
                #[doc = $en]
                #[error($en)]
                $variant,
            )+
        }

        impl $name {
            /// Japanese message for end users. Never contains the input.
            #[must_use]
            pub fn message_ja(&self) -> &'static str {
                match self {
                    $( Self::$variant => $ja, )+
                }
            }

            /// English message. Never contains the input.
            #[must_use]
            pub fn message_en(&self) -> &'static str {
                match self {
                    $( Self::$variant => $en, )+
                }
            }

            /// Every variant, so tests can check all messages.
            #[cfg(test)]
            pub(crate) const ALL_VARIANTS: &'static [$name] = &[ $( Self::$variant, )+ ];
        }

        impl $crate::error::Localized for $name {
            fn message(&self, lang: $crate::error::Language) -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(match lang {
                    $crate::error::Language::Ja => self.message_ja(),
                    $crate::error::Language::En => self.message_en(),
                })
            }
        }
    };
}

pub(crate) use bilingual_error;

bilingual_error! {
    /// Yen arithmetic left the range of `i64`.
    pub enum AmountOverflow {
        Overflow => ("amount is out of range", "金額が扱える範囲を超えています"),
    }
}
