//! The work pages: masked customers and reveals on the ledger, exports (exact ids and fields,
//! never empty, step-up), orders (state machine, bad input, shipping CSV), products and images,
//! settings, and the staff log as the auditor reads it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{of_action, TestBackoffice};
use mamori_testkit::both_backends;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

/// Reads made for a member of staff (the mail worker's reads of queued mail are left out).
fn staff_reads(
    events: &[mamori_store::access::AccessEvent],
) -> Vec<mamori_store::access::AccessEvent> {
    of_action(events, Action::Read)
        .into_iter()
        .filter(|e| matches!(e.principal, Principal::Staff(_)))
        .collect()
}
use mamori_staff::Role;
use mamori_store::{
    access::{Action, Principal},
    model::StaffLogFilter,
    Backend,
};

/// The action codes of a staff-log page (each action cell carries its code).
fn action_codes(res: &mamori_testkit::web::Resp) -> Vec<String> {
    let sel = scraper::Selector::parse("td.action").unwrap();
    res.doc()
        .select(&sel)
        .filter_map(|e| e.value().attr("data-code").map(str::to_owned))
        .collect()
}

async fn staff_log_actions(bo: &TestBackoffice, staff_id: &str) -> Vec<String> {
    bo.store()
        .staff_log_page(
            &StaffLogFilter {
                staff_id: Some(staff_id.to_owned()),
                ..Default::default()
            },
            0,
            1000,
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.action)
        .collect()
}

/// Support sees masked values; a reveal needs a reason, shows the value once and leaves exactly
/// one ledger read naming that customer and field with the reason.
async fn reveal_is_recorded_once_with_its_reason(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("hanako.yamada@example.jp").await;
    let (support, client) = bo.member(Role::Support).await;

    let list = client.get("/customers").await;
    list.expect(200);
    assert!(list.text.contains("山田 **"), "{}", list.text);
    assert!(!list.text.contains("花子"));
    assert!(!list.text.contains("hanako.yamada@example.jp"));
    let page = client.get(&format!("/customers/{customer}")).await;
    page.expect(200);
    assert_eq!(page.text_of("#masked-phone").unwrap(), "090-****-5678");
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));

    // Without a reason: nothing revealed, nothing read.
    let before = bo.ledger_len().await;
    let res = client
        .post_form(
            &format!("/customers/{customer}/reveal"),
            &[("field", "phone"), ("reason", " ")],
        )
        .await;
    res.expect(200);
    assert!(res.has("#problem"));
    assert!(!res.has("#revealed"));
    assert!(staff_reads(&bo.ledger_events_since(before).await).is_empty());

    // With a reason: the value, once, and one read event.
    let before = bo.ledger_len().await;
    let reason = "電話での本人確認のため（問い合わせ番号 1234）";
    let res = client
        .post_form(
            &format!("/customers/{customer}/reveal"),
            &[("field", "phone"), ("reason", reason)],
        )
        .await;
    res.expect(200);
    assert_eq!(res.text_of("#revealed").unwrap(), "090-1234-5678");
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let reads = staff_reads(&bo.ledger_events_since(before).await);
    assert_eq!(reads.len(), 1, "{reads:?}");
    let e = &reads[0];
    assert_eq!(e.principal, Principal::Staff(support.id.clone()));
    assert_eq!(e.customers, vec![customer.clone()]);
    assert_eq!(e.fields, vec!["customers.phone".to_owned()]);
    assert_eq!(e.reason.as_deref(), Some(reason));
    assert!(staff_log_actions(&bo, &support.id)
        .await
        .contains(&"customers.reveal".to_owned()));

    // Reloading the customer shows it masked again.
    let again = client.get(&format!("/customers/{customer}")).await;
    assert!(!again.has("#revealed"));
    assert!(!again.text.contains("090-1234-5678"));

    // The auditor finds the reveal, with its reason, by the customer's id; no value is shown.
    let (_auditor, audit) = bo.member(Role::Auditor).await;
    let ledger = audit.get(&format!("/ledger?customer={customer}")).await;
    ledger.expect(200);
    assert!(ledger.texts_of("td.reason").iter().any(|r| r == reason));
    assert!(ledger
        .texts_of("td.action")
        .iter()
        .any(|a| a == "閲覧（全文）"));
    assert!(!ledger.text.contains("090-1234-5678"));
    audit
        .get(&format!("/customers/{customer}"))
        .await
        .expect(403);
}

/// The customer export: permission, reason, step-up; never empty; exactly the chosen ids and
/// fields on the ledger.
async fn export_records_exactly_what_left(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let a = bo.customer("a.export@example.jp").await;
    let b = bo.customer("b.export@example.jp").await;
    let _c = bo.customer("c.export@example.jp").await;
    let (manager, client) = bo.member(Role::Manager).await;
    client.get("/customers/export").await.expect(200);

    // Refusals: nothing exported, nothing read.
    let before = bo.ledger_len().await;
    let cases: [&[(&str, &str)]; 4] = [
        &[
            ("ids", ""),
            ("reason", "月次の発送リスト作成"),
            ("f_name", "1"),
        ],
        &[
            ("ids", &format!("{a}\n{b}")),
            ("reason", "月次の発送リスト作成"),
        ],
        &[
            ("ids", &format!("{a}\n{b}")),
            ("reason", ""),
            ("f_name", "1"),
        ],
        &[
            ("ids", "0190a0a0-0000-7000-8000-00000000dead"),
            ("reason", "月次の発送リスト作成"),
            ("f_name", "1"),
        ],
    ];
    for fields in cases {
        let res = client.post_form("/customers/export", fields).await;
        res.expect(200);
        assert!(res.has("#problem"), "{fields:?}");
    }
    assert!(staff_reads(&bo.ledger_events_since(before).await).is_empty());

    let reason = "年賀状の送付先確認（経理依頼）";
    let ids = format!("{a}\n{b}\n{a}");
    let res = client
        .post_form(
            "/customers/export",
            &[
                ("ids", &ids),
                ("reason", reason),
                ("f_name", "1"),
                ("f_email", "1"),
            ],
        )
        .await;
    res.expect(200);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert!(res
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    assert!(res.bytes.starts_with(b"\xEF\xBB\xBF"));
    let lines: Vec<&str> = res.text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[1].contains("a.export@example.jp") || lines[2].contains("a.export@example.jp"));
    assert!(!res.text.contains("c.export@example.jp"));
    let reads = staff_reads(&bo.ledger_events_since(before).await);
    assert_eq!(reads.len(), 1, "{reads:?}");
    let mut customers = reads[0].customers.clone();
    customers.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(customers, expected);
    assert_eq!(
        reads[0].fields,
        vec!["customers.name".to_owned(), "customers.email".to_owned()]
    );
    assert_eq!(reads[0].reason.as_deref(), Some(reason));
    assert_eq!(reads[0].principal, Principal::Staff(manager.id.clone()));
    assert!(staff_log_actions(&bo, &manager.id)
        .await
        .contains(&"customers.export".to_owned()));

    // Past the step-up window the export asks for a second factor first and reads nothing.
    bo.advance(6 * 60);
    let before = bo.ledger_len().await;
    client
        .post_form(
            "/customers/export",
            &[("ids", &a), ("reason", reason), ("f_name", "1")],
        )
        .await
        .expect_redirect("/step-up");
    assert!(staff_reads(&bo.ledger_events_since(before).await).is_empty());

    // Support may not export at all.
    let (_s, support) = bo.member(Role::Support).await;
    support
        .post_form(
            "/customers/export",
            &[("ids", &a), ("reason", reason), ("f_name", "1")],
        )
        .await
        .expect(403);
}

/// Orders: the state machine decides; bad input changes nothing; the shipping CSV is an export.
async fn orders_follow_the_state_machine(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("order.buyer@example.jp").await;
    let (order, number) = bo.order(&customer).await;
    let (operator, client) = bo.member(Role::Operator).await;

    let list = client.get(&format!("/orders?number={number}")).await;
    list.expect(200);
    assert!(list.text.contains(&number));
    let detail = client.get(&format!("/orders/{order}")).await;
    detail.expect(200);
    assert!(detail.text.contains("鳩山 **"), "{}", detail.text);
    assert!(!detail.text.contains("花子"));
    assert_eq!(detail.text_of("#order-state").unwrap(), "入金待ち");

    let state = || async {
        bo.store()
            .order_header(&order)
            .await
            .unwrap()
            .unwrap()
            .state
    };
    // Shipping an order that is not prepared: refused with the domain's message.
    let res = client
        .post_form(&format!("/orders/{order}/transition"), &[("event", "ship")])
        .await;
    res.expect_redirect(&format!("/orders/{order}"));
    let page = client.get(&format!("/orders/{order}")).await;
    assert!(
        page.text_of("#error").unwrap().contains("発送"),
        "{:?}",
        page.text_of("#error")
    );
    assert_eq!(state().await.as_str(), "pending_payment");
    // Unknown events and ids.
    client
        .post_form(
            &format!("/orders/{order}/transition"),
            &[("event", "explode")],
        )
        .await;
    assert_eq!(state().await.as_str(), "pending_payment");
    let res = client
        .post_form(
            "/orders/0190a0a0-0000-7000-8000-00000000beef/transition",
            &[("event", "start_preparing")],
        )
        .await;
    res.expect_redirect("/orders");
    assert!(client
        .get("/orders")
        .await
        .text_of("#error")
        .unwrap()
        .contains("見つかりません"));
    // A forged form (no or a wrong token) is refused and changes nothing.
    let forged = client
        .post_raw(
            &format!("/orders/{order}/transition"),
            &[("_csrf", "forged"), ("event", "start_preparing")],
        )
        .await;
    forged.expect(403);
    assert_eq!(state().await.as_str(), "pending_payment");
    // The right step.
    client
        .post_form(
            &format!("/orders/{order}/transition"),
            &[("event", "start_preparing")],
        )
        .await
        .expect_redirect(&format!("/orders/{order}"));
    assert_eq!(state().await.as_str(), "preparing");
    assert!(staff_log_actions(&bo, &operator.id)
        .await
        .contains(&"orders.start_preparing".to_owned()));

    // Shipping CSV of what is being prepared.
    client.get("/orders/export").await.expect(200);
    let before = bo.ledger_len().await;
    let empty = client
        .post_form(
            "/orders/export",
            &[
                ("state", "shipped"),
                ("from", ""),
                ("to", ""),
                ("reason", "ヤマト運輸の集荷分"),
            ],
        )
        .await;
    empty.expect(200);
    assert!(empty.has("#problem"));
    let res = client
        .post_form(
            "/orders/export",
            &[
                ("state", "preparing"),
                ("from", ""),
                ("to", ""),
                ("reason", "ヤマト運輸の集荷分"),
            ],
        )
        .await;
    res.expect(200);
    assert!(res.text.contains("鳩山 花子"), "{}", res.text);
    assert!(res.text.contains(&number));
    let reads = staff_reads(&bo.ledger_events_since(before).await);
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].customers, vec![customer.clone()]);
    assert_eq!(reads[0].reason.as_deref(), Some("ヤマト運輸の集荷分"));

    // The dashboard counts today's order.
    let dash = client.get("/dashboard").await;
    dash.expect(200);
    assert_eq!(dash.text_of("#orders-today").unwrap(), "1");
    // The last 30 days' sales: a plot with a point per day, and the same figures as a table,
    // newest first, today's order in the first row.
    assert!(dash
        .text
        .contains("<figure id=\"sales-chart\" class=\"chart\"><svg"));
    assert_eq!(dash.text.matches("<circle").count(), 30);
    assert!(!dash.text.contains("<script src"));
    let cells = dash.texts_of("#sales-by-day td");
    assert_eq!(cells.len(), 90, "{cells:?}");
    assert_eq!(cells[1], "1", "{cells:?}");
    assert_eq!(cells[2], dash.text_of("#sales-today").unwrap());
    assert!(cells[4..].iter().step_by(3).all(|n| n == "0"), "{cells:?}");
}

/// Products (inactive ones too), bad input changing nothing, images checked by content; the staff
/// log records the changes and the auditor filters it.
async fn products_images_and_the_staff_log(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let (operator, client) = bo.member(Role::Operator).await;
    let product = bo.store().product_by_sku("PT-1001").await.unwrap().unwrap();
    let page = client.get(&format!("/products/{}", product.id)).await;
    page.expect(200);
    let form = |price: &str| {
        vec![
            ("category_id", product.category_id.clone()),
            ("name_ja", product.name_ja.clone()),
            ("name_en", product.name_en.clone()),
            ("description_ja", product.description_ja.clone()),
            ("description_en", product.description_en.clone()),
            ("price_incl", price.to_owned()),
            ("tax_rate", product.tax_rate.clone()),
        ]
    };
    let as_refs = |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
    // A price of zero: refused, nothing changed.
    let bad = as_refs(&form("0"));
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = client
        .post_form(&format!("/products/{}", product.id), &bad)
        .await;
    res.expect(200);
    assert!(res.has("#problems"));
    assert_eq!(
        bo.store()
            .product_by_id(&product.id)
            .await
            .unwrap()
            .unwrap(),
        product
    );
    // A new price, and unpublished.
    let good = form("1200");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client
        .post_form(&format!("/products/{}", product.id), &good)
        .await
        .expect_redirect(&format!("/products/{}", product.id));
    let after = bo
        .store()
        .product_by_id(&product.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.price_incl, 1200);
    assert!(!after.active);
    let list = client.get("/products").await;
    assert!(
        list.text.contains("PT-1001"),
        "inactive products are listed"
    );
    // Stock.
    client
        .post_form(
            &format!("/products/{}/stock", product.id),
            &[("stock", "-3")],
        )
        .await
        .expect_redirect(&format!("/products/{}", product.id));
    assert_eq!(
        bo.store()
            .product_by_id(&product.id)
            .await
            .unwrap()
            .unwrap()
            .stock,
        product.stock
    );
    client
        .post_form(
            &format!("/products/{}/stock", product.id),
            &[("stock", "42")],
        )
        .await;
    assert_eq!(
        bo.store()
            .product_by_id(&product.id)
            .await
            .unwrap()
            .unwrap()
            .stock,
        42
    );

    // Images: a script dressed as a PNG is refused; a real JPEG is stored as a clean PNG.
    client.get(&format!("/products/{}", product.id)).await;
    let fake = b"\x89PNG\r\n\x1a\n<script>alert(1)</script>".to_vec();
    client
        .post_bytes(
            &format!("/products/{}/images", product.id),
            "image/png",
            fake,
        )
        .await
        .expect_redirect(&format!("/products/{}", product.id));
    assert!(bo
        .store()
        .product_images_of(&product.id)
        .await
        .unwrap()
        .is_empty());
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(image::ImageBuffer::from_fn(64, 48, |x, y| {
        image::Rgb([x as u8, y as u8, 9])
    }))
    .write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    client
        .post_bytes(
            &format!("/products/{}/images", product.id),
            "image/jpeg",
            jpeg,
        )
        .await
        .expect_redirect(&format!("/products/{}", product.id));
    let images = bo.store().product_images_of(&product.id).await.unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!((images[0].width, images[0].height), (64, 48));
    let served = client
        .get(&format!("/products/{}/images/{}", product.id, images[0].id))
        .await;
    served.expect(200);
    assert_eq!(served.header("content-type").as_deref(), Some("image/png"));
    assert_eq!(
        served.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert!(served.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));

    // The staff log, as the auditor reads it.
    let (auditor, audit) = bo.member(Role::Auditor).await;
    let log = audit.get("/staff-log?action=products.").await;
    log.expect(200);
    // Actions are shown by their Japanese labels; each cell keeps its code for the filter.
    let actions = action_codes(&log);
    for a in ["products.update", "products.stock", "products.image_add"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let labels = log.texts_of("td.action");
    for l in ["商品の変更", "在庫の変更", "商品画像の追加"] {
        assert!(labels.iter().any(|x| x == l), "{l} in {labels:?}");
    }
    assert!(actions.iter().all(|a| a.starts_with("products.")));
    assert_eq!(
        actions.iter().filter(|a| *a == "products.stock").count(),
        1,
        "the refused stock change is not logged"
    );
    let mine = audit.get(&format!("/staff-log?staff={}", auditor.id)).await;
    assert!(action_codes(&mine)
        .iter()
        .all(|a| !a.starts_with("products.")));
    let theirs = audit
        .get(&format!(
            "/staff-log?staff={}&action=products.update",
            operator.id
        ))
        .await;
    assert_eq!(action_codes(&theirs), vec!["products.update".to_owned()]);
    audit.get("/products").await.expect(403);
}

/// Shop settings: a wrong invoice number changes nothing; a right one is stored and logged.
async fn settings_are_validated(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let (owner, client) = bo.member(Role::Owner).await;
    client.get("/settings").await.expect(200);
    let fields = |number: &'static str| {
        vec![
            ("name", "守り商店"),
            ("address", "東京都千代田区千代田1-1"),
            ("registration_number", number),
            ("delivery_slots", "1"),
            ("pm_card", "1"),
            ("pm_bank_transfer", "1"),
        ]
    };
    let res = client
        .post_form("/settings", &fields("T1234567890123"))
        .await;
    res.expect(200);
    assert!(res.has("#problems"));
    assert!(bo.store().settings_all().await.unwrap().is_empty());
    client
        .post_form("/settings", &fields("T7000012050002"))
        .await
        .expect_redirect("/settings");
    let stored = bo.store().settings_all().await.unwrap();
    let get = |k: &str| {
        stored
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        get("shop.registration_number").as_deref(),
        Some("\"T7000012050002\"")
    );
    assert_eq!(
        get("payment.methods").as_deref(),
        Some("[\"card\",\"bank_transfer\"]")
    );
    assert!(staff_log_actions(&bo, &owner.id)
        .await
        .contains(&"settings.update".to_owned()));
}

/// Shipping rates by region and prefecture, the free-shipping threshold and the 代引き fee table:
/// the configuration's figures until set, bad amounts change nothing, a good form is stored,
/// read back and logged; support cannot open the page.
async fn shipping_rates_are_set_by_prefecture(backend: Backend) {
    use mamori_web::settings::{keys, ShopSettings};
    let bo = TestBackoffice::start(backend).await;
    let (owner, client) = bo.member(Role::Owner).await;
    let page = client.get("/settings/shipping").await;
    page.expect(200);
    assert_eq!(page.input_value("base").as_deref(), Some("770"));
    assert_eq!(page.input_value("free_from").as_deref(), Some("11000"));
    assert_eq!(page.input_value("cod_limit_0").as_deref(), Some("10000"));
    assert_eq!(page.input_value("cod_fee_0").as_deref(), Some("330"));
    assert_eq!(page.input_value("cod_top").as_deref(), Some("1100"));
    assert!(page.text.contains("送料・代引き手数料"));

    let fields = vec![
        ("base", "880"),
        ("free_from", ""),
        ("region_hokkaido", "１，３２０円"),
        ("pref_47", "2200"),
        ("cod_limit_0", "10000"),
        ("cod_fee_0", "300"),
        ("cod_limit_1", "30000"),
        ("cod_fee_1", "400"),
        ("cod_top", "600"),
    ];
    // A negative, a non-number, a band without its fee, falling bands: nothing stored.
    for bad in [
        ("base", "-1"),
        ("pref_13", "abc"),
        ("cod_fee_1", ""),
        ("cod_limit_1", "5000"),
        ("cod_top", ""),
    ] {
        let mut f: Vec<(&str, &str)> = fields
            .iter()
            .filter(|(k, _)| *k != bad.0)
            .copied()
            .collect();
        f.push(bad);
        let res = client.post_form("/settings/shipping", &f).await;
        res.expect(200);
        assert!(res.has("#problems"), "{bad:?}");
    }
    assert!(bo.store().settings_all().await.unwrap().is_empty());

    client
        .post_form("/settings/shipping", &fields)
        .await
        .expect_redirect("/settings/shipping");
    let stored = bo.store().settings_all().await.unwrap();
    let s = ShopSettings::from_stored(&stored, "守り商店");
    let rates = s.shipping_rates(770, 11_000);
    use mamori_domain::{PaymentMethod, Prefecture, Yen};
    let card = PaymentMethod::Card;
    assert_eq!(rates.fee(Prefecture::Tokyo, Yen(50_000), card), Yen(880));
    assert_eq!(
        rates.fee(Prefecture::Hokkaido, Yen(50_000), card),
        Yen(1_320)
    );
    assert_eq!(
        rates.fee(Prefecture::Okinawa, Yen(50_000), card),
        Yen(2_200)
    );
    assert_eq!(rates.free_from, None);
    let cod = s.cod_fees_or_default();
    assert_eq!(cod.fee(Yen(9_999)), Yen(300));
    assert_eq!(cod.fee(Yen(20_000)), Yen(400));
    assert_eq!(cod.fee(Yen(30_000)), Yen(600));
    assert!(stored.iter().any(|(k, _)| k == keys::SHIPPING_RATES));
    let page = client.get("/settings/shipping").await;
    assert_eq!(page.input_value("region_hokkaido").as_deref(), Some("1320"));
    assert_eq!(page.input_value("pref_47").as_deref(), Some("2200"));
    assert_eq!(page.input_value("pref_13").as_deref(), Some(""));
    assert!(staff_log_actions(&bo, &owner.id)
        .await
        .contains(&"settings.shipping".to_owned()));
    // The same form again changes nothing and logs nothing more.
    client
        .post_form("/settings/shipping", &fields)
        .await
        .expect_redirect("/settings/shipping");
    let logged = staff_log_actions(&bo, &owner.id).await;
    assert_eq!(
        logged.iter().filter(|a| *a == "settings.shipping").count(),
        1
    );
    let (_, support) = bo.member(Role::Support).await;
    support.get("/settings/shipping").await.expect(403);
}

/// Part of a card order is refunded through the provider after a confirmation step, with a
/// reason; an amount not below what is left is refused; a double submit refunds once; the
/// customer is mailed, the staff log and the ledger record it, the order shows what was
/// refunded and what is left, and the full refund then pays back only the rest.
async fn partial_refunds_are_confirmed_capped_and_mailed(backend: Backend) {
    use mamori_backoffice::orders::yen;
    use mamori_pay::PaymentStatus;
    const TO: &str = "hanako.hatoyama@example.jp";
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("partial.buyer@example.jp").await;
    let psp = bo.state.psp.clone();
    let (paid, number) = bo
        .order_paid_by(&customer, mamori_domain::PaymentMethod::Card)
        .await;
    let total = bo.store().order_header(&paid).await.unwrap().unwrap().total;
    let payment_id = bo
        .sandbox_payment(&number, total, Some("4242424242424242"))
        .await;
    bo.record_payment(
        &paid,
        &payment_id,
        total,
        mamori_domain::PaymentAttemptState::Succeeded,
    )
    .await;
    bo.mark_paid(&paid).await;
    let (owner, client) = bo.member(Role::Owner).await;
    let path = format!("/orders/{paid}/partial-refund");
    let detail = client.get(&format!("/orders/{paid}")).await;
    assert!(detail.has("#partial-refund"));
    assert!(!detail.has("#order-refunded"));
    let form = client.get(&path).await;
    form.expect(200);
    assert_eq!(form.text_of("#refund-remaining").unwrap(), yen(total));
    assert_eq!(form.text_of("#refunded-so-far").unwrap(), yen(0));

    // Refused: not an amount, all that is left or more, no reason. Nothing refunded.
    let all = total.to_string();
    for (amount, reason) in [
        ("abc", "一部欠品のため"),
        ("0", "一部欠品のため"),
        (all.as_str(), "一部欠品のため"),
        ("1000", " "),
    ] {
        let res = client
            .post_form(&path, &[("amount", amount), ("reason", reason)])
            .await;
        res.expect(200);
        assert!(res.has("#problem"), "{amount} {reason}");
        assert!(!res.has("#confirm-partial-refund"));
    }
    let res = client
        .post_form(&path, &[("amount", &all), ("reason", "一部欠品のため")])
        .await;
    assert!(res.text_of("#problem").unwrap().contains("全額返金"));

    // The first post only shows the confirmation.
    let confirm = client
        .post_form(
            &path,
            &[("amount", "１，０００"), ("reason", "一部欠品のため")],
        )
        .await;
    confirm.expect(200);
    assert_eq!(confirm.text_of("#confirm-amount").unwrap(), yen(1_000));
    assert!(confirm.has("#confirm-partial-refund"));
    let key = confirm.input_value("key").unwrap();
    assert!(bo.store().refunds_of_order(&paid).await.unwrap().is_empty());
    assert_eq!(
        psp.lookup(&payment_id).await.unwrap().status,
        PaymentStatus::Succeeded
    );

    // Confirmed: refunded at the provider, recorded, mailed, logged; the order stays paid.
    let before = bo.ledger_len().await;
    let fields = [
        ("amount", "1000"),
        ("reason", "一部欠品のため"),
        ("key", key.as_str()),
        ("confirm", "yes"),
    ];
    client
        .post_form(&path, &fields)
        .await
        .expect_redirect(&format!("/orders/{paid}"));
    assert_eq!(
        psp.lookup(&payment_id).await.unwrap().status,
        PaymentStatus::Refunded { amount: 1_000 }
    );
    let refunds = bo.store().refunds_of_order(&paid).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, 1_000);
    assert_eq!(refunds[0].reason, "一部欠品のため");
    assert!(refunds[0].provider_refund_id.is_some());
    let header = bo.store().order_header(&paid).await.unwrap().unwrap();
    assert_eq!(header.state.as_str(), "paid");
    let subject = bo.wait_for_mail(TO, "一部を返金").await;
    assert!(subject.contains(&number), "{subject}");
    let text = bo.mail_text(TO, "一部を返金").await;
    assert!(text.contains("ご返金額：1,000円"), "{text}");
    assert!(
        !text.contains("一部欠品のため"),
        "the reason is the shop's: {text}"
    );
    let reads = staff_reads(&bo.ledger_events_since(before).await);
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].principal, Principal::Staff(owner.id.clone()));
    assert_eq!(reads[0].purpose, "backoffice.orders.mail");
    assert!(staff_log_actions(&bo, &owner.id)
        .await
        .contains(&"orders.partial_refund".to_owned()));

    // A double submit refunds once.
    client.post_form(&path, &fields).await;
    assert_eq!(bo.store().refunded_total(&paid).await.unwrap(), 1_000);
    assert_eq!(
        psp.lookup(&payment_id).await.unwrap().status,
        PaymentStatus::Refunded { amount: 1_000 }
    );
    assert_eq!(bo.mails_to(TO), 1);

    let detail = client.get(&format!("/orders/{paid}")).await;
    assert_eq!(detail.text_of("#order-refunded").unwrap(), yen(1_000));
    assert_eq!(
        detail.text_of("#order-remaining").unwrap(),
        yen(total - 1_000)
    );
    assert!(detail
        .text_of("#refunds")
        .unwrap()
        .contains("一部欠品のため"));
    // Left: total - 1,000; the full refund pays back that much and closes the order.
    let rest = client.get(&format!("/orders/{paid}/refund")).await;
    assert_eq!(rest.text_of("#refund-amount").unwrap(), yen(total - 1_000));
    assert_eq!(rest.text_of("#refund-before").unwrap(), yen(1_000));
    client
        .post_form(&format!("/orders/{paid}/refund"), &[("confirm", "yes")])
        .await
        .expect_redirect(&format!("/orders/{paid}"));
    assert_eq!(
        psp.lookup(&payment_id).await.unwrap().status,
        PaymentStatus::Refunded { amount: total }
    );
    assert_eq!(bo.store().refunded_total(&paid).await.unwrap(), total);
    let text = bo.mail_text(TO, "ご返金の手続きをしました").await;
    assert!(
        text.contains(&format!("ご返金額：{}", yen(total - 1_000))),
        "{text}"
    );
    // A refunded order takes no further refund.
    client
        .get(&path)
        .await
        .expect_redirect(&format!("/orders/{paid}"));
}

/// The shipping CSV in ヤマト B2クラウド and 佐川 e飛伝 layouts: Shift_JIS, the shop as the
/// sender, the amount to collect on the cash-on-delivery order's slip only; one recorded read
/// with the reason, like the standard CSV; an unknown layout reads nothing.
async fn carrier_files_carry_the_sender_and_the_cod_amount(backend: Backend) {
    use mamori_domain::OrderState;
    use mamori_web::settings::keys;
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("carrier.buyer@example.jp").await;
    let (cod, cod_no) = bo.order(&customer).await;
    let (card, card_no) = bo
        .order_paid_by(&customer, mamori_domain::PaymentMethod::Card)
        .await;
    for id in [&cod, &card] {
        assert!(bo
            .store()
            .transition_order(
                id,
                &[OrderState::PendingPayment],
                OrderState::Preparing,
                bo.now(),
                &[]
            )
            .await
            .unwrap());
    }
    let cod_total = bo.store().order_header(&cod).await.unwrap().unwrap().total;
    for (k, v) in [
        (keys::NAME, r#""守り商店""#),
        (keys::ADDRESS, r#""〒100-0005 東京都千代田区丸の内1-1-1""#),
        (keys::PHONE, r#""03-1234-5678""#),
    ] {
        bo.store().settings_put(k, v, 1, None).await.unwrap();
    }
    let (operator, client) = bo.member(Role::Operator).await;
    let export = |format: &'static str| {
        let client = &client;
        async move {
            client
                .post_form(
                    "/orders/export",
                    &[
                        ("state", "preparing"),
                        ("from", ""),
                        ("to", ""),
                        ("reason", "本日の集荷分の送り状"),
                        ("format", format),
                    ],
                )
                .await
        }
    };
    let before = bo.ledger_len().await;
    let bad = export("kuroneko").await;
    bad.expect(200);
    assert!(bad.has("#problem"));
    assert!(staff_reads(&bo.ledger_events_since(before).await).is_empty());

    let res = export("yamato_b2").await;
    res.expect(200);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("text/csv; charset=Shift_JIS")
    );
    assert!(res
        .header("content-disposition")
        .unwrap()
        .contains("yamato-b2-"));
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&res.bytes);
    assert!(!bad, "Shift_JIS");
    assert!(!res.bytes.starts_with(b"\xEF\xBB\xBF"), "no UTF-8 mark");
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    let of = |number: &str| {
        rows.iter()
            .find(|r| r[0].starts_with(number))
            .unwrap_or_else(|| panic!("{number} in {text}"))
            .clone()
    };
    let slip = of(&cod_no);
    assert_eq!(slip[1], "2", "コレクト");
    assert_eq!(slip[33], cod_total.to_string());
    assert_eq!(slip[15], "鳩山 花子");
    assert_eq!(slip[10], "100-0001");
    assert!(slip[11].starts_with("東京都"), "{slip:?}");
    assert_eq!(slip[21], "100-0005");
    assert_eq!(slip[22], "東京都千代田区丸の内1-1-1");
    assert_eq!(slip[24], "守り商店");
    assert_eq!(slip[19], "03-1234-5678");
    let slip = of(&card_no);
    assert_eq!((slip[1].as_str(), slip[33].as_str()), ("0", ""));
    let reads = staff_reads(&bo.ledger_events_since(before).await);
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].customers, vec![customer.clone()]);
    assert_eq!(reads[0].reason.as_deref(), Some("本日の集荷分の送り状"));
    assert_eq!(reads[0].principal, Principal::Staff(operator.id.clone()));
    assert_eq!(reads[0].purpose, "backoffice.orders.shipping_csv");

    let before = bo.ledger_len().await;
    let res = export("sagawa_ehiden").await;
    res.expect(200);
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&res.bytes);
    assert!(!bad);
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    assert_eq!(&reader.headers().unwrap()[0], "お届け先コード取得区分");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let slip = rows.iter().find(|r| r[9].starts_with(&cod_no)).unwrap();
    assert_eq!(&slip[35], cod_total.to_string().as_str());
    assert_eq!(&slip[7], "鳩山 花子");
    assert_eq!(&slip[21], "守り商店");
    let slip = rows.iter().find(|r| r[9].starts_with(&card_no)).unwrap();
    assert_eq!(&slip[35], "");
    assert_eq!(staff_reads(&bo.ledger_events_since(before).await).len(), 1);
    assert!(staff_log_actions(&bo, &operator.id)
        .await
        .contains(&"orders.export".to_owned()));
}

/// A card order paid at the provider is refunded through the payment connector (step-up); an
/// unpaid card order is cancelled at the provider too.
async fn card_refund_and_cancel_go_through_the_provider(backend: Backend) {
    use mamori_pay::PaymentStatus;
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("card.buyer@example.jp").await;
    let psp = bo.state.psp.clone();
    // Paid by card: the customer pays on the provider's page, the order moves to paid.
    let (paid, paid_number) = bo
        .order_paid_by(&customer, mamori_domain::PaymentMethod::Card)
        .await;
    let total = bo.store().order_header(&paid).await.unwrap().unwrap().total;
    let payment_id = bo
        .sandbox_payment(&paid_number, total, Some("4242424242424242"))
        .await;
    assert!(psp
        .lookup(&payment_id)
        .await
        .unwrap()
        .settles(&paid_number, total));
    bo.record_payment(
        &paid,
        &payment_id,
        total,
        mamori_domain::PaymentAttemptState::Pending,
    )
    .await;
    bo.mark_paid(&paid).await;

    let (owner, client) = bo.member(Role::Owner).await;
    // A paid order cannot be cancelled, only refunded.
    client
        .post_form(&format!("/orders/{paid}/cancel"), &[])
        .await;
    assert_eq!(
        bo.store()
            .order_header(&paid)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "paid"
    );
    bo.advance(6 * 60);
    client
        .post_form(&format!("/orders/{paid}/refund"), &[])
        .await
        .expect_redirect("/step-up");
    assert_eq!(
        bo.store()
            .order_header(&paid)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "paid"
    );
    let code = bo.fresh_code(&owner);
    client.post_form("/step-up/totp", &[("code", &code)]).await;
    // One click is not a refund: the button leads to a confirmation naming the amount.
    client
        .post_form(&format!("/orders/{paid}/refund"), &[])
        .await
        .expect_redirect(&format!("/orders/{paid}/refund"));
    assert_eq!(
        bo.store()
            .order_header(&paid)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "paid"
    );
    let detail = client.get(&format!("/orders/{paid}")).await;
    assert_eq!(
        detail
            .doc()
            .select(&scraper::Selector::parse("#refund").unwrap())
            .next()
            .unwrap()
            .value()
            .name(),
        "a",
        "the refund button only opens the confirmation"
    );
    let confirm = client.get(&format!("/orders/{paid}/refund")).await;
    confirm.expect(200);
    assert_eq!(
        confirm.text_of("#refund-amount").unwrap(),
        mamori_backoffice::orders::yen(total)
    );
    assert!(confirm.has("#confirm-refund"));
    assert_eq!(
        bo.store()
            .order_header(&paid)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "paid"
    );
    client
        .post_form(&format!("/orders/{paid}/refund"), &[("confirm", "yes")])
        .await
        .expect_redirect(&format!("/orders/{paid}"));
    assert_eq!(
        bo.store()
            .order_header(&paid)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "refunded"
    );
    assert_eq!(
        psp.lookup(&payment_id).await.unwrap().status,
        PaymentStatus::Refunded { amount: total }
    );
    // The payment's state in Japanese.
    let payment = client
        .get(&format!("/orders/{paid}"))
        .await
        .text_of("#payment")
        .unwrap();
    assert!(payment.contains("返金済み"), "{payment}");
    assert!(
        !payment.contains("refunded") && !payment.contains("sandbox"),
        "{payment}"
    );
    // Refunding again is refused by the state machine; the provider is not asked twice.
    client
        .post_form(&format!("/orders/{paid}/refund"), &[("confirm", "yes")])
        .await;
    assert_eq!(
        psp.lookup(&payment_id).await.unwrap().status,
        PaymentStatus::Refunded { amount: total }
    );

    // Unpaid card order: cancelled at the provider and here.
    let (open, open_number) = bo
        .order_paid_by(&customer, mamori_domain::PaymentMethod::Card)
        .await;
    let open_total = bo.store().order_header(&open).await.unwrap().unwrap().total;
    let pending = bo.sandbox_payment(&open_number, open_total, None).await;
    bo.record_payment(
        &open,
        &pending,
        open_total,
        mamori_domain::PaymentAttemptState::Pending,
    )
    .await;
    client
        .post_form(&format!("/orders/{open}/cancel"), &[])
        .await
        .expect_redirect(&format!("/orders/{open}"));
    assert_eq!(
        bo.store()
            .order_header(&open)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "cancelled"
    );
    assert_eq!(
        psp.lookup(&pending).await.unwrap().status,
        PaymentStatus::Canceled
    );
    let actions = staff_log_actions(&bo, &owner.id).await;
    assert!(
        actions.contains(&"orders.refund".to_owned())
            && actions.contains(&"orders.cancel".to_owned())
    );
}

/// 名入れ and のし: staff who prepare orders see what to engrave and print (one recorded read of
/// exactly the gift fields), each line says only what it has ("名入れ" for the banner, "のし"
/// for the towel set), support sees only that a line has one, and the shipping CSV carries them
/// in its one recorded read.
async fn gifts_are_shown_to_who_makes_them_on_the_record(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("gift.buyer@example.jp").await;
    let (order, number) = bo.order(&customer).await;
    let (_s, support) = bo.member(Role::Support).await;
    let (operator, client) = bo.member(Role::Operator).await;

    // Support: whether a line has 名入れ or のし, never what.
    let before = bo.ledger_len().await;
    let page = support.get(&format!("/orders/{order}")).await;
    page.expect(200);
    assert_eq!(page.text_of("#engraving-1").unwrap(), "名入れあり");
    assert_eq!(page.text_of("#noshi-3").unwrap(), "のしあり");
    assert!(!page.has("#noshi-1") && !page.has("#engraving-3") && !page.has("#engraving-2"));
    assert!(!page.text.contains("蒼太郎") && !page.text.contains("名入れ・のし"));
    assert!(staff_reads(&bo.ledger_events_since(before).await).is_empty());

    // The operator: the text to engrave and the noshi's wording, on the record.
    let before = bo.ledger_len().await;
    let page = client.get(&format!("/orders/{order}")).await;
    page.expect(200);
    assert_eq!(page.text_of("#engraving-1").unwrap(), "名入れ：蒼太郎");
    assert_eq!(page.text_of("#noshi-3").unwrap(), "のし：内祝 / 鳩山");
    assert!(!page.has("#noshi-1") && !page.has("#engraving-3"));
    let reads = staff_reads(&bo.ledger_events_since(before).await);
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].principal, Principal::Staff(operator.id.clone()));
    assert_eq!(reads[0].customers, vec![customer.clone()]);
    assert_eq!(reads[0].purpose, "backoffice.orders.gifts");
    assert_eq!(
        reads[0].fields,
        vec![
            "order_items.personalisation".to_owned(),
            "order_items.noshi".to_owned()
        ]
    );

    // The shipping CSV: 名入れ and のし columns, in its one read.
    client
        .post_form(
            &format!("/orders/{order}/transition"),
            &[("event", "start_preparing")],
        )
        .await
        .expect_redirect(&format!("/orders/{order}"));
    client.get("/orders/export").await.expect(200);
    let before = bo.ledger_len().await;
    let res = client
        .post_form(
            "/orders/export",
            &[
                ("state", "preparing"),
                ("from", ""),
                ("to", ""),
                ("reason", "名前旗の刺繍手配"),
            ],
        )
        .await;
    res.expect(200);
    let csv = res.text.trim_start_matches('\u{feff}');
    let head = csv.lines().next().unwrap();
    assert!(head.ends_with("品名,名入れ,のし"), "{head}");
    let row = csv.lines().find(|l| l.contains(&number)).unwrap();
    assert!(row.contains("名前旗 金襴 中: 蒼太郎"), "{row}");
    assert!(
        row.contains("今治タオル ギフトセット: 内祝 / 鳩山"),
        "{row}"
    );
    let reads = staff_reads(&bo.ledger_events_since(before).await);
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(
        reads[0].fields,
        vec![
            "shipments.name".to_owned(),
            "shipments.address".to_owned(),
            "shipments.phone".to_owned(),
            "order_items.personalisation".to_owned(),
            "order_items.noshi".to_owned(),
        ]
    );
    assert_eq!(reads[0].reason.as_deref(), Some("名前旗の刺繍手配"));
}

/// Japanese screens show Japanese labels, not stored codes: the ledger's actions and fields, the
/// staff log's actions and details; a page that does not exist is the back office's own 404.
async fn japanese_screens_and_the_back_offices_own_404(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("labels.buyer@example.jp").await;
    let (order, number) = bo.order(&customer).await;
    let (_owner, client) = bo.member(Role::Owner).await;
    client.get(&format!("/orders/{order}")).await.expect(200);
    client
        .post_form(
            &format!("/orders/{order}/transition"),
            &[("event", "start_preparing")],
        )
        .await
        .expect_redirect(&format!("/orders/{order}"));

    let ledger = client.get(&format!("/ledger?customer={customer}")).await;
    ledger.expect(200);
    let actions = ledger.texts_of("#ledger td.action");
    assert!(actions.iter().any(|a| a == "閲覧（伏せ字）"), "{actions:?}");
    let fields = ledger.texts_of("#ledger td.fields").join(" ");
    assert!(fields.contains("購入者の氏名"), "{fields}");
    assert!(!ledger.text.contains("read_masked") && !ledger.text.contains("orders.buyer_name"));

    let log = client.get("/staff-log").await;
    log.expect(200);
    let actions = log.texts_of("#staff-log td.action");
    assert!(actions.iter().any(|a| a == "発送準備開始"), "{actions:?}");
    let details = log.texts_of("#staff-log td.detail").join(" ");
    assert!(
        details.contains(&format!("注文番号：{number}")),
        "{details}"
    );
    assert!(details.contains("変更後：発送準備中"), "{details}");
    assert!(!log.text.contains("{&quot;") && !log.text.contains("\"order_number\""));

    for path in [
        "/no-such-page",
        "/orders/0190a0a0-0000-7000-8000-00000000beef",
    ] {
        let res = client.get(path).await;
        res.expect(404);
        let title = res.text_of("title").unwrap();
        assert!(title.contains("管理画面"), "{path}: {title}");
        assert!(res.has("header.bo"), "{path}");
        assert!(res.text_of("h1").unwrap().contains("見つかりません"));
    }
    // Visitors too (without a session): the back office's page, nothing else.
    let visitor = bo.client();
    let res = visitor.get("/no-such-page").await;
    res.expect(404);
    assert!(res.text_of("title").unwrap().contains("管理画面"));
}

/// Each back-office step of an order mails the customer, in the language they ordered in, one
/// language only: 入金確認, 発送 (with the tracking number, which the ship action requires and
/// the order page then shows), 返金, キャンセル. Whom to write to is a recorded read.
async fn order_steps_mail_the_customer_in_their_language(backend: Backend) {
    const TO: &str = "hanako.hatoyama@example.jp";
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("steps.buyer@example.jp").await;
    let (bank, bank_no) = bo
        .order_paid_by(&customer, mamori_domain::PaymentMethod::BankTransfer)
        .await;
    let (cod, cod_no) = bo.order(&customer).await;
    bo.store()
        .set_order_mail_lang(&cod, mamori_domain::Language::En)
        .await
        .unwrap();
    let (operator, client) = bo.member(Role::Manager).await;
    let step = |order: &str, event: &str, tracking: Option<&str>| {
        let mut fields = vec![("event", event.to_owned())];
        if let Some(t) = tracking {
            fields.push(("tracking", t.to_owned()));
        }
        let client = &client;
        let path = format!("/orders/{order}/transition");
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client.post_form(&path, &f).await
        }
    };
    let state = |order: String| {
        let store = bo.store().clone();
        async move { store.order_header(&order).await.unwrap().unwrap().state }
    };

    // 入金確認.
    let before = bo.ledger_len().await;
    step(&bank, "payment_confirmed", None)
        .await
        .expect_redirect(&format!("/orders/{bank}"));
    let subject = bo.wait_for_mail(TO, "ご入金を確認しました").await;
    assert_eq!(
        subject.replace(' ', ""),
        format!("【守り商店】ご入金を確認しました（注文番号{bank_no}）")
    );
    let text = bo.mail_text(TO, "ご入金を確認しました").await;
    assert!(text.starts_with("鳩山 花子 様"), "{text}");
    assert!(!text.contains("Dear"), "{text}");
    let reads = staff_reads(&bo.ledger_events_since(before).await);
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].principal, Principal::Staff(operator.id.clone()));
    assert_eq!(reads[0].purpose, "backoffice.orders.mail");
    assert_eq!(
        reads[0].fields,
        vec![
            "orders.buyer_name".to_owned(),
            "orders.buyer_email".to_owned()
        ]
    );

    // 発送: the tracking number is required, then mailed and shown.
    step(&bank, "start_preparing", None).await;
    assert!(client
        .get(&format!("/orders/{bank}"))
        .await
        .has("#tracking"));
    step(&bank, "ship", None).await;
    let page = client.get(&format!("/orders/{bank}")).await;
    assert!(
        page.text_of("#error").unwrap().contains("伝票番号"),
        "{:?}",
        page.text_of("#error")
    );
    assert_eq!(state(bank.clone()).await.as_str(), "preparing");
    step(&bank, "ship", Some("１２３４－５６７８－９０１２"))
        .await
        .expect_redirect(&format!("/orders/{bank}"));
    assert_eq!(state(bank.clone()).await.as_str(), "shipped");
    let text = bo.mail_text(TO, "商品を発送しました").await;
    assert!(
        text.contains("お問い合わせ伝票番号：1234-5678-9012"),
        "{text}"
    );
    let page = client.get(&format!("/orders/{bank}")).await;
    assert_eq!(page.text_of("td.tracking").unwrap(), "1234-5678-9012");

    // 返金.
    client
        .post_form(&format!("/orders/{bank}/refund"), &[("confirm", "yes")])
        .await
        .expect_redirect(&format!("/orders/{bank}"));
    let text = bo.mail_text(TO, "ご返金の手続きをしました").await;
    let total = bo.store().order_header(&bank).await.unwrap().unwrap().total;
    assert!(
        text.contains(&format!("ご返金額：{}", mamori_domain::Yen(total))),
        "{text}"
    );

    // キャンセル, to a customer who ordered in English: English only.
    client
        .post_form(&format!("/orders/{cod}/cancel"), &[])
        .await
        .expect_redirect(&format!("/orders/{cod}"));
    let subject = bo.wait_for_mail(TO, "cancelled").await;
    assert_eq!(
        subject.replace(' ', ""),
        format!("[守り商店]Yourorderhasbeencancelled(order{cod_no})")
    );
    let text = bo.mail_text(TO, "cancelled").await;
    assert!(text.starts_with("Dear 鳩山 花子,"), "{text}");
    assert!(
        !text.contains("キャンセル") && !text.contains("様"),
        "{text}"
    );
    assert_eq!(bo.mails_to(TO), 4, "one mail per step");
}

/// Issue: store pickup used the delivery steps and wording (発送 → 配達完了) and its mail spoke of
/// delivery; it needs 受取準備完了 with a mail naming the store and the amount to pay.
async fn store_pickup_is_made_ready_not_shipped(backend: Backend) {
    const TO: &str = "hanako.hatoyama@example.jp";
    let bo = TestBackoffice::start(backend).await;
    bo.store()
        .settings_put(
            mamori_web::settings::keys::PICKUP_PLACE,
            &serde_json::json!(
                "守り商店 丸の内店\n東京都千代田区丸の内1-1-1\n営業時間 10:00〜19:00"
            )
            .to_string(),
            bo.now(),
            None,
        )
        .await
        .unwrap();
    let customer = bo.customer("pickup.buyer@example.jp").await;
    let (order, number) = bo
        .order_paid_by(&customer, mamori_domain::PaymentMethod::StorePickup)
        .await;
    let (_, client) = bo.member(Role::Manager).await;
    let path = format!("/orders/{order}");
    let page = client.get(&path).await;
    assert_eq!(
        page.text_of("#event-start_preparing").unwrap(),
        "受取準備開始"
    );
    client
        .post_form(
            &format!("{path}/transition"),
            &[("event", "start_preparing")],
        )
        .await
        .expect_redirect(&path);
    let page = client.get(&path).await;
    assert_eq!(page.text_of("#event-ship").unwrap(), "受取準備完了");
    assert!(
        !page.text.contains("発送"),
        "no shipping words for a pickup order"
    );
    client
        .post_form(&format!("{path}/transition"), &[("event", "ship")])
        .await
        .expect_redirect(&path);
    let subject = bo.wait_for_mail(TO, "ご用意ができました").await;
    assert!(subject.contains(&number), "{subject}");
    let text = bo.mail_text(TO, "ご用意ができました").await;
    let total = bo
        .store()
        .order_header(&order)
        .await
        .unwrap()
        .unwrap()
        .total;
    for part in [
        "東京都千代田区丸の内1-1-1".to_owned(),
        "営業時間 10:00〜19:00".to_owned(),
        format!("お受け取り時のお支払い：{}", mamori_domain::Yen(total)),
    ] {
        assert!(text.contains(&part), "{part}: {text}");
    }
    assert!(!text.contains("発送") && !text.contains("配達"), "{text}");
    let page = client.get(&path).await;
    assert_eq!(
        page.text_of("#event-confirm_delivery").unwrap(),
        "受け渡し完了"
    );
    assert!(
        page.text.contains("受取準備完了"),
        "the state reads as pickup"
    );
    client
        .post_form(
            &format!("{path}/transition"),
            &[("event", "confirm_delivery")],
        )
        .await
        .expect_redirect(&path);
    assert_eq!(
        bo.store()
            .order_header(&order)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "delivered"
    );
}

/// Issue: a card order waiting for payment (declined or abandoned) offered 入金確認. Only the
/// provider confirms a card payment; staff can cancel the order instead.
async fn card_orders_are_not_marked_paid_by_hand(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("card.buyer@example.jp").await;
    let (order, _) = bo
        .order_paid_by(&customer, mamori_domain::PaymentMethod::Card)
        .await;
    let (_, client) = bo.member(Role::Owner).await;
    let path = format!("/orders/{order}");
    let page = client.get(&path).await;
    assert!(
        !page.has("#event-payment_confirmed"),
        "no 入金確認 for a card order"
    );
    assert!(page.has("#cancel"));
    client
        .post_form(
            &format!("{path}/transition"),
            &[("event", "payment_confirmed")],
        )
        .await;
    assert_eq!(
        bo.store()
            .order_header(&order)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "pending_payment"
    );
    let page = client.get(&path).await;
    assert!(
        page.text_of("#error")
            .unwrap_or_default()
            .contains("入金確認"),
        "{:?}",
        page.text_of("#error")
    );
    // A bank transfer is still confirmed by hand.
    let (bank, _) = bo
        .order_paid_by(&customer, mamori_domain::PaymentMethod::BankTransfer)
        .await;
    assert!(client
        .get(&format!("/orders/{bank}"))
        .await
        .has("#event-payment_confirmed"));
}

/// Issue: a product could not be created without an English name. Created with the Japanese name
/// only, it is listed, shown under its Japanese name on English pages and found by search.
async fn products_are_created_without_an_english_name(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let (_, client) = bo.member(Role::Operator).await;
    client
        .post_form(
            "/products",
            &[
                ("sku", "PT-1099"),
                ("category_id", "cat-parts"),
                ("name_ja", "ＬＥＤ電球 60W形"),
                ("name_en", ""),
                ("description_ja", "昼白色の電球です。"),
                ("description_en", ""),
                ("price_incl", "980"),
                ("tax_rate", "standard"),
                ("stock", "10"),
                ("active", "1"),
            ],
        )
        .await
        .expect(303);
    let row = bo.store().product_by_sku("PT-1099").await.unwrap().unwrap();
    assert_eq!(row.name_ja, "ＬＥＤ電球 60W形");
    assert_eq!(row.name_en, "");
    assert_eq!(row.name_for(true), "ＬＥＤ電球 60W形");
    let found = bo.store().search_products("led電球", 0, 10).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].sku, "PT-1099");
    let list = client.get("/products").await;
    assert!(list.text.contains("ＬＥＤ電球 60W形"));
}

/// Merchants look a customer up by name or phone: the list shows the matches masked.
async fn customers_are_searched_by_name_and_phone(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let one = bo.customer("one@example.jp").await;
    let (_, client) = bo.member(Role::Support).await;
    for q in ["山田 花子", "山田", "090-1234-5678"] {
        let page = client
            .get(&format!(
                "/customers?q={}",
                utf8_percent_encode(q, NON_ALPHANUMERIC)
            ))
            .await;
        page.expect(200);
        let links = page.texts_of("a.customer-link");
        assert_eq!(links, std::slice::from_ref(&one), "{q}");
        assert!(
            page.text_of("#customers").unwrap().contains("山田 **")
                && !page.text_of("#customers").unwrap().contains("花子"),
            "masked"
        );
    }
    let page = client.get("/customers?q=%E4%BD%90%E8%97%A4").await;
    assert!(page.has("#problem"), "nobody named 佐藤");
}

both_backends!(
    customers_are_searched_by_name_and_phone,
    products_are_created_without_an_english_name,
    store_pickup_is_made_ready_not_shipped,
    card_orders_are_not_marked_paid_by_hand,
    order_steps_mail_the_customer_in_their_language,
    japanese_screens_and_the_back_offices_own_404,
    gifts_are_shown_to_who_makes_them_on_the_record,
    card_refund_and_cancel_go_through_the_provider,
    reveal_is_recorded_once_with_its_reason,
    export_records_exactly_what_left,
    orders_follow_the_state_machine,
    products_images_and_the_staff_log,
    settings_are_validated,
    shipping_rates_are_set_by_prefecture,
    partial_refunds_are_confirmed_capped_and_mailed,
    carrier_files_carry_the_sender_and_the_cod_amount,
);
