//! The back office's own static files: its script (double-submit guard, WebAuthn ceremonies,
//! image upload) and its stylesheet, compiled into the binary and served under content-hashed
//! names from `/static/` (the shared stylesheet stays under mamori-web's `/assets/`).

use std::sync::LazyLock;

use axum::{
    extract::Path,
    response::{IntoResponse, Response},
};
use http::{header, HeaderValue};
use mamori_guard::inventory::ScriptEntry;
use mamori_web::{
    errors::AppError,
    security::{PagePattern, ScriptHash},
};
use sha2::{Digest, Sha256};

const SCRIPT: &str = include_str!("../assets/backoffice.js");
const STYLESHEET: &str = include_str!("../assets/backoffice.css");

fn hashed(name: &str, ext: &str, body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    format!("/static/{name}-{}.{ext}", &hex::encode(digest)[..16])
}

/// Where the pages find the files.
#[derive(Debug, Clone)]
pub struct AssetPaths {
    /// The script's path (`/static/backoffice-<hash>.js`).
    pub js: &'static str,
    /// The stylesheet's path (`/static/backoffice-<hash>.css`).
    pub css: &'static str,
    /// The script's Subresource Integrity value (`sha384-…`), also its inventory digest.
    pub js_integrity: &'static str,
}

static JS_PATH: LazyLock<String> = LazyLock::new(|| hashed("backoffice", "js", SCRIPT));
static CSS_PATH: LazyLock<String> = LazyLock::new(|| hashed("backoffice", "css", STYLESHEET));
static JS_INTEGRITY: LazyLock<String> =
    LazyLock::new(|| ScriptHash::of(SCRIPT.as_bytes()).source());

/// The back office's script as an entry of the script inventory (PCI DSS 6.4.3). The back
/// office's own CSP stays nonce-based (the owner's step-up that approves inventory changes must
/// not depend on the inventory); the tag carries the digest as `integrity`.
pub fn inventory_entry() -> ScriptEntry {
    ScriptEntry {
        url: "/static/backoffice.js".to_owned(),
        site: mamori_store::script_site::BACKOFFICE,
        sha384: ScriptHash::of(SCRIPT.as_bytes()),
        pages: vec![PagePattern::all()],
        justification: "二重送信の防止、パスキーの登録と認証、商品画像のアップロード / \
                        Double-submit guard, passkey ceremonies, product image upload"
            .to_owned(),
    }
}

/// The current paths.
pub fn paths() -> AssetPaths {
    AssetPaths {
        js: JS_PATH.as_str(),
        css: CSS_PATH.as_str(),
        js_integrity: JS_INTEGRITY.as_str(),
    }
}

/// `GET /static/{file}`: the script or the stylesheet under its hashed name, cached for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    let path = format!("/static/{file}");
    let (ctype, body) = if path == *JS_PATH {
        ("text/javascript; charset=utf-8", SCRIPT)
    } else if path == *CSS_PATH {
        ("text/css; charset=utf-8", STYLESHEET)
    } else {
        return AppError::NotFound.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(ctype)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}
