//! One environment per test: [`mamori_testkit::Env`] (a fresh database on the chosen backend, a
//! fresh key ring with cheap Argon2 parameters), a clock the test sets, and the staff service
//! over them.

use std::sync::Arc;

use mamori_staff::{
    FactorOutcome, ManualClock, PasswordStep, RecoveryCodes, RelyingParty, Role, StaffAuth,
    StaffAuthConfig,
};
use mamori_store::model::StaffRow;
use mamori_store::{Backend, PasswordHasher, Store, SystemPurpose, SystemSealer};
use mamori_vault::{ExposeSecret, KeyRing, SecretString};
use totp_rs::{Algorithm, Secret, TOTP};

/// The port the relying party's origin names (no server listens: the software authenticator
/// speaks to the service directly).
pub const PORT: u16 = 8443;
/// 2026-11-20 09:00:10 JST, in Unix seconds.
pub const T0: i64 = 1_795_132_810;

pub struct Env {
    /// The store, key ring and their directory (the key file is `kit.key_file`).
    pub kit: mamori_testkit::Env,
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<ManualClock>,
    pub auth: StaffAuth,
}

pub async fn env(backend: Backend) -> Env {
    let kit = mamori_testkit::Env::start(backend).await;
    let (store, keys) = (kit.store.clone(), kit.keys.clone());
    let clock = Arc::new(ManualClock::at_secs(T0));
    let auth = service(&store, &keys, &clock);
    Env {
        kit,
        store,
        keys,
        clock,
        auth,
    }
}

pub fn service(store: &Arc<dyn Store>, keys: &Arc<KeyRing>, clock: &Arc<ManualClock>) -> StaffAuth {
    let rp = RelyingParty::localhost(PORT, "mamori 管理画面").unwrap();
    StaffAuth::new(
        store.clone(),
        SystemSealer::new(keys.clone(), SystemPurpose::StaffTotp),
        PasswordHasher::new(keys.clone()),
        clock.clone(),
        StaffAuthConfig::new(rp),
    )
    .unwrap()
}

pub fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

pub const PASSWORD: &str = "kumo no ue no shiro 2026";

/// An authenticator app holding a base32 secret, as a phone would.
pub struct App(pub TOTP);

impl App {
    pub fn from_base32(b32: &SecretString) -> App {
        let bytes = Secret::Encoded(b32.expose_secret().to_owned())
            .to_bytes()
            .unwrap();
        App(TOTP::new(Algorithm::SHA1, 6, 0, 30, bytes, None, "x".into()).unwrap())
    }

    /// A six-digit code that is not the app's for any step within one of `t` (so it must fail).
    pub fn wrong_code(&self, t: i64) -> SecretString {
        let near: Vec<String> = (-1..=1)
            .map(|k| self.0.generate((t + 30 * k) as u64))
            .collect();
        let pick = ["000000", "111111", "222222", "333333"]
            .into_iter()
            .find(|c| !near.iter().any(|n| n == c))
            .unwrap();
        SecretString::from(pick.to_owned())
    }

    /// The code the app shows at `t`.
    pub fn code(&self, t: i64) -> SecretString {
        SecretString::from(self.0.generate(t as u64))
    }
}

/// An active member of staff with password [`PASSWORD`] and an authenticator app, enrolled
/// the way the back office does it. Returns the row, the app and the recovery codes.
pub async fn active_with_totp(
    env: &Env,
    role: Role,
    email: &str,
    by: Option<&str>,
) -> (StaffRow, App, RecoveryCodes) {
    let (row, token) = env.auth.invite(role, email, "佐藤 健太", by).await.unwrap();
    let enrolling = env
        .auth
        .begin_enrolment(token.secret.expose_secret())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(enrolling.id, row.id);
    env.auth
        .set_enrolment_password(&row.id, &secret(PASSWORD))
        .await
        .unwrap();
    let setup = env.auth.totp_begin(&row.id).await.unwrap();
    let app = App::from_base32(&setup.secret_base32);
    // Confirm with the code of the previous step, so the current one is still unused.
    env.auth
        .totp_confirm(&row.id, &setup.pending, &app.code(env.clock_now() - 30))
        .await
        .unwrap();
    let codes = env.auth.activate(&row.id).await.unwrap();
    let row = env.auth.staff(&row.id).await.unwrap().unwrap();
    assert_eq!(row.state.as_str(), "active");
    (row, app, codes)
}

impl Env {
    pub fn clock_now(&self) -> i64 {
        use mamori_staff::Clock;
        self.clock.now_secs()
    }

    /// The password step that must succeed, returning the staff id.
    pub async fn password_ok(&self, email: &str) -> String {
        match self
            .auth
            .login_password(email, &secret(PASSWORD))
            .await
            .unwrap()
        {
            PasswordStep::NeedsSecondFactor { staff_id, .. } => staff_id,
            other => panic!("expected the second-factor step, got {other:?}"),
        }
    }
}

pub fn is_ok(outcome: &FactorOutcome) -> bool {
    matches!(outcome, FactorOutcome::Ok(_))
}
