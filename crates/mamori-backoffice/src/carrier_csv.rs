//! The carriers' import files for the shipping CSV: ヤマト運輸 B2クラウド (外部データ取込, the
//! standard layout) and 佐川急便 e飛伝 (お届け先・出荷データ取込), in Shift_JIS with CRLF line ends
//! as both import screens expect, with a title row. Each delivery of an order is one slip; a
//! cash-on-delivery order's amount to collect goes on its first delivery only (collected once).
//!
//! The recipients' values come from [`mamori_store::gateway::ShippingRow`], read through the
//! gateway as the shipping CSV reads them (one recorded read with the reason); this module only
//! lays them out. Values are cut to the field lengths of the layouts (in characters, the layouts'
//! full-width counts), and characters Shift_JIS cannot hold (e.g. 𠮷, emoji) are written as
//! 〓, the substitute mark the carriers' own screens use, and counted so the export can say so (the
//! JIS forms of 〜, ‖, —, ¢, £ and ¬ are written as Windows' Shift_JIS has them).

use mamori_domain::{DeliverySlot, PaymentMethod, Yen};
use mamori_store::gateway::ShippingRow;

/// Which carrier's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// ヤマト運輸 B2クラウド.
    YamatoB2,
    /// 佐川急便 e飛伝.
    SagawaEhiden,
}

impl Carrier {
    /// The form's code: `yamato_b2`, `sagawa_ehiden`.
    pub fn parse(code: &str) -> Option<Carrier> {
        match code {
            "yamato_b2" => Some(Carrier::YamatoB2),
            "sagawa_ehiden" => Some(Carrier::SagawaEhiden),
            _ => None,
        }
    }

    /// The form's code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Carrier::YamatoB2 => "yamato_b2",
            Carrier::SagawaEhiden => "sagawa_ehiden",
        }
    }
}

/// The sender (ご依頼主): the shop, from its settings.
#[derive(Debug, Clone, Default)]
pub struct Sender {
    /// Shop name.
    pub name: String,
    /// `100-0001` (taken from the settings' address when it starts with one).
    pub postal_code: String,
    /// Address without the postal code, on one line.
    pub address: String,
    /// Phone number.
    pub phone: String,
}

impl Sender {
    /// The sender from the shop's name, address (a leading `〒100-0001` or `100-0001` is taken as
    /// the postal code; lines are joined) and phone.
    pub fn from_settings(name: &str, address: &str, phone: &str) -> Sender {
        let one_line = address
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let folded = mamori_domain::normalize_input(&one_line);
        let rest = folded.trim_start_matches('〒').trim_start();
        let digits: String = rest.chars().take(8).collect();
        let is_postal = digits.len() == 8
            && digits.chars().enumerate().all(|(i, ch)| {
                if i == 3 {
                    ch == '-'
                } else {
                    ch.is_ascii_digit()
                }
            });
        let (postal_code, address) = if is_postal {
            (digits, rest[8..].trim().to_owned())
        } else {
            (String::new(), one_line)
        };
        Sender {
            name: name.trim().to_owned(),
            postal_code,
            address,
            phone: phone.trim().to_owned(),
        }
    }
}

/// What a slip needs from the order beyond the delivery: how it is paid and what to collect.
#[derive(Debug, Clone, Copy)]
pub struct OrderPay {
    /// Payment method.
    pub method: PaymentMethod,
    /// The amount to collect on delivery (the order's total, less what was refunded).
    pub collect: Yen,
}

/// The file: Shift_JIS bytes and how many characters had to be written as 〓.
#[derive(Debug, Clone)]
pub struct CarrierFile {
    /// The CSV, Shift_JIS, CRLF.
    pub bytes: Vec<u8>,
    /// Characters Shift_JIS could not hold.
    pub substituted: usize,
    /// Slips whose recipient address or name is longer than the layout's fields take (cut: the
    /// slip needs a look before it is printed).
    pub cut_slips: usize,
}

/// True when the recipient's address and name fit the layout's fields whole.
fn fits(carrier: Carrier, r: &ShippingRow) -> bool {
    let address = r.prefecture.chars().count() + r.address_line.expose().chars().count();
    let name = r.recipient_name.expose().chars().count();
    match carrier {
        Carrier::YamatoB2 => address <= 32 + 16 && name <= 16,
        Carrier::SagawaEhiden => address <= 16 * 3 && name <= 16 * 2,
    }
}

/// The first `n` characters of `s`.
fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// `s` split into pieces of at most `n` characters, `parts` of them (the last takes the rest,
/// cut to `n` too).
fn split(s: &str, n: usize, parts: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    (0..parts)
        .map(|i| {
            chars
                .iter()
                .skip(i * n)
                .take(n)
                .collect::<String>()
                .trim()
                .to_owned()
        })
        .collect()
}

/// `YYYY-MM-DD` as `YYYY/MM/DD` (B2) or `YYYYMMDD` (e飛伝).
fn date_with(date: Option<&str>, sep: &str) -> String {
    date.map(|d| d.replace('-', sep)).unwrap_or_default()
}

fn b2_slot(slot: &str) -> &'static str {
    match DeliverySlot::parse(slot) {
        Ok(DeliverySlot::Morning) => "0812",
        Ok(DeliverySlot::From14To16) => "1416",
        Ok(DeliverySlot::From16To18) => "1618",
        Ok(DeliverySlot::From18To20) => "1820",
        Ok(DeliverySlot::From19To21) => "1921",
        _ => "",
    }
}

fn ehiden_slot(slot: &str) -> &'static str {
    match DeliverySlot::parse(slot) {
        Ok(DeliverySlot::Morning) => "01",
        Ok(DeliverySlot::From14To16) => "14",
        Ok(DeliverySlot::From16To18) => "16",
        Ok(DeliverySlot::From18To20) => "18",
        Ok(DeliverySlot::From19To21) => "19",
        _ => "",
    }
}

/// The B2クラウド standard layout's columns, up to 運賃管理番号.
const B2_HEAD: [&str; 42] = [
    "お客様管理番号",
    "送り状種類",
    "クール区分",
    "伝票番号",
    "出荷予定日",
    "お届け予定日",
    "配達時間帯",
    "お届け先コード",
    "お届け先電話番号",
    "お届け先電話番号枝番",
    "お届け先郵便番号",
    "お届け先住所",
    "お届け先アパートマンション名",
    "お届け先会社・部門１",
    "お届け先会社・部門２",
    "お届け先名",
    "お届け先名(ｶﾅ)",
    "敬称",
    "ご依頼主コード",
    "ご依頼主電話番号",
    "ご依頼主電話番号枝番",
    "ご依頼主郵便番号",
    "ご依頼主住所",
    "ご依頼主アパートマンション",
    "ご依頼主名",
    "ご依頼主名(ｶﾅ)",
    "品名コード１",
    "品名１",
    "品名コード２",
    "品名２",
    "荷扱い１",
    "荷扱い２",
    "記事",
    "ｺﾚｸﾄ代金引換額（税込)",
    "内消費税額等",
    "止置き",
    "営業所コード",
    "発行枚数",
    "個数口表示フラグ",
    "請求先顧客コード",
    "請求先分類コード",
    "運賃管理番号",
];

/// The e飛伝 layout's columns, up to 元着区分.
const EHIDEN_HEAD: [&str; 45] = [
    "お届け先コード取得区分",
    "お届け先コード",
    "お届け先電話番号",
    "お届け先郵便番号",
    "お届け先住所１",
    "お届け先住所２",
    "お届け先住所３",
    "お届け先名称１",
    "お届け先名称２",
    "お客様管理番号",
    "お客様コード",
    "部署ご担当者コード取得区分",
    "部署ご担当者コード",
    "部署ご担当者名称",
    "荷送人電話番号",
    "ご依頼主コード取得区分",
    "ご依頼主コード",
    "ご依頼主電話番号",
    "ご依頼主郵便番号",
    "ご依頼主住所１",
    "ご依頼主住所２",
    "ご依頼主名称１",
    "ご依頼主名称２",
    "荷姿",
    "品名１",
    "品名２",
    "品名３",
    "品名４",
    "品名５",
    "出荷個数",
    "スピード指定",
    "クール便指定",
    "配達日",
    "配達指定時間帯",
    "配達指定時間（時分）",
    "代引金額",
    "消費税",
    "決済種別",
    "保険金額",
    "指定シール１",
    "指定シール２",
    "指定シール３",
    "営業店止め",
    "SRC区分",
    "元着区分",
];

/// One slip's fields in the carrier's layout. `collect`: the amount to collect on this slip
/// (zero for all but a cash-on-delivery order's first delivery).
fn slip(carrier: Carrier, r: &ShippingRow, sender: &Sender, collect: Yen) -> Vec<String> {
    let address = format!("{}{}", r.prefecture, r.address_line.expose());
    let name = r.recipient_name.expose().as_str();
    let items = r.items.as_str();
    let collect_text = if collect.0 > 0 {
        collect.0.to_string()
    } else {
        String::new()
    };
    match carrier {
        Carrier::YamatoB2 => {
            // 住所 32 characters, then 16 for the building line.
            let parts = split(&address, 32, 2);
            let mut f = vec![String::new(); B2_HEAD.len()];
            f[0] = cut(&format!("{}-{}", r.order_number, r.shipment_no), 50);
            f[1] = if collect.0 > 0 { "2" } else { "0" }.to_owned();
            f[2] = "0".to_owned();
            f[5] = date_with(r.date.as_deref(), "/");
            f[6] = b2_slot(&r.slot).to_owned();
            f[8] = cut(r.phone.expose(), 15);
            f[10] = r.postal_code.expose().clone();
            f[11] = parts[0].clone();
            f[12] = cut(&parts[1], 16);
            f[15] = cut(name, 16);
            f[17] = "様".to_owned();
            f[19] = cut(&sender.phone, 15);
            f[21] = sender.postal_code.clone();
            let s = split(&sender.address, 32, 2);
            f[22] = s[0].clone();
            f[23] = cut(&s[1], 16);
            f[24] = cut(&sender.name, 16);
            f[27] = cut(items, 25);
            f[33] = collect_text;
            f[37] = "1".to_owned();
            f
        }
        Carrier::SagawaEhiden => {
            // 住所 16 characters each, three lines; names 16 each, two lines.
            let parts = split(&address, 16, 3);
            let names = split(name, 16, 2);
            let s = split(&sender.address, 16, 2);
            let sn = split(&sender.name, 16, 2);
            let goods = split(items, 16, 5);
            let mut f = vec![String::new(); EHIDEN_HEAD.len()];
            f[0] = "0".to_owned();
            f[2] = cut(r.phone.expose(), 14);
            f[3] = r.postal_code.expose().clone();
            f[4..7].clone_from_slice(&parts);
            f[7..9].clone_from_slice(&names);
            f[9] = cut(&format!("{}-{}", r.order_number, r.shipment_no), 16);
            f[15] = "0".to_owned();
            f[17] = cut(&sender.phone, 14);
            f[18] = sender.postal_code.clone();
            f[19..21].clone_from_slice(&s);
            f[21..23].clone_from_slice(&sn);
            f[24..29].clone_from_slice(&goods);
            f[29] = "1".to_owned();
            f[32] = date_with(r.date.as_deref(), "");
            f[33] = ehiden_slot(&r.slot).to_owned();
            f[35] = collect_text;
            f[44] = "1".to_owned();
            f
        }
    }
}

/// `text` in Shift_JIS; a character it cannot hold is written as 〓 and counted.
pub fn to_shift_jis(text: &str) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(text.len());
    let mut substituted = 0;
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        // The JIS forms macOS and others type, as Windows' Shift_JIS (the carriers') has them.
        let ch = match ch {
            '\u{301C}' => '\u{FF5E}', // 〜 → ～
            '\u{2016}' => '\u{2225}', // ‖ → ∥
            '\u{2014}' => '\u{2015}', // — → ―
            '\u{00A2}' => '\u{FFE0}', // ¢ → ￠
            '\u{00A3}' => '\u{FFE1}', // £ → ￡
            '\u{00AC}' => '\u{FFE2}', // ¬ → ￢
            other => other,
        };
        let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(ch.encode_utf8(&mut buf));
        if unmappable {
            substituted += 1;
            let (geta, _, _) = encoding_rs::SHIFT_JIS.encode("〓");
            out.extend_from_slice(&geta);
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    (out, substituted)
}

/// The carrier's file for `rows` (in delivery order per order). `pay_of` gives each order
/// number's payment method and the amount to collect.
pub fn write(
    carrier: Carrier,
    rows: &[ShippingRow],
    sender: &Sender,
    pay_of: impl Fn(&str) -> Option<OrderPay>,
) -> Result<CarrierFile, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    match carrier {
        Carrier::YamatoB2 => w.write_record(B2_HEAD)?,
        Carrier::SagawaEhiden => w.write_record(EHIDEN_HEAD)?,
    }
    let mut collected: Vec<&str> = Vec::new();
    let mut cut_slips = 0;
    for r in rows {
        if !fits(carrier, r) {
            cut_slips += 1;
        }
        let collect = match pay_of(&r.order_number) {
            Some(p)
                if p.method == PaymentMethod::CashOnDelivery
                    && !collected.contains(&r.order_number.as_str()) =>
            {
                collected.push(r.order_number.as_str());
                p.collect
            }
            _ => Yen::ZERO,
        };
        w.write_record(slip(carrier, r, sender, collect))?;
    }
    let text = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    // The writer wrote UTF-8 from `String`s.
    let text = String::from_utf8_lossy(&text);
    let (bytes, substituted) = to_shift_jis(&text);
    Ok(CarrierFile {
        bytes,
        substituted,
        cut_slips,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use mamori_domain::Personal;

    fn row(number: &str, no: i64, slot: &str) -> ShippingRow {
        ShippingRow {
            order_number: number.to_owned(),
            shipment_no: no,
            recipient_name: Personal::new("𠮷田 花子".to_owned()),
            postal_code: Personal::new("100-0001".to_owned()),
            prefecture: "東京都".to_owned(),
            address_line: Personal::new(
                "千代田区千代田1-1 パークハイツ千代田ウエストタワー1501号室".to_owned(),
            ),
            phone: Personal::new("090-1234-5678".to_owned()),
            slot: slot.to_owned(),
            date: Some("2026-12-12".to_owned()),
            items: "名前旗 金襴 中 ×1".to_owned(),
            personalisation: Personal::new(String::new()),
            noshi: Personal::new(String::new()),
        }
    }

    fn decode(bytes: &[u8]) -> String {
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
        assert!(!bad);
        text.into_owned()
    }

    #[test]
    fn sender_takes_the_postal_code_from_the_address() {
        let s = Sender::from_settings(
            "守り商店",
            "〒100-0005\n東京都千代田区丸の内1-1-1",
            "03-1234-5678",
        );
        assert_eq!(s.postal_code, "100-0005");
        assert_eq!(s.address, "東京都千代田区丸の内1-1-1");
        let s = Sender::from_settings("守り商店", "東京都千代田区丸の内1-1-1", "");
        assert_eq!(s.postal_code, "");
        assert_eq!(s.address, "東京都千代田区丸の内1-1-1");
    }

    #[test]
    fn b2_slips_collect_once_per_cod_order() {
        let sender = Sender::from_settings(
            "守り商店",
            "100-0005 東京都千代田区丸の内1-1-1",
            "03-1234-5678",
        );
        let rows = [
            row("MA-1", 1, "morning"),
            row("MA-1", 2, "19_21"),
            row("MA-2", 1, ""),
        ];
        let file = write(Carrier::YamatoB2, &rows, &sender, |n| {
            Some(OrderPay {
                method: if n == "MA-1" {
                    PaymentMethod::CashOnDelivery
                } else {
                    PaymentMethod::Card
                },
                collect: Yen(5_940),
            })
        })
        .unwrap();
        // 𠮷 is not in Shift_JIS.
        assert_eq!(file.substituted, 3);
        assert_eq!(file.cut_slips, 0);
        let text = decode(&file.bytes);
        assert!(text.ends_with("\r\n"));
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("お客様管理番号,送り状種類"));
        let rec = |i: usize| -> Vec<String> {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(lines[i].as_bytes())
                .records()
                .next()
                .unwrap()
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect()
        };
        let first = rec(1);
        assert_eq!(first.len(), 42);
        assert_eq!(first[0], "MA-1-1");
        assert_eq!(first[1], "2", "コレクト");
        assert_eq!(first[33], "5940");
        assert_eq!(first[6], "0812");
        assert_eq!(first[5], "2026/12/12");
        assert_eq!(first[15], "〓田 花子");
        assert_eq!(first[11].chars().count(), 32);
        assert_eq!(first[21], "100-0005");
        assert_eq!(first[22], "東京都千代田区丸の内1-1-1");
        assert_eq!(first[24], "守り商店");
        assert_eq!(first[19], "03-1234-5678");
        let second = rec(2);
        assert_eq!(
            (second[1].as_str(), second[33].as_str()),
            ("0", ""),
            "collected once"
        );
        assert_eq!(second[6], "1921");
        let card = rec(3);
        assert_eq!(
            (card[1].as_str(), card[33].as_str(), card[6].as_str()),
            ("0", "", "")
        );
    }

    #[test]
    fn ehiden_slips_split_addresses_and_collect() {
        let sender = Sender::from_settings("守り商店", "東京都千代田区丸の内1-1-1", "03-1234-5678");
        let rows = [row("MA-3", 1, "16_18")];
        let file = write(Carrier::SagawaEhiden, &rows, &sender, |_| {
            Some(OrderPay {
                method: PaymentMethod::CashOnDelivery,
                collect: Yen(12_100),
            })
        })
        .unwrap();
        assert_eq!(file.cut_slips, 0);
        let mut long = row("MA-4", 1, "");
        long.address_line = Personal::new("あ".repeat(60));
        let file = write(Carrier::SagawaEhiden, &[long], &sender, |_| None).unwrap();
        assert_eq!(file.cut_slips, 1);
        let file = write(Carrier::SagawaEhiden, &rows, &sender, |_| {
            Some(OrderPay {
                method: PaymentMethod::CashOnDelivery,
                collect: Yen(12_100),
            })
        })
        .unwrap();
        let text = decode(&file.bytes);
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let head = reader.headers().unwrap().clone();
        assert_eq!(head.len(), 45);
        let r = reader.records().next().unwrap().unwrap();
        assert_eq!(&r[4], "東京都千代田区千代田1-1 パー");
        assert!(r[5].starts_with("クハイツ"));
        assert_eq!(&r[35], "12100");
        assert_eq!(&r[33], "16");
        assert_eq!(&r[32], "20261212");
        assert_eq!(&r[3], "100-0001");
        assert_eq!(&r[19], "東京都千代田区丸の内1-1-1");
        assert_eq!(&r[21], "守り商店");
    }

    #[test]
    fn shift_jis_holds_japanese_and_marks_the_rest() {
        let (bytes, n) = to_shift_jis("ｱ山田髙①～〜‖—－𠮷😀");
        assert_eq!(n, 2);
        assert_eq!(decode(&bytes), "ｱ山田髙①～～∥―－〓〓");
    }
}
