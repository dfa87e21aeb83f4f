//! One environment per test: a fresh database on the chosen backend, a fresh key ring with cheap
//! Argon2 parameters, a clock the test sets, and the staff service over them.

use std::sync::Arc;

use mamori_staff::{
    FactorOutcome, ManualClock, PasswordStep, RecoveryCodes, RelyingParty, Role, StaffAuth,
    StaffAuthConfig,
};
use mamori_store::model::StaffRow;
use mamori_store::{open_store, Backend, PasswordHasher, Store, SystemPurpose, SystemSealer};
use mamori_vault::{ExposeSecret, KeyRing, PasswordParams, SecretString};
use totp_rs::{Algorithm, Secret, TOTP};

/// The port the relying party's origin names (no server listens: the software authenticator
/// speaks to the service directly).
pub const PORT: u16 = 8443;
/// 2026-11-20 09:00:10 JST, in Unix seconds.
pub const T0: i64 = 1_795_132_810;

pub struct Env {
    pub _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<ManualClock>,
    pub auth: StaffAuth,
}

pub fn cheap_params() -> PasswordParams {
    PasswordParams {
        m_cost_kib: 1024,
        t_cost: 1,
        p_cost: 1,
    }
}

pub async fn env(backend: Backend) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("mamori.db").display()),
        Backend::Postgres => mamori_testkit::fresh_pg_database().await.unwrap(),
    };
    let store = open_store(&url).await.unwrap();
    store.migrate().await.unwrap();
    let keys = Arc::new(
        KeyRing::init(&dir.path().join("master.key"))
            .unwrap()
            .with_password_params(cheap_params()),
    );
    let clock = Arc::new(ManualClock::at_secs(T0));
    let auth = service(&store, &keys, &clock);
    Env {
        _dir: dir,
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

/// Generates `sqlite` and `postgres` tests from one async fn taking a [`Backend`].
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(mamori_store::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(mamori_store::Backend::Postgres).await
                }
            }
        )*
    };
}
