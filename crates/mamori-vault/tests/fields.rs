//! Field sealing, data-key wrapping and blind indexes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_vault::{ExposeSecret, FieldPlace, KeyRing, VaultError, WrappedKey};
use proptest::prelude::*;

const PLACE: FieldPlace<'static> = FieldPlace {
    table: "customers",
    column: "address",
    row_id: "42",
};
const SECRET: &[u8] = "東京都千代田区千代田1-1".as_bytes();

fn ring() -> KeyRing {
    KeyRing::generate().unwrap()
}

proptest! {
    #[test]
    fn seal_open_round_trip(plain in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let ring = ring();
        let (key, _) = ring.new_data_key("customer:42").unwrap();
        let sealed = key.seal(&PLACE, &plain).unwrap();
        // version byte + 96-bit nonce + ciphertext + 128-bit tag
        prop_assert_eq!(sealed.len(), 1 + 12 + plain.len() + 16);
        prop_assert_eq!(sealed[0], 1);
        prop_assert_eq!(&key.open(&PLACE, &sealed).unwrap()[..], &plain[..]);
    }

    #[test]
    fn any_single_bit_flip_fails(plain in proptest::collection::vec(any::<u8>(), 0..256), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let ring = ring();
        let (key, _) = ring.new_data_key("customer:42").unwrap();
        let mut sealed = key.seal(&PLACE, &plain).unwrap();
        let i = pos.index(sealed.len());
        sealed[i] ^= 1 << bit;
        prop_assert!(key.open(&PLACE, &sealed).is_err());
    }
}

#[test]
fn seal_uses_fresh_nonces() {
    let ring = ring();
    let (key, _) = ring.new_data_key("customer:42").unwrap();
    let a = key.seal(&PLACE, SECRET).unwrap();
    let b = key.seal(&PLACE, SECRET).unwrap();
    assert_ne!(a[1..13], b[1..13]);
    assert_ne!(a, b);
}

#[test]
fn moved_ciphertext_does_not_open() {
    let ring = ring();
    let (key, _) = ring.new_data_key("customer:42").unwrap();
    let sealed = key.seal(&PLACE, SECRET).unwrap();
    let elsewhere = [
        FieldPlace::new("staff", "address", "42"),
        FieldPlace::new("customers", "name", "42"),
        FieldPlace::new("customers", "address", "43"),
        // Framing: shifting characters between parts is a different place.
        FieldPlace::new("customersa", "ddress", "42"),
    ];
    for place in elsewhere {
        let err = key.open(&place, &sealed).unwrap_err();
        match &err {
            VaultError::Decrypt { table, column } => {
                assert_eq!(table, place.table);
                assert_eq!(column, place.column);
            }
            other => panic!("{place:?}: expected Decrypt, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{}.{}", place.table, place.column)),
            "{msg}"
        );
        assert!(!msg.contains("東京"));
    }
    assert_eq!(&key.open(&PLACE, &sealed).unwrap()[..], SECRET);
}

#[test]
fn another_customers_key_does_not_open() {
    let ring = ring();
    let (key_a, _) = ring.new_data_key("customer:1").unwrap();
    let (key_b, _) = ring.new_data_key("customer:2").unwrap();
    assert_ne!(key_a.key_id(), key_b.key_id());
    let sealed = key_a.seal(&PLACE, SECRET).unwrap();
    assert!(matches!(
        key_b.open(&PLACE, &sealed).unwrap_err(),
        VaultError::Decrypt { .. }
    ));
}

#[test]
fn malformed_field_is_reported_by_place() {
    let ring = ring();
    let (key, _) = ring.new_data_key("customer:1").unwrap();
    for bad in [&b""[..], &[1u8; 28][..]] {
        assert!(matches!(
            key.open(&PLACE, bad).unwrap_err(),
            VaultError::FieldCorrupt { ref table, .. } if table == "customers"
        ));
    }
    let mut sealed = key.seal(&PLACE, SECRET).unwrap();
    sealed[0] = 2;
    let err = key.open(&PLACE, &sealed).unwrap_err();
    assert!(err.to_string().contains("version"), "{err}");
}

#[test]
fn open_string() {
    let ring = ring();
    let (key, _) = ring.new_data_key("customer:1").unwrap();
    let sealed = key.seal(&PLACE, SECRET).unwrap();
    let text = key.open_string(&PLACE, &sealed).unwrap();
    assert_eq!(text.expose_secret(), "東京都千代田区千代田1-1");
    let not_text = key.seal(&PLACE, &[0xff, 0xfe]).unwrap();
    assert!(matches!(
        key.open_string(&PLACE, &not_text).unwrap_err(),
        VaultError::NotUtf8 { .. }
    ));
}

#[test]
fn crypto_shredding_needs_the_wrapped_key() {
    // The data key only comes back through its wrapped form: a field sealed under it is
    // unreadable with any freshly made key, even for the same owner.
    let ring = ring();
    let (key, _wrapped) = ring.new_data_key("customer:9").unwrap();
    let sealed = key.seal(&PLACE, SECRET).unwrap();
    drop(key);
    let (fresh, _) = ring.new_data_key("customer:9").unwrap();
    assert!(fresh.open(&PLACE, &sealed).is_err());
}

#[test]
fn wrap_is_bound_to_owner() {
    let ring = ring();
    let (key, wrapped) = ring.new_data_key("customer:1").unwrap();
    assert_eq!(wrapped.master_key_id, ring.active_master_key_id());
    assert_eq!(
        ring.unwrap_data_key("customer:1", &wrapped)
            .unwrap()
            .key_id(),
        key.key_id()
    );
    let err = ring.unwrap_data_key("customer:2", &wrapped).unwrap_err();
    assert!(matches!(err, VaultError::WrongMasterKey { ref owner, .. } if owner == "customer:2"));
}

#[test]
fn unwrap_with_another_key_file() {
    let ring_a = ring();
    let ring_b = ring();
    let (_, wrapped) = ring_a.new_data_key("customer:1").unwrap();

    // Different key file: its master key id differs, so the mismatch is named before decrypting.
    let err = ring_b.unwrap_data_key("customer:1", &wrapped).unwrap_err();
    match &err {
        VaultError::UnknownMasterKey(id) => assert_eq!(id, &wrapped.master_key_id),
        other => panic!("expected UnknownMasterKey, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&wrapped.master_key_id) && msg.contains("not in the key file"),
        "{msg}"
    );

    // Same id but another key behind it (relabelled wrap): WrongMasterKey.
    let relabelled = WrappedKey {
        master_key_id: ring_b.active_master_key_id().to_owned(),
        sealed: wrapped.sealed.clone(),
    };
    let err = ring_b
        .unwrap_data_key("customer:1", &relabelled)
        .unwrap_err();
    match &err {
        VaultError::WrongMasterKey {
            owner,
            master_key_id,
        } => {
            assert_eq!(owner, "customer:1");
            assert_eq!(master_key_id, ring_b.active_master_key_id());
        }
        other => panic!("expected WrongMasterKey, got {other:?}"),
    }
    assert!(err.to_string().contains("wrong key file"));
}

#[test]
fn tampered_wrap_fails() {
    let ring = ring();
    let (_, wrapped) = ring.new_data_key("customer:1").unwrap();
    for i in 0..wrapped.sealed.len() {
        let mut bad = wrapped.clone();
        bad.sealed[i] ^= 0x01;
        assert!(
            ring.unwrap_data_key("customer:1", &bad).is_err(),
            "byte {i}"
        );
    }
    let mut short = wrapped.clone();
    short.sealed.truncate(20);
    assert!(matches!(
        ring.unwrap_data_key("customer:1", &short).unwrap_err(),
        VaultError::Corrupt { .. }
    ));
}

#[test]
fn wrapped_key_bytes_round_trip() {
    let ring = ring();
    let (_, wrapped) = ring.new_data_key("customer:1").unwrap();
    let bytes = wrapped.to_bytes();
    let back = WrappedKey::from_bytes(&bytes).unwrap();
    assert_eq!(back, wrapped);
    ring.unwrap_data_key("customer:1", &back).unwrap();

    for bad in [
        &b""[..],
        &[2u8, 1, b'x'][..],
        &[1u8][..],
        &[1u8, 0][..],
        &[1u8, 200, b'm'][..],
        &bytes[..bytes.len() - 40],
    ] {
        assert!(
            matches!(WrappedKey::from_bytes(bad), Err(VaultError::Corrupt { .. })),
            "{bad:?}"
        );
    }
}

proptest! {
    #[test]
    fn wrapped_key_from_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        if let Ok(w) = WrappedKey::from_bytes(&bytes) {
            prop_assert_eq!(w.to_bytes(), bytes);
        }
    }
}

#[test]
fn blind_index_properties() {
    let a = ring();
    let b = ring();
    let email = "hanako@example.jp";
    assert_eq!(
        a.blind_index("customer.email", email),
        a.blind_index("customer.email", email)
    );
    assert_ne!(
        a.blind_index("customer.email", email),
        b.blind_index("customer.email", email)
    );
    assert_ne!(
        a.blind_index("customer.email", email),
        a.blind_index("customer.phone", email)
    );
    assert_ne!(
        a.blind_index("customer.email", email),
        a.blind_index("customer.email", "taro@example.jp")
    );
    // Framing keeps purpose and value apart.
    assert_ne!(a.blind_index("ab", "c"), a.blind_index("a", "bc"));
}
