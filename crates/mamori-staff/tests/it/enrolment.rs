//! Invitations, enrolment links, the password policy and activation.

use mamori_staff::{PasswordProblem, PasswordStep, Role, StaffError};
use mamori_store::Backend;
use mamori_vault::ExposeSecret;

use crate::both_backends;
use crate::common::*;

async fn enrolment_token_works_once_and_expires(backend: Backend) {
    let env = env(backend).await;
    let (row, token) = env
        .auth
        .invite(Role::Owner, " Owner@Example.JP ", "山田 太郎", None)
        .await
        .unwrap();
    assert_eq!(row.email, "owner@example.jp");
    assert_eq!(row.state.as_str(), "invited");
    assert_eq!(row.role, "owner");
    assert_eq!(token.expires_at, T0 + 72 * 3600);
    // Only the hash is stored: the token text appears in no row.
    let stored = env.store.staff_by_id(&row.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, None);

    let first = env
        .auth
        .begin_enrolment(token.secret.expose_secret())
        .await
        .unwrap();
    assert_eq!(first.map(|r| r.id), Some(row.id.clone()));
    assert_eq!(
        env.auth
            .begin_enrolment(token.secret.expose_secret())
            .await
            .unwrap(),
        None,
        "a link works once"
    );

    // A second link: valid one second before 72 h, not at 72 h.
    let late = env.auth.reissue_enrolment(&row.id, None).await.unwrap();
    let later = env.auth.reissue_enrolment(&row.id, None).await.unwrap();
    assert_eq!(
        env.auth
            .begin_enrolment(late.secret.expose_secret())
            .await
            .unwrap(),
        None,
        "a reissued link revokes the earlier ones"
    );
    env.clock.set_secs(later.expires_at);
    assert_eq!(
        env.auth
            .begin_enrolment(later.secret.expose_secret())
            .await
            .unwrap(),
        None
    );
    env.clock.set_secs(T0);
    let fresh = env.auth.reissue_enrolment(&row.id, None).await.unwrap();
    env.clock.set_secs(fresh.expires_at - 1);
    assert!(env
        .auth
        .begin_enrolment(fresh.secret.expose_secret())
        .await
        .unwrap()
        .is_some());

    // Malformed and unknown tokens are simply not found.
    for bad in [
        "",
        "short",
        &"A".repeat(43),
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    ] {
        assert_eq!(
            env.auth.begin_enrolment(bad).await.unwrap(),
            None,
            "{bad:?}"
        );
    }
}

async fn invitations_are_checked(backend: Backend) {
    let env = env(backend).await;
    env.auth
        .invite(Role::Owner, "owner@example.jp", "山田 太郎", None)
        .await
        .unwrap();
    let dup = env
        .auth
        .invite(Role::Support, "OWNER@example.jp", "別人", None)
        .await
        .unwrap_err();
    assert!(matches!(dup, StaffError::DuplicateEmail), "{dup:?}");
    assert!(dup.message_ja().contains("既に登録"));
    assert!(matches!(
        env.auth
            .invite(Role::Support, "not an email", "x", None)
            .await
            .unwrap_err(),
        StaffError::InvalidEmail
    ));
    assert!(matches!(
        env.auth
            .invite(Role::Support, "s@example.jp", "  ", None)
            .await
            .unwrap_err(),
        StaffError::InvalidDisplayName
    ));
    assert!(matches!(
        env.auth
            .invite(Role::Support, "s@example.jp", &"名".repeat(101), None)
            .await
            .unwrap_err(),
        StaffError::InvalidDisplayName
    ));
    // An inviter who is not an active owner may not invite.
    let (invited, _) = env
        .auth
        .invite(Role::Owner, "second@example.jp", "二番目", None)
        .await
        .unwrap();
    assert!(matches!(
        env.auth
            .invite(Role::Support, "s@example.jp", "x", Some(&invited.id))
            .await
            .unwrap_err(),
        StaffError::Forbidden
    ));
    assert!(matches!(
        env.auth
            .invite(Role::Support, "s@example.jp", "x", Some("no-such-staff"))
            .await
            .unwrap_err(),
        StaffError::Forbidden
    ));
    assert_eq!(env.auth.list().await.unwrap().len(), 2);
}

async fn activation_requires_a_password_and_a_factor(backend: Backend) {
    let env = env(backend).await;
    let (row, _) = env
        .auth
        .invite(Role::Support, "support@example.jp", "鈴木 花", None)
        .await
        .unwrap();
    let err = env.auth.activate(&row.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            StaffError::Incomplete {
                password: false,
                factor: false
            }
        ),
        "{err:?}"
    );

    // The policy, with Japanese and English reasons.
    for (pw, problem) in [
        ("short", PasswordProblem::TooShort),
        ("support2026-is-me", PasswordProblem::ContainsEmail),
        ("x\u{7}xxxxxxxxxxxx", PasswordProblem::ControlCharacter),
    ] {
        let err = env
            .auth
            .set_enrolment_password(&row.id, &secret(pw))
            .await
            .unwrap_err();
        match &err {
            StaffError::WeakPassword(p) => assert_eq!(*p, problem),
            other => panic!("{other:?}"),
        }
        assert_eq!(err.message_ja(), problem.message_ja());
        assert_eq!(err.message_en(), problem.message_en());
    }
    env.auth
        .set_enrolment_password(&row.id, &secret(PASSWORD))
        .await
        .unwrap();
    let err = env.auth.activate(&row.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            StaffError::Incomplete {
                password: true,
                factor: false
            }
        ),
        "{err:?}"
    );
    // Not active yet: the right password does not even reach the second step.
    assert_eq!(
        env.auth
            .login_password("support@example.jp", &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::Invalid
    );

    // A wrong confirmation code stores nothing.
    let setup = env.auth.totp_begin(&row.id).await.unwrap();
    assert!(setup
        .otpauth_uri
        .expose_secret()
        .starts_with("otpauth://totp/mamori:"));
    assert!(setup.otpauth_uri.expose_secret().contains("issuer=mamori"));
    assert!(setup.qr_svg.expose_secret().contains("<svg"));
    assert_eq!(setup.secret_base32.expose_secret().len(), 32);
    let app = App::from_base32(&setup.secret_base32);
    assert!(matches!(
        env.auth
            .totp_confirm(&row.id, &setup.pending, &app.wrong_code(T0))
            .await
            .unwrap_err(),
        StaffError::InvalidCode
    ));
    assert!(!env.auth.factors(&row.id).await.unwrap().totp);
    // The sealed pending secret belongs to this staff member only.
    let (other, _) = env
        .auth
        .invite(Role::Support, "other@example.jp", "他", None)
        .await
        .unwrap();
    assert!(matches!(
        env.auth
            .totp_confirm(&other.id, &setup.pending, &app.code(T0))
            .await
            .unwrap_err(),
        StaffError::InvalidCode
    ));
    env.auth
        .totp_confirm(&row.id, &setup.pending, &app.code(T0))
        .await
        .unwrap();

    let codes = env.auth.activate(&row.id).await.unwrap();
    assert_eq!(codes.codes.len(), 10);
    let f = env.auth.factors(&row.id).await.unwrap();
    assert!(f.password && f.totp && f.has_second_factor());
    assert_eq!(f.recovery_remaining, 10);
    assert_eq!(
        env.auth.staff(&row.id).await.unwrap().unwrap().state,
        "active"
    );
    // Enrolment steps are over.
    assert!(matches!(
        env.auth.activate(&row.id).await.unwrap_err(),
        StaffError::WrongState { .. }
    ));
    assert!(matches!(
        env.auth
            .set_enrolment_password(&row.id, &secret("another good password"))
            .await
            .unwrap_err(),
        StaffError::WrongState { .. }
    ));
    // The only second factor of an active account stays.
    assert!(matches!(
        env.auth.totp_remove(&row.id).await.unwrap_err(),
        StaffError::LastFactor
    ));
    assert!(env.auth.factors(&row.id).await.unwrap().totp);
}

async fn password_change_needs_the_current_one(backend: Backend) {
    let env = env(backend).await;
    let (row, _, _) = active_with_totp(&env, Role::Operator, "op@example.jp", None).await;
    let err = env
        .auth
        .change_password(
            &row.id,
            &secret("not the password"),
            &secret("a brand new passphrase"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StaffError::WrongPassword));
    assert_eq!(
        env.store
            .staff_by_id(&row.id)
            .await
            .unwrap()
            .unwrap()
            .failed_logins,
        1,
        "a wrong current password counts like a failed login"
    );
    assert!(matches!(
        env.auth
            .change_password(&row.id, &secret(PASSWORD), &secret("short"))
            .await
            .unwrap_err(),
        StaffError::WeakPassword(PasswordProblem::TooShort)
    ));
    env.auth
        .change_password(
            &row.id,
            &secret(PASSWORD),
            &secret("a brand new passphrase"),
        )
        .await
        .unwrap();
    assert_eq!(
        env.auth
            .login_password("op@example.jp", &secret(PASSWORD))
            .await
            .unwrap(),
        PasswordStep::Invalid
    );
    assert!(matches!(
        env.auth
            .login_password("op@example.jp", &secret("a brand new passphrase"))
            .await
            .unwrap(),
        PasswordStep::NeedsSecondFactor { .. }
    ));
}

both_backends!(
    enrolment_token_works_once_and_expires,
    invitations_are_checked,
    activation_requires_a_password_and_a_factor,
    password_change_needs_the_current_one,
);
