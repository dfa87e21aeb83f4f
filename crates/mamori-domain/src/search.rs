//! Folding text for catalogue search, so that what a Japanese shopper types finds what the
//! merchant wrote, whatever the width, case or kana.
//!
//! Both the stored product text and the query go through [`fold_for_search`]; the store then
//! matches every query term as a substring (n-gram indexes on each backend). Substring terms, not
//! a word tokenizer: Japanese has no spaces between words and a product name like
//! 「ＬＥＤ電球60W形」 must be found by 電球, LED電球 or 60w alike. A morphological tokenizer
//! (lindera and its dictionaries) would split 名前旗 and miss queries that cut a word where the
//! dictionary does not; substring matching over folded text never does.

use unicode_normalization::UnicodeNormalization;

/// Folds `text` for search: NFKC (full-width ＬＥＤ → LED, half-width ｶﾅ → カナ), lower case,
/// katakana → hiragana (パッキン and ぱっきん match), every run of whitespace one space.
#[must_use]
pub fn fold_for_search(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(katakana_to_hiragana(c));
    }
    out
}

/// The terms of a search query: folded, split on whitespace, duplicates and empty terms dropped,
/// at most `max` terms (a query of hundreds of terms is not a shopper's).
#[must_use]
pub fn search_terms(query: &str, max: usize) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for term in fold_for_search(query).split(' ') {
        if !term.is_empty() && !terms.iter().any(|t| t == term) && terms.len() < max {
            terms.push(term.to_owned());
        }
    }
    terms
}

/// ァ..ヶ map onto ぁ..ゖ (the Unicode blocks are parallel); ヽヾ onto ゝゞ. Other characters
/// (ー, ヷ..ヺ, which have no hiragana form) stay.
fn katakana_to_hiragana(c: char) -> char {
    match c {
        '\u{30A1}'..='\u{30F6}' | '\u{30FD}'..='\u{30FE}' => {
            char::from_u32(u32::from(c) - 0x60).unwrap_or(c)
        }
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_case_and_kana_fold_alike() {
        assert_eq!(fold_for_search("ＬＥＤ電球 60W形"), "led電球 60w形");
        assert_eq!(fold_for_search("LED電球"), "led電球");
        assert_eq!(fold_for_search("パッキン"), fold_for_search("ぱっきん"));
        assert_eq!(fold_for_search("ﾊﾟｯｷﾝ"), "ぱっきん");
        assert_eq!(
            fold_for_search("　名前旗\u{3000}\u{3000}刺繍 "),
            "名前旗 刺繍"
        );
        assert_eq!(fold_for_search("コーヒー"), "こーひー");
    }

    #[test]
    fn terms_are_folded_unique_and_bounded() {
        assert_eq!(search_terms("刺繍　名前旗 刺繍", 8), vec!["刺繍", "名前旗"]);
        assert_eq!(search_terms("a b c d", 2), vec!["a", "b"]);
        assert!(search_terms("   ", 8).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn folding_is_idempotent(s in "\\PC{0,40}") {
            let once = fold_for_search(&s);
            proptest::prop_assert_eq!(fold_for_search(&once), once);
        }
    }
}

/// What a customer can be found by in the back office, as texts to blind-index (never stored in
/// the clear). The same normalisation serves storing ([`customer_search_keys`]) and asking
/// ([`customer_query_keys`]), so a match is an exact match of normalised values: the full name
/// or the family name (NFKC, without spaces), the reading likewise in katakana, the phone's
/// digits, the email as looked up at sign-in.
#[must_use]
pub fn customer_search_keys(profile: &crate::CustomerProfile) -> Vec<String> {
    let n = profile.name.expose();
    let mut keys = vec![
        format!("name:{}", name_key(&format!("{}{}", n.family(), n.given()))),
        format!("family:{}", name_key(n.family())),
    ];
    if let Some(f) = n.family_kana() {
        keys.push(format!("kana-family:{}", kana_key(f)));
        if let Some(g) = n.given_kana() {
            keys.push(format!("kana:{}", kana_key(&format!("{f}{g}"))));
        }
    }
    if let Some(p) = &profile.phone {
        keys.push(format!("phone:{}", p.expose().digits()));
    }
    keys.push(email_search_key(profile.email.expose()));
    keys
}

/// The search key of an email (as looked up at sign-in): what a customer is stored under and
/// what a query or an inquiry's address is matched by.
#[must_use]
pub fn email_search_key(email: &crate::Email) -> String {
    format!("email:{}", email.normalised_for_lookup())
}

/// The keys a back-office search for `query` asks for: an email, a phone number (digits and
/// hyphens, 10 or 11 digits), or a name or reading (full or family only). Empty for an empty query.
#[must_use]
pub fn customer_query_keys(query: &str) -> Vec<String> {
    let text: String = query.nfkc().collect::<String>().trim().to_owned();
    if text.is_empty() {
        return Vec::new();
    }
    if text.contains('@') {
        return crate::Email::parse(&text)
            .map(|e| vec![email_search_key(&e)])
            .unwrap_or_default();
    }
    let digits: String = text
        .chars()
        .filter(|c| !crate::is_dash_like(*c) && !c.is_whitespace())
        .collect();
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return vec![format!("phone:{digits}")];
    }
    let name = name_key(&text);
    let kana = kana_key(&text);
    vec![
        format!("name:{name}"),
        format!("family:{name}"),
        format!("kana:{kana}"),
        format!("kana-family:{kana}"),
    ]
}

/// A name for matching: NFKC, without whitespace.
fn name_key(s: &str) -> String {
    s.nfkc().filter(|c| !c.is_whitespace()).collect()
}

/// A reading for matching: as [`name_key`], hiragana as katakana.
fn kana_key(s: &str) -> String {
    crate::hiragana_to_katakana(&name_key(s))
}

#[cfg(test)]
mod customer_tests {
    use super::*;

    #[test]
    fn queries_find_what_was_stored() {
        assert_eq!(
            customer_query_keys("090-1234-5678"),
            vec!["phone:09012345678"]
        );
        assert_eq!(
            customer_query_keys("０９０１２３４５６７８"),
            vec!["phone:09012345678"]
        );
        let q = customer_query_keys("鳩山　花子");
        assert!(q.contains(&"name:鳩山花子".to_owned()));
        let q = customer_query_keys("はとやま");
        assert!(q.contains(&"kana-family:ハトヤマ".to_owned()));
        assert!(customer_query_keys("  ").is_empty());
        assert!(customer_query_keys("not an @ email").is_empty());
    }
}
