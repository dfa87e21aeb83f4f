//! TOTP (RFC 6238) as authenticator apps expect it: SHA-1, 6 digits, 30-second steps, one step
//! of skew either way. The secret is 20 random bytes, sealed at rest under the system data key
//! `staff.totp`, bound to its place `staff_totp/secret/<staff id>`.

use mamori_store::SystemSealer;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

use crate::error::{Result, StaffError};
use crate::secrets::normalise_typed;

/// Seconds in one TOTP step.
pub const STEP_SECS: i64 = 30;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Steps accepted either side of the current one (clock drift, typing time).
pub const SKEW_STEPS: i64 = 1;
/// Random bytes in a secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;
/// Issuer shown by authenticator apps.
pub const ISSUER: &str = "mamori";
/// Column of a confirmed secret.
pub(crate) const SECRET_COLUMN: &str = "secret";
/// Column of a secret waiting for its first code (held in the web session, sealed).
pub(crate) const PENDING_COLUMN: &str = "pending";

/// A TOTP generator for `secret`, labelled `mamori:<account>` in authenticator apps.
pub(crate) fn generator(secret: &[u8], account: &str) -> Result<TOTP> {
    // The label may not hold ':' (it separates issuer and account).
    let account = account.replace(':', "_");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        // totp-rs' own skew is unused: `matching_step` needs to know which step matched.
        0,
        STEP_SECS.unsigned_abs(),
        secret.to_vec(),
        Some(ISSUER.to_owned()),
        account,
    )
    .map_err(|_| StaffError::Malformed {
        what: "TOTP secret",
    })
}

/// The time step (`unix time / 30`) whose code `typed` is, within one step of `now`; None when it
/// matches none. Codes are compared in constant time. The caller must still accept each step only
/// once.
pub(crate) fn matching_step(totp: &TOTP, typed: &SecretString, now: i64) -> Option<i64> {
    let code = normalise_typed(typed.expose_secret());
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.div_euclid(STEP_SECS);
    let mut found = None;
    // Every candidate is computed and compared, so the time taken does not tell which matched.
    for step in (current - SKEW_STEPS)..=(current + SKEW_STEPS) {
        let Ok(at) = u64::try_from(step * STEP_SECS) else {
            continue;
        };
        let expected = Zeroizing::new(totp.generate(at));
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// An SVG QR code of `uri` (drawn by the `qrcode` crate; no raster image, so it can be inlined in
/// a page under a strict CSP).
pub(crate) fn qr_svg(uri: &str) -> Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| StaffError::Malformed { what: "TOTP URI" })?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// Seals a TOTP secret of `staff_id` for `column` (the sealer binds it to `staff_totp/<column>/<id>`).
pub(crate) fn seal(
    sealer: &SystemSealer,
    staff_id: &str,
    column: &str,
    secret: &[u8],
) -> Result<Vec<u8>> {
    Ok(sealer.seal(column, staff_id, secret)?)
}

/// Opens a sealed TOTP secret; secrets sealed before a key rotation still open (the sealer tries
/// the older master keys too).
pub(crate) fn open(
    sealer: &SystemSealer,
    staff_id: &str,
    column: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    Ok(sealer.open(column, staff_id, sealed)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(totp: &TOTP, at: i64) -> SecretString {
        SecretString::from(totp.generate(at as u64))
    }

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 → 94287082 (8 digits); the
        // last six digits are the 6-digit code.
        let totp = generator(b"12345678901234567890", "test@example.jp").unwrap();
        assert_eq!(totp.generate(59), "287082");
        assert_eq!(totp.generate(1_111_111_109), "081804");
    }

    #[test]
    fn skew_is_one_step_either_way() {
        let totp = generator(&[7u8; 20], "a@example.jp").unwrap();
        let now = 1_800_000_015; // inside step 60_000_000
        let step = now / STEP_SECS;
        assert_eq!(matching_step(&totp, &code(&totp, now), now), Some(step));
        assert_eq!(
            matching_step(&totp, &code(&totp, now - 30), now),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&totp, &code(&totp, now + 30), now),
            Some(step + 1)
        );
        assert_eq!(matching_step(&totp, &code(&totp, now - 60), now), None);
        assert_eq!(matching_step(&totp, &code(&totp, now + 60), now), None);
        // Typed with spaces or full-width digits: the same code.
        let c = totp.generate(now as u64);
        let spaced = format!("{} {}", &c[..3], &c[3..]);
        assert_eq!(
            matching_step(&totp, &SecretString::from(spaced), now),
            Some(step)
        );
        let wide: String = c
            .chars()
            .map(|d| char::from_u32(d as u32 - '0' as u32 + '０' as u32).unwrap())
            .collect();
        assert_eq!(
            matching_step(&totp, &SecretString::from(wide), now),
            Some(step)
        );
        assert_eq!(
            matching_step(&totp, &SecretString::from("12345".to_owned()), now),
            None
        );
        assert_eq!(
            matching_step(&totp, &SecretString::from("abcdef".to_owned()), now),
            None
        );
    }

    #[test]
    fn qr_code_is_svg() {
        let svg = qr_svg("otpauth://totp/mamori:a%40example.jp?secret=AAAA&issuer=mamori").unwrap();
        assert!(svg.contains("<svg"));
        assert!(!svg.contains("<script"));
    }
}
