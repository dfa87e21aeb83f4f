//! System keys for what no customer key covers: web session records and staff TOTP secrets.
//!
//! A [`SystemSealer`] is made by [`crate::Gateway::system_sealer`] for one [`SystemPurpose`]. It
//! seals and opens values at places of that purpose's table only (the AEAD binds table, column and
//! row), so a session sealer cannot open a TOTP secret, and neither can open anything sealed under
//! a customer's data key: it never holds one and cannot unwrap one. The key ring itself stays inside
//! the gateway.

use std::sync::Arc;

use arc_swap::ArcSwap;
use mamori_vault::{FieldPlace, KeyRing, VaultError, Zeroizing};

use crate::error::{Result, StoreError};

/// What a system key seals. Each purpose has its own derived key and its own table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemPurpose {
    /// Web session records (`sessions.record`): they may hold a checkout draft.
    Sessions,
    /// Staff TOTP secrets (`staff_totp.secret` and `.pending`).
    StaffTotp,
    /// Back-office session records (`staff_sessions.record`): a key of their own, so a
    /// storefront record cannot be opened as a staff one, nor the other way round.
    StaffSessions,
}

impl SystemPurpose {
    /// The key derivation purpose (unchanged from before the sealer existed, so values sealed
    /// earlier still open).
    fn key_purpose(self) -> &'static str {
        match self {
            Self::Sessions => "sessions.record",
            Self::StaffTotp => "staff.totp",
            Self::StaffSessions => "staff_sessions.record",
        }
    }

    /// The only table this purpose seals at.
    pub fn table(self) -> &'static str {
        match self {
            Self::Sessions => "sessions",
            Self::StaffTotp => "staff_totp",
            Self::StaffSessions => "staff_sessions",
        }
    }
}

/// Seals and opens values of one [`SystemPurpose`]. Cheap to clone. `Debug` names the purpose only.
#[derive(Clone)]
pub struct SystemSealer {
    /// The gateway's key ring cell: a ring reloaded after a rotation is seen here at once.
    keys: Arc<ArcSwap<KeyRing>>,
    purpose: SystemPurpose,
}

impl std::fmt::Debug for SystemSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemSealer")
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl SystemSealer {
    /// A sealer over `keys`. The gateway makes them ([`crate::Gateway::system_sealer`]); this is
    /// for whoever holds the key ring itself (the binary, tests), which no handler crate can name.
    pub fn new(keys: Arc<KeyRing>, purpose: SystemPurpose) -> Self {
        Self {
            keys: Arc::new(ArcSwap::new(keys)),
            purpose,
        }
    }

    /// A sealer over the gateway's own key ring cell (follows its reloads).
    pub(crate) fn shared(keys: Arc<ArcSwap<KeyRing>>, purpose: SystemPurpose) -> Self {
        Self { keys, purpose }
    }

    /// The purpose this sealer serves.
    pub fn purpose(&self) -> SystemPurpose {
        self.purpose
    }

    /// Seals `plain` at `column/row_id` of the purpose's table under the active master key.
    pub fn seal(&self, column: &str, row_id: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let key = self
            .keys
            .load()
            .system_data_key(self.purpose.key_purpose())?;
        let place = FieldPlace::new(self.purpose.table(), column, row_id);
        Ok(key.seal(&place, plain)?)
    }

    /// Opens a value sealed by [`Self::seal`]. Tries the active master key first, then the older
    /// ones in the key file, so values sealed before a rotation still open (the AEAD tells a wrong
    /// key apart). [`StoreError::Vault`] when none opens it (damaged, moved, or sealed under a
    /// retired key).
    pub fn open(&self, column: &str, row_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let place = FieldPlace::new(self.purpose.table(), column, row_id);
        let keys = self.keys.load_full();
        let active = keys.active_master_key_id().to_owned();
        let others = keys.master_key_ids().into_iter().filter(|id| *id != active);
        let mut last = VaultError::UnknownMasterKey(active.clone());
        for id in std::iter::once(active.clone()).chain(others) {
            let key = keys.system_data_key_under(self.purpose.key_purpose(), &id)?;
            match key.open(&place, sealed) {
                Ok(plain) => return Ok(plain),
                Err(e) => last = e,
            }
        }
        Err(StoreError::Vault(last))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_are_bound_to_their_place_and_survive_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let keys = Arc::new(KeyRing::init(&path).unwrap());
        let totp = SystemSealer::new(keys.clone(), SystemPurpose::StaffTotp);
        let sealed = totp.seal("secret", "s1", &[9u8; 20]).unwrap();
        assert_eq!(&totp.open("secret", "s1", &sealed).unwrap()[..], &[9u8; 20]);
        assert!(totp.open("secret", "s2", &sealed).is_err());
        assert!(totp.open("pending", "s1", &sealed).is_err());
        let rotated = SystemSealer::new(
            Arc::new(KeyRing::rotate(&path).unwrap()),
            SystemPurpose::StaffTotp,
        );
        assert_eq!(
            &rotated.open("secret", "s1", &sealed).unwrap()[..],
            &[9u8; 20]
        );
        let other = SystemSealer::new(
            Arc::new(KeyRing::generate().unwrap()),
            SystemPurpose::StaffTotp,
        );
        assert!(other.open("secret", "s1", &sealed).is_err());
    }

    #[test]
    fn one_purpose_cannot_open_another_nor_a_customer_value() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(KeyRing::init(&dir.path().join("k")).unwrap());
        let sessions = SystemSealer::new(keys.clone(), SystemPurpose::Sessions);
        let totp = SystemSealer::new(keys.clone(), SystemPurpose::StaffTotp);
        // The same column and row under two purposes: different keys and tables.
        let secret = totp.seal("record", "r1", b"totp secret").unwrap();
        assert!(sessions.open("record", "r1", &secret).is_err());
        let record = sessions.seal("record", "r1", b"draft").unwrap();
        assert!(totp.open("record", "r1", &record).is_err());
        // A customer's field, sealed under that customer's data key, does not open with a
        // system key, whatever place is named.
        let (data_key, _wrapped) = keys.new_data_key("customer:c1").unwrap();
        let name = data_key
            .seal(&FieldPlace::new("sessions", "record", "c1"), b"yamada")
            .unwrap();
        assert!(sessions.open("record", "c1", &name).is_err());
    }
}
