//! A card order whose only payment attempt was declined: the provider refuses to cancel a
//! declined payment, so the back office takes the attempt as closed and cancels the order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestBackoffice};
use mamori_pay::{url::Url, CreatePayment, PaymentStatus};
use mamori_staff::Role;
use mamori_testkit::both_backends;

async fn a_declined_card_order_can_be_cancelled(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("declined.buyer@example.jp").await;
    let psp = bo.state.psp.clone();
    let back = Url::parse(&format!("{}/", bo.base_url)).unwrap();
    let (order, number) = bo
        .order_paid_by(&customer, mamori_domain::PaymentMethod::Card)
        .await;
    let total = bo
        .store()
        .order_header(&order)
        .await
        .unwrap()
        .unwrap()
        .total;
    let created = psp
        .create_payment(&CreatePayment {
            order_ref: number.clone(),
            amount_jpy: total,
            description: "守り商店".into(),
            return_url: back.clone(),
            cancel_url: back,
            idempotency_key: format!("pay-{number}"),
        })
        .await
        .unwrap();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(created.redirect_url.clone())
        .form(&[
            ("number", "4000000000000002"),
            ("expiry", "12/34"),
            ("cvv", "123"),
            ("name", "HANAKO HATOYAMA"),
        ])
        .send()
        .await
        .unwrap();
    assert!(matches!(
        psp.lookup(&created.payment_id).await.unwrap().status,
        PaymentStatus::Failed { .. }
    ));
    assert!(
        psp.cancel(&created.payment_id).await.is_err(),
        "the provider refuses to cancel a declined payment"
    );
    // The shop never heard of the decline (no return, no webhook): the attempt is still open here.
    bo.store()
        .payment_upsert(&mamori_store::model::PaymentRow {
            order_id: order.clone(),
            provider: "sandbox".into(),
            payment_id: created.payment_id.clone(),
            status: mamori_domain::PaymentAttemptState::Pending,
            amount: total,
            brand: None,
            last4: None,
            created_at: 1,
            updated_at: 1,
        })
        .await
        .unwrap();
    let (_, client) = bo.member(Role::Owner).await;
    client
        .post_form(&format!("/orders/{order}/cancel"), &[])
        .await
        .expect_redirect(&format!("/orders/{order}"));
    assert_eq!(
        bo.store()
            .order_header(&order)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "cancelled"
    );
    let attempts = bo.store().payments_of_order(&order).await.unwrap();
    assert_eq!(
        attempts[0].status.as_str(),
        "failed",
        "recorded as the provider has it"
    );
}

both_backends!(a_declined_card_order_can_be_cancelled);
