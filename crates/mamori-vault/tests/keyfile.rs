//! Key file lifecycle: init, load, environment, rotation and retirement.
//!
//! Unix only: the key file's protection is its 0600 mode, which these tests inspect.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mamori_vault::{KeyRing, VaultError};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_creates_private_file_and_parent_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etc/mamori/keys.json");
    let ring = KeyRing::init(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert!(ring.active_master_key_id().starts_with("mk-"));
    assert_eq!(ring.active_master_key_id().len(), 3 + 16);
    assert_eq!(
        ring.master_key_ids(),
        vec![ring.active_master_key_id().to_owned()]
    );
    // No temporary file is left next to it.
    let entries: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn init_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let first = KeyRing::init(&path).unwrap();
    let before = fs::read(&path).unwrap();
    let err = KeyRing::init(&path).unwrap_err();
    assert!(
        matches!(err, VaultError::KeyFileExists(ref p) if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(
        KeyRing::load(&path).unwrap().active_master_key_id(),
        first.active_master_key_id()
    );
}

#[test]
fn load_round_trips_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let ring = KeyRing::init(&path).unwrap();
    let (_, wrapped) = ring.new_data_key("customer:1").unwrap();
    let loaded = KeyRing::load(&path).unwrap();
    assert_eq!(loaded.master_key_ids(), ring.master_key_ids());
    // Master key, blind-index key and pepper all survive the file.
    loaded.unwrap_data_key("customer:1", &wrapped).unwrap();
    assert_eq!(
        loaded.blind_index("customer.email", "a@example.jp"),
        ring.blind_index("customer.email", "a@example.jp")
    );
    let cheap = mamori_vault::PasswordParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let pw = mamori_vault::SecretString::from("correct horse");
    let phc = ring.with_password_params(cheap).hash_password(&pw).unwrap();
    assert_eq!(
        loaded
            .with_password_params(cheap)
            .verify_password(&pw, &phc)
            .unwrap(),
        mamori_vault::PasswordCheck::Valid {
            needs_rehash: false
        }
    );
}

#[test]
fn debug_prints_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let ring = KeyRing::init(&path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let debug = format!("{ring:?}");
    assert!(debug.contains(ring.active_master_key_id()));
    for secret in [
        doc["master_keys"][0]["key"].as_str().unwrap(),
        doc["pepper"].as_str().unwrap(),
        doc["blind_index_key"].as_str().unwrap(),
    ] {
        assert!(secret.len() >= 40);
        assert!(!debug.contains(secret));
    }
    let (key, _) = ring.new_data_key("customer:1").unwrap();
    assert_eq!(
        format!("{key:?}"),
        format!("DataKey {{ key_id: {:?}, .. }}", key.key_id())
    );
}

#[test]
fn load_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.json");
    let err = KeyRing::load(&path).unwrap_err();
    assert!(
        matches!(err, VaultError::KeyFileMissing(ref p) if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("nope.json"));
}

#[test]
fn load_refuses_group_or_world_access() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    KeyRing::init(&path).unwrap();
    for bad in [0o640, 0o604, 0o644, 0o620, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
        let err = KeyRing::load(&path).unwrap_err();
        match &err {
            VaultError::KeyFilePermissions { path: p, mode } => {
                assert_eq!(p, &path);
                assert_eq!(*mode, bad);
            }
            other => panic!("mode {bad:o}: expected KeyFilePermissions, got {other:?}"),
        }
        assert!(err.to_string().contains("chmod 600"));
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    KeyRing::load(&path).unwrap();
}

fn write_private(path: &Path, content: &[u8]) {
    fs::write(path, content).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn load_garbage_is_not_a_key_file_and_quotes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let cases: &[&[u8]] = &[
        b"",
        b"hello",
        b"\xff\xfe\x00",
        b"{}",
        b"[1,2,3]",
        br#"{"format":"something-else","version":1,"active_master_key":"x","master_keys":[],"pepper":"","blind_index_key":""}"#,
        br#"{"format":"mamori-keyring","version":1,"active_master_key":"x","master_keys":[],"pepper":"SECRETSECRET","blind_index_key":"SECRETSECRET"}"#,
        br#"{"format":"mamori-keyring","version":1,"active_master_key":"x","master_keys":[{"id":"mk-1","key":12345678901}],"pepper":"SECRETSECRET","blind_index_key":"SECRETSECRET"}"#,
    ];
    for content in cases {
        write_private(&path, content);
        let err = KeyRing::load(&path).unwrap_err();
        assert!(
            matches!(err, VaultError::NotAKeyFile { path: ref p, .. } if p == &path),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("keys.json"));
        assert!(
            !msg.contains("SECRET") && !msg.contains("12345678901"),
            "{msg}"
        );
    }
    let err = KeyRing::load(dir.path()).unwrap_err();
    assert!(matches!(err, VaultError::NotAKeyFile { .. }), "{err:?}");
}

#[test]
fn load_detects_tampered_key_and_bad_active() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    KeyRing::init(&path).unwrap();
    let good: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();

    let mut swapped = good.clone();
    swapped["master_keys"][0]["key"] = good["pepper"].clone();
    write_private(&path, serde_json::to_string(&swapped).unwrap().as_bytes());
    let err = KeyRing::load(&path).unwrap_err();
    assert!(err.to_string().contains("id does not match"), "{err}");

    let mut bad_active = good.clone();
    bad_active["active_master_key"] = "mk-0000000000000000".into();
    write_private(
        &path,
        serde_json::to_string(&bad_active).unwrap().as_bytes(),
    );
    let err = KeyRing::load(&path).unwrap_err();
    assert!(err.to_string().contains("active_master_key"), "{err}");

    let mut short = good.clone();
    short["pepper"] = "AAAA".into();
    write_private(&path, serde_json::to_string(&short).unwrap().as_bytes());
    let err = KeyRing::load(&path).unwrap_err();
    assert!(err.to_string().contains("pepper"), "{err}");

    let mut future = good;
    future["version"] = 2.into();
    write_private(&path, serde_json::to_string(&future).unwrap().as_bytes());
    let err = KeyRing::load(&path).unwrap_err();
    assert!(err.to_string().contains("version 2"), "{err}");
}

// Each test below uses its own variable names: tests run in parallel threads of one process.

#[test]
fn from_env_neither_is_none() {
    std::env::remove_var("MAMORI_T_NONE");
    std::env::remove_var("MAMORI_T_NONE_FILE");
    assert!(KeyRing::from_env("MAMORI_T_NONE").unwrap().is_none());
    std::env::set_var("MAMORI_T_NONE", "");
    assert!(KeyRing::from_env("MAMORI_T_NONE").unwrap().is_none());
}

#[test]
fn from_env_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let ring = KeyRing::init(&path).unwrap();
    std::env::set_var("MAMORI_T_DIRECT", fs::read_to_string(&path).unwrap());
    let from_env = KeyRing::from_env("MAMORI_T_DIRECT").unwrap().unwrap();
    assert_eq!(from_env.master_key_ids(), ring.master_key_ids());
    assert_eq!(from_env.blind_index("p", "v"), ring.blind_index("p", "v"));

    std::env::set_var("MAMORI_T_DIRECT", "not json SECRET");
    let err = KeyRing::from_env("MAMORI_T_DIRECT").unwrap_err();
    assert!(matches!(err, VaultError::EnvNotAKeyFile { ref var, .. } if var == "MAMORI_T_DIRECT"));
    assert!(!err.to_string().contains("SECRET"));
}

#[test]
fn from_env_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let ring = KeyRing::init(&path).unwrap();
    std::env::set_var("MAMORI_T_VIAFILE_FILE", &path);
    let from_env = KeyRing::from_env("MAMORI_T_VIAFILE").unwrap().unwrap();
    assert_eq!(from_env.master_key_ids(), ring.master_key_ids());

    // The permission check applies through `_FILE` too.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        KeyRing::from_env("MAMORI_T_VIAFILE").unwrap_err(),
        VaultError::KeyFilePermissions { .. }
    ));
    std::env::set_var("MAMORI_T_VIAFILE_FILE", dir.path().join("missing.json"));
    assert!(matches!(
        KeyRing::from_env("MAMORI_T_VIAFILE").unwrap_err(),
        VaultError::KeyFileMissing(_)
    ));
}

#[test]
fn from_env_both_is_an_error() {
    std::env::set_var("MAMORI_T_BOTH", "{}");
    std::env::set_var("MAMORI_T_BOTH_FILE", "/nonexistent");
    let err = KeyRing::from_env("MAMORI_T_BOTH").unwrap_err();
    assert!(matches!(err, VaultError::BothEnvAndFile(ref v) if v == "MAMORI_T_BOTH"));
    assert!(err.to_string().contains("MAMORI_T_BOTH_FILE"));
}

#[test]
fn rotate_keeps_old_keys_and_rewrap_moves_to_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let ring = KeyRing::init(&path).unwrap();
    let old_id = ring.active_master_key_id().to_owned();
    let (key, wrapped) = ring.new_data_key("customer:7").unwrap();
    let bi = ring.blind_index("customer.email", "x@example.jp");

    let rotated = KeyRing::rotate(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let new_id = rotated.active_master_key_id().to_owned();
    assert_ne!(new_id, old_id);
    assert_eq!(
        rotated.master_key_ids(),
        vec![old_id.clone(), new_id.clone()]
    );
    let reloaded = KeyRing::load(&path).unwrap();
    assert_eq!(reloaded.active_master_key_id(), new_id);
    // Blind indexes do not change with master-key rotation.
    assert_eq!(reloaded.blind_index("customer.email", "x@example.jp"), bi);

    // Old wrapped keys still unwrap, to the same key.
    let again = reloaded.unwrap_data_key("customer:7", &wrapped).unwrap();
    assert_eq!(again.key_id(), key.key_id());

    let rewrapped = reloaded.rewrap("customer:7", &wrapped).unwrap();
    assert_eq!(rewrapped.master_key_id, new_id);
    assert_ne!(rewrapped.sealed, wrapped.sealed);
    let moved = reloaded.unwrap_data_key("customer:7", &rewrapped).unwrap();
    assert_eq!(moved.key_id(), key.key_id());
    let place = mamori_vault::FieldPlace::new("customers", "name", "7");
    let sealed = key.seal(&place, "山田花子".as_bytes()).unwrap();
    assert_eq!(
        &moved.open(&place, &sealed).unwrap()[..],
        "山田花子".as_bytes()
    );

    // New data keys go under the new master key.
    assert_eq!(
        reloaded.new_data_key("customer:8").unwrap().1.master_key_id,
        new_id
    );

    // Retire: the active key cannot go, the old one can; afterwards the old wrap is dead.
    assert!(matches!(
        KeyRing::retire(&path, &new_id).unwrap_err(),
        VaultError::RetireActiveKey(ref id) if id == &new_id
    ));
    let retired = KeyRing::retire(&path, &old_id).unwrap();
    assert_eq!(retired.master_key_ids(), vec![new_id.clone()]);
    assert_eq!(mode(&path), 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&old_id));
    let after = KeyRing::load(&path).unwrap();
    assert_eq!(after.master_key_ids(), vec![new_id.clone()]);
    assert!(matches!(
        after.unwrap_data_key("customer:7", &wrapped).unwrap_err(),
        VaultError::UnknownMasterKey(ref id) if id == &old_id
    ));
    after.unwrap_data_key("customer:7", &rewrapped).unwrap();
    assert!(matches!(
        KeyRing::retire(&path, &old_id).unwrap_err(),
        VaultError::UnknownMasterKey(_)
    ));
    // No temporary files left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn rotate_refuses_open_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    KeyRing::init(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        KeyRing::rotate(&path).unwrap_err(),
        VaultError::KeyFilePermissions { .. }
    ));
}

#[test]
fn system_data_key_follows_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let ring = KeyRing::init(&path).unwrap();
    let old_id = ring.active_master_key_id().to_owned();
    let totp = ring.system_data_key("staff.totp").unwrap();
    // Deterministic per key file and purpose.
    assert_eq!(
        ring.system_data_key("staff.totp").unwrap().key_id(),
        totp.key_id()
    );
    let place = mamori_vault::FieldPlace::new("staff", "totp_secret", "3");
    let sealed = totp.seal(&place, b"JBSWY3DPEHPK3PXP").unwrap();
    assert_eq!(
        &ring
            .system_data_key("staff.totp")
            .unwrap()
            .open(&place, &sealed)
            .unwrap()[..],
        b"JBSWY3DPEHPK3PXP"
    );
    // Other purposes get other keys.
    assert!(ring
        .system_data_key("staff.other")
        .unwrap()
        .open(&place, &sealed)
        .is_err());

    let rotated = KeyRing::rotate(&path).unwrap();
    let new_key = rotated.system_data_key("staff.totp").unwrap();
    assert!(new_key.open(&place, &sealed).is_err());
    let old_key = rotated
        .system_data_key_under("staff.totp", &old_id)
        .unwrap();
    assert_eq!(
        &old_key.open(&place, &sealed).unwrap()[..],
        b"JBSWY3DPEHPK3PXP"
    );
    assert!(matches!(
        rotated
            .system_data_key_under("staff.totp", "mk-ffffffffffffffff")
            .unwrap_err(),
        VaultError::UnknownMasterKey(_)
    ));
}
