//! Letters per second: one print batch of 100 letters (each with a name, a three-line address
//! and six items; the frozen draft of a real run) laid out by typst with the IPAex fonts and
//! written as one PDF with its CSV list. The renderer (fonts parsed once) is built outside the
//! measured loop, as the back office keeps one per process. The gateway's read is not measured
//! (it is the same per-person work as a notice batch's).
//!
//! `cargo bench -p mamori-respond --bench letters_pdf`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mamori_domain::Personal;
use mamori_respond::notices::letter::{
    LetterBatchInput, LetterInput, LetterRenderer, LetterSender,
};
use mamori_respond::notices::NoticeDraft;
use mamori_respond::report::pdf::ReportFonts;
use mamori_store::gateway::LetterAddress;

const LETTERS: usize = 100;

fn batch() -> LetterBatchInput {
    let letters = (0..LETTERS)
        .map(|i| LetterInput {
            address: LetterAddress {
                notice_id: format!("0194f0c2-0000-7000-8000-{i:012}"),
                customer_id: format!("c{i}"),
                name: Some(Personal::new(format!("山田 太郎{i}"))),
                postal_code: Personal::new(format!("{:03}-{:04}", 100 + i % 900, i)),
                locality: Personal::new("東京都渋谷区神宮前".to_owned()),
                lines: vec![
                    Personal::new(format!("{}-{}-{}", i % 9 + 1, i % 30 + 1, i % 20 + 1)),
                    Personal::new(format!("まもりハイツ{}号室", 100 + i)),
                ],
            },
            items: [
                "氏名",
                "メールアドレス",
                "電話番号",
                "注文者の住所",
                "注文内容",
                "クレジットカード番号",
            ]
            .map(str::to_owned)
            .to_vec(),
        })
        .collect();
    LetterBatchInput {
        incident_id: 7,
        number: 1,
        of: 1,
        date: "2027年1月20日".into(),
        sender: LetterSender {
            name: "株式会社まもり商店".into(),
            address: "東京都千代田区千代田1-1".into(),
            phone: "03-0000-0000".into(),
            representative: "代表取締役 山田一郎".into(),
        },
        draft: NoticeDraft {
            overview: "当店のウェブサイトの決済ページが第三者により改ざんされ、入力されたお客様の情報が外部に送信されていたおそれがあることが判明しました。".repeat(2),
            cause: "第三者による不正アクセスにより、決済ページに外部のスクリプトが挿入されていました。".into(),
            secondary_harm: "現時点で、二次被害の報告は受けておりません。".into(),
            what_to_do: "クレジットカードのご利用明細に身に覚えのない請求がないかご確認ください。".into(),
            desk: "株式会社まもり商店 お客様相談窓口 電話 0120-000-000（平日10時〜17時）".into(),
        },
        letters,
        no_address: 0,
        canaries: 0,
    }
}

fn bench(c: &mut Criterion) {
    let renderer = LetterRenderer::new(ReportFonts::locate(None).expect("the IPAex fonts"));
    let b = batch();
    let mut g = c.benchmark_group("letters_pdf");
    g.throughput(Throughput::Elements(LETTERS as u64));
    g.sample_size(10);
    g.bench_function("batch_of_100", |bench| {
        bench.iter(|| renderer.render(&b).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
