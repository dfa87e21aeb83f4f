//! A card order whose only payment attempt was declined: the provider refuses to cancel a
//! declined payment, so the back office takes the attempt as closed and cancels the order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestBackoffice};
use mamori_pay::PaymentStatus;
use mamori_staff::Role;
use mamori_testkit::both_backends;

async fn a_declined_card_order_can_be_cancelled(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let customer = bo.customer("declined.buyer@example.jp").await;
    let psp = bo.state.psp.clone();
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
    let payment_id = bo
        .sandbox_payment(&number, total, Some("4000000000000002"))
        .await;
    assert!(matches!(
        psp.lookup(&payment_id).await.unwrap().status,
        PaymentStatus::Failed { .. }
    ));
    assert!(
        psp.cancel(&payment_id).await.is_err(),
        "the provider refuses to cancel a declined payment"
    );
    // The shop never heard of the decline (no return, no webhook): the attempt is still open here.
    bo.record_payment(
        &order,
        &payment_id,
        total,
        mamori_domain::PaymentAttemptState::Pending,
    )
    .await;
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
