//! Composition, templates, DKIM and redaction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use mail_auth::DkimResult;
use mail_parser::MessageParser;
use mamori_mail::template::order_confirmation;
use mamori_mail::{
    message_id_for, ComposeError, DkimAlgorithm, DkimSigner, OutgoingMail, Recipient,
};

fn mail() -> OutgoingMail {
    OutgoingMail::new(
        Recipient::new("taro.yamada@example.jp")
            .unwrap()
            .with_name("山田 太郎 様"),
        "ご注文ありがとうございます（注文番号 MA-1）",
        "山田 太郎 様\n\nご注文を承りました。\n\nThank you for your order.\n",
    )
    .with_reply_to(Recipient::new("support@mamori.example").unwrap())
    .with_header("X-Mamori-Kind", "order-confirmation")
}

#[test]
fn composed_message_has_headers_and_japanese_round_trips() {
    let m = mail();
    let prepared = common::composer().compose(&m).unwrap();
    let raw = String::from_utf8(prepared.bytes.clone()).unwrap();

    // The subject is RFC 2047-encoded on the wire, not raw UTF-8.
    let subject_line = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(
        subject_line.is_ascii(),
        "subject must be encoded: {subject_line}"
    );
    assert!(subject_line.contains("=?utf-8?"), "{subject_line}");
    assert!(raw.contains("Auto-Submitted: auto-generated\r\n"));
    assert!(raw.contains("X-Mamori-Kind: order-confirmation\r\n"));
    assert!(raw.contains("MIME-Version: 1.0\r\n"));

    let parsed = MessageParser::default().parse(&prepared.bytes).unwrap();
    assert_eq!(parsed.subject(), Some(m.subject.as_str()));
    assert_eq!(parsed.body_text(0).unwrap().replace("\r\n", "\n"), m.text);
    let to = parsed.to().unwrap().first().unwrap();
    assert_eq!(to.address(), Some("taro.yamada@example.jp"));
    assert_eq!(to.name(), Some("山田 太郎 様"));
    let from = parsed.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("守り商店"));
    assert_eq!(
        parsed.reply_to().unwrap().first().unwrap().address(),
        Some("support@mamori.example")
    );
    let expected_id = format!("{}@{}", m.id.as_hyphenated(), common::DOMAIN);
    assert_eq!(parsed.message_id(), Some(expected_id.as_str()));
    assert_eq!(prepared.message_id, format!("<{expected_id}>"));
    assert_eq!(
        parsed.date().unwrap().to_timestamp(),
        m.created_at.timestamp()
    );
    assert_eq!(prepared.envelope.to().len(), 1);
    assert_eq!(
        prepared.envelope.to()[0].to_string(),
        "taro.yamada@example.jp"
    );
    assert_eq!(
        prepared.envelope.from().unwrap().to_string(),
        "shop@mamori.example"
    );
}

#[test]
fn message_id_and_bytes_are_stable_for_the_same_mail() {
    let m = mail();
    let c = common::composer();
    let a = c.compose(&m).unwrap();
    let b = c.compose(&m).unwrap();
    assert_eq!(a.message_id, b.message_id);
    // Without DKIM the whole message is a function of the row (boundaries aside, none here).
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(message_id_for(m.id, common::DOMAIN).unwrap(), a.message_id);

    let other = OutgoingMail {
        id: uuid::Uuid::now_v7(),
        ..m
    };
    assert_ne!(c.compose(&other).unwrap().message_id, a.message_id);
}

#[test]
fn html_alternative_is_multipart_and_both_parts_decode() {
    let m = mail().with_html("<p>ご注文ありがとうございます。</p>");
    let prepared = common::composer().compose(&m).unwrap();
    let parsed = MessageParser::default().parse(&prepared.bytes).unwrap();
    assert!(parsed
        .body_html(0)
        .unwrap()
        .contains("ご注文ありがとうございます。"));
    assert!(parsed
        .body_text(0)
        .unwrap()
        .contains("ご注文を承りました。"));
    assert!(String::from_utf8_lossy(&prepared.bytes).contains("multipart/alternative"));
}

#[test]
fn header_injection_and_reserved_headers_are_refused() {
    let c = common::composer();
    let mut m = mail();
    m.subject = "件名\r\nBcc: attacker@example.com".into();
    assert!(matches!(
        c.compose(&m),
        Err(ComposeError::InvalidHeaderValue(_))
    ));

    let m = mail().with_header("Bcc", "attacker@example.com");
    assert!(matches!(
        c.compose(&m),
        Err(ComposeError::HeaderNotAllowed(_))
    ));
    let m = mail().with_header("message-id", "<x@y>");
    assert!(matches!(
        c.compose(&m),
        Err(ComposeError::HeaderNotAllowed(_))
    ));
    let m = mail().with_header("X-Ok", "a\nBcc: attacker@example.com");
    assert!(matches!(
        c.compose(&m),
        Err(ComposeError::InvalidHeaderValue(_))
    ));
    let m = mail().with_header("Bad Name", "v");
    assert!(matches!(
        c.compose(&m),
        Err(ComposeError::HeaderNotAllowed(_))
    ));

    // A display name with a line break is dropped rather than injected.
    let r = Recipient::new("a@example.jp")
        .unwrap()
        .with_name("x\r\nBcc: b@example.com");
    assert_eq!(r.expose_name(), None);
    assert!(Recipient::new("not an address").is_err());
}

#[test]
fn debug_of_mail_reveals_neither_address_nor_body() {
    let m = mail().with_html("<p>秘密の本文</p>");
    let shown = format!("{m:?}");
    for secret in [
        "taro.yamada",
        "example.jp",
        "山田",
        "ご注文を承りました",
        "Thank you",
        "ご注文ありがとうございます",
        "秘密の本文",
        "support@mamori.example",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked into {shown}");
    }
    assert!(shown.contains(&m.id.to_string()));
    assert!(shown.contains("[redacted]"));
    assert_eq!(format!("{}", m.to), "[redacted]");

    let prepared = common::composer().compose(&m).unwrap();
    let shown = format!("{prepared:?}");
    assert!(!shown.contains("taro.yamada") && !shown.contains("example.jp"));

    let order = common::sample_order();
    let shown = format!("{order:?} {:?}", order_confirmation(&order).unwrap());
    for secret in ["山田", "千代田", "100-0001"] {
        assert!(!shown.contains(secret), "{secret} leaked into {shown}");
    }
}

#[test]
fn order_confirmation_is_in_the_customers_language_with_tax_per_rate() {
    let order = common::sample_order();
    let content = order_confirmation(&order).unwrap();
    // Japanese customers get Japanese only, subject included.
    assert_eq!(
        content.subject,
        "【守り商店】ご注文ありがとうございます（注文番号 MA-2025-000123）"
    );
    let t = &content.text;
    assert!(t.contains("以下の内容でご注文を承りました"));
    assert!(
        !t.contains("We have received your order") && !t.contains("Dear "),
        "{t}"
    );
    // 3 × 1,080 = 3,240 at 8%; 5,500 + 880 shipping = 6,380 at 10%.
    assert!(t.contains("有機緑茶 100g※"));
    assert!(t.contains("1,080円 × 3 ＝ 3,240円"));
    assert!(t.contains("※は軽減税率（8%）対象商品です。"));
    assert!(t.contains("10%対象：6,380円（内消費税 580円）"), "{t}");
    assert!(t.contains("8%※対象：3,240円（内消費税 240円）"), "{t}");
    assert!(t.contains("お支払い合計：9,620円（内消費税 820円）"), "{t}");
    assert!(t.contains("お支払い方法：クレジットカード"), "{t}");
    assert_eq!(t.matches("100-0001").count(), 1, "postal code once: {t}");
    assert!(t.contains("〒100-0001\n東京都千代田区"), "{t}");
    assert!(t.contains("お届け時間帯：午前中"));
    assert!(t.contains("2025年11月21日 15:04"));
    assert!(t.contains("カード番号やパスワードをメールでお尋ねすることはありません"));
    assert!(!t.contains("代引き手数料"), "no fee line without a fee");

    // English customers get English only.
    let mut en = common::sample_order();
    en.lang = mamori_domain::Language::En;
    let content_en = order_confirmation(&en).unwrap();
    assert_eq!(
        content_en.subject,
        "[守り商店] Thank you for your order (order MA-2025-000123)"
    );
    let e = &content_en.text;
    assert!(e.starts_with("Dear 山田 太郎,"), "{e}");
    assert!(e.contains("Total: ¥9,620 (incl. tax ¥820)"), "{e}");
    assert!(e.contains("Subject to 8% (reduced rate): ¥3,240 (incl. tax ¥240)"));
    assert!(e.contains("Payment: Credit card"), "{e}");
    assert!(
        !e.contains("ご注文") && !e.contains("様") && !e.contains("円"),
        "{e}"
    );

    // And it survives composition and parsing.
    let mail = OutgoingMail::from_content(Recipient::new("hanako@example.jp").unwrap(), content);
    let prepared = common::composer().compose(&mail).unwrap();
    let parsed = MessageParser::default().parse(&prepared.bytes).unwrap();
    assert_eq!(parsed.subject(), Some(mail.subject.as_str()));
    assert_eq!(
        parsed.body_text(0).unwrap().replace("\r\n", "\n"),
        mail.text
    );
}

/// 代引き: the fee on its own line, not folded into shipping; 名入れ and のし under their line.
#[test]
fn cash_on_delivery_fee_and_gifts_are_their_own_lines() {
    let mut order = common::sample_order();
    order.method = mamori_domain::PaymentMethod::CashOnDelivery;
    order.cod_fee = mamori_domain::Yen(330);
    order.lines[1].personalisation = Some("蒼太郎 2025-05-05".into());
    order.lines[1].noshi = Some("内祝 / 山田".into());
    let t = order_confirmation(&order).unwrap().text;
    assert!(t.contains("送料：880円\n代引き手数料：330円\n"), "{t}");
    assert!(t.contains("お支払い方法：代金引換"), "{t}");
    assert!(
        t.contains("急須（常滑焼）\n　5,500円 × 1 ＝ 5,500円\n　名入れ：蒼太郎 2025-05-05\n　のし：内祝 / 山田\n"),
        "{t}"
    );
    assert_eq!(
        t.matches("名入れ：").count(),
        1,
        "only the line that has it"
    );
    order.lang = mamori_domain::Language::En;
    let e = order_confirmation(&order).unwrap().text;
    assert!(
        e.contains("Shipping: ¥880\nCash on delivery fee: ¥330\n"),
        "{e}"
    );
    assert!(
        e.contains("  Name print: 蒼太郎 2025-05-05\n  Noshi: 内祝 / 山田\n"),
        "{e}"
    );
}

/// 銀行振込: the account and the deadline; 店頭受取: the store, no delivery.
#[test]
fn bank_transfer_names_account_and_deadline_and_pickup_speaks_of_the_store() {
    let mut order = common::sample_order();
    order.method = mamori_domain::PaymentMethod::BankTransfer;
    order.bank_transfer = Some(mamori_mail::template::BankTransfer {
        account: "守り銀行 本店 普通 1234567\nモリシヨウテン".into(),
        deadline: chrono::NaiveDate::from_ymd_opt(2025, 11, 28).unwrap(),
    });
    let t = order_confirmation(&order).unwrap().text;
    assert!(
        t.contains("■お振込先\n守り銀行 本店 普通 1234567\nモリシヨウテン\nお振込金額：9,620円\nお支払い期限：2025年11月28日（金）\n"),
        "{t}"
    );
    order.lang = mamori_domain::Language::En;
    let e = order_confirmation(&order).unwrap().text;
    assert!(e.contains("Pay by: Fri 28 Nov 2025"), "{e}");

    let mut pickup = common::sample_order();
    pickup.method = mamori_domain::PaymentMethod::StorePickup;
    pickup.pickup_at = Some("守り商店 東京都千代田区千代田1-1".into());
    let t = order_confirmation(&pickup).unwrap().text;
    assert!(
        t.contains("■店頭でのお受け取り\n守り商店 東京都千代田区千代田1-1\n"),
        "{t}"
    );
    for delivery in ["お届け", "配送", "〒100-0001", "山田 花子"] {
        assert!(!t.contains(delivery), "{delivery} in a pickup mail: {t}");
    }
}

/// The later steps: payment received, shipped with tracking numbers (pickup: ready to collect),
/// cancelled, refunded; each in the customer's language only.
#[test]
fn order_notices_in_one_language() {
    use mamori_mail::order_status::{
        cancelled, payment_confirmed, ready_for_pickup, refunded, shipped, OrderNotice,
    };
    let mut n = OrderNotice {
        shop: common::sample_order().shop,
        lang: mamori_domain::Language::Ja,
        customer_name: "山田 太郎".into(),
        order_number: "MA-2025-000123".into(),
    };
    let m = payment_confirmed(&n, mamori_domain::Yen(9_620));
    assert_eq!(
        m.subject,
        "【守り商店】ご入金を確認しました（注文番号 MA-2025-000123）"
    );
    assert!(m.text.contains("ご入金額：9,620円"), "{}", m.text);
    let m = shipped(&n, &["4321-8765-0987".into()]);
    assert_eq!(
        m.subject,
        "【守り商店】商品を発送しました（注文番号 MA-2025-000123）"
    );
    assert!(
        m.text.contains("お問い合わせ伝票番号：4321-8765-0987"),
        "{}",
        m.text
    );
    let m = ready_for_pickup(
        &n,
        "守り商店 本店\n東京都千代田区丸の内1-1-1\n営業時間 10:00〜19:00",
        mamori_domain::Yen(3_300),
    );
    assert_eq!(
        m.subject,
        "【守り商店】商品のご用意ができました（注文番号 MA-2025-000123）"
    );
    for part in [
        "下記の店舗でお受け取りください",
        "お受け取り時のお支払い：3,300円",
        "東京都千代田区丸の内1-1-1",
        "営業時間 10:00〜19:00",
    ] {
        assert!(m.text.contains(part), "{part}: {}", m.text);
    }
    assert!(
        !m.text.contains("発送") && !m.text.contains("伝票"),
        "{}",
        m.text
    );
    let m = cancelled(&n, None);
    assert!(m.subject.contains("キャンセル") && m.text.contains("ご請求はありません"));
    let m = refunded(&n, mamori_domain::Yen(9_620));
    assert!(m.text.contains("ご返金額：9,620円"), "{}", m.text);
    for m in [
        payment_confirmed(&n, mamori_domain::Yen(1)),
        shipped(&n, &["1".into()]),
        cancelled(&n, Some(mamori_domain::Yen(1))),
        refunded(&n, mamori_domain::Yen(1)),
    ] {
        assert!(
            !m.subject.contains(" / ") && !m.text.contains("Dear"),
            "{m:?}"
        );
    }
    n.lang = mamori_domain::Language::En;
    let m = shipped(&n, &["4321-8765-0987".into()]);
    assert_eq!(
        m.subject,
        "[守り商店] Your order has shipped (order MA-2025-000123)"
    );
    assert!(m.text.contains("Tracking number: 4321-8765-0987"));
    assert!(!m.text.contains("発送"), "{}", m.text);
    let m = refunded(&n, mamori_domain::Yen(9_620));
    assert!(
        m.text.contains("Refund: ¥9,620") && !m.text.contains("返金"),
        "{}",
        m.text
    );
}

/// A partial refund says what was refunded now, so far and of what total, in one language.
#[test]
fn partial_refund_notice() {
    use mamori_domain::Yen;
    use mamori_mail::order_status::{partially_refunded, OrderNotice};
    let mut n = OrderNotice {
        shop: common::sample_order().shop,
        lang: mamori_domain::Language::Ja,
        customer_name: "山田 太郎".into(),
        order_number: "MA-2025-000123".into(),
    };
    let m = partially_refunded(&n, Yen(1_000), Yen(1_500), Yen(9_620));
    assert_eq!(
        m.subject,
        "【守り商店】ご注文金額の一部を返金しました（注文番号 MA-2025-000123）"
    );
    for part in [
        "ご返金額：1,000円",
        "ご返金額の累計：1,500円",
        "ご注文金額：9,620円",
        "山田 太郎",
    ] {
        assert!(m.text.contains(part), "{part}: {}", m.text);
    }
    assert!(!m.text.contains("Refund"), "{}", m.text);
    n.lang = mamori_domain::Language::En;
    let m = partially_refunded(&n, Yen(1_000), Yen(1_500), Yen(9_620));
    assert!(
        m.text.contains("Refund: ¥1,000") && m.text.contains("Refunded so far: ¥1,500"),
        "{}",
        m.text
    );
    assert!(!m.text.contains("返金"), "{}", m.text);
}

#[tokio::test]
async fn dkim_ed25519_signature_covers_the_headers_and_verifies() {
    let signer = common::ed25519_signer();
    assert_eq!(signer.algorithm(), DkimAlgorithm::Ed25519);
    let composer = common::composer().with_dkim(common::ed25519_signer());
    let prepared = composer.compose(&mail()).unwrap();
    let raw = String::from_utf8(prepared.bytes.clone()).unwrap();

    let tags = common::dkim_tags(&raw);
    assert_eq!(tags["a"], "ed25519-sha256");
    assert_eq!(tags["d"], common::DOMAIN);
    assert_eq!(tags["s"], "ed");
    assert_eq!(tags["c"], "relaxed/relaxed");
    let h: Vec<String> = tags["h"].split(':').map(str::to_ascii_lowercase).collect();
    for needed in ["from", "to", "subject", "date", "message-id"] {
        assert!(h.contains(&needed.to_owned()), "{needed} not signed: {h:?}");
    }

    let results = common::verify_dkim(&prepared.bytes, &[&signer]).await;
    assert_eq!(results, vec![DkimResult::Pass]);
    // Multipart (text + HTML) too.
    let html = composer
        .compose(&mail().with_html("<p>ご注文</p>"))
        .unwrap();
    assert_eq!(
        common::verify_dkim(&html.bytes, &[&signer]).await,
        vec![DkimResult::Pass]
    );

    // A changed subject must break the signature.
    let tampered = raw.replacen("Subject: ", "Subject: Re: ", 1);
    let results = common::verify_dkim(tampered.as_bytes(), &[&signer]).await;
    assert!(
        matches!(results.as_slice(), [DkimResult::Fail(_)]),
        "{results:?}"
    );
}

#[tokio::test]
async fn dkim_rsa_pkcs8_key_signs_and_verifies_and_body_change_fails() {
    let signer = common::rsa_signer();
    assert_eq!(signer.algorithm(), DkimAlgorithm::Rsa);
    assert!(signer.dns_record().starts_with("v=DKIM1; k=rsa; p=MII"));
    let composer = common::composer().with_dkim(common::rsa_signer());
    let prepared = composer.compose(&mail()).unwrap();
    let raw = String::from_utf8(prepared.bytes.clone()).unwrap();
    assert_eq!(common::dkim_tags(&raw)["a"], "rsa-sha256");
    assert_eq!(
        common::verify_dkim(&prepared.bytes, &[&signer]).await,
        vec![DkimResult::Pass]
    );

    // Flip one base64 character of the body.
    let body_start = raw.find("\r\n\r\n").unwrap() + 4;
    let mut bytes = prepared.bytes.clone();
    let i = body_start + 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let results = common::verify_dkim(&bytes, &[&signer]).await;
    // mail-auth reports a body-hash mismatch as "neutral" with this specific error.
    assert!(
        matches!(
            results.as_slice(),
            [DkimResult::Neutral(mail_auth::Error::FailedBodyHashMatch)]
        ),
        "{results:?}"
    );
}

#[test]
fn dkim_keys_in_other_formats_and_bad_keys() {
    // lettre's own Ed25519 format: base64 of the seed.
    let seed = [7u8; 32];
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(seed);
    let s = DkimSigner::from_key_text("sel", "mamori.example", &b64).unwrap();
    assert_eq!(s.algorithm(), DkimAlgorithm::Ed25519);
    assert_eq!(s.public_key().len(), 32);
    assert_eq!(s.dns_name(), "sel._domainkey.mamori.example");

    assert!(DkimSigner::from_key_text("sel", "mamori.example", "not a key").is_err());
    assert!(DkimSigner::from_key_text("bad selector", "mamori.example", &b64).is_err());
    assert!(DkimSigner::from_key_file("sel", "mamori.example", "/nonexistent/key.pem").is_err());
    // The error text never carries key material.
    let err = DkimSigner::from_key_text("sel", "mamori.example", "c2VjcmV0LWtleQ==").unwrap_err();
    assert!(!err.to_string().contains("c2VjcmV0"));
    let shown = format!("{s:?}");
    assert!(!shown.contains(&b64));
}

#[test]
fn an_order_with_two_deliveries_lists_each_with_its_items() {
    let mut order = common::sample_order();
    assert_eq!(order.deliveries.len(), 1);
    let single = order_confirmation(&order).unwrap().text;
    assert!(single.contains("■お届け先\n"), "{single}");
    assert!(!single.contains("全1件"));

    let mut second = order.deliveries[0].clone();
    second.recipient_name = "佐藤 次郎".into();
    second.address = "大阪府大阪市北区梅田1-1".into();
    second.items = vec!["名入れタオル × 1".into()];
    order.deliveries[0].items = vec!["健康茶 × 2".into()];
    order.deliveries.push(second);
    let text = order_confirmation(&order).unwrap().text;
    let first = text.find("■お届け先1（全2件）").expect("first delivery");
    let second = text.find("■お届け先2（全2件）").expect("second delivery");
    assert!(first < second);
    assert!(text[first..second].contains("健康茶 × 2"));
    assert!(text[second..].contains("佐藤 次郎"));
    assert!(text[second..].contains("名入れタオル × 1"));
    order.lang = mamori_domain::Language::En;
    let text = order_confirmation(&order).unwrap().text;
    assert!(text.contains("Delivery 2 of 2 to:"));
}

/// A key created on a shop's first start: mode 0600, never overwritten, and it signs mail that
/// verifies against the DNS record it prints.
#[tokio::test]
async fn a_created_ed25519_key_signs_mail_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dkim.key");
    DkimSigner::create_ed25519_key_file(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let before = std::fs::read(&path).unwrap();
    assert!(DkimSigner::create_ed25519_key_file(&path).is_err());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the key is never overwritten"
    );

    let signer = DkimSigner::from_key_file("mamori", common::DOMAIN, &path).unwrap();
    assert_eq!(signer.algorithm(), DkimAlgorithm::Ed25519);
    assert!(signer.dns_record().starts_with("v=DKIM1; k=ed25519; p="));
    let again = DkimSigner::from_key_file("mamori", common::DOMAIN, &path).unwrap();
    assert_eq!(again.dns_record(), signer.dns_record());
    let composer = common::composer().with_dkim(again);
    let prepared = composer.compose(&mail()).unwrap();
    let results = common::verify_dkim(&prepared.bytes, &[&signer]).await;
    assert_eq!(results, vec![DkimResult::Pass]);
}
