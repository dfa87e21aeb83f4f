//! Language choice and the message catalogue.
//!
//! Japanese is the default and comes first; English is the second language. The language is
//! chosen by the `lang` cookie (`ja` or `en`) and, failing that, by `Accept-Language`.
//!
//! The catalogue is an enum rather than string keys so that a message missing a translation is
//! a compile error, not a blank on a customer's screen.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use http::{header, request::Parts, HeaderMap};

/// The name of the cookie that pins the language.
pub const LANG_COOKIE: &str = "lang";

/// A language the shop speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    /// 日本語: the default.
    #[default]
    Ja,
    /// English: the second language.
    En,
}

impl Lang {
    /// Every language, in the order screens show them.
    pub const ALL: [Lang; 2] = [Lang::Ja, Lang::En];

    /// The BCP 47 tag for `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Parses a language tag or cookie value (`ja`, `ja-JP`, `en-US`, ...).
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Chooses the language for a request: the `lang` cookie, then `Accept-Language`, then
    /// Japanese.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        cookie_lang(headers)
            .or_else(|| accept_language(headers))
            .unwrap_or_default()
    }

    /// The text of `msg` in this language.
    pub fn t(self, msg: Msg) -> &'static str {
        match self {
            Lang::Ja => msg.ja(),
            Lang::En => msg.en(),
        }
    }
}

fn cookie_lang(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == LANG_COOKIE)
        .and_then(|c| Lang::parse(c.value()))
}

/// Picks the supported language with the highest q-value; earlier entries win ties.
///
/// Written by hand: the header grammar needed here is a few lines, smaller than a dependency.
fn accept_language(headers: &HeaderMap) -> Option<Lang> {
    let value = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut best: Option<(Lang, f32)> = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::parse) else {
            continue;
        };
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 || !q.is_finite() {
            continue;
        }
        if best.is_none_or(|(_, b)| q > b) {
            best = Some((lang, q));
        }
    }
    best.map(|(lang, _)| lang)
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::from_headers(&parts.headers))
    }
}

macro_rules! catalogue {
    ($($(#[$doc:meta])* $name:ident => $ja:literal, $en:literal;)*) => {
        /// A message of the catalogue; `Lang::t` gives its text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Msg {
            $($(#[$doc])* $name,)*
        }

        impl Msg {
            /// Every message, for completeness tests.
            pub const ALL: &'static [Msg] = &[$(Msg::$name,)*];

            /// The Japanese text.
            pub fn ja(self) -> &'static str {
                match self { $(Msg::$name => $ja,)* }
            }

            /// The English text.
            pub fn en(self) -> &'static str {
                match self { $(Msg::$name => $en,)* }
            }
        }
    };
}

catalogue! {
    /// The shop's name in the header.
    SiteName => "mamori ショップ", "mamori shop";
    /// Link back to the top page.
    BackToTop => "トップページへ戻る", "Back to the top page";
    /// Label before the request id on error pages.
    RequestIdLabel => "お問い合わせ番号", "Reference";
    /// Title of the 400 page.
    BadRequestTitle => "リクエストの内容に誤りがあります", "The request could not be understood";
    /// Body of the 400 page.
    BadRequestBody => "入力内容をご確認のうえ、もう一度お試しください。", "Please check what you entered and try again.";
    /// Title of the 403 page.
    ForbiddenTitle => "この操作は許可されていません", "This action is not allowed";
    /// Body of the 403 page.
    ForbiddenBody => "ページの有効期限が切れた可能性があります。ページを再読み込みしてから、もう一度お試しください。", "The page may have expired. Please reload it and try again.";
    /// Title of the 404 page.
    NotFoundTitle => "ページが見つかりません", "Page not found";
    /// Body of the 404 page.
    NotFoundBody => "お探しのページは移動または削除された可能性があります。", "The page you are looking for may have moved or been removed.";
    /// Title of the 405 page and other rare client errors.
    OtherErrorTitle => "リクエストを処理できませんでした", "The request could not be processed";
    /// Body of the page for rare client errors.
    OtherErrorBody => "お手数ですが、トップページからやり直してください。", "Please start again from the top page.";
    /// Title of the 413 page.
    PayloadTooLargeTitle => "送信されたデータが大きすぎます", "What you sent is too large";
    /// Body of the 413 page.
    PayloadTooLargeBody => "入力内容を短くして、もう一度お試しください。", "Please shorten what you entered and try again.";
    /// Title of the 429 page.
    TooManyRequestsTitle => "アクセスが集中しています", "Too many requests";
    /// Body of the 429 page.
    TooManyRequestsBody => "しばらく時間をおいてから、もう一度お試しください。", "Please wait a moment and try again.";
    /// Label before the number of seconds to wait.
    RetryAfterLabel => "再試行までの目安（秒）", "Seconds before retrying";
    /// Title of the 500 page.
    InternalTitle => "システムエラーが発生しました", "Something went wrong on our side";
    /// Body of the 500 page.
    InternalBody => "ご迷惑をおかけして申し訳ございません。時間をおいて、もう一度お試しください。", "We are sorry. Please try again later.";
    /// Demo: the public page's heading.
    DemoWelcome => "ようこそ", "Welcome";
    /// Demo: the private page's heading.
    DemoMyPage => "マイページ", "My page";
    /// Demo: the form page's heading.
    DemoFormTitle => "お問い合わせ", "Contact us";
    /// Demo: the form's field label.
    DemoMessageLabel => "お問い合わせ内容", "Your message";
    /// Demo: the submit button.
    DemoSubmit => "送信する", "Send";
    /// Demo: after a successful post.
    DemoThanks => "送信しました。ありがとうございました。", "Sent. Thank you.";
    /// Demo: the checkout heading.
    DemoCheckout => "お支払い", "Payment";
    /// Demo: the button that goes to the payment provider.
    DemoToPayment => "決済画面へ進む", "Continue to payment";
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn japanese_is_the_default() {
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Ja);
        assert_eq!(
            Lang::from_headers(&headers(&[("accept-language", "fr, de;q=0.5")])),
            Lang::Ja
        );
    }

    #[test]
    fn accept_language_picks_the_highest_supported_q() {
        let cases = [
            ("en-US,en;q=0.9", Lang::En),
            ("ja-JP,ja;q=0.9,en;q=0.8", Lang::Ja),
            ("fr;q=1.0, en;q=0.3, ja;q=0.7", Lang::Ja),
            ("fr, en;q=0.5", Lang::En),
            ("en;q=0, ja;q=0.1", Lang::Ja),
            ("ja;q=0, en;q=0", Lang::Ja),
        ];
        for (value, want) in cases {
            let h = headers(&[("accept-language", value)]);
            assert_eq!(Lang::from_headers(&h), want, "{value}");
        }
    }

    #[test]
    fn the_cookie_wins_over_the_header() {
        let h = headers(&[("accept-language", "ja"), ("cookie", "a=b; lang=en")]);
        assert_eq!(Lang::from_headers(&h), Lang::En);
        let h = headers(&[("accept-language", "en"), ("cookie", "lang=ja")]);
        assert_eq!(Lang::from_headers(&h), Lang::Ja);
        // A bogus cookie value falls through to the header.
        let h = headers(&[("accept-language", "en"), ("cookie", "lang=xx")]);
        assert_eq!(Lang::from_headers(&h), Lang::En);
    }

    #[test]
    fn every_message_has_both_languages() {
        for msg in Msg::ALL {
            assert!(!msg.ja().is_empty(), "{msg:?}");
            assert!(!msg.en().is_empty(), "{msg:?}");
            assert_ne!(msg.ja(), msg.en(), "{msg:?} is not translated");
            assert_eq!(Lang::Ja.t(*msg), msg.ja());
            assert_eq!(Lang::En.t(*msg), msg.en());
        }
    }
}
