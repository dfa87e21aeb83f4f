//! The whole stack over a real TCP listener on 127.0.0.1:0, with hyper as the client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mamori_web::demo_router;
use tokio::net::{TcpListener, TcpStream};

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    // One connection per request, like separate page loads; HTTP/1.1 over real TCP.
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    drop(sender);
    driver.await.unwrap().unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_works_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = demo_router();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    // A public page with its headers and a nonce matching the script.
    let home = call(addr, Method::GET, "/", &[], "").await;
    assert_eq!(home.status, StatusCode::OK);
    let csp = home.headers["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(home
        .body
        .contains(&format!("<script nonce=\"{nonce}\" src=\"/assets/mamori-")));
    assert!(home.headers.contains_key("x-request-id"));

    // The form, then a same-origin post with its token.
    let form = call(addr, Method::GET, "/contact", &[], "").await;
    let cookie = form.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let marker = "name=\"_csrf\" value=\"";
    let token = form
        .body
        .split(marker)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let origin = format!("http://{addr}");
    let body = format!("_csrf={token}&message=%E3%81%93%E3%82%93%E3%81%AB%E3%81%A1%E3%81%AF");
    let form_headers = [
        ("cookie", cookie.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
        ("origin", origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let ok = call(addr, Method::POST, "/contact", &form_headers, &body).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("送信しました"));

    // The same post from another site is refused.
    let mut cross = form_headers;
    cross[3] = ("sec-fetch-site", "cross-site");
    let refused = call(addr, Method::POST, "/contact", &cross, &body).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // The real peer address feeds the rate limiter: the fourth call is refused.
    for _ in 0..3 {
        assert_eq!(
            call(addr, Method::GET, "/limited", &[], "").await.status,
            StatusCode::OK
        );
    }
    let limited = call(addr, Method::GET, "/limited", &[], "").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key(header::RETRY_AFTER));

    // A panic does not take the server down.
    let panic = call(addr, Method::GET, "/panic", &[], "").await;
    assert_eq!(panic.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        call(addr, Method::GET, "/", &[], "").await.status,
        StatusCode::OK
    );

    server.abort();
}
