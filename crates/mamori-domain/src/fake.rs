//! Made-up people for demo data and the guard's canary customers: Japanese-looking names,
//! addresses and mobile numbers from small tables, never a real record. Pure: the caller passes
//! the random source.

use crate::{Address, AddressParts, PersonName, PhoneNumber};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a made-up person did not parse")]
pub struct MadeUpPersonError;

fn bad<E>(_: E) -> MadeUpPersonError {
    MadeUpPersonError
}

/// A made-up person: a common family and given name with their readings, an address in one of
/// a dozen cities and a mobile number. Japanese-looking, from small tables, never a real record
/// (`mamori demo populate` and the guard's canary customers use it; the caller brings the
/// random source, so the crate stays free of I/O).
pub fn person<R: rand::Rng + ?Sized>(
    rng: &mut R,
) -> Result<(PersonName, Address, PhoneNumber), MadeUpPersonError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn every_made_up_person_parses_and_a_seed_repeats() {
        let mut a = StdRng::seed_from_u64(7);
        let mut b = StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let (name_a, address_a, phone_a) = person(&mut a).unwrap();
            let (name_b, address_b, phone_b) = person(&mut b).unwrap();
            assert_eq!(name_a, name_b);
            assert_eq!(address_a, address_b);
            assert_eq!(phone_a, phone_b);
        }
    }
}
