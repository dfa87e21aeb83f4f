//! The login steps: lockout, unknown emails, TOTP steps, recovery codes, devices, rehashing.

use mamori_staff::{FactorOutcome, PasswordStep, Role, StaffAuth};
use mamori_store::Backend;
use mamori_vault::{ExposeSecret, KeyRing, PasswordParams};
use std::sync::Arc;

use crate::both_backends;
use crate::common::*;

const EMAIL: &str = "owner@example.jp";

async fn lockout_after_five_failures_and_release(backend: Backend) {
    let env = env(backend).await;
    let (row, app, _) = active_with_totp(&env, Role::Owner, EMAIL, None).await;
    for i in 1..=5 {
        assert_eq!(
            env.auth
                .login_password(EMAIL, &secret("wrong password!!"))
                .await
                .unwrap(),
            PasswordStep::Invalid,
            "failure {i}"
        );
    }
    let until = T0 + 15 * 60;
    assert_eq!(
        env.auth
            .login_password(EMAIL, &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::Locked { until },
        "a locked account refuses even the right password"
    );
    // The second factor is refused too while locked.
    assert_eq!(
        env.auth
            .second_factor_totp(&row.id, &app.code(env.clock_now()))
            .await
            .unwrap(),
        FactorOutcome::Locked { until }
    );
    env.clock.set_secs(until - 1);
    assert_eq!(
        env.auth
            .login_password(EMAIL, &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::Locked { until }
    );
    env.clock.set_secs(until);
    let id = env.password_ok(EMAIL).await;
    assert_eq!(id, row.id);
    let ok = env
        .auth
        .second_factor_totp(&id, &app.code(until))
        .await
        .unwrap();
    let FactorOutcome::Ok(after) = ok else {
        panic!("expected success, got {ok:?}");
    };
    assert_eq!(after.failed_logins, 0, "success resets the count");
    assert_eq!(after.locked_until, None);
    assert_eq!(after.last_login_at, Some(until));

    // After a success, four failures do not lock.
    for _ in 0..4 {
        assert_eq!(
            env.auth
                .login_password(EMAIL, &secret("wrong password!!"))
                .await
                .unwrap(),
            PasswordStep::Invalid
        );
    }
    env.password_ok(EMAIL).await;
}

async fn second_factor_failures_count_toward_the_lock(backend: Backend) {
    let env = env(backend).await;
    let (row, app, codes) = active_with_totp(&env, Role::Manager, EMAIL, None).await;
    let now = env.clock_now();
    // A mix of failures: wrong TOTP codes, an unknown recovery code, a wrong password.
    for _ in 0..3 {
        assert_eq!(
            env.auth
                .second_factor_totp(&row.id, &app.wrong_code(now))
                .await
                .unwrap(),
            FactorOutcome::Invalid
        );
    }
    assert_eq!(
        env.auth
            .second_factor_recovery(&row.id, &secret("aaaaa-aaaaa"))
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );
    assert_eq!(
        env.auth
            .login_password(EMAIL, &secret("wrong password!!"))
            .await
            .unwrap(),
        PasswordStep::Invalid
    );
    let until = now + 15 * 60;
    assert_eq!(
        env.auth
            .login_password(EMAIL, &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::Locked { until }
    );
    // Even a good recovery code waits for the lock to end, and is not used up meanwhile.
    assert_eq!(
        env.auth
            .second_factor_recovery(&row.id, &codes.codes[0])
            .await
            .unwrap(),
        FactorOutcome::Locked { until }
    );
    assert_eq!(env.auth.recovery_remaining(&row.id).await.unwrap(), 10);
    // Once a lock has run out, the count is not reset: each further failure locks again until
    // a success (one guess per lock period).
    env.clock.set_secs(until);
    assert_eq!(
        env.auth
            .login_password(EMAIL, &secret("wrong password!!"))
            .await
            .unwrap(),
        PasswordStep::Invalid
    );
    assert_eq!(
        env.auth
            .login_password(EMAIL, &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::Locked {
            until: until + 15 * 60
        }
    );
}

async fn unknown_email_answers_like_a_wrong_password(backend: Backend) {
    let env = env(backend).await;
    let (row, _, _) = active_with_totp(&env, Role::Owner, EMAIL, None).await;
    let unknown = env
        .auth
        .login_password("nobody@example.jp", &secret(PASSWORD))
        .await
        .unwrap();
    let wrong = env
        .auth
        .login_password(EMAIL, &secret("wrong password!!"))
        .await
        .unwrap();
    assert_eq!(unknown, PasswordStep::Invalid);
    assert_eq!(wrong, unknown);
    assert_eq!(
        env.auth
            .login_password("not an address", &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::Invalid
    );
    // Same email, other case and full-width: the same account.
    assert!(matches!(
        env.auth
            .login_password("ＯＷＮＥＲ@Example.jp", &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::NeedsSecondFactor {
            totp: true,
            passkey: false,
            ..
        }
    ));
    assert_eq!(
        env.auth.list().await.unwrap().len(),
        1,
        "an unknown email creates nothing"
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
}

async fn totp_codes_work_once_and_within_one_step(backend: Backend) {
    let env = env(backend).await;
    let (row, app, _) = active_with_totp(&env, Role::Support, EMAIL, None).await;
    let t = env.clock_now() + 300;
    env.clock.set_secs(t);
    // Two steps away either side: refused.
    for off in [-60, 60] {
        assert_eq!(
            env.auth
                .second_factor_totp(&row.id, &app.code(t + off))
                .await
                .unwrap(),
            FactorOutcome::Invalid,
            "offset {off}"
        );
    }
    // The previous step's code is accepted (skew)...
    assert!(is_ok(
        &env.auth
            .second_factor_totp(&row.id, &app.code(t - 30))
            .await
            .unwrap()
    ));
    // ...once.
    assert_eq!(
        env.auth
            .second_factor_totp(&row.id, &app.code(t - 30))
            .await
            .unwrap(),
        FactorOutcome::Invalid,
        "replayed code"
    );
    // The current step's code works once.
    assert!(is_ok(
        &env.auth
            .second_factor_totp(&row.id, &app.code(t))
            .await
            .unwrap()
    ));
    assert_eq!(
        env.auth
            .second_factor_totp(&row.id, &app.code(t))
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );
    // The next step's code is accepted early; after it, the current step's is older: refused.
    assert!(is_ok(
        &env.auth
            .second_factor_totp(&row.id, &app.code(t + 30))
            .await
            .unwrap()
    ));
    env.clock.set_secs(t + 30);
    assert_eq!(
        env.auth
            .second_factor_totp(&row.id, &app.code(t + 30))
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );
    env.clock.set_secs(t + 60);
    assert!(is_ok(
        &env.auth
            .second_factor_totp(&row.id, &app.code(t + 60))
            .await
            .unwrap()
    ));
    // The refusals above counted as failures, the successes reset them.
    assert_eq!(
        env.store
            .staff_by_id(&row.id)
            .await
            .unwrap()
            .unwrap()
            .failed_logins,
        0
    );
}

async fn recovery_codes_work_once(backend: Backend) {
    let env = env(backend).await;
    let (row, _, codes) = active_with_totp(&env, Role::Owner, EMAIL, None).await;
    let first = &codes.codes[0];
    // Typed in upper case without the hyphen: the same code.
    let typed = secret(&first.expose_secret().to_uppercase().replace('-', " "));
    assert!(is_ok(
        &env.auth
            .second_factor_recovery(&row.id, &typed)
            .await
            .unwrap()
    ));
    assert_eq!(
        env.auth
            .second_factor_recovery(&row.id, first)
            .await
            .unwrap(),
        FactorOutcome::Invalid,
        "a recovery code works once"
    );
    assert_eq!(env.auth.recovery_remaining(&row.id).await.unwrap(), 9);
    // Another account's code does not work here.
    let (other, _, other_codes) =
        active_with_totp(&env, Role::Support, "other@example.jp", Some(&row.id)).await;
    assert_eq!(
        env.auth
            .second_factor_recovery(&row.id, &other_codes.codes[0])
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );
    // Regenerating replaces every code.
    let fresh = env.auth.regenerate_recovery_codes(&row.id).await.unwrap();
    assert_eq!(env.auth.recovery_remaining(&row.id).await.unwrap(), 10);
    assert_eq!(
        env.auth
            .second_factor_recovery(&row.id, &codes.codes[1])
            .await
            .unwrap(),
        FactorOutcome::Invalid,
        "old codes stop working"
    );
    assert!(is_ok(
        &env.auth
            .second_factor_recovery(&row.id, &fresh.codes[1])
            .await
            .unwrap()
    ));
    assert!(is_ok(
        &env.auth
            .second_factor_recovery(&other.id, &other_codes.codes[0])
            .await
            .unwrap()
    ));
}

async fn new_devices_are_noticed(backend: Backend) {
    let env = env(backend).await;
    let (a, _, _) = active_with_totp(&env, Role::Owner, EMAIL, None).await;
    let (b, _, _) = active_with_totp(&env, Role::Support, "b@example.jp", Some(&a.id)).await;
    let laptop = StaffAuth::new_device_secret().unwrap();
    let phone = StaffAuth::new_device_secret().unwrap();
    assert_ne!(laptop.expose_secret(), phone.expose_secret());
    assert!(env.auth.device_seen(&a.id, &laptop).await.unwrap());
    assert!(!env.auth.device_seen(&a.id, &laptop).await.unwrap());
    assert!(env.auth.device_seen(&a.id, &phone).await.unwrap());
    assert!(
        env.auth.device_seen(&b.id, &laptop).await.unwrap(),
        "new for another account"
    );
    assert!(!env.auth.device_seen(&b.id, &laptop).await.unwrap());
}

async fn password_hash_is_renewed_when_parameters_change(backend: Backend) {
    let env = env(backend).await;
    let (row, _, _) = active_with_totp(&env, Role::Owner, EMAIL, None).await;
    let before = row.password_hash.clone().unwrap();
    assert!(before.contains("m=1024,t=1,p=1"));
    // The same key file (same pepper), stronger parameters.
    let stronger = PasswordParams {
        m_cost_kib: 2048,
        t_cost: 2,
        p_cost: 1,
    };
    let keys = Arc::new(
        KeyRing::load(&env.kit.key_file)
            .unwrap()
            .with_password_params(stronger),
    );
    let auth = service(&env.store, &keys, &env.clock);
    assert!(matches!(
        auth.login_password(EMAIL, &secret(PASSWORD)).await.unwrap(),
        PasswordStep::NeedsSecondFactor { .. }
    ));
    let after = env
        .store
        .staff_by_id(&row.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert_ne!(after, before);
    assert!(
        after.contains("m=2048,t=2,p=1"),
        "rehashed with the new parameters"
    );
    // A wrong password does not rehash.
    assert_eq!(
        auth.login_password(EMAIL, &secret("wrong password!!"))
            .await
            .unwrap(),
        PasswordStep::Invalid
    );
    assert_eq!(
        env.store
            .staff_by_id(&row.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap(),
        after
    );
    let _ = &env.keys;
}

both_backends!(
    lockout_after_five_failures_and_release,
    second_factor_failures_count_toward_the_lock,
    unknown_email_answers_like_a_wrong_password,
    totp_codes_work_once_and_within_one_step,
    recovery_codes_work_once,
    new_devices_are_noticed,
    password_hash_is_renewed_when_parameters_change,
);
