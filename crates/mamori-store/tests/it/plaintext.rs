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

/// The bytes of every `\x<hex>` run in a dump, one after the other.
fn decoded_hex_runs(dump: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < dump.len() {
        if dump[i] == b'\\' && dump[i + 1] == b'x' {
            let start = i + 2;
            let mut end = start;
            while end < dump.len() && dump[end].is_ascii_hexdigit() {
                end += 1;
            }
            let run = &dump[start..end - (end - start) % 2];
            out.extend(hex::decode(run).unwrap_or_default());
            out.push(b'\n');
            i = end;
        } else {
            i += 1;
        }
    }
    out
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
            // pg_dump writes BYTEA columns (ledger events, blind indexes, ciphertexts) as `\x`
            // and hex: decode them too, so a value stored as bytes is found like one in text.
            let mut all = out.stdout.clone();
            all.extend(decoded_hex_runs(&out.stdout));
            all
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

/// The back office's work (masked views, reveals and exports, the staff log, settings, staff
/// accounts and their factors, product images) leaves no customer value in the database either:
/// the reveals and exports hand plaintext to the caller and write nothing.
async fn no_plaintext_after_backoffice_work(backend: Backend) {
    use mamori_store::{
        Accessor, CustomerField, PasskeyRow, StaffLogFilter, StaffLogRow, StaffRow, StaffTokenRow,
    };
    let env = env(backend).await;
    let acc = web("register");
    let a = env
        .gw
        .register_customer(&acc, &profile(&HANAKO, CustomerKind::Member), None)
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
    let order = env
        .gw
        .place_order(
            &acc,
            &new_order(&b, &KENJI, &HANAKO, "k1"),
            "20261121-000001",
        )
        .await
        .unwrap()
        .order_id;

    let s = env.store.as_ref();
    s.staff_insert(&StaffRow {
        id: "st-1".into(),
        email: "support@shop.example.jp".into(),
        display_name: "サポート担当".into(),
        role: "support".into(),
        state: "active".into(),
        created_at: 1,
        updated_at: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    s.staff_passkey_insert(&PasskeyRow {
        id: "pk-1".into(),
        staff_id: "st-1".into(),
        credential_id: vec![1, 2, 3],
        passkey: "{\"cred\":\"AQID\"}".into(),
        label: "YubiKey".into(),
        created_at: 1,
        last_used_at: None,
    })
    .await
    .unwrap();
    s.staff_totp_set("st-1", &[9; 40], 1).await.unwrap();
    s.staff_recovery_replace("st-1", &[vec![7; 32]], 1)
        .await
        .unwrap();
    s.staff_token_insert(&StaffTokenRow {
        token_hash: vec![5; 32],
        staff_id: "st-1".into(),
        purpose: "enrol".into(),
        expires_at: 10,
        used_at: None,
        created_at: 1,
    })
    .await
    .unwrap();
    s.staff_device_seen("st-1", &[4; 32], 1).await.unwrap();
    s.settings_put("shop.name", "\"守り商店\"", 1, Some("st-1"))
        .await
        .unwrap();

    // What support does all day, with a reason where plaintext is handed out.
    let staff = Accessor::staff("st-1", "backoffice.customers", "req-1");
    let page = env.gw.customers_masked(&staff, 0, 10).await.unwrap();
    assert_eq!(page.items.len(), 2);
    env.gw.customer_masked(&staff, &a).await.unwrap();
    env.gw.order_masked(&staff, &order).await.unwrap();
    let why = staff.clone().because("問い合わせ #4521");
    for field in CustomerField::ALL {
        let v = env.gw.reveal(&why, &a, field).await.unwrap();
        assert!(!v.expose().is_empty(), "the value came back");
    }
    let out = env
        .gw
        .export_customers(&why, &[a.clone(), b.clone()], &CustomerField::ALL)
        .await
        .unwrap();
    assert_eq!(out[0].values[0].1.expose(), "鳩山 花子（ハトヤマ）");
    let rows = env
        .gw
        .shipping_rows(&why, std::slice::from_ref(&order))
        .await
        .unwrap();
    assert_eq!(rows[0].recipient_name.expose(), "鳩山 花子");
    // The staff log names what was looked at by id and field name, as the back office does.
    s.staff_log_append(&StaffLogRow {
        at: 1,
        staff_id: Some("st-1".into()),
        action: "customers.reveal".into(),
        target: a.clone(),
        detail: format!(
            "{{\"customer\":\"{a}\",\"field\":\"phone\",\"marker\":\"staff-log-control\"}}"
        ),
        request_id: "req-1".into(),
        ip: Some("192.0.2.1".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        s.staff_log_page(&StaffLogFilter::default(), 0, 10)
            .await
            .unwrap()
            .total,
        1
    );
    env.ledger.checkpoint().await.unwrap();

    let bytes = raw_bytes(&env).await;
    // Controls: the staff log's detail and a ledger reason are stored in the clear and are found.
    for control in ["staff-log-control", "問い合わせ #4521", "サポート担当"] {
        assert!(
            !find_any(&bytes, &[control.to_string()]).is_empty(),
            "control value not found"
        );
    }
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

both_backends!(
    no_plaintext_in_raw_database,
    no_plaintext_after_backoffice_work
);
