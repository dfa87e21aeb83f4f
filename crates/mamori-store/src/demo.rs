//! The demo catalogue: the kinds of shop in the breach notices (parts and consumables, health foods
//! at the reduced 8% rate, name banners with 名入れ, books), so a newcomer shops in something real.

use mamori_domain::{Address, AddressParts, PersonName, PhoneNumber, TaxRate};

use crate::error::StoreError;

use crate::error::Result;
use crate::model::{now_us, CategoryRow, ProductRow};
use crate::store::Store;

struct Demo {
    sku: &'static str,
    category: &'static str,
    name_ja: &'static str,
    name_en: &'static str,
    description_ja: &'static str,
    price_incl: i64,
    rate: TaxRate,
    stock: i64,
    personalisation: bool,
    noshi: bool,
}

const CATEGORIES: &[(&str, &str, &str)] = &[
    ("parts", "部品・消耗品", "Parts and consumables"),
    ("health", "健康食品", "Health foods"),
    ("banners", "名前旗・節句", "Name banners"),
    ("books", "書籍", "Books"),
];

const PRODUCTS: &[Demo] = &[
    Demo {
        sku: "PT-1001",
        category: "parts",
        name_ja: "炊飯ジャー用 内ぶたパッキン",
        name_en: "Rice cooker inner lid gasket",
        description_ja: "5.5合炊き用の交換パッキンです。",
        price_incl: 1_320,
        rate: TaxRate::Standard,
        stock: 120,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "PT-1002",
        category: "parts",
        name_ja: "炊飯ジャー用 内なべ 5.5合",
        name_en: "Rice cooker inner pot 5.5 go",
        description_ja: "黒まる厚釜の交換用内なべ。",
        price_incl: 8_800,
        rate: TaxRate::Standard,
        stock: 25,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "PT-1003",
        category: "parts",
        name_ja: "電気ポット用 給水タンク",
        name_en: "Electric pot water tank",
        description_ja: "2.2L用の給水タンクです。",
        price_incl: 2_420,
        rate: TaxRate::Standard,
        stock: 40,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "PT-1004",
        category: "parts",
        name_ja: "ステンレスボトル用 せんユニット",
        name_en: "Stainless bottle stopper unit",
        description_ja: "0.48L用のせんユニット（パッキン付き）。",
        price_incl: 1_100,
        rate: TaxRate::Standard,
        stock: 300,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "PT-1005",
        category: "parts",
        name_ja: "クエン酸 洗浄剤 4包入",
        name_en: "Citric acid descaler, 4 sachets",
        description_ja: "ポット・ケトルの湯あか落としに。",
        price_incl: 660,
        rate: TaxRate::Standard,
        stock: 500,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "PT-1006",
        category: "parts",
        name_ja: "ホットプレート用 平面プレート",
        name_en: "Hot plate flat plate",
        description_ja: "焼き肉・お好み焼きに使える平面プレート。",
        price_incl: 4_950,
        rate: TaxRate::Standard,
        stock: 15,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "HL-2001",
        category: "health",
        name_ja: "国産 大麦若葉の青汁 30包",
        name_en: "Barley grass aojiru, 30 sachets",
        description_ja: "毎朝の一杯に。飲料は軽減税率8%の対象です。",
        price_incl: 3_240,
        rate: TaxRate::Reduced,
        stock: 200,
        personalisation: false,
        noshi: true,
    },
    Demo {
        sku: "HL-2002",
        category: "health",
        name_ja: "ビフィズス菌 サプリメント 60粒",
        name_en: "Bifidobacteria supplement, 60 capsules",
        description_ja: "1日2粒目安。",
        price_incl: 2_700,
        rate: TaxRate::Reduced,
        stock: 150,
        personalisation: false,
        noshi: true,
    },
    Demo {
        sku: "HL-2003",
        category: "health",
        name_ja: "ラクトフェリン 粉末 90g",
        name_en: "Lactoferrin powder 90 g",
        description_ja: "ヨーグルトに混ぜて。",
        price_incl: 4_320,
        rate: TaxRate::Reduced,
        stock: 80,
        personalisation: false,
        noshi: true,
    },
    Demo {
        sku: "HL-2004",
        category: "health",
        name_ja: "国産 緑茶 ティーバッグ 50袋",
        name_en: "Japanese green tea, 50 bags",
        description_ja: "静岡県産の深蒸し茶。",
        price_incl: 1_080,
        rate: TaxRate::Reduced,
        stock: 400,
        personalisation: false,
        noshi: true,
    },
    Demo {
        sku: "HL-2005",
        category: "health",
        name_ja: "ギフトセット（青汁・緑茶）",
        name_en: "Gift set (aojiru and green tea)",
        description_ja: "のし対応のギフトセット。",
        price_incl: 5_400,
        rate: TaxRate::Reduced,
        stock: 60,
        personalisation: false,
        noshi: true,
    },
    Demo {
        sku: "BN-3001",
        category: "banners",
        name_ja: "名前旗 金襴 中（名入れ）",
        name_en: "Name banner, gold brocade, medium (personalised)",
        description_ja: "お子さまのお名前と生年月日をお入れします。",
        price_incl: 16_500,
        rate: TaxRate::Standard,
        stock: 30,
        personalisation: true,
        noshi: true,
    },
    Demo {
        sku: "BN-3002",
        category: "banners",
        name_ja: "名前旗 刺繍 大（名入れ）",
        name_en: "Name banner, embroidered, large (personalised)",
        description_ja: "刺繍でお名前をお入れします。",
        price_incl: 27_500,
        rate: TaxRate::Standard,
        stock: 12,
        personalisation: true,
        noshi: true,
    },
    Demo {
        sku: "BN-3003",
        category: "banners",
        name_ja: "名前旗 飾り台セット",
        name_en: "Name banner stand set",
        description_ja: "名前旗用の飾り台とポール。",
        price_incl: 6_600,
        rate: TaxRate::Standard,
        stock: 45,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "BN-3004",
        category: "banners",
        name_ja: "木札 名入れ（卓上）",
        name_en: "Wooden name plaque (personalised)",
        description_ja: "卓上に飾れる名入れ木札。",
        price_incl: 9_900,
        rate: TaxRate::Standard,
        stock: 20,
        personalisation: true,
        noshi: true,
    },
    Demo {
        sku: "BK-4001",
        category: "books",
        name_ja: "はじめてのネットショップ運営",
        name_en: "Running your first online shop",
        description_ja: "個人情報の取り扱いまでやさしく解説。",
        price_incl: 1_980,
        rate: TaxRate::Standard,
        stock: 90,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "BK-4002",
        category: "books",
        name_ja: "日本の年中行事と贈り物",
        name_en: "Japanese seasonal events and gifts",
        description_ja: "のしの表書きの選び方も。",
        price_incl: 2_420,
        rate: TaxRate::Standard,
        stock: 70,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "BK-4003",
        category: "books",
        name_ja: "お米のおいしい炊き方",
        name_en: "Cooking rice well",
        description_ja: "炊飯器の手入れのコツ付き。",
        price_incl: 1_650,
        rate: TaxRate::Standard,
        stock: 110,
        personalisation: false,
        noshi: false,
    },
    Demo {
        sku: "BK-4004",
        category: "books",
        name_ja: "子どもの節句 100% ガイド",
        name_en: "Children's festivals: the 100% guide",
        description_ja: "端午の節句・桃の節句の準備。",
        price_incl: 1_760,
        rate: TaxRate::Standard,
        stock: 55,
        personalisation: false,
        noshi: false,
    },
];

/// Loads the demo catalogue; running it again changes nothing. Returns the number of products.
pub async fn seed_demo_catalogue(store: &dyn Store) -> Result<usize> {
    for (i, (slug, ja, en)) in CATEGORIES.iter().enumerate() {
        store
            .upsert_category(&CategoryRow {
                id: format!("cat-{slug}"),
                slug: (*slug).to_owned(),
                name_ja: (*ja).to_owned(),
                name_en: (*en).to_owned(),
                position: i as i64,
            })
            .await?;
    }
    let now = now_us();
    for p in PRODUCTS {
        if store.product_by_sku(p.sku).await?.is_some() {
            continue;
        }
        store
            .upsert_product(&ProductRow {
                id: format!("prod-{}", p.sku.to_lowercase()),
                sku: p.sku.to_owned(),
                category_id: format!("cat-{}", p.category),
                name_ja: p.name_ja.to_owned(),
                name_en: p.name_en.to_owned(),
                description_ja: p.description_ja.to_owned(),
                description_en: String::new(),
                price_incl: p.price_incl,
                tax_rate: p.rate.as_str().to_owned(),
                stock: p.stock,
                offers_personalisation: p.personalisation,
                offers_noshi: p.noshi,
                active: true,
                created_at: now,
                updated_at: now,
            })
            .await?;
    }
    Ok(PRODUCTS.len())
}

// ---- Made-up people ----

const FAMILY: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
];
const GIVEN: &[(&str, &str)] = &[
    ("太郎", "タロウ"),
    ("花子", "ハナコ"),
    ("翔太", "ショウタ"),
    ("美咲", "ミサキ"),
    ("健一", "ケンイチ"),
    ("陽菜", "ヒナ"),
    ("大輔", "ダイスケ"),
    ("結衣", "ユイ"),
    ("拓也", "タクヤ"),
    ("さくら", "サクラ"),
    ("蓮", "レン"),
    ("葵", "アオイ"),
    ("直樹", "ナオキ"),
    ("真由美", "マユミ"),
    ("浩二", "コウジ"),
    ("恵子", "ケイコ"),
];
const PLACES: &[(&str, &str, &str)] = &[
    ("100", "東京都", "千代田区"),
    ("150", "東京都", "渋谷区"),
    ("530", "大阪府", "大阪市北区"),
    ("460", "愛知県", "名古屋市中区"),
    ("060", "北海道", "札幌市中央区"),
    ("810", "福岡県", "福岡市中央区"),
    ("980", "宮城県", "仙台市青葉区"),
    ("730", "広島県", "広島市中区"),
    ("900", "沖縄県", "那覇市"),
    ("380", "長野県", "長野市"),
    ("920", "石川県", "金沢市"),
    ("700", "岡山県", "岡山市北区"),
];
const STREETS: &[&str] = &[
    "本町",
    "中央",
    "緑町",
    "桜台",
    "旭町",
    "栄町",
    "青葉",
    "若松町",
];

/// A made-up person's value that did not parse (the tables are constants: never in practice).
fn bad<E>(_: E) -> StoreError {
    StoreError::Internal {
        what: "a made-up person did not parse",
    }
}

/// A made-up person: a common family and given name with their readings, an address in one of
/// a dozen cities and a mobile number. Japanese-looking, from small tables, never a real record
/// (`mamori demo populate` and the guard's canary customers use it).
pub fn person<R: rand::Rng + ?Sized>(rng: &mut R) -> Result<(PersonName, Address, PhoneNumber)> {
    let (f, fk) = FAMILY[rng.gen_range(0..FAMILY.len())];
    let (g, gk) = GIVEN[rng.gen_range(0..GIVEN.len())];
    let name = PersonName::parse_with_kana(f, g, Some(fk), Some(gk)).map_err(bad)?;
    let (zip3, pref, city) = PLACES[rng.gen_range(0..PLACES.len())];
    let address = Address::parse(&AddressParts {
        postal_code: format!("{zip3}-{:04}", rng.gen_range(0..10_000)),
        prefecture: pref.into(),
        city: city.into(),
        line1: format!(
            "{}{}-{}-{}",
            STREETS[rng.gen_range(0..STREETS.len())],
            rng.gen_range(1..6),
            rng.gen_range(1..30),
            rng.gen_range(1..20)
        ),
        line2: None,
    })
    .map_err(bad)?;
    let prefix = ["090", "080", "070"][rng.gen_range(0..3)];
    let phone = PhoneNumber::parse(&format!(
        "{prefix}-{:04}-{:04}",
        rng.gen_range(0..10_000),
        rng.gen_range(0..10_000)
    ))
    .map_err(bad)?;
    Ok((name, address, phone))
}
