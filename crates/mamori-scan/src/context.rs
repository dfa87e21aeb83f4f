//! Confidence scoring: context words near a number raise it, look-alikes common in shop data lower it.

use crate::finder::{Candidate, TextEncoding};
use crate::luhn::ean13_valid;
use serde::Serialize;

/// Bytes before a number searched for context words (doubled for UTF-16).
pub const CTX_BEFORE: usize = 64;
/// Bytes after a number searched for context words (doubled for UTF-16).
const CTX_AFTER_SEARCH: usize = 40;

/// Confidence that a finding is a real card number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Valid Luhn and issuer range, but it looks like something else (JAN code, phone, order number ...).
    Low,
    /// Valid Luhn and issuer range, no context either way.
    Medium,
    /// Card context nearby, card-style grouping or magnetic-stripe framing.
    High,
}

impl Confidence {
    /// Maps a numeric score to a level.
    pub fn from_score(score: i32) -> Self {
        if score >= 75 {
            Confidence::High
        } else if score >= 45 {
            Confidence::Medium
        } else {
            Confidence::Low
        }
    }
}

/// What kind of card data a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A primary account number on its own.
    Pan,
    /// Magnetic-stripe track 1 (`%B<pan>^NAME^...`).
    Track1,
    /// Magnetic-stripe track 2 (`;<pan>=YYMM...`).
    Track2,
}

/// The result of judging one candidate in its surroundings.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// Numeric score (higher is more likely a card).
    pub score: i32,
    /// The level derived from the score.
    pub confidence: Confidence,
    /// PAN or track data.
    pub kind: FindingKind,
    /// Whether the number is a well-known public test card number.
    pub test_card: bool,
    /// Short reasons that moved the score, for reports.
    pub reasons: Vec<&'static str>,
}

#[derive(Clone, Copy, PartialEq)]
enum Polarity {
    Card,
    NotCard,
}

/// Context words. `bounded` words must not touch other ASCII letters (so `pan` does not match `japan`).
const KEYWORDS: &[(&str, Polarity, bool)] = &[
    ("card", Polarity::Card, false),
    ("カード", Polarity::Card, false),
    ("クレジット", Polarity::Card, false),
    ("credit", Polarity::Card, false),
    ("有効期限", Polarity::Card, false),
    ("セキュリティコード", Polarity::Card, false),
    ("exp", Polarity::Card, true),
    ("expiry", Polarity::Card, false),
    ("expir", Polarity::Card, false),
    ("cvv", Polarity::Card, false),
    ("cvc", Polarity::Card, false),
    ("pan", Polarity::Card, true),
    ("ccnum", Polarity::Card, false),
    ("cc_num", Polarity::Card, false),
    ("visa", Polarity::Card, false),
    ("mastercard", Polarity::Card, false),
    ("amex", Polarity::Card, false),
    ("jcb", Polarity::Card, true),
    ("tel", Polarity::NotCard, true),
    ("phone", Polarity::NotCard, false),
    ("電話", Polarity::NotCard, false),
    ("fax", Polarity::NotCard, true),
    ("携帯", Polarity::NotCard, false),
    ("order", Polarity::NotCard, false),
    ("注文", Polarity::NotCard, false),
    ("受注", Polarity::NotCard, false),
    ("tracking", Polarity::NotCard, false),
    ("追跡", Polarity::NotCard, false),
    ("伝票", Polarity::NotCard, false),
    ("問い合わせ", Polarity::NotCard, false),
    ("jan", Polarity::NotCard, true),
    ("ean", Polarity::NotCard, true),
    ("isbn", Polarity::NotCard, false),
    ("barcode", Polarity::NotCard, false),
    ("バーコード", Polarity::NotCard, false),
    ("sku", Polarity::NotCard, true),
    ("商品", Polarity::NotCard, false),
    ("timestamp", Polarity::NotCard, false),
    ("invoice", Polarity::NotCard, false),
    ("請求", Polarity::NotCard, false),
    ("session", Polarity::NotCard, false),
    ("token", Polarity::NotCard, false),
    ("uuid", Polarity::NotCard, false),
    ("hash", Polarity::NotCard, false),
    ("ref", Polarity::NotCard, true),
];

/// Well-known public test card numbers (documented by payment providers; not real accounts).
const TEST_CARDS: &[&str] = &[
    "4111111111111111",
    "4012888888881881",
    "4222222222222",
    "4242424242424242",
    "4000056655665556",
    "4000000000000002",
    "4000000000000077",
    "4012000033330026",
    "5555555555554444",
    "5105105105105100",
    "5200828282828210",
    "2223003122003222",
    "378282246310005",
    "371449635398431",
    "378734493671000",
    "6011111111111117",
    "6011000990139424",
    "3530111333300000",
    "3566002020360505",
    "30569309025904",
    "38520000023237",
    "36227206271667",
    "6200000000000005",
];

/// Whether the digit values are one of the well-known test card numbers.
pub fn is_test_card(digits: &[u8]) -> bool {
    TEST_CARDS
        .iter()
        .any(|t| t.len() == digits.len() && t.bytes().zip(digits).all(|(a, &b)| a - b'0' == b))
}

/// A window of the haystack as UTF-8 bytes: borrowed for ASCII-compatible text, decoded into
/// `buf` for UTF-16. Keyword matching ignores ASCII case, so nothing is copied on the common path
/// (this runs for every look-alike, and there can be millions).
fn window_text<'a>(
    hay: &'a [u8],
    from: usize,
    to: usize,
    enc: TextEncoding,
    buf: &'a mut Vec<u8>,
) -> &'a [u8] {
    let w = &hay[from.min(hay.len())..to.min(hay.len())];
    match enc {
        TextEncoding::Ascii | TextEncoding::FullWidth => w,
        TextEncoding::Utf16le | TextEncoding::Utf16be => {
            let units = w.chunks_exact(2).map(|c| {
                if enc == TextEncoding::Utf16be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            });
            buf.clear();
            let mut tmp = [0u8; 4];
            for ch in char::decode_utf16(units).map(|r| r.unwrap_or('\u{FFFD}')) {
                buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
            }
            buf
        }
    }
}

/// For each byte, the indices of the keywords that start with it (up to 8), so that most
/// window positions are rejected by one lookup and the rest try only a few keywords.
/// Upper-case ASCII letters share their lower-case letter's entry: matching ignores ASCII case.
static KEYWORD_BY_FIRST: [([u8; 8], u8); 256] = {
    let mut t = [([0u8; 8], 0u8); 256];
    let mut i = 0;
    while i < KEYWORDS.len() {
        let b = KEYWORDS[i].0.as_bytes()[0];
        let mut k = 0;
        while k < 2 {
            let slot = if k == 0 { b } else { b.to_ascii_uppercase() } as usize;
            let n = t[slot].1 as usize;
            if n < 8 && (k == 0 || slot != b as usize) {
                t[slot].0[n] = i as u8;
                t[slot].1 += 1;
            }
            k += 1;
        }
        i += 1;
    }
    t
};

/// Bit set for each pair of leading bytes of a keyword (both ASCII cases), so that a window
/// position is rejected with one lookup unless a keyword could start there.
static KEYWORD_PAIRS: [u64; 1024] = {
    let mut t = [0u64; 1024];
    let mut i = 0;
    while i < KEYWORDS.len() {
        let kw = KEYWORDS[i].0.as_bytes();
        let mut k = 0;
        while k < 4 {
            let a = if k & 1 == 0 {
                kw[0]
            } else {
                kw[0].to_ascii_uppercase()
            } as usize;
            let b = if k & 2 == 0 {
                kw[1]
            } else {
                kw[1].to_ascii_uppercase()
            } as usize;
            let bit = (a << 8) | b;
            t[bit >> 6] |= 1 << (bit & 63);
            k += 1;
        }
        i += 1;
    }
    t
};

/// Whether a keyword could start at `p` (checks its first two bytes).
#[inline]
fn keyword_may_start(text: &[u8], p: usize) -> bool {
    match text.get(p..p + 2) {
        Some(&[a, b]) => {
            let bit = (usize::from(a) << 8) | usize::from(b);
            KEYWORD_PAIRS[bit >> 6] >> (bit & 63) & 1 != 0
        }
        _ => false,
    }
}

/// Finds the keyword nearest to the end (`from_end`) or the start of `text`.
///
/// One pass over the (short) window with a first-byte table instead of one substring search
/// per keyword: this runs for every candidate, and most candidates are look-alikes.
fn nearest_keyword(text: &[u8], from_end: bool) -> Option<Polarity> {
    let n = text.len();
    let mut best: Option<(usize, usize, Polarity)> = None;
    let check = |p: usize| -> Option<(usize, usize, Polarity)> {
        let mut found: Option<(usize, usize, Polarity)> = None;
        let (idx, count) = &KEYWORD_BY_FIRST[usize::from(text[p])];
        for &i in &idx[..usize::from(*count)] {
            let (kw, pol, bounded) = KEYWORDS[usize::from(i)];
            let kw = kw.as_bytes();
            // Keywords are lower case; non-ASCII bytes compare as they are.
            if !text
                .get(p..p + kw.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(kw))
            {
                continue;
            }
            let end = p + kw.len();
            if bounded
                && ((p > 0 && text[p - 1].is_ascii_alphabetic())
                    || (end < n && text[end].is_ascii_alphabetic()))
            {
                continue;
            }
            if found.is_none_or(|(e, l, _)| end > e || (end == e && kw.len() > l)) {
                found = Some((end, kw.len(), pol));
            }
        }
        found
    };
    if from_end {
        // Nearest to the number: the largest end. Keywords are at most 27 bytes long.
        for p in (0..n).rev() {
            if let Some((e, _, _)) = best {
                if p + 27 < e {
                    break;
                }
            }
            if !keyword_may_start(text, p) {
                continue;
            }
            if let Some(f) = check(p) {
                if best.is_none_or(|(e, l, _)| f.0 > e || (f.0 == e && f.1 > l)) {
                    best = Some(f);
                }
            }
        }
    } else {
        for p in 0..n {
            if keyword_may_start(text, p) {
                if let Some(f) = check(p) {
                    best = Some(f);
                    break;
                }
            }
        }
    }
    best.map(|(_, _, p)| p)
}

/// Whether `text` holds only white space (ASCII, or the ideographic space U+3000 of Japanese text).
fn is_blank(text: &[u8]) -> bool {
    let mut rest = text;
    loop {
        match rest {
            [] => return true,
            [b, tail @ ..] if b.is_ascii_whitespace() => rest = tail,
            [0xE3, 0x80, 0x80, tail @ ..] => rest = tail,
            _ => return false,
        }
    }
}

/// Whether 13+ digits look like a YYYYMMDD... timestamp.
fn looks_like_timestamp(d: &[u8]) -> bool {
    if d.len() < 8 {
        return false;
    }
    let year =
        u32::from(d[0]) * 1000 + u32::from(d[1]) * 100 + u32::from(d[2]) * 10 + u32::from(d[3]);
    let month = u32::from(d[4]) * 10 + u32::from(d[5]);
    let day = u32::from(d[6]) * 10 + u32::from(d[7]);
    (1970..=2099).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Scores a candidate found in `hay`. `label` is a column or field name when known.
pub fn assess(c: &Candidate, hay: &[u8], label: Option<&str>) -> Assessment {
    assess_in(c, hay, label, false)
}

/// Like [`assess`]; `raw_db_page` marks data read from the raw pages of a database whose rows
/// were scanned too: a number found there but in no row is deleted data, or an artefact of
/// adjacent column values (a JAN code followed by a phone number), so it scores lower.
pub fn assess_in(c: &Candidate, hay: &[u8], label: Option<&str>, raw_db_page: bool) -> Assessment {
    let mut score = 50i32;
    let mut reasons = Vec::new();
    if raw_db_page {
        score -= 15;
        reasons.push("raw database page, in no row");
    }
    let wide = matches!(c.encoding, TextEncoding::Utf16le | TextEncoding::Utf16be);
    let unit = if wide { 2 } else { 1 };
    let d = c.digits();

    // Magnetic-stripe framing (ASCII only: card readers emit ASCII).
    let mut kind = FindingKind::Pan;
    if c.encoding == TextEncoding::Ascii && !c.separated {
        let before = &hay[c.start.saturating_sub(2)..c.start];
        let after = hay.get(c.end).copied();
        if before.ends_with(b"%B") && after == Some(b'^') {
            kind = FindingKind::Track1;
        } else if after == Some(b'=')
            && hay
                .get(c.end + 1..c.end + 5)
                .is_some_and(|x| x.iter().all(u8::is_ascii_digit))
        {
            kind = FindingKind::Track2;
        }
    }
    if kind != FindingKind::Pan {
        score += 40;
        reasons.push("magnetic-stripe track data");
    }

    let (mut before_buf, mut after_buf) = (Vec::new(), Vec::new());
    let before = window_text(
        hay,
        c.start.saturating_sub(CTX_BEFORE * unit),
        c.start,
        c.encoding,
        &mut before_buf,
    );
    let after = window_text(
        hay,
        c.end,
        c.end + CTX_AFTER_SEARCH * unit,
        c.encoding,
        &mut after_buf,
    );
    // Context belongs to the same line; a label alone on the line before also counts.
    let (before, before_is_prev_line): (&[u8], bool) = match memchr::memrchr(b'\n', before) {
        Some(i) if is_blank(&before[i..]) => {
            let prev = &before[..i];
            (
                memchr::memrchr(b'\n', prev).map_or(prev, |j| &prev[j + 1..]),
                true,
            )
        }
        Some(i) => (&before[i + 1..], false),
        None => (before, false),
    };
    let after: &[u8] = memchr::memchr(b'\n', after).map_or(after, |i| &after[..i]);
    // A number alone on its line (it already passed Luhn, issuer range and length) is not
    // demoted by a label on another line: a card number pasted under "注文番号" or "order id" is
    // still a card number. Card words on the line before still raise it.
    let alone_on_line = before_is_prev_line && is_blank(after);
    let mut context_set = false;
    match nearest_keyword(before, true) {
        Some(Polarity::Card) => {
            score += 30;
            reasons.push("card words nearby");
            context_set = true;
        }
        Some(Polarity::NotCard) if !alone_on_line => {
            score -= 25;
            reasons.push("label of a non-card number nearby");
            context_set = true;
        }
        Some(Polarity::NotCard) | None => {}
    }
    if let Some(label) = label {
        match nearest_keyword(label.to_lowercase().as_bytes(), true) {
            Some(Polarity::Card) if !context_set => {
                score += 30;
                reasons.push("card column or field name");
                context_set = true;
            }
            Some(Polarity::NotCard) if !context_set => {
                score -= 25;
                reasons.push("non-card column or field name");
                context_set = true;
            }
            _ => {}
        }
    }
    if !context_set && nearest_keyword(after, false) == Some(Polarity::Card) {
        score += 15;
        reasons.push("card words after the number");
    }

    if c.separated {
        if c.standard_grouping {
            score += 10;
            reasons.push("card-style grouping");
        } else {
            score -= 15;
            reasons.push("unusual grouping");
        }
    }
    if d.len() == 13 && ean13_valid(d) {
        score -= if d.starts_with(&[4, 5]) || d.starts_with(&[4, 9]) {
            35
        } else {
            20
        };
        reasons.push("looks like a JAN/EAN-13 code");
    }
    if looks_like_timestamp(d) {
        score -= 25;
        reasons.push("looks like a timestamp");
    }
    if c.encoding == TextEncoding::Ascii && kind == FindingKind::Pan {
        let prev = c.start.checked_sub(1).and_then(|i| hay.get(i)).copied();
        let next = hay.get(c.end).copied();
        if prev.is_some_and(|b| b.is_ascii_alphabetic())
            || next.is_some_and(|b| b.is_ascii_alphabetic())
        {
            score -= 20;
            reasons.push("part of a longer token");
        }
    }
    let distinct = {
        let mut seen = [false; 10];
        d.iter().for_each(|&v| seen[usize::from(v)] = true);
        seen.iter().filter(|&&s| s).count()
    };
    if distinct <= 2 {
        score -= 20;
        reasons.push("too few distinct digits");
    }
    Assessment {
        score,
        confidence: Confidence::from_score(score),
        kind,
        test_card: is_test_card(d),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finder::find_all;

    fn judge(s: &str) -> Assessment {
        let c = find_all(s.as_bytes());
        assert_eq!(c.len(), 1);
        assess(&c[0], s.as_bytes(), None)
    }

    #[test]
    fn context_raises_and_lowers() {
        assert_eq!(
            judge("カード番号: 4556737586899855").confidence,
            Confidence::High
        );
        assert_eq!(
            judge("cc exp 12/27 4556737586899855").confidence,
            Confidence::High
        );
        assert_eq!(judge("x 4556737586899855 y").confidence, Confidence::Medium);
        assert_eq!(judge("tel: 4556737586899855").confidence, Confidence::Low);
        assert_eq!(
            judge("japan 4556737586899855").confidence,
            Confidence::Medium
        );
    }

    #[test]
    fn a_number_alone_on_its_line_is_not_demoted_by_other_lines() {
        // Labels of non-card numbers above, below or on both sides, in several line endings.
        for text in [
            "注文番号\n4556737586899855\n",
            "注文番号:\r\n4556737586899855\r\n",
            "order id\n  4556737586899855  \n",
            "4556737586899855\ntracking\n",
            "tel\n4556737586899855\norder id\n",
            "memo\ntel\n\n4556 7375 8689 9855\n追跡番号\n",
            "電話\n\u{3000}４５５６７３７５８６８９９８５５\u{3000}\n",
        ] {
            let a = judge(text);
            assert_eq!(a.confidence, Confidence::Medium, "{:?}", a.reasons);
            assert!(a.reasons.iter().all(|r| !r.contains("non-card")));
        }
        // Card words on the line above still raise it.
        assert_eq!(
            judge("カード番号\n4556737586899855\n").confidence,
            Confidence::High
        );
        // A label on the number's own line still lowers it, whatever is on the lines around.
        for text in [
            "tel: 4556737586899855\n",
            "memo\norder 4556737586899855\n",
            "注文番号\n4556737586899855 tel\n",
        ] {
            assert_eq!(judge(text).confidence, Confidence::Low, "{text:?}");
        }
        // So do the number's own traits (here a JAN code alone under a label).
        assert_eq!(judge("商品\n4901234567894\n").confidence, Confidence::Low);
    }

    #[test]
    fn track_data() {
        let a = judge("%B4556737586899855^YAMADA/TARO^2712101000000?");
        assert_eq!(a.kind, FindingKind::Track1);
        assert_eq!(a.confidence, Confidence::High);
        let a = judge(";4556737586899855=27121010000000?");
        assert_eq!(a.kind, FindingKind::Track2);
    }

    #[test]
    fn jan_code_is_low() {
        // 13 digits, Visa prefix, valid EAN-13 and valid Luhn.
        let d = "4901234567894";
        let c = find_all(d.as_bytes());
        if let Some(c) = c.first() {
            assert_eq!(assess(c, d.as_bytes(), None).confidence, Confidence::Low);
        }
        assert!(crate::luhn::ean13_valid(
            &d.bytes().map(|b| b - b'0').collect::<Vec<_>>()
        ));
    }

    #[test]
    fn keyword_index_covers_every_keyword() {
        for (i, (kw, _, _)) in KEYWORDS.iter().enumerate() {
            let first = kw.as_bytes()[0];
            for b in [first, first.to_ascii_uppercase()] {
                let (idx, n) = &KEYWORD_BY_FIRST[usize::from(b)];
                assert!(idx[..usize::from(*n)].contains(&(i as u8)), "{kw}");
            }
        }
    }

    #[test]
    fn keyword_pairs_cover_every_keyword() {
        for (kw, _, _) in KEYWORDS {
            assert!(kw.len() >= 2, "{kw}");
            let upper = kw.to_ascii_uppercase();
            for text in [kw.as_bytes(), upper.as_bytes()] {
                assert!(keyword_may_start(text, 0), "{kw}");
            }
        }
        assert!(!keyword_may_start(b"zz", 0));
        assert!(!keyword_may_start(b"c", 0));
    }

    #[test]
    fn nearest_keyword_wins() {
        assert!(nearest_keyword(b"order 1 card ", true) == Some(Polarity::Card));
        assert!(nearest_keyword(b"card x tel ", true) == Some(Polarity::NotCard));
        assert!(nearest_keyword(b"japan ", true).is_none());
        assert!(nearest_keyword(" カード番号：".as_bytes(), true) == Some(Polarity::Card));
        assert!(nearest_keyword(b" exp 12/27 tel", false) == Some(Polarity::Card));
        // Case is ignored: the window is matched as it is in the data.
        assert!(nearest_keyword(b"Card No. ", true) == Some(Polarity::Card));
        assert!(nearest_keyword(b"ORDER ", true) == Some(Polarity::NotCard));
        assert!(nearest_keyword(b"JAPAN ", true).is_none());
    }

    #[test]
    fn test_cards_flagged() {
        assert!(judge("4111111111111111").test_card);
        assert!(!judge("4556737586899855").test_card);
    }
}
