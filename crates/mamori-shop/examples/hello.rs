//! The baseline of the storefront benchmarks: a static "hello" axum handler, nothing else.
//! `cargo run --release -p mamori-shop --example hello -- 127.0.0.1:18090`

use std::net::SocketAddr;

use axum::{routing::get, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 18090)));
    let app = Router::new().route("/", get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}
