//! Requests that come through a reverse proxy (`--trusted-proxy`).
//!
//! A proxy that terminates TLS tells the server who the client is and how it connected in
//! `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host`. Anyone can send those headers,
//! so they are believed only when the TCP peer is one of the configured trusted proxies; from
//! any other peer [`forwarded`] removes them before the request goes further, so no handler can
//! read a spoofed one.
//!
//! * The client's address (the sign-in limiter's key, the logs) is the TCP peer, or, from a
//!   trusted proxy, the right-most address of `X-Forwarded-For` that is not itself a trusted
//!   proxy ([`TrustedProxies::client`]): the left part of the header is whatever the client
//!   sent and cannot be believed.
//! * The request came over https when a trusted proxy says so (the last `X-Forwarded-Proto`
//!   value: the one the nearest proxy set).
//! * Session cookies get `Secure` when the request came over https or the configured public URL
//!   is https ([`secure_cookies`]).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
pub use ipnet::IpNet;

use crate::app::{AppState, Store};
use crate::config::Settings;

/// `X-Forwarded-For`: the chain of client addresses, each proxy appending its peer.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`: `https` when the client reached the proxy over TLS.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: the host the client asked the proxy for.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Parses one `--trusted-proxy` value: an address (`10.0.0.5`, `::1`) or a network in CIDR
/// notation (`10.0.0.0/8`, `fd00::/8`). A network with host bits set (`10.0.0.5/8`) is refused:
/// it is more likely a typo than a wish to trust the whole network.
pub fn parse_trusted_proxy(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    if t.contains('/') {
        let net: IpNet = t.parse().map_err(|_| {
            format!("'{t}' is not an IP address or CIDR network (e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8)")
        })?;
        if net.addr() != net.network() {
            return Err(format!(
                "'{t}' has host bits set: write {} for the network, or {} for the one address",
                net.trunc(),
                net.addr()
            ));
        }
        Ok(net)
    } else {
        let ip: IpAddr = t.parse().map_err(|_| {
            format!("'{t}' is not an IP address or CIDR network (e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8)")
        })?;
        Ok(IpNet::from(ip.to_canonical()))
    }
}

/// The peers whose `X-Forwarded-*` headers are believed.
#[derive(Debug, Clone, Copy)]
pub struct TrustedProxies<'a>(pub &'a [IpNet]);

impl TrustedProxies<'_> {
    /// True when `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address) is a trusted
    /// proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: `peer` itself unless it is a trusted proxy; then the right-most
    /// address of `X-Forwarded-For` (every header line, in order) that is not a trusted proxy.
    /// When every listed address is trusted, the left-most one; when the header is missing,
    /// the peer. An entry that is not an address ends the walk: the client is the last trusted
    /// hop before it, since nothing to its left can be believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The last value of a comma-separated header over all its lines (what the nearest proxy set).
fn last_value(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())
        .map(str::to_string)
}

/// Who sent a request, as far as the server can tell (in the request's extensions once
/// [`forwarded`] ran; absent only when the server did not record the TCP peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the TCP peer, or what a trusted proxy reports.
    pub addr: IpAddr,
    /// A trusted proxy says the client connected over https.
    pub https: bool,
}

/// Middleware (outermost): works out the [`Client`] of the request, and removes
/// `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` unless the TCP peer is a
/// trusted proxy, so that what follows sees those headers only when they can be believed.
pub async fn forwarded<S: Store>(State(st): State<AppState<S>>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let proxies = TrustedProxies(&st.settings.trusted_proxies);
    let trusted = peer.is_some_and(|p| proxies.trusts(p));
    if !trusted {
        let h = req.headers_mut();
        for name in [X_FORWARDED_FOR, X_FORWARDED_PROTO, X_FORWARDED_HOST] {
            h.remove(name);
        }
    }
    if let Some(peer) = peer {
        let https = trusted
            && last_value(req.headers(), &X_FORWARDED_PROTO).is_some_and(|p| p.eq_ignore_ascii_case("https"));
        let client = Client { addr: proxies.client(peer, req.headers()), https };
        req.extensions_mut().insert(client);
    }
    next.run(req).await
}

/// True when session cookies should carry `Secure`: the request came over https (a trusted
/// proxy said so), or the server's public URL is https.
pub fn secure_cookies(settings: &Settings, ext: &Extensions) -> bool {
    settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")))
        || ext.get::<Client>().is_some_and(|c| c.https)
}

/// The scheme and host the client used, for links the server writes when no public URL is
/// configured: `X-Forwarded-Proto`/`X-Forwarded-Host` (present only from a trusted proxy, see
/// [`forwarded`]), else `http` and the `Host` header.
pub fn request_origin(headers: &HeaderMap) -> String {
    let https = last_value(headers, &X_FORWARDED_PROTO).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = last_value(headers, &X_FORWARDED_HOST)
        .or_else(|| headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string))
        .unwrap_or_else(|| "localhost".to_string());
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// Extractor: whether the session cookie set by this response should carry `Secure`
/// ([`secure_cookies`]).
#[derive(Debug, Clone, Copy)]
pub struct SecureCookies(pub bool);

impl<S: Store> FromRequestParts<AppState<S>> for SecureCookies {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState<S>) -> Result<Self, Self::Rejection> {
        Ok(SecureCookies(secure_cookies(&st.settings, &parts.extensions)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| parse_trusted_proxy(s).unwrap()).collect()
    }

    fn xff(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(X_FORWARDED_FOR, HeaderValue::from_str(l).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_trusted_proxy_is_an_address_or_a_network_without_host_bits() {
        assert_eq!(parse_trusted_proxy("10.0.0.5").unwrap().to_string(), "10.0.0.5/32");
        assert_eq!(parse_trusted_proxy(" 10.0.0.0/8 ").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_trusted_proxy("::1").unwrap().to_string(), "::1/128");
        assert_eq!(parse_trusted_proxy("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert_eq!(parse_trusted_proxy("::ffff:127.0.0.2").unwrap().to_string(), "127.0.0.2/32");
        let e = parse_trusted_proxy("10.0.0.5/8").unwrap_err();
        assert!(e.contains("10.0.0.0/8") && e.contains("host bits"), "{e}");
        for bad in ["", "proxy.example.com", "10.0.0.0/33", "10.0.0.256", "10.0.0.0/", "1.2.3.4:80"] {
            let e = parse_trusted_proxy(bad).unwrap_err();
            assert!(e.contains("not an IP address or CIDR network"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_peer_is_trusted_only_inside_a_configured_network() {
        let v = nets(&["127.0.0.2", "10.1.0.0/16", "fd00::/8"]);
        let t = TrustedProxies(&v);
        assert!(t.trusts(ip("127.0.0.2")));
        assert!(t.trusts(ip("::ffff:127.0.0.2")), "an IPv4-mapped peer is its IPv4 address");
        assert!(!t.trusts(ip("127.0.0.1")));
        assert!(t.trusts(ip("10.1.255.255")));
        assert!(!t.trusts(ip("10.2.0.1")));
        assert!(t.trusts(ip("fd12::1")));
        assert!(!t.trusts(ip("::1")));
        assert!(!TrustedProxies(&[]).trusts(ip("127.0.0.1")), "no proxy is trusted by default");
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_forwarded_address() {
        let v = nets(&["127.0.0.2", "10.0.0.0/8"]);
        let t = TrustedProxies(&v);
        let proxy = ip("127.0.0.2");
        // An untrusted peer: its header is whatever it wants, and ignored.
        assert_eq!(t.client(ip("203.0.113.9"), &xff(&["198.51.100.1"])), ip("203.0.113.9"));
        // Through the proxy: the address it appended, not what the client put in front.
        assert_eq!(t.client(proxy, &xff(&["1.1.1.1, 198.51.100.7"])), ip("198.51.100.7"));
        // A chain of trusted proxies is walked through.
        assert_eq!(t.client(proxy, &xff(&["6.6.6.6, 198.51.100.7, 10.0.0.3"])), ip("198.51.100.7"));
        // Several header lines read as one list, in order.
        assert_eq!(t.client(proxy, &xff(&["6.6.6.6", "198.51.100.7", "10.0.0.3"])), ip("198.51.100.7"));
        // Ports and brackets, IPv6, IPv4-mapped.
        assert_eq!(t.client(proxy, &xff(&["198.51.100.7:5123"])), ip("198.51.100.7"));
        assert_eq!(t.client(proxy, &xff(&["[2001:db8::1]:443"])), ip("2001:db8::1"));
        assert_eq!(t.client(proxy, &xff(&["::ffff:198.51.100.7"])), ip("198.51.100.7"));
        // Every hop trusted: the left-most; no header: the proxy itself.
        assert_eq!(t.client(proxy, &xff(&["10.0.0.1, 10.0.0.2"])), ip("10.0.0.1"));
        assert_eq!(t.client(proxy, &HeaderMap::new()), proxy);
        // Garbage stops the walk at the last trusted hop before it.
        assert_eq!(t.client(proxy, &xff(&["198.51.100.7, unknown"])), proxy);
        assert_eq!(t.client(proxy, &xff(&["unknown, 10.0.0.4"])), ip("10.0.0.4"));
    }

    #[test]
    fn the_last_forwarded_proto_and_host_make_the_origin() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1:8000"));
        assert_eq!(request_origin(&h), "http://127.0.0.1:8000");
        h.append(X_FORWARDED_PROTO, HeaderValue::from_static("http, https"));
        h.append(X_FORWARDED_HOST, HeaderValue::from_static("as.example.com"));
        assert_eq!(request_origin(&h), "https://as.example.com");
        assert_eq!(request_origin(&HeaderMap::new()), "http://localhost");
    }

    #[test]
    fn cookies_are_secure_over_forwarded_https_or_an_https_public_url() {
        let mut s = Settings::new("/tmp/x");
        let mut ext = Extensions::new();
        assert!(!secure_cookies(&s, &ext));
        ext.insert(Client { addr: ip("127.0.0.1"), https: false });
        assert!(!secure_cookies(&s, &ext));
        s.public_url = Some("HTTPS://as.example.com".into());
        assert!(secure_cookies(&s, &ext));
        s.public_url = Some("http://as.example.com".into());
        assert!(!secure_cookies(&s, &ext));
        ext.insert(Client { addr: ip("127.0.0.1"), https: true });
        assert!(secure_cookies(&s, &ext));
    }
}
