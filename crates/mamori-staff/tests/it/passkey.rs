//! Passkeys with a software authenticator (webauthn-authenticator-rs' `SoftPasskey`), speaking
//! the same WebAuthn messages a browser would.

use std::sync::Arc;

use mamori_staff::{
    FactorOutcome, PasskeyAuthenticationState, PasswordStep, RelyingParty, Role, StaffAuth,
    StaffAuthConfig, StaffError, Url,
};
use mamori_store::Backend;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;

use crate::both_backends;
use crate::common::*;

fn origin() -> Url {
    Url::parse(&format!("http://localhost:{PORT}")).unwrap()
}

/// A platform authenticator that verifies its user (as Touch ID or Windows Hello would).
fn authenticator() -> WebauthnAuthenticator<SoftPasskey> {
    WebauthnAuthenticator::new(SoftPasskey::new(true))
}

/// Registers a passkey of `device` for `staff_id`.
async fn register(
    env: &Env,
    device: &mut WebauthnAuthenticator<SoftPasskey>,
    staff_id: &str,
    label: &str,
) -> mamori_store::model::PasskeyRow {
    let (options, state) = env.auth.passkey_register_begin(staff_id).await.unwrap();
    // Through JSON, as the web session and the browser would carry them.
    let state = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    let options = serde_json::from_str(&serde_json::to_string(&options).unwrap()).unwrap();
    let response = device.do_registration(origin(), options).unwrap();
    env.auth
        .passkey_register_finish(&state, &response, label)
        .await
        .unwrap()
}

async fn passkey_registration_and_sign_in(backend: Backend) {
    let env = env(backend).await;
    let (row, _) = env
        .auth
        .invite(Role::Owner, "owner@example.jp", "山田 太郎", None)
        .await
        .unwrap();
    env.auth
        .set_enrolment_password(&row.id, &secret(PASSWORD))
        .await
        .unwrap();
    let mut laptop = authenticator();
    let key = register(&env, &mut laptop, &row.id, "MacBook").await;
    assert_eq!(key.label, "MacBook");
    assert_eq!(key.last_used_at, None);
    assert!(!key.credential_id.is_empty());

    // The browser is told to exclude the registered credential from a second registration
    // (the software authenticator does not implement the exclusion itself).
    let (options, _) = env.auth.passkey_register_begin(&row.id).await.unwrap();
    let excluded: Vec<Vec<u8>> = options
        .public_key
        .exclude_credentials
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.id.to_vec())
        .collect();
    assert_eq!(excluded, vec![key.credential_id.clone()]);
    // A registration answer used twice is refused the second time.
    let (options, state) = env.auth.passkey_register_begin(&row.id).await.unwrap();
    let mut spare = authenticator();
    let response = spare.do_registration(origin(), options).unwrap();
    env.auth
        .passkey_register_finish(&state, &response, "spare")
        .await
        .unwrap();
    let again = env
        .auth
        .passkey_register_finish(&state, &response, "spare")
        .await
        .unwrap_err();
    assert!(matches!(again, StaffError::StaleCeremony), "{again:?}");
    assert_eq!(env.auth.passkeys(&row.id).await.unwrap().len(), 2);
    let spare_id = env.auth.passkeys(&row.id).await.unwrap()[1].id.clone();
    assert!(env.auth.passkey_delete(&row.id, &spare_id).await.unwrap());

    env.auth.activate(&row.id).await.unwrap();
    let step = env
        .auth
        .login_password("owner@example.jp", &secret(PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        step,
        PasswordStep::NeedsSecondFactor {
            staff_id: row.id.clone(),
            passkey: true,
            totp: false
        }
    );
    let (options, state) = env.auth.passkey_auth_begin(&row.id).await.unwrap();
    let state: PasskeyAuthenticationState =
        serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(state.staff_id(), row.id);
    let response = laptop.do_authentication(origin(), options).unwrap();
    env.clock.advance_secs(5);
    let outcome = env
        .auth
        .second_factor_passkey(&state, &response)
        .await
        .unwrap();
    let FactorOutcome::Ok(signed_in) = outcome else {
        panic!("expected success, got {outcome:?}");
    };
    assert_eq!(signed_in.id, row.id);
    let stored = env.auth.passkeys(&row.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].last_used_at, Some(T0 + 5));
    assert_ne!(
        stored[0].passkey, key.passkey,
        "the signature counter was stored"
    );

    // The same answer again: refused (the ceremony works once) and counted.
    assert_eq!(
        env.auth
            .second_factor_passkey(&state, &response)
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );
    assert_eq!(
        env.store
            .staff_by_id(&row.id)
            .await
            .unwrap()
            .unwrap()
            .failed_logins,
        1
    );

    // A second sign-in works (a step-up uses the same calls).
    let (options, state) = env.auth.passkey_auth_begin(&row.id).await.unwrap();
    let response = laptop.do_authentication(origin(), options).unwrap();
    assert!(is_ok(
        &env.auth
            .second_factor_passkey(&state, &response)
            .await
            .unwrap()
    ));
}

async fn passkeys_from_elsewhere_are_refused(backend: Backend) {
    let env = env(backend).await;
    let (owner, _, _) = active_with_totp(&env, Role::Owner, "owner@example.jp", None).await;
    let (other, _, _) =
        active_with_totp(&env, Role::Support, "other@example.jp", Some(&owner.id)).await;
    let mut mine = authenticator();
    let mut theirs = authenticator();
    register(&env, &mut mine, &owner.id, "mine").await;
    register(&env, &mut theirs, &other.id, "theirs").await;

    // Another account's authenticator cannot answer for this one.
    let (options, state) = env.auth.passkey_auth_begin(&owner.id).await.unwrap();
    assert!(theirs.do_authentication(origin(), options).is_err());

    // An answer made for a phishing origin (another port) does not verify.
    let (options, state2) = env.auth.passkey_auth_begin(&owner.id).await.unwrap();
    let phish = Url::parse("http://localhost:9999").unwrap();
    let response = mine.do_authentication(phish, options).unwrap();
    assert_eq!(
        env.auth
            .second_factor_passkey(&state2, &response)
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );

    // An answer to one ceremony does not finish another account's ceremony.
    let (options, _) = env.auth.passkey_auth_begin(&owner.id).await.unwrap();
    let response = mine.do_authentication(origin(), options).unwrap();
    let (_, other_state) = env.auth.passkey_auth_begin(&other.id).await.unwrap();
    assert_eq!(
        env.auth
            .second_factor_passkey(&other_state, &response)
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );

    // A ceremony older than five minutes is refused.
    let (options, late) = env.auth.passkey_auth_begin(&owner.id).await.unwrap();
    let response = mine.do_authentication(origin(), options).unwrap();
    env.clock.advance_secs(301);
    assert_eq!(
        env.auth
            .second_factor_passkey(&late, &response)
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );
    drop(state);
    assert_eq!(
        env.store
            .staff_by_id(&owner.id)
            .await
            .unwrap()
            .unwrap()
            .failed_logins,
        2
    );
}

async fn passkeys_can_be_listed_and_deleted_but_not_the_last_factor(backend: Backend) {
    let env = env(backend).await;
    let (row, _) = env
        .auth
        .invite(Role::Operator, "op@example.jp", "操作 員", None)
        .await
        .unwrap();
    env.auth
        .set_enrolment_password(&row.id, &secret(PASSWORD))
        .await
        .unwrap();
    let mut a = authenticator();
    let mut b = authenticator();
    let ka = register(&env, &mut a, &row.id, "A").await;
    let kb = register(&env, &mut b, &row.id, "B").await;
    env.auth.activate(&row.id).await.unwrap();
    assert_eq!(env.auth.passkeys(&row.id).await.unwrap().len(), 2);
    assert!(!env
        .auth
        .passkey_delete(&row.id, "no-such-key")
        .await
        .unwrap());
    assert!(env.auth.passkey_delete(&row.id, &ka.id).await.unwrap());
    let err = env.auth.passkey_delete(&row.id, &kb.id).await.unwrap_err();
    assert!(matches!(err, StaffError::LastFactor), "{err:?}");
    assert_eq!(env.auth.passkeys(&row.id).await.unwrap().len(), 1);
    // The deleted one no longer signs in.
    let (options, state) = env.auth.passkey_auth_begin(&row.id).await.unwrap();
    assert!(a.do_authentication(origin(), options).is_err());
    drop(state);
    // With an authenticator app as well, the last passkey may go.
    let setup = env.auth.totp_begin(&row.id).await.unwrap();
    let app = App::from_base32(&setup.secret_base32);
    env.auth
        .totp_confirm(&row.id, &setup.pending, &app.code(env.clock_now()))
        .await
        .unwrap();
    assert!(env.auth.passkey_delete(&row.id, &kb.id).await.unwrap());
    assert!(matches!(
        env.auth.passkey_auth_begin(&row.id).await.unwrap_err(),
        StaffError::NoPasskey
    ));
}

async fn an_ip_address_is_no_relying_party(backend: Backend) {
    let env = env(backend).await;
    let rp = RelyingParty {
        rp_id: "127.0.0.1".into(),
        rp_origin: Url::parse("http://127.0.0.1:8443").unwrap(),
        rp_name: "mamori".into(),
    };
    let err = StaffAuth::new(
        env.store.clone(),
        mamori_store::SystemSealer::new(env.keys.clone(), mamori_store::SystemPurpose::StaffTotp),
        mamori_store::PasswordHasher::new(env.keys.clone()),
        Arc::new(mamori_staff::SystemClock),
        StaffAuthConfig::new(rp),
    )
    .unwrap_err();
    assert!(matches!(err, StaffError::Config(_)), "{err:?}");
    let rp = RelyingParty {
        rp_id: "example.jp".into(),
        rp_origin: Url::parse("https://admin.example.com").unwrap(),
        rp_name: "mamori".into(),
    };
    assert!(StaffAuth::new(
        env.store.clone(),
        mamori_store::SystemSealer::new(env.keys.clone(), mamori_store::SystemPurpose::StaffTotp),
        mamori_store::PasswordHasher::new(env.keys.clone()),
        Arc::new(mamori_staff::SystemClock),
        StaffAuthConfig::new(rp),
    )
    .is_err());
}

both_backends!(
    passkey_registration_and_sign_in,
    passkeys_from_elsewhere_are_refused,
    passkeys_can_be_listed_and_deleted_but_not_the_last_factor,
    an_ip_address_is_no_relying_party,
);
