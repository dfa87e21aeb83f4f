//! End to end in headless Chromium: the shop, the sandbox provider on its own origin, real mail.
//!
//! Screenshots of the key pages are written to `target/e2e-artifacts/` (never of a typed card
//! number). Every page is checked for console errors and CSP violations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex, OnceLock},
};

use common::{link_in, Backend, TestShop};
use mamori_e2e::{Browser, Page, DEFAULT_TIMEOUT};

/// Everything mamori's code logged during this test binary, at every level.
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            // mamori's side at every level, and the HTTP and SQL layers under it. Not the browser
            // driver (it logs what it types) nor the sandbox provider (a third party's server that
            // merely runs in the same test process).
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "warn,mamori_shop=trace,mamori_store=trace,mamori_web=trace,mamori_mail=trace,\
                 mamori_vault=trace,mamori_ledger=trace,tower_http=trace,axum=trace,sqlx=trace",
            ))
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A 4 × 3 PNG.
const PNG_4X3: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 4, 0, 0, 0, 3, 8, 2, 0,
    0, 0, 59, 150, 57, 145, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 56, 96, 96, 0, 71, 12, 56,
    57, 0, 14, 54, 13, 129, 134, 153, 75, 159, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// Fails the test if the page logged an error or a CSP violation.
async fn assert_clean_console(page: &Page, what: &str) {
    let errors = page.console_errors().await.unwrap();
    assert!(
        errors.is_empty(),
        "{what}: console errors or CSP violations: {:?}",
        errors.iter().map(|e| e.text.clone()).collect::<Vec<_>>()
    );
}

async fn fill_buyer(page: &Page, email: &str) {
    for (css, v) in [
        ("#buyer_family", "山田"),
        ("#buyer_given", "太郎"),
        ("#buyer_family_kana", "ヤマダ"),
        ("#buyer_given_kana", "タロウ"),
        ("#buyer_postal_code", "１００－０００１"),
        ("#buyer_city", "千代田区"),
        ("#buyer_line1", "千代田1-1"),
        ("#buyer_phone", "090-1234-5678"),
        ("#buyer_email", email),
    ] {
        page.fill(css, v).await.unwrap();
    }
    page.select("#buyer_prefecture", "東京都").await.unwrap();
}

async fn add_to_cart(page: &Page, shop: &TestShop, sku: &str) {
    page.goto(&shop.url(&format!("/product/{sku}")))
        .await
        .unwrap();
    page.submit_and_wait("#add-to-cart button").await.unwrap();
    assert!(page.url().await.unwrap().ends_with("/cart"));
}

/// Types a card on the provider's page (its own origin) and pays.
async fn pay_with(page: &Page, shop: &TestShop, card: &str) {
    let url = page.url().await.unwrap();
    assert!(
        url.starts_with(&shop.sandbox_url),
        "the card is typed on the provider's origin: {url}"
    );
    page.wait_for("form.card #number", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    page.fill("#number", card).await.unwrap();
    page.fill("#expiry", "12/39").await.unwrap();
    page.fill("#cvv", "123").await.unwrap();
    page.fill("#name", "TARO YAMADA").await.unwrap();
    page.submit_and_wait("form.card button.pay").await.unwrap();
}

/// The raw bytes of the SQLite database and its WAL.
fn database_bytes(shop: &TestShop) -> Vec<u8> {
    let path = shop.db_url.trim_start_matches("sqlite://").to_owned();
    let mut all = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        all.extend(wal);
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A card number and its usual spellings.
fn spellings(card: &str) -> Vec<String> {
    let groups: Vec<String> = card
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    vec![card.to_owned(), groups.join(" "), groups.join("-")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_buys_by_card_with_3d_secure_and_the_card_never_reaches_mamori() {
    let logs = log_buffer();
    let shop = TestShop::start(Backend::Sqlite).await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();

    // A product image stored by the back office loads in the browser, on the page and listing.
    let product = shop
        .store()
        .product_by_sku("BK-4001")
        .await
        .unwrap()
        .unwrap();
    shop.store()
        .product_image_insert(&mamori_store::model::ProductImageRow {
            id: uuid::Uuid::now_v7().to_string(),
            product_id: product.id,
            content_type: "image/png".into(),
            bytes: PNG_4X3.to_vec(),
            width: 4,
            height: 3,
            sha256: vec![1; 32],
            created_at: 1,
        })
        .await
        .unwrap();
    for (path, css) in [
        ("/product/BK-4001", "#product-image"),
        ("/category/books", "img.thumb"),
    ] {
        page.goto(&shop.url(path)).await.unwrap();
        let loaded: bool = page
            .eval(&format!(
                "(async () => {{ const i = document.querySelector('{css}'); \
                 await i.decode(); return i.naturalWidth === 4 && i.alt.length > 0; }})()"
            ))
            .await
            .unwrap();
        assert!(loaded, "the image shows on {path}");
        assert_clean_console(&page, path).await;
    }
    page.screenshot("shop-product-image").await.unwrap();

    add_to_cart(&page, &shop, "BK-4001").await;
    page.screenshot("shop-cart").await.unwrap();
    page.submit_and_wait("#to-checkout").await.unwrap_or(());
    if !page.url().await.unwrap().ends_with("/checkout") {
        page.goto(&shop.url("/checkout")).await.unwrap();
    }
    fill_buyer(&page, "guest.buyer@example.jp").await;
    page.check("#payment_card").await.unwrap();
    page.screenshot("shop-checkout-form").await.unwrap();
    page.submit_and_wait("#to-confirm").await.unwrap();
    assert!(page.url().await.unwrap().ends_with("/checkout/confirm"));
    page.screenshot("shop-checkout-confirm").await.unwrap();
    assert_clean_console(&page, "checkout").await;
    page.submit_and_wait("#place-order").await.unwrap();

    let card = "4000000000003220";
    pay_with(&page, &shop, card).await;
    page.wait_for("#code", DEFAULT_TIMEOUT).await.unwrap();
    page.screenshot("provider-3ds-challenge").await.unwrap();
    page.fill("#code", "123456").await.unwrap();
    page.submit_and_wait("form.card button.pay").await.unwrap();
    page.wait_for_url_prefix(&shop.url("/checkout/complete/"), DEFAULT_TIMEOUT)
        .await
        .unwrap();
    page.wait_for("#order-number", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    page.screenshot("shop-order-complete").await.unwrap();
    assert_clean_console(&page, "complete").await;
    let number = page.text("#order-number").await.unwrap();
    assert!(page.text("#card").await.unwrap().ends_with("3220"));
    let order = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.state.as_str(), "paid");
    let mail = shop.wait_for_mail("guest.buyer@example.jp", &number).await;

    // The card number is nowhere on mamori's side.
    let db = database_bytes(&shop);
    let log_text = logs.lock().unwrap().clone();
    let requests = shop.captured_requests();
    for s in spellings(card) {
        assert!(!contains(&db, &s), "card number in the database");
        let offending: Vec<&str> = String::from_utf8_lossy(&log_text)
            .lines()
            .filter(|l| l.contains(&s))
            .map(|l| l.chars().take(300).collect::<String>())
            .map(|l| Box::leak(l.into_boxed_str()) as &str)
            .collect();
        assert!(
            offending.is_empty(),
            "card number in the logs: {offending:?}"
        );
        assert!(
            !mail.body.contains(&s) && !mail.message.data_str().contains(&s),
            "card number in a mail"
        );
        assert!(
            !contains(&requests, &s),
            "card number in a request mamori received"
        );
    }
    assert!(!requests.is_empty(), "requests were captured");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_card_ends_in_a_clear_message_and_no_paid_order() {
    let shop = TestShop::start(Backend::Sqlite).await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    add_to_cart(&page, &shop, "PT-1002").await;
    page.goto(&shop.url("/checkout")).await.unwrap();
    fill_buyer(&page, "declined@example.jp").await;
    page.check("#payment_card").await.unwrap();
    page.submit_and_wait("#to-confirm").await.unwrap();
    page.submit_and_wait("#place-order").await.unwrap();
    pay_with(&page, &shop, "4000000000000002").await;
    page.wait_for_url_prefix(&shop.url("/checkout/cancel"), DEFAULT_TIMEOUT)
        .await
        .unwrap();
    page.wait_for("#payment-error", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    let message = page.text("#payment-error").await.unwrap();
    assert!(message.contains("承認されませんでした"), "{message}");
    page.screenshot("shop-payment-declined").await.unwrap();
    assert_clean_console(&page, "declined").await;
    let page_text = page.content().await.unwrap();
    let number = page_text
        .split("name=\"number\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let order = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.state.as_str(), "pending_payment", "no paid order");
    assert!(
        shop.mails_to("declined@example.jp").is_empty(),
        "no order mail"
    );
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_registers_buys_a_gift_with_a_name_and_changes_the_password() {
    let shop = TestShop::start(Backend::Sqlite).await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    let email = "hanako.suzuki@example.jp";

    // Register and confirm from the mail.
    page.goto(&shop.url("/register")).await.unwrap();
    for (css, v) in [
        ("[name=email]", email),
        ("[name=password]", common::PASSWORD),
        ("[name=password_confirm]", common::PASSWORD),
        ("[name=family]", "鈴木"),
        ("[name=given]", "花子"),
    ] {
        if page.exists(css).await.unwrap() {
            page.fill(css, v).await.unwrap();
        }
    }
    if page.exists("[name=consent]").await.unwrap() {
        page.check("[name=consent]").await.unwrap();
    }
    page.screenshot("shop-register").await.unwrap();
    page.submit_and_wait("form[action='/register'] button[type=submit]")
        .await
        .unwrap();
    assert_clean_console(&page, "register").await;
    let mail = shop.wait_for_mail(email, "").await;
    let link = link_in(&mail, "/register/confirm");
    page.goto(&link).await.unwrap();
    page.wait_for_url_prefix(&shop.url("/mypage"), DEFAULT_TIMEOUT)
        .await
        .unwrap();

    // A name banner with 名入れ, delivered to someone else.
    add_to_cart(&page, &shop, "BN-3001").await;
    page.goto(&shop.url("/checkout")).await.unwrap();
    fill_buyer(&page, email).await;
    page.check("#ship_to_other").await.unwrap();
    page.click("details summary").await.unwrap();
    for (css, v) in [
        ("#ship_family", "鈴木"),
        ("#ship_given", "一郎"),
        ("#ship_postal_code", "530-0001"),
        ("#ship_city", "大阪市北区"),
        ("#ship_line1", "梅田1-1-1"),
        ("#ship_phone", "06-1234-5678"),
        ("#name_0", "一郎"),
        ("#birth_0", "令和2年4月1日"),
    ] {
        page.fill(css, v).await.unwrap();
    }
    page.select("#ship_prefecture", "大阪府").await.unwrap();
    page.check("#payment_bank_transfer").await.unwrap();
    page.submit_and_wait("#to-confirm").await.unwrap();
    assert!(
        page.url().await.unwrap().ends_with("/checkout/confirm"),
        "form accepted"
    );
    let confirm = page.content().await.unwrap();
    assert!(
        confirm.contains("名入れ: 一郎 2020年4月1日"),
        "personalisation shown"
    );
    assert!(
        confirm.contains("大阪市北区"),
        "the other delivery address shown"
    );
    page.submit_and_wait("#place-order").await.unwrap();
    page.wait_for("#order-number", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    let number = page.text("#order-number").await.unwrap();

    // MyPage lists it.
    page.goto(&shop.url("/mypage/orders")).await.unwrap();
    assert!(page.content().await.unwrap().contains(&number));
    page.screenshot("shop-mypage-orders").await.unwrap();
    assert_clean_console(&page, "mypage").await;

    // Password change.
    page.goto(&shop.url("/mypage/password")).await.unwrap();
    let new_password = "another long passphrase 2026";
    for (css, v) in [
        ("[name=current_password]", common::PASSWORD),
        ("[name=password]", new_password),
        ("[name=password_confirm]", new_password),
    ] {
        page.fill(css, v).await.unwrap();
    }
    page.submit_and_wait("form[action='/mypage/password'] button[type=submit]")
        .await
        .unwrap();
    shop.wait_for_mail(email, "パスワード").await;
    browser.close().await.unwrap();
}

/// A guest's card order declined on the provider's page; returns the declined order's number.
async fn declined_guest_order(page: &Page, shop: &TestShop) -> String {
    add_to_cart(page, shop, "BK-4004").await;
    page.goto(&shop.url("/checkout")).await.unwrap();
    fill_buyer(page, "first.guest@example.jp").await;
    page.check("#payment_card").await.unwrap();
    page.submit_and_wait("#to-confirm").await.unwrap();
    page.submit_and_wait("#place-order").await.unwrap();
    pay_with(page, shop, "4000000000000002").await;
    page.wait_for("#payment-error", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    page.content()
        .await
        .unwrap()
        .split("name=\"number\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned()
}

/// After a declined card the same browser starts a new checkout from scratch: a new order for
/// the new cart (not the declined one again), its own mail, an empty cart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_declined_card_the_browser_places_a_new_order() {
    let shop = TestShop::start(Backend::Sqlite).await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    let declined = declined_guest_order(&page, &shop).await;

    // A new cart, paid on delivery this time.
    add_to_cart(&page, &shop, "PT-1005").await;
    page.goto(&shop.url("/checkout")).await.unwrap();
    fill_buyer(&page, "first.guest@example.jp").await;
    page.check("#payment_cash_on_delivery").await.unwrap();
    page.submit_and_wait("#to-confirm").await.unwrap();
    assert!(page.url().await.unwrap().ends_with("/checkout/confirm"));
    page.submit_and_wait("#place-order").await.unwrap();
    page.wait_for("#order-number", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    page.screenshot("shop-order-after-declined").await.unwrap();
    let number = page.text("#order-number").await.unwrap();
    assert_ne!(number, declined, "a new order, not the declined one");
    assert!(
        !page.exists("#card").await.unwrap(),
        "no card on a COD order"
    );
    let order = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.payment_method.as_str(), "cash_on_delivery");
    let items = shop
        .gateway()
        .order(&mamori_store::Accessor::system("test", "test"), &order.id)
        .await
        .unwrap()
        .items;
    let skus: Vec<&str> = items.iter().map(|i| i.sku.as_str()).collect();
    assert_eq!(skus, vec!["PT-1005"]);
    shop.wait_for_mail("first.guest@example.jp", &number).await;
    page.goto(&shop.url("/cart")).await.unwrap();
    assert!(page.exists("#cart-empty").await.unwrap(), "cart emptied");
    assert_clean_console(&page, "after declined").await;
    browser.close().await.unwrap();
}

/// A member registering in a browser where a guest's card was declined starts with their own
/// details at checkout, not the guest's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_after_a_declined_guest_sees_their_own_details() {
    let shop = TestShop::start(Backend::Sqlite).await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    declined_guest_order(&page, &shop).await;
    let email = "next.member@example.jp";
    page.goto(&shop.url("/register")).await.unwrap();
    for (css, v) in [
        ("[name=email]", email),
        ("[name=password]", common::PASSWORD),
        ("[name=password_confirm]", common::PASSWORD),
        ("[name=family]", "鈴木"),
        ("[name=given]", "花子"),
    ] {
        if page.exists(css).await.unwrap() {
            page.fill(css, v).await.unwrap();
        }
    }
    if page.exists("[name=consent]").await.unwrap() {
        page.check("[name=consent]").await.unwrap();
    }
    page.submit_and_wait("form[action='/register'] button[type=submit]")
        .await
        .unwrap();
    let mail = shop.wait_for_mail(email, "").await;
    page.goto(&link_in(&mail, "/register/confirm"))
        .await
        .unwrap();
    page.wait_for_url_prefix(&shop.url("/mypage"), DEFAULT_TIMEOUT)
        .await
        .unwrap();
    add_to_cart(&page, &shop, "PT-1005").await;
    page.goto(&shop.url("/checkout")).await.unwrap();
    assert_eq!(page.value("#buyer_family").await.unwrap(), "鈴木");
    assert_eq!(page.value("#buyer_email").await.unwrap(), email);
    browser.close().await.unwrap();
}
