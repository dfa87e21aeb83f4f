//! Shared pieces of the integration tests: a shop-side webhook receiver (a
//! real axum server on loopback that runs `WebhookVerifier`), a sandbox
//! wired to it, and a browser-like client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use mamori_pay::secrecy::SecretString;
use mamori_pay::url::Url;
use mamori_pay::{
    spawn_sandbox, CreatePayment, CreatedPayment, HttpConnector, MemoryReplayGuard,
    PaymentConnector, SandboxConfig, SandboxHandle, WebhookError, WebhookEvent, WebhookRetry,
    WebhookVerifier,
};
use tokio::sync::mpsc;

pub const API_KEY: &str = "sk_sandbox_test_0123456789abcdef";
pub const WEBHOOK_SECRET: &str = "whsec_test_0123456789abcdef";

/// The short name the receiver answers with for each refusal.
pub fn refusal_code(e: &WebhookError) -> &'static str {
    match e {
        WebhookError::MissingHeader => "missing",
        WebhookError::MalformedHeader(_) => "malformed",
        WebhookError::BadSignature => "bad_signature",
        WebhookError::Stale { .. } => "stale",
        WebhookError::FromFuture { .. } => "future",
        WebhookError::Duplicate { .. } => "duplicate",
        WebhookError::MalformedBody(_) => "malformed_body",
        WebhookError::Guard(_) => "guard",
    }
}

/// What the receiver saw: each accepted event with its raw request.
pub struct Accepted {
    pub event: WebhookEvent,
    pub signature: String,
    pub body: Vec<u8>,
}

struct ReceiverState {
    verifier: WebhookVerifier,
    accepted: mpsc::UnboundedSender<Accepted>,
    fail_first: AtomicUsize,
    attempts: Arc<AtomicUsize>,
}

/// A shop-like webhook endpoint: 200 "accepted" or "duplicate", 400 with
/// the refusal code otherwise; the first `fail_first` requests get 503.
pub struct Receiver {
    pub url: Url,
    pub accepted: mpsc::UnboundedReceiver<Accepted>,
    pub attempts: Arc<AtomicUsize>,
    _server: tokio::task::JoinHandle<()>,
}

async fn receive(
    State(st): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    st.attempts.fetch_add(1, Ordering::SeqCst);
    if st
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later".into());
    }
    match st
        .verifier
        .verify_headers(&headers, &body, chrono::Utc::now())
        .await
    {
        Ok(event) => {
            let signature = headers
                .get(mamori_pay::SIGNATURE_HEADER)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let _ = st.accepted.send(Accepted {
                event,
                signature,
                body: body.to_vec(),
            });
            (StatusCode::OK, "accepted".into())
        }
        Err(e @ WebhookError::Duplicate { .. }) => (StatusCode::OK, refusal_code(&e).into()),
        Err(e) => (StatusCode::BAD_REQUEST, refusal_code(&e).into()),
    }
}

pub async fn spawn_receiver(fail_first: usize) -> Receiver {
    let (tx, rx) = mpsc::unbounded_channel();
    let attempts = Arc::new(AtomicUsize::new(0));
    let st = Arc::new(ReceiverState {
        verifier: WebhookVerifier::new(
            SecretString::from(WEBHOOK_SECRET.to_owned()),
            Arc::new(MemoryReplayGuard::default()),
        ),
        accepted: tx,
        fail_first: AtomicUsize::new(fail_first),
        attempts: attempts.clone(),
    });
    let app = Router::new()
        .route("/webhooks/payments", post(receive))
        .with_state(st);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver {
        url: Url::parse(&format!("http://{addr}/webhooks/payments")).unwrap(),
        accepted: rx,
        attempts,
        _server: server,
    }
}

impl Receiver {
    /// The next accepted event. The bound only keeps a broken run from
    /// hanging; nothing is asserted about how long delivery takes.
    pub async fn next(&mut self) -> Accepted {
        tokio::time::timeout(Duration::from_secs(60), self.accepted.recv())
            .await
            .expect("no webhook arrived")
            .expect("receiver closed")
    }
}

pub struct World {
    pub sandbox: SandboxHandle,
    pub receiver: Receiver,
    pub psp: HttpConnector,
    pub browser: reqwest::Client,
}

pub async fn world() -> World {
    world_with(0).await
}

pub async fn world_with(fail_first: usize) -> World {
    let receiver = spawn_receiver(fail_first).await;
    let mut config = SandboxConfig::new(SecretString::from(API_KEY.to_owned())).with_webhook(
        receiver.url.clone(),
        SecretString::from(WEBHOOK_SECRET.to_owned()),
    );
    config.webhook_retry = WebhookRetry {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        attempt_timeout: Duration::from_secs(10),
    };
    let sandbox = spawn_sandbox(config).await.unwrap();
    let psp = HttpConnector::new(
        sandbox.base_url.clone(),
        SecretString::from(API_KEY.to_owned()),
    )
    .unwrap();
    World {
        sandbox,
        receiver,
        psp,
        browser: browser(),
    }
}

/// A client that, like a browser's view of a redirect, lets the test look
/// at each 303 rather than follow it.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn order(order_ref: &str, amount: i64, key: &str) -> CreatePayment {
    CreatePayment {
        order_ref: order_ref.into(),
        amount_jpy: amount,
        description: "mamori 茶舗 ご注文".into(),
        return_url: Url::parse("https://shop.example/checkout/return").unwrap(),
        cancel_url: Url::parse("https://shop.example/checkout/cancel").unwrap(),
        idempotency_key: key.into(),
    }
}

impl World {
    pub async fn create(&self, order_ref: &str, amount: i64) -> CreatedPayment {
        self.psp
            .create_payment(&order(order_ref, amount, &format!("key-{order_ref}")))
            .await
            .unwrap()
    }

    /// Posts the hosted card form as a browser would.
    pub async fn pay(
        &self,
        created: &CreatedPayment,
        number: &str,
        expiry: &str,
        cvv: &str,
        name: &str,
    ) -> reqwest::Response {
        self.browser
            .post(created.redirect_url.clone())
            .form(&[
                ("number", number),
                ("expiry", expiry),
                ("cvv", cvv),
                ("name", name),
            ])
            .send()
            .await
            .unwrap()
    }
}

pub fn location(resp: &reqwest::Response) -> Url {
    assert_eq!(resp.status(), reqwest::StatusCode::SEE_OTHER);
    Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap()
}

pub fn query_payment_id(url: &Url) -> String {
    url.query_pairs()
        .find(|(k, _)| k == "payment_id")
        .map(|(_, v)| v.into_owned())
        .expect("payment_id in the redirect")
}
