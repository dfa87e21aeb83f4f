//! Throughput of the stack: a page through every layer, a guarded form post, and the rate
//! limiter alone. `cargo bench -p mamori-web --bench stack`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{hint::black_box, net::SocketAddr, sync::Arc};

use axum::{body::Body, extract::ConnectInfo, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use http::{header, Method, Request};
use http_body_util::BodyExt;
use mamori_web::{
    clock::SystemClock,
    demo::demo_router,
    ratelimit::{RateLimit, RateLimiter},
};
use tower::ServiceExt;

fn request(method: Method, uri: &str, cookie: Option<&str>, body: Option<String>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "shop.example");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let mut req = b.body(Body::from(body.unwrap_or_default())).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 1))));
    req
}

async fn run(app: &Router, req: Request<Body>) -> (http::HeaderMap, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (headers, String::from_utf8(body.to_vec()).unwrap())
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = demo_router();

    c.bench_function("GET / through the whole stack", |b| {
        b.iter(|| rt.block_on(run(&app, request(Method::GET, "/", None, None))))
    });

    let (headers, page) = rt.block_on(run(&app, request(Method::GET, "/contact", None, None)));
    let cookie = headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    c.bench_function("POST /contact (session, CSRF, strict form)", |b| {
        b.iter(|| {
            let body = format!("_csrf={token}&message=hello");
            let (_, html) = rt.block_on(run(
                &app,
                request(Method::POST, "/contact", Some(&cookie), Some(body)),
            ));
            assert!(html.contains("送信しました"));
        })
    });

    let limiter = RateLimiter::new(
        RateLimit::per_minute(1_000_000),
        100_000,
        Arc::new(SystemClock),
    );
    let keys: Vec<String> = (0..50_000)
        .map(|i| format!("ip:10.0.{}.{}", i / 256, i % 256))
        .collect();
    let mut i = 0usize;
    c.bench_function("rate limiter check (50k keys)", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(limiter.check(&keys[i]).is_ok())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
