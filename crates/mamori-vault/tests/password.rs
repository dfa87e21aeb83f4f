//! Argon2id password hashing with the key file's pepper.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_vault::{KeyRing, PasswordCheck, PasswordParams, SecretString, VaultError};

const CHEAP: PasswordParams = PasswordParams {
    m_cost_kib: 64,
    t_cost: 1,
    p_cost: 1,
};

fn pw(s: &str) -> SecretString {
    SecretString::from(s)
}

#[test]
fn hash_and_verify() {
    let ring = KeyRing::generate().unwrap().with_password_params(CHEAP);
    let phc = ring.hash_password(&pw("パスワード123")).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
    assert!(!phc.contains("パスワード"));
    assert_eq!(
        ring.verify_password(&pw("パスワード123"), &phc).unwrap(),
        PasswordCheck::Valid {
            needs_rehash: false
        }
    );
    assert_eq!(
        ring.verify_password(&pw("パスワード124"), &phc).unwrap(),
        PasswordCheck::Invalid
    );
    assert_eq!(
        ring.verify_password(&pw(""), &phc).unwrap(),
        PasswordCheck::Invalid
    );
    // Fresh salt each time.
    assert_ne!(ring.hash_password(&pw("パスワード123")).unwrap(), phc);
}

#[test]
fn other_pepper_is_invalid() {
    let a = KeyRing::generate().unwrap().with_password_params(CHEAP);
    let b = KeyRing::generate().unwrap().with_password_params(CHEAP);
    let phc = a.hash_password(&pw("secret")).unwrap();
    assert_eq!(
        b.verify_password(&pw("secret"), &phc).unwrap(),
        PasswordCheck::Invalid
    );
}

#[test]
fn changed_params_need_rehash() {
    // `with_password_params` consumes the ring, so the same key file is loaded once per setting.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    KeyRing::init(&path).unwrap();
    let old = KeyRing::load(&path).unwrap().with_password_params(CHEAP);
    let phc = old.hash_password(&pw("secret")).unwrap();
    for changed in [
        PasswordParams {
            m_cost_kib: 128,
            ..CHEAP
        },
        PasswordParams { t_cost: 3, ..CHEAP },
        PasswordParams { p_cost: 2, ..CHEAP },
    ] {
        let newer = KeyRing::load(&path).unwrap().with_password_params(changed);
        assert_eq!(
            newer.verify_password(&pw("secret"), &phc).unwrap(),
            PasswordCheck::Valid { needs_rehash: true },
            "{changed:?}"
        );
        // A wrong password stays Invalid whatever the params.
        assert_eq!(
            newer.verify_password(&pw("nope"), &phc).unwrap(),
            PasswordCheck::Invalid
        );
    }
    let newer = KeyRing::load(&path)
        .unwrap()
        .with_password_params(PasswordParams { t_cost: 3, ..CHEAP });
    let rehashed = newer.hash_password(&pw("secret")).unwrap();
    assert_eq!(
        newer.verify_password(&pw("secret"), &rehashed).unwrap(),
        PasswordCheck::Valid {
            needs_rehash: false
        }
    );
}

#[test]
fn default_params_meet_owasp() {
    let d = PasswordParams::default();
    assert!(d.m_cost_kib >= 19_456);
    assert!(d.t_cost >= 2);
    assert!(d.p_cost >= 1);
    let ring = KeyRing::generate().unwrap();
    assert_eq!(ring.password_params(), d);
    let phc = ring.hash_password(&pw("secret")).unwrap();
    assert!(phc.starts_with(&format!(
        "$argon2id$v=19$m={},t={},p={}$",
        d.m_cost_kib, d.t_cost, d.p_cost
    )));
    assert_eq!(
        ring.verify_password(&pw("secret"), &phc).unwrap(),
        PasswordCheck::Valid {
            needs_rehash: false
        }
    );
}

#[test]
fn malformed_or_foreign_hashes_are_errors() {
    let ring = KeyRing::generate().unwrap().with_password_params(CHEAP);
    for bad in ["", "plain", "$argon2id$v=19$m=64,t=1,p=1$"] {
        assert!(matches!(
            ring.verify_password(&pw("x"), bad).unwrap_err(),
            VaultError::PasswordHash(_)
        ));
    }
    let phc = ring.hash_password(&pw("x")).unwrap();
    // Absurd stored costs are refused before Argon2 allocates anything.
    let greedy = phc.replacen("m=64,", "m=4000000,", 1);
    assert!(matches!(
        ring.verify_password(&pw("x"), &greedy).unwrap_err(),
        VaultError::PasswordHash(_)
    ));
    let slow = phc.replacen("t=1,", "t=1000,", 1);
    assert!(matches!(
        ring.verify_password(&pw("x"), &slow).unwrap_err(),
        VaultError::PasswordHash(_)
    ));
    let downgraded = phc.replacen("$argon2id$", "$argon2i$", 1);
    assert!(matches!(
        ring.verify_password(&pw("x"), &downgraded).unwrap_err(),
        VaultError::PasswordHash(_)
    ));
}

#[test]
fn invalid_params_are_an_error_not_a_panic() {
    let ring = KeyRing::generate()
        .unwrap()
        .with_password_params(PasswordParams {
            m_cost_kib: 1,
            t_cost: 0,
            p_cost: 0,
        });
    assert!(matches!(
        ring.hash_password(&pw("x")).unwrap_err(),
        VaultError::PasswordHash(_)
    ));
}
