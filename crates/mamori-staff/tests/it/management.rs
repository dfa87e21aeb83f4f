//! Staff management: the last owner, disabled accounts, who may manage staff.

use mamori_staff::{FactorOutcome, PasswordStep, Role, StaffError};
use mamori_store::Backend;

use crate::both_backends;
use crate::common::*;

async fn the_last_active_owner_stays(backend: Backend) {
    let env = env(backend).await;
    let (owner, _, _) = active_with_totp(&env, Role::Owner, "owner@example.jp", None).await;
    let (manager, _, _) =
        active_with_totp(&env, Role::Manager, "manager@example.jp", Some(&owner.id)).await;

    let err = env
        .auth
        .change_role(&owner.id, &owner.id, Role::Manager)
        .await
        .unwrap_err();
    assert!(matches!(err, StaffError::LastOwner), "{err:?}");
    assert!(err.message_ja().contains("最後の有効なオーナー"));
    assert!(matches!(
        env.auth.disable(&owner.id, &owner.id).await.unwrap_err(),
        StaffError::LastOwner
    ));
    // An invited (not yet active) owner does not count as a second owner.
    let (invited_owner, _) = env
        .auth
        .invite(Role::Owner, "later@example.jp", "後藤", Some(&owner.id))
        .await
        .unwrap();
    assert!(matches!(
        env.auth.disable(&owner.id, &owner.id).await.unwrap_err(),
        StaffError::LastOwner
    ));
    let still = env.auth.staff(&owner.id).await.unwrap().unwrap();
    assert_eq!(
        (still.role.as_str(), still.state.as_str()),
        ("owner", "active")
    );

    // Only staff managers may change roles.
    assert!(matches!(
        env.auth
            .change_role(&manager.id, &manager.id, Role::Owner)
            .await
            .unwrap_err(),
        StaffError::Forbidden
    ));
    assert!(matches!(
        env.auth.disable(&manager.id, &owner.id).await.unwrap_err(),
        StaffError::Forbidden
    ));

    // With a second active owner, the first may step down.
    let promoted = env
        .auth
        .change_role(&owner.id, &manager.id, Role::Owner)
        .await
        .unwrap();
    assert_eq!(promoted.role, "owner");
    let demoted = env
        .auth
        .change_role(&owner.id, &owner.id, Role::Manager)
        .await
        .unwrap();
    assert_eq!(demoted.role, "manager");
    // Now the former owner lacks the permission, and the new one is the last owner.
    assert!(matches!(
        env.auth
            .change_role(&owner.id, &manager.id, Role::Support)
            .await
            .unwrap_err(),
        StaffError::Forbidden
    ));
    assert!(matches!(
        env.auth
            .disable(&manager.id, &manager.id)
            .await
            .unwrap_err(),
        StaffError::LastOwner
    ));
    // Disabling an invited account is fine.
    let gone = env
        .auth
        .disable(&manager.id, &invited_owner.id)
        .await
        .unwrap();
    assert_eq!(gone.state.as_str(), "disabled");
}

async fn a_disabled_account_cannot_sign_in_and_keeps_its_factors(backend: Backend) {
    let env = env(backend).await;
    let (owner, _, _) = active_with_totp(&env, Role::Owner, "owner@example.jp", None).await;
    let (staff, app, codes) =
        active_with_totp(&env, Role::Support, "support@example.jp", Some(&owner.id)).await;
    let disabled = env.auth.disable(&owner.id, &staff.id).await.unwrap();
    assert_eq!(disabled.state.as_str(), "disabled");

    assert_eq!(
        env.auth
            .login_password("support@example.jp", &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::Disabled
    );
    // A wrong password does not reveal the state.
    assert_eq!(
        env.auth
            .login_password("support@example.jp", &secret("wrong password!!"))
            .await
            .unwrap(),
        PasswordStep::Invalid
    );
    let now = env.clock_now();
    assert_eq!(
        env.auth
            .second_factor_totp(&staff.id, &app.code(now))
            .await
            .unwrap(),
        FactorOutcome::Disabled
    );
    assert_eq!(
        env.auth
            .second_factor_recovery(&staff.id, &codes.codes[0])
            .await
            .unwrap(),
        FactorOutcome::Disabled
    );
    let f = env.auth.factors(&staff.id).await.unwrap();
    assert!(f.password && f.totp);
    assert_eq!(f.recovery_remaining, 10);
    assert!(matches!(
        env.auth.totp_begin(&staff.id).await.unwrap_err(),
        StaffError::WrongState { .. }
    ));

    let enabled = env.auth.enable(&owner.id, &staff.id).await.unwrap();
    assert_eq!(enabled.state.as_str(), "active");
    assert!(matches!(
        env.auth.enable(&owner.id, &staff.id).await.unwrap_err(),
        StaffError::WrongState { .. }
    ));
    let id = env.password_ok("support@example.jp").await;
    assert!(is_ok(
        &env.auth
            .second_factor_totp(&id, &app.code(now))
            .await
            .unwrap()
    ));
}

async fn unknown_staff_is_not_found(backend: Backend) {
    let env = env(backend).await;
    let (owner, _, _) = active_with_totp(&env, Role::Owner, "owner@example.jp", None).await;
    assert!(matches!(
        env.auth.disable(&owner.id, "no-such-id").await.unwrap_err(),
        StaffError::NotFound
    ));
    assert!(matches!(
        env.auth.factors("no-such-id").await.unwrap_err(),
        StaffError::NotFound
    ));
    assert_eq!(
        env.auth
            .second_factor_totp("no-such-id", &secret("123456"))
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );
    assert_eq!(env.auth.staff("no-such-id").await.unwrap(), None);
}

async fn a_member_who_lost_every_factor_starts_over(backend: Backend) {
    let env = env(backend).await;
    let (owner, _, _) = active_with_totp(&env, Role::Owner, "owner@example.jp", None).await;
    let (staff, app, codes) =
        active_with_totp(&env, Role::Support, "support@example.jp", Some(&owner.id)).await;
    assert!(matches!(
        env.auth
            .reset_enrolment(&staff.id, &owner.id)
            .await
            .unwrap_err(),
        StaffError::Forbidden
    ));
    assert!(matches!(
        env.auth
            .reset_enrolment(&owner.id, &owner.id)
            .await
            .unwrap_err(),
        StaffError::Forbidden
    ));
    let link = env
        .auth
        .reset_enrolment(&owner.id, &staff.id)
        .await
        .unwrap();
    let row = env.auth.staff(&staff.id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.role.as_str()),
        ("invited", "support")
    );
    let f = env.auth.factors(&staff.id).await.unwrap();
    assert!(!f.password && !f.totp && f.passkeys == 0 && f.recovery_remaining == 0);
    // The old password, app and codes open nothing.
    assert_eq!(
        env.auth
            .login_password("support@example.jp", &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::Invalid
    );
    let now = env.clock_now();
    assert_eq!(
        env.auth
            .second_factor_totp(&staff.id, &app.code(now))
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );
    assert_eq!(
        env.auth
            .second_factor_recovery(&staff.id, &codes.codes[0])
            .await
            .unwrap(),
        FactorOutcome::Invalid
    );
    // The new link starts enrolment again.
    use mamori_vault::ExposeSecret;
    let again = env
        .auth
        .begin_enrolment(link.secret.expose_secret())
        .await
        .unwrap();
    assert_eq!(again.map(|r| r.id), Some(staff.id));
}

both_backends!(
    the_last_active_owner_stays,
    a_disabled_account_cannot_sign_in_and_keeps_its_factors,
    unknown_staff_is_not_found,
    a_member_who_lost_every_factor_starts_over,
);
