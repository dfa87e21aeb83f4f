//! Account mails: the confirmation links (registration, new address, password reset), the
//! notices a member gets after a change to the account (password, address, address book,
//! profile), withdrawal, payment received and order canceled.
//!
//! Same style as [`crate::template`]: plain data in, [`MailContent`] out; Japanese first,
//! English below in one plain-text body; subject `【shop】件名 / English subject`.
//!
//! # What every mail here keeps to
//!
//! - **No secret in a mail.** No template takes a password or a card number, so none can print
//!   one. The only secret is the link of a [`LinkMail`] (a one-time token); it is printed on a
//!   line of its own so that clients make it clickable whole, and [`LinkMail`]'s `Debug` hides
//!   it.
//! - **Tell the member when it was not them.** Every notice ([`NoticeMail`]) says when, from which
//!   IP address and from which browser the change was made ([`ChangeContext`]) and, in both
//!   languages, what to do if it was not them: reset the password and contact support. The link
//!   mails say to ignore the mail if the member did not ask for it.
//! - **No raw User-Agent.** A User-Agent is long and chosen by whoever sends the request;
//!   [`browser_summary`] turns it into a short name from a fixed vocabulary
//!   (`Chrome (Windows)`), and a [`ChangeContext::browser`] that is not from that vocabulary is
//!   summarised again before it is printed. An IP address that does not parse is printed as
//!   `不明 / unknown`.
//! - **Text from outside stays on its line.** Names, order numbers and shop names are printed on
//!   one line: control characters (line breaks, bidi overrides) become spaces, runs of spaces
//!   collapse, and names are cut at [`MAX_NAME_CHARS`] characters. A name cannot add lines (a
//!   fake link, a fake instruction) to a mail the shop signs.
//! - **Links only where the member asked for one.** Notices carry no link other than the shop's
//!   own URL in the signature, so a phished copy of a notice has nothing to click that the shop
//!   would have sent.

use std::fmt;
use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{DateTime, FixedOffset};
use mamori_domain::{Yen, REDACTED};

use crate::message::MailContent;
use crate::template::{yen_en, ShopInfo};

/// Longest name printed in a salutation, in characters; longer names are cut with `…`.
pub const MAX_NAME_CHARS: usize = 50;

/// Longest order number or shop name printed, in characters.
const MAX_LABEL_CHARS: usize = 80;

/// What [`browser_summary`] returns when it does not recognise the browser.
pub const UNKNOWN_BROWSER: &str = "不明のブラウザ / unknown browser";

/// How an unparsable IP address is printed.
const UNKNOWN_IP: &str = "不明 / unknown";

/// How much of a User-Agent is looked at; the tokens we know sit well within it.
const MAX_UA_SCAN: usize = 1024;

// ---------------------------------------------------------------------------------------------
// Browser summary
// ---------------------------------------------------------------------------------------------

/// Browsers, first match wins (Edge and Opera also say `Chrome/`, Chrome also says `Safari/`).
const BROWSERS: &[(&[&str], &str)] = &[
    (&["Edg/", "EdgA/", "EdgiOS/", "Edge/"], "Edge"),
    (&["OPR/", "OPT/", "Opera/", "Opera "], "Opera"),
    (&["SamsungBrowser/"], "Samsung Internet"),
    (&[" Line/"], "LINE"),
    (&["YJApp-"], "Yahoo! JAPAN"),
    (&["FxiOS/", "Firefox/"], "Firefox"),
    (&["CriOS/", "Chrome/", "Chromium/"], "Chrome"),
    (&["MSIE ", "Trident/"], "Internet Explorer"),
    (&["Safari/"], "Safari"),
];

/// Operating systems, first match wins (iOS says `like Mac OS X`, Android says `Linux`).
const SYSTEMS: &[(&[&str], &str)] = &[
    (&["iPhone", "iPod"], "iPhone"),
    (&["iPad"], "iPad"),
    (&["Android"], "Android"),
    (&["Windows"], "Windows"),
    (&["CrOS"], "ChromeOS"),
    (&["Macintosh", "Mac OS X"], "macOS"),
    (&["Linux", "X11"], "Linux"),
];

fn first_match(ua: &str, table: &[(&[&str], &'static str)]) -> Option<&'static str> {
    table
        .iter()
        .find(|(tokens, _)| tokens.iter().any(|t| ua.contains(t)))
        .map(|(_, name)| *name)
}

/// A short description of the browser behind `user_agent`, for the "was this you?" part of a
/// notice: `Chrome (Windows)`, `Safari (iPhone)`, `Firefox (Linux)`, `Chrome` (system not
/// recognised), `不明のブラウザ / unknown browser (Windows)` or [`UNKNOWN_BROWSER`].
///
/// The result is always made of names from fixed tables, never of bytes from the User-Agent
/// (which is long and attacker-chosen), so it is short and safe to print anywhere. Only the first
/// kilobyte of the User-Agent is looked at.
#[must_use]
pub fn browser_summary(user_agent: &str) -> String {
    let mut end = user_agent.len().min(MAX_UA_SCAN);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    let ua = &user_agent[..end];
    match (first_match(ua, BROWSERS), first_match(ua, SYSTEMS)) {
        (Some(browser), Some(system)) => format!("{browser} ({system})"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("{UNKNOWN_BROWSER} ({system})"),
        (None, None) => UNKNOWN_BROWSER.to_owned(),
    }
}

/// Whether `s` is something [`browser_summary`] can return.
fn is_summary(s: &str) -> bool {
    let (browser, system) = match s.strip_suffix(')').and_then(|r| r.split_once(" (")) {
        Some((b, sys)) => (b, Some(sys)),
        None => (s, None),
    };
    let browser_ok =
        browser == UNKNOWN_BROWSER || BROWSERS.iter().any(|(_, name)| *name == browser);
    let system_ok = match system {
        None => true,
        Some(sys) => SYSTEMS.iter().any(|(_, name)| *name == sys),
    };
    browser_ok && system_ok
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// When and from where a change was made: shown to the customer so they can tell it was not
/// them. `Debug` hides the IP address.
#[derive(Clone, PartialEq, Eq)]
pub struct ChangeContext {
    /// When the change was made (shown in its own offset, JST for a Japanese shop).
    pub at: DateTime<FixedOffset>,
    /// The client's IP address as text (`203.0.113.5`, `2001:db8::1`). Printed only if it parses
    /// as an IP address.
    pub ip: String,
    /// The browser, as [`browser_summary`] describes it. Anything else (a raw User-Agent) is
    /// summarised again before it is printed.
    pub browser: String,
}

impl ChangeContext {
    /// The context of a request: its time, the client's address and the `User-Agent` header
    /// (summarised here; the raw value is not kept).
    #[must_use]
    pub fn new(at: DateTime<FixedOffset>, ip: IpAddr, user_agent: &str) -> Self {
        Self {
            at,
            ip: ip.to_string(),
            browser: browser_summary(user_agent),
        }
    }

    fn ip_display(&self) -> String {
        self.ip
            .trim()
            .parse::<IpAddr>()
            .map_or_else(|_| UNKNOWN_IP.to_owned(), |ip| ip.to_string())
    }

    /// The browser as printed: [`Self::browser`] if it is a summary already, else its summary.
    #[must_use]
    pub fn browser_display(&self) -> String {
        if is_summary(&self.browser) {
            self.browser.clone()
        } else {
            browser_summary(&self.browser)
        }
    }
}

impl fmt::Debug for ChangeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeContext")
            .field("at", &self.at)
            .field("ip", &REDACTED)
            .field("browser", &self.browser_display())
            .finish()
    }
}

/// A mail whose point is a link: registration, change of address, password reset.
/// `Debug` hides the name and the link (the link holds a one-time token).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkMail {
    /// The shop.
    pub shop: ShopInfo,
    /// The member's name for the salutation (`山田 太郎`); empty gives `お客様` / `customer`.
    pub name: String,
    /// The full link, token included (`https://shop.example.jp/account/confirm?t=…`).
    pub link: String,
    /// When the link stops working.
    pub expires_at: DateTime<FixedOffset>,
}

impl fmt::Debug for LinkMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkMail")
            .field("shop", &self.shop.name)
            .field("name", &REDACTED)
            .field("link", &REDACTED)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A notice after a change to the account. `Debug` hides the name and the IP address.
#[derive(Clone, PartialEq, Eq)]
pub struct NoticeMail {
    /// The shop.
    pub shop: ShopInfo,
    /// The member's name for the salutation; empty gives `お客様` / `customer`.
    pub name: String,
    /// When and from where the change was made.
    pub context: ChangeContext,
}

impl fmt::Debug for NoticeMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoticeMail")
            .field("shop", &self.shop.name)
            .field("name", &REDACTED)
            .field("context", &self.context)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/// `s` on one line: control characters (line breaks, tabs, bidi overrides, zero-width marks)
/// become spaces, runs of white space collapse, at most `max` characters (then `…`).
fn one_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut count = 0;
    let mut pending_space = false;
    for c in s.chars() {
        let blank = c.is_whitespace() || c.is_control() || is_format_char(c);
        if blank {
            pending_space = count > 0;
            continue;
        }
        let needed = if pending_space { 2 } else { 1 };
        if count + needed > max {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Unicode "format" characters that change how text around them is shown (bidi embedding and
/// overrides, isolates, zero-width joiners, the BOM, line and paragraph separators).
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// The link as printed: everything that cannot be part of a URL on one line is dropped.
fn link_line(link: &str) -> String {
    link.chars()
        .filter(|c| !(c.is_whitespace() || c.is_control() || is_format_char(*c)))
        .collect()
}

pub(crate) fn label(s: &str) -> String {
    one_line(s, MAX_LABEL_CHARS)
}

/// `2025年11月21日 15:04` (the time as given).
pub(crate) fn ja_date(at: &DateTime<FixedOffset>) -> String {
    at.format("%Y年%m月%d日 %H:%M").to_string()
}

/// `2025-11-21 15:04 (UTC+09:00)`.
pub(crate) fn en_date(at: &DateTime<FixedOffset>) -> String {
    at.format("%Y-%m-%d %H:%M (UTC%:z)").to_string()
}

/// One mail being written: the Japanese part and the English part, joined at the end.
struct Bilingual<'a> {
    shop: &'a ShopInfo,
    ja: String,
    en: String,
}

impl<'a> Bilingual<'a> {
    fn new(shop: &'a ShopInfo, name: &str) -> Self {
        let name = one_line(name, MAX_NAME_CHARS);
        let (ja, en) = if name.is_empty() {
            ("お客様\n\n".to_owned(), "Dear customer,\n\n".to_owned())
        } else {
            (format!("{name} 様\n\n"), format!("Dear {name},\n\n"))
        };
        Self { shop, ja, en }
    }

    fn ja(&mut self, s: &str) -> &mut Self {
        self.ja.push_str(s);
        self
    }

    fn en(&mut self, s: &str) -> &mut Self {
        self.en.push_str(s);
        self
    }

    /// The link, alone on its line with a blank line before and after, appended to both parts
    /// (call it after both introductions).
    fn link(&mut self, link: &str) -> &mut Self {
        let link = link_line(link);
        let _ = write!(self.ja, "\n{link}\n\n");
        let _ = write!(self.en, "\n{link}\n\n");
        self
    }

    /// When, from which IP address, with which browser.
    fn context(&mut self, c: &ChangeContext) -> &mut Self {
        let ip = c.ip_display();
        let browser = c.browser_display();
        let _ = write!(
            self.ja,
            "■お手続きの日時と環境\n日時：{}\nIPアドレス：{ip}\nブラウザ：{browser}\n\n",
            ja_date(&c.at)
        );
        let _ = write!(
            self.en,
            "When and where:\nTime: {}\nIP address: {ip}\nBrowser: {browser}\n\n",
            en_date(&c.at)
        );
        self
    }

    /// What to do if the member did not make the change: reset the password, contact support.
    fn not_you(&mut self) -> &mut Self {
        let support = label(&self.shop.support_email);
        let _ = write!(
            self.ja,
            "■お心当たりのない場合\n\
             第三者がお客様のアカウントを操作したおそれがあります。\n\
             すぐにログイン画面の「パスワードをお忘れの方」からパスワードを再設定し、\n\
             下記のお問い合わせ先までご連絡ください。\n\
             お問い合わせ：{support}\n\n"
        );
        let _ = write!(
            self.en,
            "If this was not you:\n\
             Someone else may have access to your account. Reset your password now with\n\
             \"Forgot your password?\" on the sign-in page, and contact us at {support}.\n\n"
        );
        self
    }

    fn finish(self, subject: String) -> MailContent {
        let Bilingual {
            shop,
            mut ja,
            mut en,
        } = self;
        let support = label(&shop.support_email);
        let shop_name = label(&shop.name);
        let url = link_line(&shop.url);
        ja.push_str("※このメールは送信専用アドレスから自動送信しています。\n");
        let _ = writeln!(ja, "お問い合わせ：{support}");
        ja.push_str("※当店がカード番号やパスワードをメールでお尋ねすることはありません。\n");
        en.push_str("This message was sent automatically; please do not reply to it.\n");
        let _ = writeln!(en, "Questions: {support}");
        en.push_str("We never ask for card numbers or passwords by mail.\n");

        let mut text = ja;
        text.push_str("\n----------------------------------------\n\n");
        text.push_str(&en);
        text.push_str("\n--\n");
        let _ = writeln!(text, "{shop_name}");
        let _ = writeln!(text, "{url}");
        MailContent {
            subject,
            text,
            html: None,
        }
    }
}

fn subject(shop: &ShopInfo, ja: &str, en: &str) -> String {
    format!("【{}】{ja} / {en}", label(&shop.name))
}

/// The expiry and once-only lines of a link mail.
fn expiry(b: &mut Bilingual<'_>, at: &DateTime<FixedOffset>) {
    let _ = write!(
        b.ja,
        "このリンクは一度だけ使えます。有効期限は {} までです。\n\
         期限を過ぎた場合は、お手数ですが最初からお手続きください。\n\n",
        ja_date(at)
    );
    let _ = write!(
        b.en,
        "The link works once and expires at {}.\n\
         After that, please start again from the beginning.\n\n",
        en_date(at)
    );
}

// ---------------------------------------------------------------------------------------------
// Link mails
// ---------------------------------------------------------------------------------------------

/// 会員登録のご確認: the link that confirms a new member's address.
#[must_use]
pub fn registration_confirmation(m: &LinkMail) -> MailContent {
    let shop_name = label(&m.shop.name);
    let mut b = Bilingual::new(&m.shop, &m.name);
    b.ja(&format!(
        "{shop_name}への会員登録のお申し込みありがとうございます。\n\
         下記のリンクを開いて、メールアドレスの確認と会員登録を完了してください。\n"
    ));
    b.en(&format!(
        "Thank you for signing up at {shop_name}.\n\
         Open the link below to confirm your email address and complete your registration.\n"
    ));
    b.link(&m.link);
    expiry(&mut b, &m.expires_at);
    b.ja("※お心当たりのない場合は、このメールを破棄してください。会員登録は行われません。\n\n");
    b.en("If you did not sign up, please ignore this mail; no account will be created.\n\n");
    b.finish(subject(
        &m.shop,
        "会員登録のご確認",
        "Please confirm your registration",
    ))
}

/// メールアドレス変更のご確認: sent to the NEW address; the change takes effect when the member
/// opens the link.
#[must_use]
pub fn email_change_confirmation(m: &LinkMail) -> MailContent {
    let mut b = Bilingual::new(&m.shop, &m.name);
    b.ja(
        "ご登録のメールアドレスを、このメールの宛先へ変更するお手続きを承りました。\n\
         下記のリンクを開くと変更が完了します。\n",
    );
    b.en(
        "We received a request to change your account's email address to this address.\n\
         Open the link below to complete the change.\n",
    );
    b.link(&m.link);
    expiry(&mut b, &m.expires_at);
    b.ja("※お心当たりのない場合は、このメールを破棄してください。メールアドレスは変更されません。\n\n");
    b.en("If you did not ask for this, please ignore this mail; nothing will be changed.\n\n");
    b.finish(subject(
        &m.shop,
        "メールアドレス変更のご確認",
        "Please confirm your new email address",
    ))
}

/// パスワード再設定のご案内: the reset link. Says to ignore the mail if the member did not ask,
/// that the link works once, and when it expires.
#[must_use]
pub fn password_reset(m: &LinkMail) -> MailContent {
    let mut b = Bilingual::new(&m.shop, &m.name);
    b.ja("パスワード再設定のお申し込みを承りました。\n\
         下記のリンクを開いて、新しいパスワードを設定してください。\n");
    b.en("We received a request to reset your password.\n\
         Open the link below to choose a new password.\n");
    b.link(&m.link);
    expiry(&mut b, &m.expires_at);
    b.ja(
        "※お心当たりのない場合は、このメールを破棄してください。パスワードは変更されず、\n\
         \u{3000}これまでのパスワードのままお使いいただけます。\n\n",
    );
    b.en("If you did not ask for this, please ignore this mail: your password stays as it is.\n\n");
    b.finish(subject(
        &m.shop,
        "パスワード再設定のご案内",
        "Reset your password",
    ))
}

// ---------------------------------------------------------------------------------------------
// Notices
// ---------------------------------------------------------------------------------------------

fn notice(m: &NoticeMail, ja: &str, en: &str, subject_ja: &str, subject_en: &str) -> MailContent {
    let mut b = Bilingual::new(&m.shop, &m.name);
    b.ja(ja).ja("\n");
    b.en(en).en("\n");
    b.context(&m.context).not_you();
    b.finish(subject(&m.shop, subject_ja, subject_en))
}

/// パスワード変更のお知らせ.
#[must_use]
pub fn password_changed(m: &NoticeMail) -> MailContent {
    notice(
        m,
        "会員アカウントのパスワードが変更されました。\n",
        "The password of your account was changed.\n",
        "パスワード変更のお知らせ",
        "Your password was changed",
    )
}

/// メールアドレス変更のお知らせ: sent to the OLD address after the change. `new_address_masked`
/// is the new address masked (`mamori_domain::Email::masked`: `y***@example.jp`); it is printed
/// as given, on one line.
#[must_use]
pub fn email_changed(m: &NoticeMail, new_address_masked: &str) -> MailContent {
    let masked = label(new_address_masked);
    let mut b = Bilingual::new(&m.shop, &m.name);
    b.ja(&format!(
        "会員アカウントのメールアドレスが変更されました。\n\
         新しいメールアドレス：{masked}\n\
         今後のお知らせは新しいメールアドレスへお送りします。\n\n"
    ));
    b.en(&format!(
        "The email address of your account was changed.\n\
         New address: {masked}\n\
         From now on we will write to the new address.\n\n"
    ));
    b.context(&m.context);
    // After this change a reset link would go to the new address: the member cannot take the
    // account back alone, so support comes first and resets the password with them.
    let support = label(&m.shop.support_email);
    b.ja(&format!(
        "■お心当たりのない場合\n\
         第三者がお客様のアカウントを操作したおそれがあります。至急下記までご連絡ください。\n\
         パスワード再設定のメールは新しいアドレスへ届くため、当店でご本人確認のうえ\n\
         メールアドレスを元に戻し、パスワードの再設定をご案内します。\n\
         他のサービスで同じパスワードをお使いの場合は、そちらも変更してください。\n\
         お問い合わせ：{support}\n\n"
    ));
    b.en(&format!(
        "If this was not you:\n\
         Someone else may have access to your account. Contact us right away at {support}.\n\
         A password reset link would now go to the new address, so we will check it is you,\n\
         change the address back and help you reset your password. If you use the same\n\
         password on other services, change it there too.\n\n"
    ));
    b.finish(subject(
        &m.shop,
        "メールアドレス変更のお知らせ",
        "Your email address was changed",
    ))
}

/// お届け先の追加・変更のお知らせ. `added`: a new delivery address was registered; otherwise one
/// was changed or deleted.
#[must_use]
pub fn address_book_changed(m: &NoticeMail, added: bool) -> MailContent {
    if added {
        notice(
            m,
            "アドレス帳に新しいお届け先が登録されました。\n",
            "A new delivery address was added to your address book.\n",
            "お届け先追加のお知らせ",
            "A delivery address was added",
        )
    } else {
        notice(
            m,
            "アドレス帳のお届け先が変更または削除されました。\n",
            "A delivery address in your address book was changed or deleted.\n",
            "お届け先変更のお知らせ",
            "Your address book was changed",
        )
    }
}

/// 会員情報変更のお知らせ (name, phone, birth date and the like).
#[must_use]
pub fn profile_changed(m: &NoticeMail) -> MailContent {
    notice(
        m,
        "会員情報（お名前・電話番号など）が変更されました。\n",
        "Your account details (name, phone number and the like) were changed.\n",
        "会員情報変更のお知らせ",
        "Your account details were changed",
    )
}

/// 退会手続き完了のお知らせ.
#[must_use]
pub fn withdrawal_completed(shop: &ShopInfo, name: &str) -> MailContent {
    let shop_name = label(&shop.name);
    let support = label(&shop.support_email);
    let mut b = Bilingual::new(shop, name);
    b.ja(&format!(
        "{shop_name}の退会手続きが完了しました。これまでのご利用、誠にありがとうございました。\n\
         会員情報は当店の規定に従って削除いたします。\n\n\
         ※お心当たりのない場合は、第三者がお客様のアカウントで退会手続きをしたおそれがあります。\n\
         \u{3000}至急下記のお問い合わせ先までご連絡ください。\n\
         \u{3000}同じパスワードを他のサービスでお使いの場合は、そちらのパスワードも再設定してください。\n\
         お問い合わせ：{support}\n\n"
    ));
    b.en(&format!(
        "Your membership at {shop_name} has been closed. Thank you for shopping with us.\n\
         Your account data will be deleted as our policy describes.\n\n\
         If this was not you, someone else may have used your account: contact us right away at\n\
         {support}, and reset your password on any other service where you use the same one.\n\n"
    ));
    b.finish(subject(
        shop,
        "退会手続き完了のお知らせ",
        "Your membership has been closed",
    ))
}

/// ご入金確認のお知らせ (bank transfer, convenience store, and the like).
#[must_use]
pub fn payment_received(
    shop: &ShopInfo,
    name: &str,
    order_number: &str,
    amount: Yen,
) -> MailContent {
    let number = label(order_number);
    let support = label(&shop.support_email);
    let mut b = Bilingual::new(shop, name);
    b.ja(&format!(
        "下記のご注文について、ご入金を確認いたしました。ありがとうございます。\n\
         商品の発送準備が整いしだい、あらためてご連絡いたします。\n\n\
         注文番号：{number}\n\
         ご入金額：{amount}\n\n\
         ※お心当たりのない場合は、お手数ですが下記までご連絡ください。\n\
         お問い合わせ：{support}\n\n"
    ));
    b.en(&format!(
        "We have received your payment for the order below. Thank you.\n\
         We will write again when it ships.\n\n\
         Order number: {number}\n\
         Amount received: {}\n\n\
         If you did not place this order, please contact us at {support}.\n\n",
        yen_en(amount)
    ));
    b.finish(format!(
        "【{}】ご入金確認のお知らせ（注文番号 {number}）/ Payment received",
        label(&shop.name)
    ))
}

/// ご注文キャンセルのお知らせ. `refunded`: the amount refunded; `None` when nothing was charged
/// (the mail then says the member will not be charged).
#[must_use]
pub fn order_canceled(
    shop: &ShopInfo,
    name: &str,
    order_number: &str,
    refunded: Option<Yen>,
) -> MailContent {
    let number = label(order_number);
    let support = label(&shop.support_email);
    let mut b = Bilingual::new(shop, name);
    let _ = write!(
        b.ja,
        "下記のご注文をキャンセルいたしました。\n\n注文番号：{number}\n"
    );
    let _ = write!(
        b.en,
        "The order below has been canceled.\n\nOrder number: {number}\n"
    );
    match refunded {
        Some(amount) => {
            let _ = write!(
                b.ja,
                "ご返金額：{amount}\n\
                 ※返金がお客様の口座やカードのご利用明細に反映されるまでの期間は、\n\
                 \u{3000}お支払い方法やカード会社によって異なります。\n\n"
            );
            let _ = write!(
                b.en,
                "Refund: {}\n\
                 When the refund shows on your statement depends on the payment method and\n\
                 your card issuer.\n\n",
                yen_en(amount)
            );
        }
        None => {
            b.ja("このご注文へのご請求はありません。\n\n");
            b.en("You will not be charged for this order.\n\n");
        }
    }
    let _ = write!(
        b.ja,
        "※お心当たりのない場合は、お手数ですが下記までご連絡ください。\n\
         お問い合わせ：{support}\n\n"
    );
    let _ = write!(
        b.en,
        "If you did not ask for this, please contact us at {support}.\n\n"
    );
    b.finish(format!(
        "【{}】ご注文キャンセルのお知らせ（注文番号 {number}）/ Order canceled",
        label(&shop.name)
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    const LINK: &str =
        "https://shop.mamori.example/account/confirm?token=Zm9v-YmFy_YmF6&next=%2Fmypage%3Fa%3D1";
    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    use mamori_domain::time::jst;

    fn shop() -> ShopInfo {
        ShopInfo {
            name: "守り商店".into(),
            url: "https://shop.mamori.example/".into(),
            support_email: "support@mamori.example".into(),
        }
    }

    fn link_mail() -> LinkMail {
        LinkMail {
            shop: shop(),
            name: "山田 太郎".into(),
            link: LINK.into(),
            expires_at: jst().with_ymd_and_hms(2025, 11, 22, 15, 4, 0).unwrap(),
        }
    }

    fn notice_mail() -> NoticeMail {
        NoticeMail {
            shop: shop(),
            name: "山田 太郎".into(),
            context: ChangeContext::new(
                jst().with_ymd_and_hms(2025, 11, 21, 15, 4, 0).unwrap(),
                "203.0.113.5".parse().unwrap(),
                CHROME_WIN,
            ),
        }
    }

    /// The Japanese part, the English part.
    fn parts(m: &MailContent) -> (&str, &str) {
        m.text
            .split_once("\n----------------------------------------\n")
            .unwrap()
    }

    /// What every mail of this module keeps to.
    fn check_common(m: &MailContent, subject_ja: &str, subject_en: &str) {
        assert!(
            m.subject.starts_with("【守り商店】"),
            "subject: {}",
            m.subject
        );
        assert!(m.subject.contains(subject_ja), "subject: {}", m.subject);
        assert!(
            m.subject.ends_with(&format!(" / {subject_en}")) || m.subject.contains(subject_en),
            "subject: {}",
            m.subject
        );
        let ja_at = m.subject.find(subject_ja).unwrap();
        let en_at = m.subject.find(subject_en).unwrap();
        assert!(ja_at < en_at, "Japanese first in the subject");
        assert!(!m.subject.contains(['\r', '\n']));
        assert!(m.html.is_none(), "plain text only");

        let (ja, en) = parts(m);
        assert!(ja.starts_with("山田 太郎 様\n"), "{ja}");
        assert!(en.trim_start().starts_with("Dear 山田 太郎,"), "{en}");
        assert!(ja.contains("お問い合わせ：support@mamori.example"));
        assert!(en.contains("support@mamori.example"));
        assert!(ja.contains("当店がカード番号やパスワードをメールでお尋ねすることはありません"));
        assert!(en.contains("We never ask for card numbers or passwords by mail."));
        assert!(m
            .text
            .ends_with("--\n守り商店\nhttps://shop.mamori.example/\n"));
        // The English part is English: no kana in its sentences (the name aside).
        let en_body = en.replace("山田 太郎", "").replace("守り商店", "");
        assert!(
            !en_body
                .chars()
                .any(|c| ('\u{3040}'..='\u{30FF}').contains(&c)),
            "{en_body}"
        );
        // Nothing that looks like a card number (13 or more digits in a row).
        let mut run = 0;
        for c in m.text.chars() {
            run = if c.is_ascii_digit() { run + 1 } else { 0 };
            assert!(run < 13, "a long digit run in the mail");
        }
    }

    fn check_link(m: &MailContent) {
        let (ja, en) = parts(m);
        // On its own line, whole, in both parts.
        assert_eq!(ja.lines().filter(|l| *l == LINK).count(), 1, "{ja}");
        assert_eq!(en.lines().filter(|l| *l == LINK).count(), 1, "{en}");
        assert_eq!(m.text.matches(LINK).count(), 2);
        assert!(ja.contains("一度だけ") && ja.contains("2025年11月22日 15:04"));
        assert!(en.contains("works once") && en.contains("2025-11-22 15:04 (UTC+09:00)"));
    }

    fn check_notice(m: &MailContent) {
        let (ja, en) = parts(m);
        assert!(ja.contains("■お心当たりのない場合"), "{ja}");
        assert!(ja.contains("パスワードの再設定") || ja.contains("パスワードを再設定"));
        assert!(ja.contains("ご連絡ください"));
        assert!(en.contains("If this was not you"), "{en}");
        assert!(en.contains("reset your password") || en.contains("Reset your password"));
        assert!(en.contains("ontact us"));
        // When, from where, with what: the summary, never the raw User-Agent.
        assert!(ja.contains("日時：2025年11月21日 15:04"));
        assert!(ja.contains("IPアドレス：203.0.113.5"));
        assert!(ja.contains("ブラウザ：Chrome (Windows)"));
        assert!(en.contains("Time: 2025-11-21 15:04 (UTC+09:00)"));
        assert!(en.contains("IP address: 203.0.113.5"));
        assert!(en.contains("Browser: Chrome (Windows)"));
        assert!(!m.text.contains("Mozilla"));
        assert!(!m.text.contains("AppleWebKit"));
        // Notices carry no link but the shop's own URL in the signature.
        assert_eq!(m.text.matches("https://").count(), 1);
    }

    #[test]
    fn registration_confirmation_has_subject_link_and_both_languages() {
        let m = registration_confirmation(&link_mail());
        check_common(&m, "会員登録のご確認", "Please confirm your registration");
        check_link(&m);
        let (ja, en) = parts(&m);
        assert!(ja.contains("このメールを破棄してください"));
        assert!(en.contains("If you did not sign up, please ignore this mail"));
    }

    #[test]
    fn email_change_confirmation_has_subject_link_and_both_languages() {
        let m = email_change_confirmation(&link_mail());
        check_common(
            &m,
            "メールアドレス変更のご確認",
            "Please confirm your new email address",
        );
        check_link(&m);
        let (ja, en) = parts(&m);
        assert!(ja.contains("このメールを破棄してください"));
        assert!(en.contains("please ignore this mail"));
    }

    #[test]
    fn password_reset_says_ignore_once_and_expiry() {
        let m = password_reset(&link_mail());
        check_common(&m, "パスワード再設定のご案内", "Reset your password");
        check_link(&m);
        let (ja, en) = parts(&m);
        assert!(ja.contains("お心当たりのない場合は、このメールを破棄してください"));
        assert!(ja.contains("有効期限は 2025年11月22日 15:04 まで"));
        assert!(en.contains("If you did not ask for this, please ignore this mail"));
        assert!(en.contains("The link works once and expires at 2025-11-22 15:04 (UTC+09:00)."));
    }

    #[test]
    fn password_changed_notice() {
        let m = password_changed(&notice_mail());
        check_common(&m, "パスワード変更のお知らせ", "Your password was changed");
        check_notice(&m);
        assert!(parts(&m).0.contains("パスワードが変更されました"));
    }

    #[test]
    fn email_changed_notice_goes_to_old_address_with_masked_new_one() {
        let m = email_changed(&notice_mail(), "y***@example.jp");
        check_common(
            &m,
            "メールアドレス変更のお知らせ",
            "Your email address was changed",
        );
        check_notice(&m);
        let (ja, en) = parts(&m);
        assert!(ja.contains("新しいメールアドレス：y***@example.jp"));
        assert!(en.contains("New address: y***@example.jp"));
        assert!(ja.contains("至急下記までご連絡ください"));
    }

    #[test]
    fn address_book_notice_added_and_changed() {
        let added = address_book_changed(&notice_mail(), true);
        check_common(
            &added,
            "お届け先追加のお知らせ",
            "A delivery address was added",
        );
        check_notice(&added);
        assert!(parts(&added).0.contains("新しいお届け先が登録されました"));
        let changed = address_book_changed(&notice_mail(), false);
        check_common(
            &changed,
            "お届け先変更のお知らせ",
            "Your address book was changed",
        );
        check_notice(&changed);
        assert!(parts(&changed).1.contains("changed or deleted"));
        assert_ne!(added.text, changed.text);
    }

    #[test]
    fn profile_changed_notice() {
        let m = profile_changed(&notice_mail());
        check_common(
            &m,
            "会員情報変更のお知らせ",
            "Your account details were changed",
        );
        check_notice(&m);
    }

    #[test]
    fn withdrawal_completed_mail() {
        let m = withdrawal_completed(&shop(), "山田 太郎");
        check_common(
            &m,
            "退会手続き完了のお知らせ",
            "Your membership has been closed",
        );
        let (ja, en) = parts(&m);
        assert!(ja.contains("退会手続きが完了しました"));
        assert!(ja.contains("お心当たりのない場合") && ja.contains("至急下記"));
        assert!(ja.contains("パスワードも再設定"));
        assert!(en.contains("If this was not you") && en.contains("reset your password"));
    }

    #[test]
    fn payment_received_mail() {
        let m = payment_received(&shop(), "山田 太郎", "MA-2025-000123", Yen(12_345));
        check_common(&m, "ご入金確認のお知らせ", "Payment received");
        assert!(m.subject.contains("（注文番号 MA-2025-000123）"));
        let (ja, en) = parts(&m);
        assert!(ja.contains("注文番号：MA-2025-000123"));
        assert!(ja.contains("ご入金額：12,345円"));
        assert!(en.contains("Order number: MA-2025-000123"));
        assert!(en.contains("Amount received: ¥12,345"));
    }

    #[test]
    fn order_canceled_with_and_without_refund() {
        let m = order_canceled(&shop(), "山田 太郎", "MA-2025-000123", Some(Yen(8_140)));
        check_common(&m, "ご注文キャンセルのお知らせ", "Order canceled");
        let (ja, en) = parts(&m);
        assert!(ja.contains("ご返金額：8,140円"));
        assert!(en.contains("Refund: ¥8,140"));
        let none = order_canceled(&shop(), "山田 太郎", "MA-2025-000123", None);
        check_common(&none, "ご注文キャンセルのお知らせ", "Order canceled");
        let (ja, en) = parts(&none);
        assert!(ja.contains("ご請求はありません") && !ja.contains("ご返金額"));
        assert!(en.contains("You will not be charged"));
    }

    #[test]
    fn browser_summary_table() {
        let cases = [
            (CHROME_WIN, "Chrome (Windows)"),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari (iPhone)",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox (Linux)",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari (macOS)",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge (Windows)",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome (Android)",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                "Chrome (iPhone)",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, \
                 like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
                "Firefox (iPad)",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Mobile/15E148 Safari Line/14.19.0",
                "LINE (iPhone)",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like \
                 Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
                "Samsung Internet (Android)",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
                "Internet Explorer (Windows)",
            ),
            ("curl/8.5.0", UNKNOWN_BROWSER),
            ("", UNKNOWN_BROWSER),
            (
                "Mozilla/5.0 (Windows NT 10.0)",
                "不明のブラウザ / unknown browser (Windows)",
            ),
        ];
        for (ua, want) in cases {
            let got = browser_summary(ua);
            assert_eq!(got, want, "for {ua}");
            assert!(is_summary(&got), "{got} is in the vocabulary");
        }
    }

    #[test]
    fn browser_summary_of_hostile_user_agents_is_short_and_from_the_vocabulary() {
        let script = "<script>alert(document.cookie)</script>\r\nX-Injected: 1";
        let long = format!("{script}{}", "A".repeat(10 * 1024));
        let long_chrome = format!("Chrome/1 {} Windows", "<script>".repeat(2000));
        let zalgo = format!("Firefox/1 \u{202E}{}", "é\u{0301}".repeat(5000));
        for ua in [script, long.as_str(), long_chrome.as_str(), zalgo.as_str()] {
            let got = browser_summary(ua);
            assert!(got.len() <= 64, "bounded: {} bytes", got.len());
            assert!(is_summary(&got), "{got}");
            assert!(!got.contains('<') && !got.contains(['\r', '\n']));
        }
        assert_eq!(browser_summary(&long), UNKNOWN_BROWSER);
        // `Windows` sits past the first kilobyte: not looked at.
        assert_eq!(browser_summary(&long_chrome), "Chrome");
        // Past the first kilobyte nothing counts, and a cut inside a character is fine.
        let late = format!("{}Firefox/1", "あ".repeat(400));
        assert_eq!(browser_summary(&late), UNKNOWN_BROWSER);
    }

    #[test]
    fn a_raw_user_agent_put_in_browser_is_summarised_before_printing() {
        let mut n = notice_mail();
        n.context.browser = format!("{CHROME_WIN} <script>x</script>");
        n.context.ip = "203.0.113.5\r\nBcc: x@example.jp".into();
        let m = password_changed(&n);
        assert!(m.text.contains("ブラウザ：Chrome (Windows)\n"));
        assert!(!m.text.contains("Mozilla") && !m.text.contains("<script>"));
        assert!(m.text.contains("IPアドレス：不明 / unknown\n"));
        assert!(!m.text.contains("Bcc"));
        n.context.ip = "2001:db8::1".into();
        assert!(password_changed(&n)
            .text
            .contains("IP address: 2001:db8::1\n"));
    }

    #[test]
    fn a_hostile_name_stays_on_the_salutation_line() {
        let mut l = link_mail();
        l.name = "太郎\n\n至急 https://evil.example/ で再設定してください\u{202E}\r\n".into();
        let m = password_reset(&l);
        let first = m.text.lines().next().unwrap();
        assert!(
            first.starts_with("太郎 至急 https://evil.example/"),
            "{first}"
        );
        assert!(first.ends_with(" 様"), "{first}");
        assert!(!m.text.contains('\u{202E}') && !m.text.contains('\r'));
        assert!(!m.text.lines().any(|line| line.starts_with("https://evil")));

        l.name = "あ".repeat(500);
        let m = registration_confirmation(&l);
        let first = m.text.lines().next().unwrap();
        assert_eq!(
            first.chars().count(),
            MAX_NAME_CHARS + "… 様".chars().count()
        );
        assert!(first.contains('…'));

        l.name = " \n\t ".into();
        let m = registration_confirmation(&l);
        assert!(m.text.starts_with("お客様\n"));
        assert!(parts(&m).1.contains("Dear customer,"));
    }

    #[test]
    fn one_line_collapses_and_cuts() {
        assert_eq!(one_line("  山田\n\n 太郎\t", 50), "山田 太郎");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("ab cd", 4), "ab c…");
        assert_eq!(one_line("ab cd", 3), "ab…");
        assert_eq!(one_line("a\u{200B}b", 10), "a b");
        assert_eq!(one_line("", 10), "");
    }

    #[test]
    fn debug_hides_link_name_and_ip() {
        let l = format!("{:?}", link_mail());
        assert!(!l.contains("token") && !l.contains("山田"), "{l}");
        let n = format!("{:?}", notice_mail());
        assert!(!n.contains("203.0.113.5") && !n.contains("山田"), "{n}");
        assert!(n.contains("Chrome (Windows)"), "{n}");
    }
}
