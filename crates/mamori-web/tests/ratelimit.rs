//! Rate limits through the stack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{harness, req, send};
use http::{Method, StatusCode};

#[tokio::test]
async fn the_fourth_request_in_a_minute_gets_429_and_others_are_unaffected() {
    let h = harness();
    let me = [198, 51, 100, 1];
    for _ in 0..3 {
        let r = send(&h.app, req(Method::GET, "/limited").peer(me)).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = send(&h.app, req(Method::GET, "/limited").peer(me)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), "20");
    assert!(r.body.contains("アクセスが集中しています"), "{}", r.body);
    assert!(r.body.contains("Too many requests"));
    assert!(r.body.find("アクセスが集中").unwrap() < r.body.find("Too many").unwrap());
    assert!(r.body.contains("20"));

    // Another client is not affected.
    let other = send(&h.app, req(Method::GET, "/limited").peer([198, 51, 100, 2])).await;
    assert_eq!(other.status, StatusCode::OK);
    // Another route has its own budget.
    let page = send(&h.app, req(Method::GET, "/").peer(me)).await;
    assert_eq!(page.status, StatusCode::OK);

    // Twenty seconds later one more request fits, and only one.
    h.clock.advance(Duration::from_secs(20));
    assert_eq!(
        send(&h.app, req(Method::GET, "/limited").peer(me))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&h.app, req(Method::GET, "/limited").peer(me))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
