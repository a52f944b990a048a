//! The web dashboard: `web/dist` (built by Vite, committed) embedded in the binary and served
//! at `/`, so `cargo run` serves it with no Node installed.
//!
//! - `/assets/*`: the hashed bundles, cached for a year (`immutable`); a missing one is a 404,
//!   never the page (a stale page asking for an old hash must not get HTML as JavaScript).
//! - Every other path that is not the API (`/login`, `/agents/1`, `/share/<token>`, …) gets
//!   `index.html` with `Cache-Control: no-cache`: the SPA routes it in the browser.
//! - `/api/…`, `/healthz` and `/readyz` never reach here as pages: an unknown API path stays a JSON 404.
//!
//! Answers are gzipped when the client takes it. Without the `dashboard` feature every non-API
//! path is a JSON 404.

use axum::Router;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// True for paths that belong to the API, not the dashboard.
fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/healthz" || path == "/readyz"
}

#[cfg(feature = "dashboard")]
mod embedded {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::{IntoResponse, Response};

    /// The built dashboard.
    #[derive(rust_embed::Embed)]
    #[folder = "../../web/dist"]
    struct Dist;

    /// Hashed bundles never change under their name.
    const IMMUTABLE: &str = "public, max-age=31536000, immutable";
    /// The page is checked on every load, so a new build shows at once.
    const NO_CACHE: &str = "no-cache";

    /// The page's security policy: only this origin's scripts, styles (ECharts and the templates
    /// set inline styles), images (logos, attachments, data URLs for PNG export) and API.
    /// Share pages may be framed by the client's own site; the signed-in pages may not.
    fn csp(share: bool) -> String {
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
             form-action 'self'; frame-ancestors {}",
            if share { "*" } else { "'none'" }
        )
    }

    fn file(path: &str, cache: &'static str) -> Option<Response> {
        let f = Dist::get(path)?;
        let mime = f.metadata.mimetype().to_string();
        let mut res = (StatusCode::OK, f.data.into_owned()).into_response();
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&mime) {
            h.insert(header::CONTENT_TYPE, v);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        Some(res)
    }

    /// The file at `path` (no leading slash), or the page for an app route.
    pub(super) fn serve(path: &str) -> Option<Response> {
        if path.starts_with("assets/") {
            return file(path, IMMUTABLE);
        }
        let mut res = file("index.html", NO_CACHE)?;
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&csp(path.starts_with("share/"))) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        Some(res)
    }
}

/// The router's fallback: dashboard files and pages, JSON 404s for everything of the API.
async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_api(path) || !(method == Method::GET || method == Method::HEAD) {
        return ApiError::NotFound.into_response();
    }
    page(path.trim_start_matches('/'))
}

#[cfg(feature = "dashboard")]
fn page(path: &str) -> Response {
    embedded::serve(path).unwrap_or_else(|| ApiError::NotFound.into_response())
}

#[cfg(not(feature = "dashboard"))]
fn page(_path: &str) -> Response {
    ApiError::NotFound.into_response()
}

/// The fallback service of the main router (gzipped with the `dashboard` feature).
pub(crate) fn router() -> Router {
    let r = Router::new().fallback(fallback);
    #[cfg(feature = "dashboard")]
    let r = r.layer(tower_http::compression::CompressionLayer::new());
    r
}

#[cfg(test)]
mod tests {
    use super::is_api;

    #[test]
    fn api_paths_are_never_pages() {
        assert!(is_api("/api/"));
        assert!(is_api("/api/nope/"));
        assert!(is_api("/api"));
        assert!(is_api("/healthz"));
        assert!(!is_api("/apiary"));
        assert!(!is_api("/agents/1"));
        assert!(!is_api("/"));
    }
}
