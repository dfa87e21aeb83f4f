//! After customers, addresses and orders are written, the raw database bytes hold none of their
//! personal values: not as typed, not NFKC-normalised, not in full-width form.

use mamori_domain::CustomerKind;
use mamori_store::Backend;
use unicode_normalization::UnicodeNormalization;

use crate::both_backends;
use crate::common::*;

/// ASCII letters and digits in their full-width forms (what Japanese IMEs type).
fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            _ => c,
        })
        .collect()
}

pub(crate) fn needles(p: &People) -> Vec<String> {
    let phone_hyphen = format!("{}-{}-{}", &p.phone[..3], &p.phone[3..7], &p.phone[7..]);
    let postal_hyphen = format!("{}-{}", &p.postal[..3], &p.postal[3..]);
    let base = vec![
        p.family.to_string(),
        p.given.to_string(),
        format!("{}{}", p.family, p.given),
        p.family_kana.to_string(),
        p.email.to_string(),
        p.email.split('@').next().unwrap().to_string(),
        p.phone.to_string(),
        phone_hyphen,
        p.postal.to_string(),
        postal_hyphen,
        p.city.to_string(),
        p.line1.to_string(),
        "パークハイツ".to_string(),
        p.birth.to_string(),
        p.birth.replace('-', ""),
        p.birth.replace('-', "/"),
        p.banner_name.to_string(),
    ];
    let mut all = Vec::new();
    for n in base {
        all.push(n.nfkc().collect::<String>());
        all.push(full_width(&n));
        all.push(n);
    }
    all.sort();
    all.dedup();
    all
}

pub(crate) fn find_any(haystack: &[u8], needles: &[String]) -> Vec<usize> {
    // Report which needle (by index), never the value itself.
    needles
        .iter()
        .enumerate()
        .filter(|(_, n)| haystack.windows(n.len()).any(|w| w == n.as_bytes()))
        .map(|(i, _)| i)
        .collect()
}

pub(crate) async fn raw_bytes(env: &Env) -> Vec<u8> {
    match env.backend {
        Backend::Sqlite => {
            let mut all = Vec::new();
            for entry in std::fs::read_dir(env.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if name.starts_with("mamori.db") {
                    all.extend(std::fs::read(&path).unwrap());
                }
            }
            assert!(all.len() > 4096, "the database files were read");
            all
        }
        Backend::Postgres => {
            let bin = mamori_testkit::pg_bin_dir().unwrap();
            let out = std::process::Command::new(bin.join("pg_dump"))
                .arg("--no-owner")
                .arg(&env.url)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout.len() > 1000);
            out.stdout
        }
    }
}

async fn no_plaintext_in_raw_database(backend: Backend) {
    let env = env(backend).await;
    let acc = web("register");
    let a = env
        .gw
        .register_customer(
            &acc,
            &profile(&HANAKO, CustomerKind::Member),
            Some(&password()),
        )
        .await
        .unwrap();
    let b = env
        .gw
        .register_customer(&acc, &profile(&KENJI, CustomerKind::Guest), None)
        .await
        .unwrap();
    env.gw
        .add_address(&acc, &a, &recipient(&KENJI))
        .await
        .unwrap();
    env.gw
        .place_order(
            &acc,
            &new_order(&a, &HANAKO, &KENJI, "k1"),
            "20261121-000001",
        )
        .await
        .unwrap();
    env.gw
        .place_order(
            &acc,
            &new_order(&b, &KENJI, &HANAKO, "k2"),
            "20261121-000002",
        )
        .await
        .unwrap();
    env.ledger.checkpoint().await.unwrap();

    // The values do come back through the gateway, so the search below is not vacuous.
    let p = env
        .gw
        .customer_profile(&staff("support"), &a)
        .await
        .unwrap();
    assert_eq!(p.name.expose().family(), HANAKO.family);
    assert_eq!(p.email.expose().as_str(), HANAKO.email);

    let bytes = raw_bytes(&env).await;
    // A control: a non-personal value written in the clear is found by the same search.
    assert!(
        !find_any(&bytes, &["名前旗 金襴 中".to_string()]).is_empty(),
        "control value not found"
    );
    for who in [&HANAKO, &KENJI] {
        let n = needles(who);
        let found = find_any(&bytes, &n);
        assert!(
            found.is_empty(),
            "{} personal value(s) found in plaintext (needle indexes {found:?})",
            found.len()
        );
    }
}

both_backends!(no_plaintext_in_raw_database);
