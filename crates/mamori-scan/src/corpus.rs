//! Test-corpus generator: realistic shop data (order logs, customer CSVs, JAN codes, phone and
//! tracking numbers, timestamps) with card numbers planted in every supported format, nesting
//! and encoding. The numbers are random Luhn-valid numbers in real issuer ranges, not real
//! accounts. Every plant is recorded (masked) so that recall can be measured.

use crate::finder::mask_digits;
use crate::luhn::{luhn_check_digit, luhn_valid};
use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{self, Write};
use std::path::Path;

/// One planted card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    /// File path relative to the corpus root, `/`-separated.
    pub file: String,
    /// Member chain prefix a finding must start with (archive members, mail message).
    pub members: Vec<String>,
    /// The masked number (first six, last four).
    pub masked: String,
    /// SQLite table when planted in a database row.
    pub table: Option<String>,
}

/// Errors while generating a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// Writing files failed.
    #[error("corpus i/o: {0}")]
    Io(#[from] io::Error),
    /// Building an archive failed.
    #[error("corpus zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Building the SQLite file failed.
    #[error("corpus sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// A random generator of shop-like data and card numbers.
pub struct ShopData {
    rng: StdRng,
}

const SURNAMES: &[&str] = &[
    "山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村",
];
const GIVEN: &[&str] = &["太郎", "花子", "健", "陽菜", "翔", "さくら", "大輔", "結衣"];
const ITEMS: &[&str] = &[
    "抹茶ラテ",
    "手ぬぐい",
    "湯呑み",
    "お香セット",
    "和紙ノート",
    "風呂敷",
];
const STATUSES: &[&str] = &["paid", "shipped", "delivered", "cancelled", "refunded"];

impl ShopData {
    /// A generator with a fixed seed (same seed, same data).
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.gen_range(0..10u8)))
            .collect()
    }

    /// A random Luhn-valid card number as digit values, in a random brand's range.
    pub fn card(&mut self) -> Vec<u8> {
        let (prefix, len): (&str, usize) = match self.rng.gen_range(0..10) {
            0 | 1 => ("4", 16),
            2 => (["51", "52", "53", "54", "55"][self.rng.gen_range(0..5)], 16),
            3 => (
                ["2221", "2300", "2500", "2720"][self.rng.gen_range(0..4)],
                16,
            ),
            4 => (["34", "37"][self.rng.gen_range(0..2)], 15),
            5 => (["3528", "3540", "3589"][self.rng.gen_range(0..3)], 16),
            6 => (["36", "300", "38"][self.rng.gen_range(0..3)], 14),
            7 => (["6011", "65", "644"][self.rng.gen_range(0..3)], 16),
            8 => ("62", [16, 19][self.rng.gen_range(0..2)]),
            _ => ("4", 19),
        };
        loop {
            let mut d: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
            while d.len() < len - 1 {
                d.push(self.rng.gen_range(0..10));
            }
            d.push(luhn_check_digit(&d));
            // Keep plants realistic: enough distinct digits, no date-like start.
            let distinct = (0..10u8).filter(|v| d.contains(v)).count();
            if distinct > 4 && luhn_valid(&d) {
                return d;
            }
        }
    }

    /// A valid JAN (EAN-13) code with a Japanese prefix.
    pub fn jan(&mut self) -> String {
        let mut d: Vec<u32> = if self.rng.gen_bool(0.5) {
            vec![4, 9]
        } else {
            vec![4, 5]
        };
        while d.len() < 12 {
            d.push(self.rng.gen_range(0..10));
        }
        let sum: u32 = d
            .iter()
            .enumerate()
            .map(|(i, v)| v * if i % 2 == 0 { 1 } else { 3 })
            .sum();
        d.push((10 - sum % 10) % 10);
        d.iter()
            .map(|v| char::from_digit(*v, 10).unwrap_or('0'))
            .collect()
    }

    /// A Japanese phone number.
    pub fn phone(&mut self) -> String {
        match self.rng.gen_range(0..3) {
            0 => format!("090-{}-{}", self.digits(4), self.digits(4)),
            1 => format!("03-{}-{}", self.digits(4), self.digits(4)),
            _ => format!("+81-80-{}-{}", self.digits(4), self.digits(4)),
        }
    }

    /// A parcel tracking number (12 digits, grouped or not).
    pub fn tracking(&mut self) -> String {
        if self.rng.gen_bool(0.5) {
            format!("{}-{}-{}", self.digits(4), self.digits(4), self.digits(4))
        } else {
            self.digits(12)
        }
    }

    fn name(&mut self) -> String {
        format!(
            "{} {}",
            SURNAMES[self.rng.gen_range(0..SURNAMES.len())],
            GIVEN[self.rng.gen_range(0..GIVEN.len())]
        )
    }

    /// One line of an order log (no card number).
    pub fn log_line(&mut self) -> String {
        let (mo, d, h, mi, s) = (
            self.rng.gen_range(1..13),
            self.rng.gen_range(1..29),
            self.rng.gen_range(0..24),
            self.rng.gen_range(0..60),
            self.rng.gen_range(0..60),
        );
        let ms: u64 = 1_700_000_000_000 + self.rng.gen_range(0..100_000_000_000u64);
        match self.rng.gen_range(0..4) {
            0 => format!(
                "2024-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}+09:00 INFO order=ORD-2024{mo:02}{d:02}-{} customer=C{} total={} jan={} status={}\n",
                self.rng.gen_range(0..1000),
                self.digits(8),
                self.digits(6),
                self.rng.gen_range(100..50000),
                self.jan(),
                STATUSES[self.rng.gen_range(0..STATUSES.len())]
            ),
            1 => format!(
                "2024-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} shipping order_no=2024{mo:02}{d:02}{h:02}{mi:02}{s:02} tracking={} tel={} ts={ms}\n",
                self.tracking(),
                self.phone()
            ),
            2 => format!(
                "{ms} GET /api/items/{}?ref={} 200 {}ms ua=\"Mozilla/5.0\" session={}\n",
                self.jan(),
                self.digits(10),
                self.rng.gen_range(1..900),
                self.digits(16)
            ),
            _ => format!(
                "2024-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} 注文確定 お客様={} 商品={} 数量={} 電話={}\n",
                self.name(),
                ITEMS[self.rng.gen_range(0..ITEMS.len())],
                self.rng.gen_range(1..5),
                self.phone()
            ),
        }
    }

    /// One customer CSV row (no card number); `card` fills the card column when given.
    pub fn customer_row(&mut self, id: usize, card: &str) -> String {
        format!(
            "{id},{},{}@example.jp,{},{}-{},東京都渋谷区神宮前{}-{}-{},19{}-0{}-1{},{card}\n",
            self.name(),
            self.digits(6),
            self.phone(),
            self.digits(3),
            self.digits(4),
            self.rng.gen_range(1..7),
            self.rng.gen_range(1..30),
            self.rng.gen_range(1..20),
            self.rng.gen_range(50..99),
            self.rng.gen_range(1..10),
            self.rng.gen_range(0..10),
        )
    }

    /// Builds a block of shop-like log text of about `bytes` bytes with a card number planted
    /// every `plant_every` lines (0: none). Returns the text and how many were planted.
    pub fn log_block(&mut self, bytes: usize, plant_every: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(bytes + 256);
        let mut n = 0usize;
        let mut planted = 0usize;
        while out.len() < bytes {
            n += 1;
            if plant_every > 0 && n.is_multiple_of(plant_every) {
                let c = self.card();
                out.extend_from_slice(
                    format!(
                        "2024-05-01 12:00:00 payment card={} exp=12/27\n",
                        fmt_card(&c, Style::Plain)
                    )
                    .as_bytes(),
                );
                planted += 1;
            } else {
                out.extend_from_slice(self.log_line().as_bytes());
            }
        }
        (out, planted)
    }
}

/// Request paths of a shop front end, with `{jan}` and `{n}` filled in per line.
const PAGES: &[&str] = &[
    "/",
    "/products/{jan}",
    "/products/{jan}?utm_source=line&utm_medium=social&utm_campaign=spring_sale",
    "/category/tea?page={n}&sort=popular",
    "/search?q=%E6%8A%B9%E8%8C%B6&page={n}",
    "/cart",
    "/checkout/confirm",
    "/mypage/orders?page={n}",
    "/api/v1/cart/items",
    "/api/v1/stock?jan={jan}",
    "/assets/application-3f9a2c81d4.js",
    "/assets/application-77b0e1f5c2.css",
    "/images/items/{jan}_main.webp",
    "/favicon.ico",
    "/robots.txt",
    "/healthz",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SO-51D) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "kube-probe/1.29",
];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl ShopData {
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.rng.gen_range(0..16usize)]))
            .collect()
    }

    /// One line as a shop's web server and application write them: mostly access-log lines in
    /// the combined format, some JSON application log lines (orders, payments, jobs).
    pub fn access_line(&mut self) -> String {
        let (mo, d, h, mi, s) = (
            self.rng.gen_range(0..12usize),
            self.rng.gen_range(1..29),
            self.rng.gen_range(0..24),
            self.rng.gen_range(0..60),
            self.rng.gen_range(0..60),
        );
        let kind = self.rng.gen_range(0..100);
        if kind < 78 {
            let jan = self.jan();
            let n = self.rng.gen_range(1..20).to_string();
            let page = PAGES[self.rng.gen_range(0..PAGES.len())]
                .replace("{jan}", &jan)
                .replace("{n}", &n);
            let method = if page.starts_with("/api/v1/cart") || page == "/checkout/confirm" {
                "POST"
            } else {
                "GET"
            };
            let status = [200, 200, 200, 200, 200, 304, 302, 404][self.rng.gen_range(0..8)];
            let referer = if self.rng.gen_bool(0.6) {
                format!("https://shop.example.jp/category/tea?page={n}")
            } else {
                "-".to_string()
            };
            format!(
                "{}.{}.{}.{} - - [{d:02}/{}/2024:{h:02}:{mi:02}:{s:02} +0900] \"{method} {page} HTTP/2.0\" {status} {} \"{referer}\" \"{}\" rt={}.{:03}\n",
                self.rng.gen_range(1..224),
                self.rng.gen_range(0..256),
                self.rng.gen_range(0..256),
                self.rng.gen_range(1..255),
                MONTHS[mo],
                self.rng.gen_range(0..90_000),
                AGENTS[self.rng.gen_range(0..AGENTS.len())],
                self.rng.gen_range(0..2),
                self.rng.gen_range(0..1000),
            )
        } else if kind < 93 {
            let ms = self.rng.gen_range(0..1000);
            let req = format!("{}-{}-{}", self.hex(8), self.hex(4), self.hex(12));
            let order = format!(
                "ORD-2024{:02}{d:02}-{:06}",
                mo + 1,
                self.rng.gen_range(0..1_000_000)
            );
            match self.rng.gen_range(0..3) {
                0 => format!(
                    "{{\"ts\":\"2024-{:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}+09:00\",\"level\":\"info\",\"msg\":\"order created\",\"request_id\":\"{req}\",\"order_id\":\"{order}\",\"customer_id\":{},\"items\":[{{\"jan\":\"{}\",\"qty\":{},\"price\":{}}}],\"total\":{},\"payment_method\":\"credit_card\"}}\n",
                    mo + 1,
                    self.rng.gen_range(1000..900_000),
                    self.jan(),
                    self.rng.gen_range(1..4),
                    self.rng.gen_range(300..9000),
                    self.rng.gen_range(300..30000),
                ),
                1 => format!(
                    "{{\"ts\":\"2024-{:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}+09:00\",\"level\":\"info\",\"msg\":\"payment authorized\",\"request_id\":\"{req}\",\"order_id\":\"{order}\",\"charge_id\":\"ch_{}\",\"amount\":{},\"currency\":\"jpy\",\"card_brand\":\"visa\",\"card_last4\":\"{}\"}}\n",
                    mo + 1,
                    self.hex(24),
                    self.rng.gen_range(300..30000),
                    self.digits(4),
                ),
                _ => format!(
                    "{{\"ts\":\"2024-{:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}+09:00\",\"level\":\"info\",\"msg\":\"shipment registered\",\"order_id\":\"{order}\",\"tracking_no\":\"{}\",\"carrier\":\"yamato\",\"tel\":\"{}\"}}\n",
                    mo + 1,
                    self.tracking(),
                    self.phone(),
                ),
            }
        } else {
            format!(
                "I, [2024-{:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06} #{}]  INFO -- : [{}] Completed 200 OK in {}ms (Views: {}.{}ms | ActiveRecord: {}.{}ms | Allocations: {})\n",
                mo + 1,
                self.rng.gen_range(0..1_000_000),
                self.rng.gen_range(1000..60000),
                self.hex(8),
                self.rng.gen_range(2..900),
                self.rng.gen_range(0..300),
                self.rng.gen_range(0..10),
                self.rng.gen_range(0..100),
                self.rng.gen_range(0..10),
                self.rng.gen_range(1000..90000),
            )
        }
    }

    /// Like [`ShopData::log_block`], but with [`ShopData::access_line`] lines: web-server access
    /// logs and JSON application logs, far less digit-dense than the order log. A card number
    /// leaks every `plant_every` lines as a logged request body (0: none).
    pub fn access_block(&mut self, bytes: usize, plant_every: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(bytes + 512);
        let mut n = 0usize;
        let mut planted = 0usize;
        while out.len() < bytes {
            n += 1;
            if plant_every > 0 && n.is_multiple_of(plant_every) {
                let c = self.card();
                out.extend_from_slice(
                    format!(
                        "{{\"ts\":\"2024-05-01T12:00:00.000+09:00\",\"level\":\"debug\",\"msg\":\"payment request\",\"body\":{{\"card_number\":\"{}\",\"exp\":\"12/27\"}}}}\n",
                        fmt_card(&c, Style::Plain)
                    )
                    .as_bytes(),
                );
                planted += 1;
            } else {
                out.extend_from_slice(self.access_line().as_bytes());
            }
        }
        (out, planted)
    }
}

/// How a planted number is written.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// `4556737586899855`
    Plain,
    /// `4556 7375 8689 9855`
    Spaces,
    /// `4556-7375-8689-9855`
    Hyphens,
    /// Full-width digits with full-width hyphens.
    FullWidth,
    /// Full-width digits with katakana long vowel marks as separators.
    FullWidthChoon,
}

/// Writes digit values in a style (groups of four; Amex 4-6-5, Diners 4-6-4).
pub fn fmt_card(d: &[u8], style: Style) -> String {
    let groups: Vec<usize> = match d.len() {
        15 => vec![4, 6, 5],
        14 => vec![4, 6, 4],
        n => {
            let mut g = vec![4; n / 4];
            if n % 4 != 0 {
                g.push(n % 4);
            }
            g
        }
    };
    let (sep, wide) = match style {
        Style::Plain => ("", false),
        Style::Spaces => (" ", false),
        Style::Hyphens => ("-", false),
        Style::FullWidth => ("－", true),
        Style::FullWidthChoon => ("ー", true),
    };
    let mut s = String::new();
    let mut i = 0;
    for (k, g) in groups.iter().enumerate() {
        if k > 0 {
            s.push_str(sep);
        }
        for &v in &d[i..i + g] {
            let c = char::from(b'0' + v);
            s.push(if wide {
                char::from_u32(0xFF10 + u32::from(v)).unwrap_or(c)
            } else {
                c
            });
        }
        i += g;
    }
    s
}

fn qp_encode(s: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for &b in s.as_bytes() {
        let piece = if b == b'\n' {
            col = 0;
            out.push_str("\r\n");
            continue;
        } else if (33..=126).contains(&b) && b != b'=' || b == b' ' {
            char::from(b).to_string()
        } else {
            format!("={b:02X}")
        };
        if col + piece.len() > 20 {
            // Short soft line breaks so that numbers are split across encoded lines.
            out.push_str("=\r\n");
            col = 0;
        }
        col += piece.len();
        out.push_str(&piece);
    }
    out
}

fn b64_lines(data: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(data);
    enc.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned() + "\r\n")
        .collect()
}

fn zip_bytes(files: &[(&str, &[u8])]) -> Result<Vec<u8>, CorpusError> {
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        w.start_file(*name, opts)?;
        w.write_all(data)?;
    }
    Ok(w.finish()?.into_inner())
}

fn tar_bytes(files: &[(&str, &[u8])]) -> Result<Vec<u8>, CorpusError> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data)?;
    }
    Ok(b.into_inner()?)
}

fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data)?;
    e.finish()
}

struct Builder<'a> {
    root: &'a Path,
    shop: ShopData,
    planted: Vec<Planted>,
}

impl Builder<'_> {
    /// Draws a card, records the plant and returns it written in `style`.
    fn plant(&mut self, file: &str, members: &[&str], style: Style) -> String {
        let d = self.shop.card();
        self.planted.push(Planted {
            file: file.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            masked: mask_digits(&d),
            table: None,
        });
        fmt_card(&d, style)
    }

    fn write(&self, rel: &str, data: &[u8]) -> io::Result<()> {
        let p = self.root.join(rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(p, data)
    }

    fn log_text(&mut self, file: &str, members: &[&str], lines: usize) -> String {
        let mut s = String::new();
        for i in 0..lines {
            s.push_str(&self.shop.log_line());
            if i % 40 == 17 {
                let style = [Style::Plain, Style::Spaces, Style::Hyphens][i % 3];
                let c = self.plant(file, members, style);
                s.push_str(&format!(
                    "2024-05-01 10:00:00 WARN payment debug card={c} exp=12/27 cvv=123\n"
                ));
            }
        }
        s
    }
}

/// Builds a corpus under `root` with every supported format, nesting and encoding.
/// `scale` multiplies the amount of filler data (1 keeps the corpus at a few hundred KB).
pub fn generate(root: &Path, seed: u64, scale: usize) -> Result<Vec<Planted>, CorpusError> {
    let mut b = Builder {
        root,
        shop: ShopData::new(seed),
        planted: Vec::new(),
    };
    let lines = 400 * scale.max(1);

    // Plain text log, CSV, JSON, SQL dumps.
    let t = b.log_text("logs/app.log", &[], lines);
    b.write("logs/app.log", t.as_bytes())?;

    let mut csv = String::from("id,name,email,tel,zip,address,birthday,card_number\n");
    for i in 0..lines / 2 {
        let card = if i % 25 == 3 {
            b.plant("customers.csv", &[], Style::Hyphens)
        } else {
            String::new()
        };
        csv.push_str(&b.shop.customer_row(i, &card));
    }
    b.write("customers.csv", csv.as_bytes())?;

    let mut json = String::new();
    for i in 0..lines / 4 {
        let jan = b.shop.jan();
        let card = if i % 20 == 5 {
            b.plant("export/orders.jsonl", &[], Style::Plain)
        } else {
            String::new()
        };
        json.push_str(&format!(
            "{{\"order_id\":\"ORD-{i:06}\",\"jan\":\"{jan}\",\"tel\":\"{}\",\"payment\":{{\"method\":\"card\",\"number\":\"{card}\"}}}}\n",
            b.shop.phone()
        ));
    }
    b.write("export/orders.jsonl", json.as_bytes())?;

    let mut pg = String::from("--\n-- PostgreSQL database dump\n--\n\nCOPY public.payments (id, order_no, card_no, holder, exp) FROM stdin;\n");
    for i in 0..lines / 4 {
        let c = b.plant("dumps/shop_pg.sql", &[], Style::Plain);
        pg.push_str(&format!("{i}\t2024{:06}\t{c}\tTARO YAMADA\t12/27\n", i));
        if i >= 3 {
            break;
        }
    }
    pg.push_str("\\.\n");
    b.write("dumps/shop_pg.sql", pg.as_bytes())?;

    let mut my = String::from("-- MySQL dump 10.13\nINSERT INTO `payments` VALUES ");
    for i in 0..4 {
        let c = b.plant("dumps/shop_mysql.sql", &[], Style::Spaces);
        my.push_str(&format!(
            "({i},'{}','{c}','{}'),",
            b.shop.jan(),
            b.shop.phone()
        ));
    }
    my.push_str("(99,'','','');\n");
    b.write("dumps/shop_mysql.sql", my.as_bytes())?;

    // Full-width digits in Japanese text, and UTF-16 in both byte orders.
    let mut fwt = String::new();
    for i in 0..lines / 4 {
        fwt.push_str(&format!(
            "{}様 電話 {} ご注文ありがとうございます。\n",
            b.shop.name(),
            b.shop.phone()
        ));
        if i % 30 == 2 {
            let style = if i % 60 == 2 {
                Style::FullWidth
            } else {
                Style::FullWidthChoon
            };
            let c = b.plant("notes/電話メモ.txt", &[], style);
            fwt.push_str(&format!("カード番号：{c}　有効期限：１２／２７\n"));
        }
    }
    b.write("notes/電話メモ.txt", fwt.as_bytes())?;
    for (file, be) in [
        ("exports/utf16le.csv", false),
        ("exports/utf16be.csv", true),
    ] {
        let mut s = String::from("name,tel,card\r\n");
        for i in 0..30 {
            let card = if i % 10 == 4 {
                b.plant(file, &[], Style::Spaces)
            } else {
                String::new()
            };
            s.push_str(&format!("{},{},{card}\r\n", b.shop.name(), b.shop.phone()));
        }
        let mut bytes: Vec<u8> = if be {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for u in s.encode_utf16() {
            bytes.extend_from_slice(&if be { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        b.write(file, &bytes)?;
    }

    // Magnetic-stripe tracks.
    let c1 = b.plant("pos/reader.log", &[], Style::Plain);
    let c2 = b.plant("pos/reader.log", &[], Style::Plain);
    b.write(
        "pos/reader.log",
        format!("swipe %B{c1}^YAMADA/TARO^2712101000000000000?\nswipe ;{c2}=27121010000000000?\n")
            .as_bytes(),
    )?;

    // A number split across the 4 KiB boundary (the test scans with 4 KiB reads).
    let mut split = vec![b'x'; 4096 - 9];
    split[0] = b'\n';
    let c = b.plant("logs/boundary.log", &[], Style::Spaces);
    split.extend_from_slice(format!("{c} card\n").as_bytes());
    b.write("logs/boundary.log", &split)?;

    // Compressed streams.
    for ext in ["gz", "bz2", "xz", "zst"] {
        let file = format!("logs/archive/app.log.{ext}");
        let t = b.log_text(&file, &[], lines / 4);
        let data = match ext {
            "gz" => gzip(t.as_bytes())?,
            "bz2" => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                e.write_all(t.as_bytes())?;
                e.finish()?
            }
            "xz" => {
                let mut e = xz2::write::XzEncoder::new(Vec::new(), 3);
                e.write_all(t.as_bytes())?;
                e.finish()?
            }
            _ => zstd::stream::encode_all(t.as_bytes(), 3)?,
        };
        b.write(&file, &data)?;
    }

    // Nested archives: backup.tar.gz > db/orders.csv, logs/old.log.xz, inner.zip > a.txt.
    let file = "backup/backup.tar.gz";
    let csv_in = format!(
        "id,card\n1,{}\n",
        b.plant(file, &["db/orders.csv"], Style::Plain)
    );
    let log_in = b.log_text(file, &["logs/old.log.xz"], 60);
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 3);
    xz.write_all(log_in.as_bytes())?;
    let xz = xz.finish()?;
    let a_txt = format!(
        "memo card {}\n",
        b.plant(file, &["inner.zip", "a.txt"], Style::Hyphens)
    );
    let inner_zip = zip_bytes(&[("a.txt", a_txt.as_bytes())])?;
    let tarball = tar_bytes(&[
        ("db/orders.csv", csv_in.as_bytes()),
        ("logs/old.log.xz", &xz),
        ("inner.zip", &inner_zip),
    ])?;
    b.write(file, &gzip(&tarball)?)?;

    // zip > nested tar.gz > csv, and zip > zip > zip > txt.
    let file = "backup/export.zip";
    let csv_t = format!(
        "id,pan\n7,{}\n",
        b.plant(file, &["old.tar.gz", "pay.csv"], Style::Plain)
    );
    let tgz = gzip(&tar_bytes(&[("pay.csv", csv_t.as_bytes())])?)?;
    let deep_txt = format!(
        "カード {}\n",
        b.plant(file, &["l1.zip", "l2.zip", "deep.txt"], Style::Spaces)
    );
    let l2 = zip_bytes(&[("deep.txt", deep_txt.as_bytes())])?;
    let l1 = zip_bytes(&[("l2.zip", &l2)])?;
    let top = zip_bytes(&[
        ("old.tar.gz", &tgz),
        ("l1.zip", &l1),
        ("readme.txt", b"export 2019\n"),
    ])?;
    b.write(file, &top)?;

    // Office files: a number split across Word runs, and spreadsheet cells.
    let file = "office/report.docx";
    let d = b.shop.card();
    let s = fmt_card(&d, Style::Spaces);
    b.planted.push(Planted {
        file: file.into(),
        members: vec!["word/document.xml".into()],
        masked: mask_digits(&d),
        table: None,
    });
    let (left, right) = s.split_at(7);
    let doc = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>お客様控え JAN {} カード番号 </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">{left}</w:t></w:r><w:r><w:t>{right}</w:t></w:r></w:p></w:body></w:document>"#,
        b.shop.jan()
    );
    let ct = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#;
    b.write(
        file,
        &zip_bytes(&[
            ("[Content_Types].xml", ct.as_bytes()),
            ("word/document.xml", doc.as_bytes()),
        ])?,
    )?;

    let file = "office/sales.xlsx";
    let shared_card = b.plant(file, &["xl/sharedStrings.xml"], Style::Plain);
    let inline_card = b.plant(file, &["xl/worksheets/sheet1.xml"], Style::Hyphens);
    let sst = format!(
        r#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2"><si><t>card_number</t></si><si><t>{shared_card}</t></si></sst>"#
    );
    let sheet = format!(
        r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>{}</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2" t="inlineStr"><is><t>{inline_card}</t></is></c><c r="C2"><v>{}</v></c></row></sheetData></worksheet>"#,
        b.shop.jan(),
        b.shop.digits(10)
    );
    b.write(
        file,
        &zip_bytes(&[
            ("[Content_Types].xml", ct.as_bytes()),
            ("xl/sharedStrings.xml", sst.as_bytes()),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ])?,
    )?;

    // Mail: mbox with base64 and quoted-printable bodies and an attachment; one .eml.
    let file = "mail/shop.mbox";
    let body1 = format!(
        "ご注文ありがとうございます。\nカード番号: {}\n",
        b.plant(file, &["message 1"], Style::FullWidth)
    );
    let body2 = format!(
        "Card used: {} exp 12/27\n",
        b.plant(file, &["message 2"], Style::Spaces)
    );
    let att = format!(
        "id,card\n1,{}\n",
        b.plant(file, &["message 3"], Style::Plain)
    );
    let mbox = format!(
        "From shop@example.jp Mon May  6 10:00:00 2024\r\nFrom: shop@example.jp\r\nTo: a@example.jp\r\nSubject: order\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\nFrom shop@example.jp Mon May  6 11:00:00 2024\r\nFrom: shop@example.jp\r\nTo: b@example.jp\r\nSubject: card\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n\r\nFrom shop@example.jp Mon May  6 12:00:00 2024\r\nFrom: shop@example.jp\r\nTo: c@example.jp\r\nSubject: export\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n--XYZ\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nsee attachment, tel {}\r\n--XYZ\r\nContent-Type: text/csv; name=\"cards.csv\"\r\nContent-Disposition: attachment; filename=\"cards.csv\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--XYZ--\r\n",
        b64_lines(body1.as_bytes()),
        qp_encode(&body2),
        b.shop.phone(),
        b64_lines(att.as_bytes())
    );
    b.write(file, mbox.as_bytes())?;
    let file = "mail/inquiry.eml";
    let body = format!(
        "有効期限 12/27\nカード {}\n",
        b.plant(file, &[], Style::FullWidthChoon)
    );
    let eml = format!(
        "From: customer@example.jp\r\nTo: support@example.jp\r\nSubject: =?UTF-8?B?5pSv5omV44GE?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n",
        qp_encode(&body)
    );
    b.write(file, eml.as_bytes())?;

    // SQLite: text and integer columns, a JAN and phone table for look-alikes.
    let file = "db/shop.sqlite";
    let path = root.join(file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let conn = rusqlite::Connection::open(&path)?;
    conn.execute_batch(
        "CREATE TABLE payments (id INTEGER PRIMARY KEY, customer TEXT, card_number TEXT, memo TEXT);
         CREATE TABLE legacy (id INTEGER PRIMARY KEY, pan INTEGER);
         CREATE TABLE items (id INTEGER PRIMARY KEY, jan TEXT, tel TEXT);",
    )?;
    for i in 0..5 {
        let d = b.shop.card();
        b.planted.push(Planted {
            file: file.into(),
            members: vec![],
            masked: mask_digits(&d),
            table: Some("payments".into()),
        });
        conn.execute(
            "INSERT INTO payments (customer, card_number, memo) VALUES (?1, ?2, ?3)",
            (
                b.shop.name(),
                fmt_card(
                    &d,
                    if i % 2 == 0 {
                        Style::Plain
                    } else {
                        Style::Hyphens
                    },
                ),
                "web",
            ),
        )?;
    }
    let d = loop {
        let d = b.shop.card();
        if d.len() <= 18 {
            break d;
        }
    };
    b.planted.push(Planted {
        file: file.into(),
        members: vec![],
        masked: mask_digits(&d),
        table: Some("legacy".into()),
    });
    let as_int: i64 = d.iter().fold(0i64, |a, &v| a * 10 + i64::from(v));
    conn.execute("INSERT INTO legacy (pan) VALUES (?1)", [as_int])?;
    for _ in 0..50 {
        conn.execute(
            "INSERT INTO items (jan, tel) VALUES (?1, ?2)",
            (b.shop.jan(), b.shop.phone()),
        )?;
    }
    drop(conn);

    // A support memo: card numbers pasted alone on their lines, with the label of another
    // number on the line above or below (the scanner once demoted these below the default).
    let file = "notes/support-memo.txt";
    let memo = format!(
        "注文番号\n{}\n\norder id:\r\n{}\r\n\n{}\ntracking\n\ntel\n　{}　\n",
        b.plant(file, &[], Style::Plain),
        b.plant(file, &[], Style::Spaces),
        b.plant(file, &[], Style::Hyphens),
        b.plant(file, &[], Style::FullWidth),
    );
    b.write(file, memo.as_bytes())?;

    Ok(b.planted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ScanOptions, Scanner};

    /// Runs of 13 or more digits per line, a rough measure of how digit-dense a log is.
    fn long_runs_per_line(text: &[u8]) -> f64 {
        let runs = text
            .split(|b| !b.is_ascii_digit())
            .filter(|r| r.len() >= 13)
            .count();
        let lines = text.iter().filter(|&&b| b == b'\n').count().max(1);
        runs as f64 / lines as f64
    }

    #[test]
    fn access_log_plants_are_found_and_it_is_sparser_than_the_order_log() {
        let (access, planted) = ShopData::new(5).access_block(1 << 20, 500);
        let (orders, _) = ShopData::new(5).log_block(1 << 20, 500);
        assert!(planted > 5);
        assert!(long_runs_per_line(&access) < long_runs_per_line(&orders) / 2.0);
        let report = Scanner::new(ScanOptions::default()).scan_bytes("access.log", &access);
        assert_eq!(report.findings.len(), planted);
        assert!(report.findings.iter().all(|f| f.line > 0));
    }
}
