//! Account mails end to end: a registration mail is composed, stored as an outbox payload, read
//! back, DKIM-signed and sent over real SMTP to the catcher on loopback; the link must arrive
//! intact once the transfer encoding is undone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{FixedOffset, TimeZone as _};
use mail_auth::DkimResult;
use mail_parser::MessageParser;
use mamori_mail::catcher::MailCatcher;
use mamori_mail::template::ShopInfo;
use mamori_mail::{
    registration_confirmation, LinkMail, MailTransport, OutgoingMail, Recipient, SmtpTransport,
};

/// Long (well past 76 characters, so any encoder must wrap it) and full of the characters that
/// quoted-printable and line folding get wrong: `=`, `&`, `%`, `~`, `.` at a line start.
fn link() -> String {
    format!(
        "https://shop.mamori.example/account/confirm?token={}&next=%2Fmypage%3Fa%3D1&x=~.._=3D",
        "AbC-dEf_0123456789=".repeat(8)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_mail_crosses_real_smtp_with_its_link_intact() {
    let catcher = MailCatcher::start().await.unwrap();
    let jst = FixedOffset::east_opt(9 * 3600).unwrap();
    let content = registration_confirmation(&LinkMail {
        shop: ShopInfo {
            name: "守り商店".into(),
            url: "https://shop.mamori.example/".into(),
            support_email: "support@mamori.example".into(),
        },
        name: "山田 太郎".into(),
        link: link(),
        expires_at: jst.with_ymd_and_hms(2025, 11, 22, 15, 4, 0).unwrap(),
    });
    let mail = OutgoingMail::from_content(
        Recipient::new("taro.yamada@example.jp")
            .unwrap()
            .with_name("山田 太郎 様"),
        content.clone(),
    )
    .with_header("X-Mamori-Kind", "registration-confirmation");

    // The way the outbox keeps it: payload bytes, read back before sending.
    let stored = mail.to_payload();
    let mail = OutgoingMail::from_payload(&stored).unwrap();

    let signer = common::ed25519_signer();
    let prepared = common::composer()
        .with_dkim(common::ed25519_signer())
        .compose(&mail)
        .unwrap();
    let transport = SmtpTransport::new(&common::smtp_to(catcher.port())).unwrap();
    transport.send(&prepared).await.unwrap();

    let got = catcher.wait_for(1, common::WAIT).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_to, vec!["taro.yamada@example.jp".to_owned()]);
    let raw = &got[0].data;
    assert!(raw.is_ascii(), "8-bit text must be transfer-encoded");

    let parsed = MessageParser::default().parse(raw).unwrap();
    assert_eq!(
        parsed.subject(),
        Some("【守り商店】会員登録のご確認 / Please confirm your registration")
    );
    let body = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(body, content.text, "the body arrives exactly as written");
    let link = link();
    assert_eq!(
        body.lines().filter(|l| *l == link).count(),
        2,
        "the link, whole, on its own line in the Japanese and the English part"
    );
    assert!(body.starts_with("山田 太郎 様\n"));
    assert!(body.contains("Dear 山田 太郎,"));
    assert_eq!(
        parsed.header_raw("X-Mamori-Kind").map(str::trim),
        Some("registration-confirmation")
    );

    let results = common::verify_dkim(raw, &[&signer]).await;
    assert_eq!(results, vec![DkimResult::Pass]);
}
