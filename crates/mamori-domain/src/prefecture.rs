//! The 47 prefectures (都道府県) in JIS X 0401 order.

use serde::{Deserialize, Serialize};

use crate::error::bilingual_error;
use crate::normalize::normalize_input;

bilingual_error! {
    /// Why a prefecture could not be recognised.
    pub enum PrefectureError {
        Unknown => ("unknown prefecture", "都道府県を正しく選択してください"),
    }
}

/// A Japanese prefecture; the discriminant is the JIS X 0401 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Prefecture {
    /// 北海道 (Hokkaido), JIS X 0401 code 01.
    Hokkaido = 1,
    /// 青森県 (Aomori), JIS X 0401 code 02.
    Aomori = 2,
    /// 岩手県 (Iwate), JIS X 0401 code 03.
    Iwate = 3,
    /// 宮城県 (Miyagi), JIS X 0401 code 04.
    Miyagi = 4,
    /// 秋田県 (Akita), JIS X 0401 code 05.
    Akita = 5,
    /// 山形県 (Yamagata), JIS X 0401 code 06.
    Yamagata = 6,
    /// 福島県 (Fukushima), JIS X 0401 code 07.
    Fukushima = 7,
    /// 茨城県 (Ibaraki), JIS X 0401 code 08.
    Ibaraki = 8,
    /// 栃木県 (Tochigi), JIS X 0401 code 09.
    Tochigi = 9,
    /// 群馬県 (Gunma), JIS X 0401 code 10.
    Gunma = 10,
    /// 埼玉県 (Saitama), JIS X 0401 code 11.
    Saitama = 11,
    /// 千葉県 (Chiba), JIS X 0401 code 12.
    Chiba = 12,
    /// 東京都 (Tokyo), JIS X 0401 code 13.
    Tokyo = 13,
    /// 神奈川県 (Kanagawa), JIS X 0401 code 14.
    Kanagawa = 14,
    /// 新潟県 (Niigata), JIS X 0401 code 15.
    Niigata = 15,
    /// 富山県 (Toyama), JIS X 0401 code 16.
    Toyama = 16,
    /// 石川県 (Ishikawa), JIS X 0401 code 17.
    Ishikawa = 17,
    /// 福井県 (Fukui), JIS X 0401 code 18.
    Fukui = 18,
    /// 山梨県 (Yamanashi), JIS X 0401 code 19.
    Yamanashi = 19,
    /// 長野県 (Nagano), JIS X 0401 code 20.
    Nagano = 20,
    /// 岐阜県 (Gifu), JIS X 0401 code 21.
    Gifu = 21,
    /// 静岡県 (Shizuoka), JIS X 0401 code 22.
    Shizuoka = 22,
    /// 愛知県 (Aichi), JIS X 0401 code 23.
    Aichi = 23,
    /// 三重県 (Mie), JIS X 0401 code 24.
    Mie = 24,
    /// 滋賀県 (Shiga), JIS X 0401 code 25.
    Shiga = 25,
    /// 京都府 (Kyoto), JIS X 0401 code 26.
    Kyoto = 26,
    /// 大阪府 (Osaka), JIS X 0401 code 27.
    Osaka = 27,
    /// 兵庫県 (Hyogo), JIS X 0401 code 28.
    Hyogo = 28,
    /// 奈良県 (Nara), JIS X 0401 code 29.
    Nara = 29,
    /// 和歌山県 (Wakayama), JIS X 0401 code 30.
    Wakayama = 30,
    /// 鳥取県 (Tottori), JIS X 0401 code 31.
    Tottori = 31,
    /// 島根県 (Shimane), JIS X 0401 code 32.
    Shimane = 32,
    /// 岡山県 (Okayama), JIS X 0401 code 33.
    Okayama = 33,
    /// 広島県 (Hiroshima), JIS X 0401 code 34.
    Hiroshima = 34,
    /// 山口県 (Yamaguchi), JIS X 0401 code 35.
    Yamaguchi = 35,
    /// 徳島県 (Tokushima), JIS X 0401 code 36.
    Tokushima = 36,
    /// 香川県 (Kagawa), JIS X 0401 code 37.
    Kagawa = 37,
    /// 愛媛県 (Ehime), JIS X 0401 code 38.
    Ehime = 38,
    /// 高知県 (Kochi), JIS X 0401 code 39.
    Kochi = 39,
    /// 福岡県 (Fukuoka), JIS X 0401 code 40.
    Fukuoka = 40,
    /// 佐賀県 (Saga), JIS X 0401 code 41.
    Saga = 41,
    /// 長崎県 (Nagasaki), JIS X 0401 code 42.
    Nagasaki = 42,
    /// 熊本県 (Kumamoto), JIS X 0401 code 43.
    Kumamoto = 43,
    /// 大分県 (Oita), JIS X 0401 code 44.
    Oita = 44,
    /// 宮崎県 (Miyazaki), JIS X 0401 code 45.
    Miyazaki = 45,
    /// 鹿児島県 (Kagoshima), JIS X 0401 code 46.
    Kagoshima = 46,
    /// 沖縄県 (Okinawa), JIS X 0401 code 47.
    Okinawa = 47,
}

impl Prefecture {
    /// All 47 prefectures in JIS X 0401 order (北海道 first, 沖縄県 last).
    pub const ALL: [Prefecture; 47] = [
        Prefecture::Hokkaido,
        Prefecture::Aomori,
        Prefecture::Iwate,
        Prefecture::Miyagi,
        Prefecture::Akita,
        Prefecture::Yamagata,
        Prefecture::Fukushima,
        Prefecture::Ibaraki,
        Prefecture::Tochigi,
        Prefecture::Gunma,
        Prefecture::Saitama,
        Prefecture::Chiba,
        Prefecture::Tokyo,
        Prefecture::Kanagawa,
        Prefecture::Niigata,
        Prefecture::Toyama,
        Prefecture::Ishikawa,
        Prefecture::Fukui,
        Prefecture::Yamanashi,
        Prefecture::Nagano,
        Prefecture::Gifu,
        Prefecture::Shizuoka,
        Prefecture::Aichi,
        Prefecture::Mie,
        Prefecture::Shiga,
        Prefecture::Kyoto,
        Prefecture::Osaka,
        Prefecture::Hyogo,
        Prefecture::Nara,
        Prefecture::Wakayama,
        Prefecture::Tottori,
        Prefecture::Shimane,
        Prefecture::Okayama,
        Prefecture::Hiroshima,
        Prefecture::Yamaguchi,
        Prefecture::Tokushima,
        Prefecture::Kagawa,
        Prefecture::Ehime,
        Prefecture::Kochi,
        Prefecture::Fukuoka,
        Prefecture::Saga,
        Prefecture::Nagasaki,
        Prefecture::Kumamoto,
        Prefecture::Oita,
        Prefecture::Miyazaki,
        Prefecture::Kagoshima,
        Prefecture::Okinawa,
    ];

    /// JIS X 0401 code, 1..=47.
    #[must_use]
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The prefecture with a JIS X 0401 code, if `code` is in 1..=47.
    #[must_use]
    pub fn from_code(code: u8) -> Option<Prefecture> {
        Self::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// Full Japanese name, e.g. `"東京都"`.
    #[must_use]
    pub const fn label_ja(self) -> &'static str {
        match self {
            Prefecture::Hokkaido => "北海道",
            Prefecture::Aomori => "青森県",
            Prefecture::Iwate => "岩手県",
            Prefecture::Miyagi => "宮城県",
            Prefecture::Akita => "秋田県",
            Prefecture::Yamagata => "山形県",
            Prefecture::Fukushima => "福島県",
            Prefecture::Ibaraki => "茨城県",
            Prefecture::Tochigi => "栃木県",
            Prefecture::Gunma => "群馬県",
            Prefecture::Saitama => "埼玉県",
            Prefecture::Chiba => "千葉県",
            Prefecture::Tokyo => "東京都",
            Prefecture::Kanagawa => "神奈川県",
            Prefecture::Niigata => "新潟県",
            Prefecture::Toyama => "富山県",
            Prefecture::Ishikawa => "石川県",
            Prefecture::Fukui => "福井県",
            Prefecture::Yamanashi => "山梨県",
            Prefecture::Nagano => "長野県",
            Prefecture::Gifu => "岐阜県",
            Prefecture::Shizuoka => "静岡県",
            Prefecture::Aichi => "愛知県",
            Prefecture::Mie => "三重県",
            Prefecture::Shiga => "滋賀県",
            Prefecture::Kyoto => "京都府",
            Prefecture::Osaka => "大阪府",
            Prefecture::Hyogo => "兵庫県",
            Prefecture::Nara => "奈良県",
            Prefecture::Wakayama => "和歌山県",
            Prefecture::Tottori => "鳥取県",
            Prefecture::Shimane => "島根県",
            Prefecture::Okayama => "岡山県",
            Prefecture::Hiroshima => "広島県",
            Prefecture::Yamaguchi => "山口県",
            Prefecture::Tokushima => "徳島県",
            Prefecture::Kagawa => "香川県",
            Prefecture::Ehime => "愛媛県",
            Prefecture::Kochi => "高知県",
            Prefecture::Fukuoka => "福岡県",
            Prefecture::Saga => "佐賀県",
            Prefecture::Nagasaki => "長崎県",
            Prefecture::Kumamoto => "熊本県",
            Prefecture::Oita => "大分県",
            Prefecture::Miyazaki => "宮崎県",
            Prefecture::Kagoshima => "鹿児島県",
            Prefecture::Okinawa => "沖縄県",
        }
    }

    /// English name without suffix, e.g. `"Tokyo"`.
    #[must_use]
    pub const fn label_en(self) -> &'static str {
        match self {
            Prefecture::Hokkaido => "Hokkaido",
            Prefecture::Aomori => "Aomori",
            Prefecture::Iwate => "Iwate",
            Prefecture::Miyagi => "Miyagi",
            Prefecture::Akita => "Akita",
            Prefecture::Yamagata => "Yamagata",
            Prefecture::Fukushima => "Fukushima",
            Prefecture::Ibaraki => "Ibaraki",
            Prefecture::Tochigi => "Tochigi",
            Prefecture::Gunma => "Gunma",
            Prefecture::Saitama => "Saitama",
            Prefecture::Chiba => "Chiba",
            Prefecture::Tokyo => "Tokyo",
            Prefecture::Kanagawa => "Kanagawa",
            Prefecture::Niigata => "Niigata",
            Prefecture::Toyama => "Toyama",
            Prefecture::Ishikawa => "Ishikawa",
            Prefecture::Fukui => "Fukui",
            Prefecture::Yamanashi => "Yamanashi",
            Prefecture::Nagano => "Nagano",
            Prefecture::Gifu => "Gifu",
            Prefecture::Shizuoka => "Shizuoka",
            Prefecture::Aichi => "Aichi",
            Prefecture::Mie => "Mie",
            Prefecture::Shiga => "Shiga",
            Prefecture::Kyoto => "Kyoto",
            Prefecture::Osaka => "Osaka",
            Prefecture::Hyogo => "Hyogo",
            Prefecture::Nara => "Nara",
            Prefecture::Wakayama => "Wakayama",
            Prefecture::Tottori => "Tottori",
            Prefecture::Shimane => "Shimane",
            Prefecture::Okayama => "Okayama",
            Prefecture::Hiroshima => "Hiroshima",
            Prefecture::Yamaguchi => "Yamaguchi",
            Prefecture::Tokushima => "Tokushima",
            Prefecture::Kagawa => "Kagawa",
            Prefecture::Ehime => "Ehime",
            Prefecture::Kochi => "Kochi",
            Prefecture::Fukuoka => "Fukuoka",
            Prefecture::Saga => "Saga",
            Prefecture::Nagasaki => "Nagasaki",
            Prefecture::Kumamoto => "Kumamoto",
            Prefecture::Oita => "Oita",
            Prefecture::Miyazaki => "Miyazaki",
            Prefecture::Kagoshima => "Kagoshima",
            Prefecture::Okinawa => "Okinawa",
        }
    }

    /// Japanese name without the 都/府/県 suffix (`"東京"`); 北海道 keeps its
    /// full name because 道 is part of how it is written alone.
    #[must_use]
    pub fn short_ja(self) -> &'static str {
        let full = self.label_ja();
        if self == Prefecture::Hokkaido {
            return full;
        }
        full.strip_suffix(['都', '府', '県']).unwrap_or(full)
    }

    /// Storage key: the English name in lowercase (`"tokyo"`), same as serde.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        STORAGE_KEYS[usize::from(self.code() - 1)]
    }

    /// Recognises `"東京都"`, `"東京"`, `"Tokyo"`, `"tokyo"`, `"Tokyo-to"`,
    /// `"Tokyo Prefecture"`, `"Tōkyō"` and full-width forms.
    pub fn parse(input: &str) -> Result<Prefecture, PrefectureError> {
        let s = normalize_input(input);
        if s.is_empty() {
            return Err(PrefectureError::Unknown);
        }
        if let Some(p) = Self::ALL
            .into_iter()
            .find(|p| p.label_ja() == s || p.short_ja() == s)
        {
            return Ok(p);
        }
        // Romanised names: fold case and macrons (Tōkyō, Ōita) before matching.
        let latin: String = s
            .to_lowercase()
            .chars()
            .map(|c| match c {
                'ō' | 'ô' => 'o',
                'ū' | 'û' => 'u',
                other => other,
            })
            .collect();
        let mut stem = latin.as_str();
        for suffix in [
            " prefecture",
            " pref.",
            " pref",
            "-ken",
            "-fu",
            "-to",
            " ken",
            " fu",
            " to",
        ] {
            if let Some(rest) = stem.strip_suffix(suffix) {
                stem = rest.trim_end();
                break;
            }
        }
        let stem = stem.replace("hyougo", "hyogo").replace("oosaka", "osaka");
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == stem)
            .ok_or(PrefectureError::Unknown)
    }

    /// The name in the requested language.
    #[must_use]
    pub const fn label(self, lang: crate::error::Language) -> &'static str {
        match lang {
            crate::error::Language::Ja => self.label_ja(),
            crate::error::Language::En => self.label_en(),
        }
    }
}

const STORAGE_KEYS: [&str; 47] = [
    "hokkaido",
    "aomori",
    "iwate",
    "miyagi",
    "akita",
    "yamagata",
    "fukushima",
    "ibaraki",
    "tochigi",
    "gunma",
    "saitama",
    "chiba",
    "tokyo",
    "kanagawa",
    "niigata",
    "toyama",
    "ishikawa",
    "fukui",
    "yamanashi",
    "nagano",
    "gifu",
    "shizuoka",
    "aichi",
    "mie",
    "shiga",
    "kyoto",
    "osaka",
    "hyogo",
    "nara",
    "wakayama",
    "tottori",
    "shimane",
    "okayama",
    "hiroshima",
    "yamaguchi",
    "tokushima",
    "kagawa",
    "ehime",
    "kochi",
    "fukuoka",
    "saga",
    "nagasaki",
    "kumamoto",
    "oita",
    "miyazaki",
    "kagoshima",
    "okinawa",
];

impl std::fmt::Display for Prefecture {
    /// The Japanese name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label_ja())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_jis_order() {
        for (i, p) in Prefecture::ALL.iter().enumerate() {
            assert_eq!(usize::from(p.code()), i + 1);
            assert_eq!(Prefecture::from_code(p.code()), Some(*p));
            assert_eq!(Prefecture::parse(p.label_ja()), Ok(*p));
            assert_eq!(Prefecture::parse(p.short_ja()), Ok(*p));
            assert_eq!(Prefecture::parse(p.label_en()), Ok(*p));
            assert_eq!(Prefecture::parse(p.as_str()), Ok(*p));
            let json = serde_json::to_string(p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        assert_eq!(Prefecture::Hokkaido.code(), 1);
        assert_eq!(Prefecture::Tokyo.code(), 13);
        assert_eq!(Prefecture::Okinawa.code(), 47);
        assert_eq!(Prefecture::from_code(0), None);
        assert_eq!(Prefecture::from_code(48), None);
    }

    #[test]
    fn parses_common_spellings() {
        assert_eq!(Prefecture::parse("東京都"), Ok(Prefecture::Tokyo));
        assert_eq!(Prefecture::parse("東京"), Ok(Prefecture::Tokyo));
        assert_eq!(Prefecture::parse(" Tokyo "), Ok(Prefecture::Tokyo));
        assert_eq!(Prefecture::parse("ＴＯＫＹＯ"), Ok(Prefecture::Tokyo));
        assert_eq!(Prefecture::parse("Tokyo-to"), Ok(Prefecture::Tokyo));
        assert_eq!(Prefecture::parse("Tōkyō"), Ok(Prefecture::Tokyo));
        assert_eq!(Prefecture::parse("Osaka-fu"), Ok(Prefecture::Osaka));
        assert_eq!(Prefecture::parse("Ōita"), Ok(Prefecture::Oita));
        assert_eq!(Prefecture::parse("Hyōgo Prefecture"), Ok(Prefecture::Hyogo));
        assert_eq!(Prefecture::parse("北海道"), Ok(Prefecture::Hokkaido));
        assert_eq!(Prefecture::parse("京都府"), Ok(Prefecture::Kyoto));
        assert_eq!(Prefecture::parse("京都"), Ok(Prefecture::Kyoto));
        assert_eq!(Prefecture::parse("鹿児島"), Ok(Prefecture::Kagoshima));
        assert_eq!(Prefecture::Tokyo.label_ja(), "東京都");
        assert_eq!(Prefecture::Tokyo.label_en(), "Tokyo");
    }

    #[test]
    fn rejects_unknown() {
        for s in ["", "東京府", "Edo", "北海", "13", "東"] {
            assert_eq!(Prefecture::parse(s), Err(PrefectureError::Unknown), "{s}");
        }
    }
}
