//! What every page shares: the layout context for `templates/base.html`, rendering, and the
//! crate's own stylesheet.

use std::sync::LazyLock;

use axum::{
    extract::{FromRequestParts, Path},
    response::{Html, IntoResponse, Response},
};
use http::{header, request::Parts, HeaderValue};
use sha2::{Digest, Sha256};

use crate::{errors::AppError, i18n::Lang, i18n::Msg, security::CspNonce};

/// The stylesheet's bytes, compiled into the binary so that no file on disk can be altered to
/// change what customers get.
const STYLESHEET: &str = include_str!("../assets/mamori.css");

/// The stylesheet's public path: its name carries a hash of its content, so it can be cached for
/// a year and a new build is still fetched at once.
pub static STYLESHEET_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(STYLESHEET.as_bytes());
    format!("/assets/mamori-{}.css", &hex::encode(digest)[..16])
});

/// The pages' script (the double-submit guard), compiled into the binary like the stylesheet.
pub const SCRIPT: &str = include_str!("../assets/mamori.js");

/// The script's public path, hashed like the stylesheet's.
pub static SCRIPT_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(SCRIPT.as_bytes());
    format!("/assets/mamori-{}.js", &hex::encode(digest)[..16])
});

/// The script's name in the script inventory (stable across builds, unlike its hashed path).
pub const SCRIPT_INVENTORY_URL: &str = "/assets/mamori.js";

/// The script's Subresource Integrity value (`sha384-…`): the `integrity` attribute of its tag,
/// and the hash source the inventory puts in the CSP of the pages it may run on.
pub static SCRIPT_INTEGRITY: LazyLock<String> =
    LazyLock::new(|| crate::security::ScriptHash::of(SCRIPT.as_bytes()).source());

/// The layout's context: every page template holds one as its `layout` field.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The language chosen for this request.
    pub lang: Lang,
    /// The CSP nonce of this response; `None` leaves out the page's script.
    pub nonce: Option<CspNonce>,
    /// The stylesheet's path.
    pub stylesheet: &'static str,
    /// The script's path.
    pub script: &'static str,
    /// The script's `integrity` value.
    pub script_integrity: &'static str,
}

impl Layout {
    /// A layout for `lang` with `nonce`.
    pub fn new(lang: Lang, nonce: Option<CspNonce>) -> Self {
        Self {
            lang,
            nonce,
            stylesheet: STYLESHEET_PATH.as_str(),
            script: SCRIPT_PATH.as_str(),
            script_integrity: SCRIPT_INTEGRITY.as_str(),
        }
    }

    /// A message in the page's language (for templates: `{{ layout.msg(Msg::SiteName) }}`).
    pub fn msg(&self, msg: Msg) -> &'static str {
        self.lang.t(msg)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Layout {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_headers(&parts.headers);
        let nonce = parts.extensions.get::<CspNonce>().cloned();
        if nonce.is_none() {
            // A page rendered outside the security layer would carry no CSP at all.
            tracing::error!("page rendered without the security headers layer");
            return Err(AppError::Internal);
        }
        Ok(Layout::new(lang, nonce))
    }
}

/// Renders a template to an HTML response, or to the 500 page if rendering fails.
pub fn render<T: askama::Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            // Template errors name the template and the failing expression, never a value.
            tracing::error!(error = %err, "template rendering failed");
            AppError::Internal.into_response()
        }
    }
}

/// Serves the stylesheet and the script under their hashed names (route: `/assets/{file}`).
pub async fn serve_asset(Path(file): Path<String>) -> Response {
    let path = format!("/assets/{file}");
    let (body, kind) = if path == *STYLESHEET_PATH {
        (STYLESHEET, "text/css; charset=utf-8")
    } else if path == *SCRIPT_PATH {
        (SCRIPT, "text/javascript; charset=utf-8")
    } else {
        return AppError::NotFound.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}
