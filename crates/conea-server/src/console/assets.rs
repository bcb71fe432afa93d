//! The console's stylesheet and script, embedded in the binary and served under a path
//! that carries a hash of their content (`/console/assets/console-<hash>.css`), so a
//! browser may keep them a year: a new build changes the path. Compression is the console
//! router's (gzip when the browser accepts it).

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

pub struct Asset {
    /// The file name with its content hash, e.g. `console-1a2b3c4d5e.css`.
    pub name: String,
    pub content_type: &'static str,
    pub body: &'static str,
}

impl Asset {
    fn new(stem: &str, ext: &str, content_type: &'static str, body: &'static str) -> Asset {
        let digest = Sha256::digest(body.as_bytes());
        let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
        Asset {
            name: format!("{stem}-{hash}.{ext}"),
            content_type,
            body,
        }
    }

    /// The path pages link to.
    pub fn path(&self) -> String {
        format!("/console/assets/{}", self.name)
    }
}

pub static CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "console",
        "css",
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    )
});

pub static JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "console",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    )
});

/// `GET /console/assets/{name}`: the asset of exactly this hashed name, cached for a year.
pub async fn serve(Path(name): Path<String>) -> Response {
    for asset in [&*CSS, &*JS] {
        if asset.name == name {
            let mut r = asset.body.into_response();
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
            h.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            return r;
        }
    }
    crate::http::error::ApiError::route_not_found(&format!("/console/assets/{name}"))
        .into_response()
}
