//! Macro for the small enums that are stored as strings and shown with
//! Japanese and English labels.

/// Declares a fieldless enum with `ALL`, `as_str`, `parse`, `label_ja`,
/// `label_en`, `Display` (Japanese label) and serde as the storage key, plus
/// a bilingual parse error.
macro_rules! labelled_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident / $err:ident ($err_en:literal, $err_ja:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => ($key:literal, $ja:literal, $en:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $key)]
                $variant,
            )+
        }

        $crate::error::bilingual_error! {
            #[doc = concat!("A stored value that is not a known `", stringify!($name), "`.")]
            pub enum $err {
                Unknown => ($err_en, $err_ja),
            }
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// Stable storage key (snake_case ASCII), same as serde uses.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $key, )+
                }
            }

            /// Parses a storage key produced by `as_str`.
            pub fn parse(key: &str) -> Result<$name, $err> {
                match key {
                    $( $key => Ok($name::$variant), )+
                    _ => Err($err::Unknown),
                }
            }

            /// Japanese label for screens and documents.
            #[must_use]
            pub const fn label_ja(self) -> &'static str {
                match self {
                    $( $name::$variant => $ja, )+
                }
            }

            /// English label.
            #[must_use]
            pub const fn label_en(self) -> &'static str {
                match self {
                    $( $name::$variant => $en, )+
                }
            }

            /// The label in the requested language.
            #[must_use]
            pub const fn label(self, lang: $crate::error::Language) -> &'static str {
                match lang {
                    $crate::error::Language::Ja => self.label_ja(),
                    $crate::error::Language::En => self.label_en(),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.label_ja())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        // Rows hold the code as text: `#[sqlx(try_from = "String")]` reads it back through this.
        impl ::std::convert::TryFrom<String> for $name {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::parse(&s)
            }
        }
    };
}

pub(crate) use labelled_enum;
