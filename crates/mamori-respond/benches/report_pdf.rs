//! The PPC report's PDF render time: one 確報 with every item filled and the counts of a
//! card-page scope, rendered with the IPAex fonts (found as the program finds them).
//!
//! `cargo bench -p mamori-respond --bench report_pdf`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use mamori_respond::deadlines::deadlines;
use mamori_respond::report::pdf::{PdfRenderer, ReportFonts};
use mamori_respond::report::{Report, ReportFields, ReportKind, Reporter, ScopeFacts};
use mamori_respond::IncidentKind;

fn report() -> Report {
    let known = Utc.with_ymd_and_hms(2027, 1, 8, 1, 0, 0).unwrap();
    let counts = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    };
    let long =
        "調査の結果、決済ページに外部のスクリプトが挿入されていたことが判明しました。".repeat(12);
    Report {
        kind: ReportKind::Kakuho,
        incident_id: 7,
        incident_kind: IncidentKind::PaymentPageAltered,
        title: "決済ページの改ざん".into(),
        known_at: known.timestamp(),
        window_from: Some(known.timestamp() - 30 * 86_400),
        window_to: Some(known.timestamp()),
        malicious: true,
        deadlines: deadlines(known, true, true),
        scope: Some(ScopeFacts {
            id: "0194f0c2-0000-7000-8000-000000000000".into(),
            computed_at: known.timestamp() + 3600,
            tree_size: 3_000_000,
            root: "ab".repeat(32),
            sha256: "cd".repeat(32),
            categories: counts(&[
                ("members", 1234),
                ("guests", 456),
                ("recipients_not_buyer", 321),
                ("personalisation_subjects", 89),
            ]),
            data_items: counts(&[
                ("card.number", 1690),
                ("card.expiry", 1690),
                ("card.security_code", 1690),
                ("orders.buyer_name", 1690),
                ("orders.buyer_email", 1690),
                ("shipments.address", 321),
                ("order_items.personalisation", 89),
            ]),
            payment_attempts: 1801,
        }),
        fields: ReportFields {
            reporter: Reporter {
                business_name: "株式会社まもり商店".into(),
                representative: "代表取締役 山田太郎".into(),
                address: "東京都千代田区千代田1-1".into(),
                contact_person: "情報セキュリティ担当".into(),
                contact: "03-0000-0000".into(),
            },
            overview: long.clone(),
            data_items: "クレジットカード番号、有効期限、セキュリティコード".into(),
            people: "延べ2100名".into(),
            cause: long.clone(),
            secondary_damage: "不正利用の可能性のあるカードについてカード会社に調査を依頼中です。"
                .into(),
            notice_to_persons: "対象の本人に電子メール及び書面で通知しました。".into(),
            publication: "当社ウェブサイトで公表しました。".into(),
            prevention: long,
            other: String::new(),
        },
        version: None,
    }
}

fn bench(c: &mut Criterion) {
    let renderer = PdfRenderer::new(ReportFonts::locate(None).expect("the IPAex fonts"));
    let r = report();
    c.bench_function("report_pdf_render", |b| {
        b.iter(|| renderer.render(&r).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
