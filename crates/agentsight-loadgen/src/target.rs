//! Parsing and validation of the benchmark target URL.
//!
//! The load generator must never send traffic anywhere but this machine, so
//! every target is checked here before a single connection is opened: the
//! host has to be a loopback IP literal (`127.0.0.0/8`, `::1`) or the name
//! `localhost`, and a `localhost` name is resolved once and must resolve to
//! loopback addresses only. Workers then connect to the resolved
//! [`SocketAddr`] directly, so no later lookup can redirect them.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result, bail};
use hyper::Uri;

/// A validated, resolved loopback target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The socket address every worker connects to (always loopback).
    pub addr: SocketAddr,
    /// Value of the `Host` header, e.g. `127.0.0.1:8000`.
    pub authority: String,
    /// Path prefix from the URL without a trailing slash (usually empty).
    pub base_path: String,
    /// The URL as given, for reports.
    pub url: String,
}

impl Target {
    /// Full request path for an API path such as `/api/track/`.
    pub fn path(&self, api_path: &str) -> String {
        format!("{}{}", self.base_path, api_path)
    }
}

/// The host part of a target URL after syntactic checks, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// A loopback IP literal.
    Ip(IpAddr),
    /// The name `localhost`, which still has to be resolved.
    Localhost,
}

/// Parsed pieces of a target URL, not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedUrl {
    host: Host,
    port: u16,
    authority: String,
    base_path: String,
}

/// Error text shared by every refusal, so the rule is always stated.
const LOOPBACK_RULE: &str = "agentsight-loadgen only sends traffic to loopback (127.0.0.0/8, ::1, localhost)";

/// Whether `ip` is a loopback address, counting IPv4-mapped IPv6 forms.
fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Parses `url` and checks scheme and host without touching the network.
fn parse_url(url: &str) -> Result<ParsedUrl> {
    let uri: Uri = url.parse().with_context(|| format!("invalid --url {url:?}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => bail!(
            "unsupported scheme {other:?} in --url {url:?}: only plain http:// is supported \
             (benchmarks run against a local server)"
        ),
        None => bail!("--url {url:?} needs a scheme, e.g. http://127.0.0.1:8000"),
    }
    let authority = uri.authority().with_context(|| format!("--url {url:?} has no host"))?;
    if authority.as_str().contains('@') {
        bail!("--url {url:?} must not contain user information");
    }
    let raw_host = authority.host();
    let bare_host = raw_host.trim_start_matches('[').trim_end_matches(']');
    let host = if let Ok(ip) = bare_host.parse::<IpAddr>() {
        if !is_loopback(ip) {
            bail!("refusing to target {raw_host}: {LOOPBACK_RULE}");
        }
        Host::Ip(ip)
    } else if bare_host.eq_ignore_ascii_case("localhost") || bare_host.eq_ignore_ascii_case("localhost.") {
        Host::Localhost
    } else {
        bail!("refusing to target host {raw_host:?}: {LOOPBACK_RULE}");
    };
    if uri.query().is_some() {
        bail!("--url {url:?} must not contain a query string");
    }
    Ok(ParsedUrl {
        host,
        port: authority.port_u16().unwrap_or(80),
        authority: authority.as_str().to_owned(),
        base_path: uri.path().trim_end_matches('/').to_owned(),
    })
}

/// Parses, validates and resolves a target URL.
///
/// Fails with a clear message for anything that is not plain HTTP to a
/// loopback host, including a `localhost` that resolves elsewhere.
pub async fn resolve(url: &str) -> Result<Target> {
    let parsed = parse_url(url)?;
    let addr = match parsed.host {
        Host::Ip(ip) => SocketAddr::new(ip, parsed.port),
        Host::Localhost => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host(("localhost", parsed.port))
                .await
                .context("could not resolve localhost")?
                .collect();
            if let Some(bad) = addrs.iter().find(|a| !is_loopback(a.ip())) {
                bail!(
                    "refusing to target localhost: it resolves to non-loopback {}; {LOOPBACK_RULE}",
                    bad.ip()
                );
            }
            // Prefer IPv4 when both families resolve; servers usually bind 127.0.0.1.
            addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or_else(|| addrs.first())
                .copied()
                .context("localhost resolved to no address")?
        }
    };
    Ok(Target { addr, authority: parsed.authority, base_path: parsed.base_path, url: url.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_literals() {
        for url in [
            "http://127.0.0.1:8000",
            "http://127.0.0.1:8000/",
            "http://127.1.2.3:9",
            "http://[::1]:8000",
            "http://[::ffff:127.0.0.1]:8000",
            "http://localhost:8000",
            "http://LOCALHOST",
        ] {
            assert!(parse_url(url).is_ok(), "{url} should be accepted");
        }
    }

    #[test]
    fn refuses_other_hosts() {
        for url in [
            "http://10.0.0.1:8000",
            "http://192.168.1.10",
            "http://172.16.0.1",
            "http://8.8.8.8",
            "http://0.0.0.0:8000",
            "http://[::]:8000",
            "http://[2001:db8::1]:80",
            "http://example.com",
            "http://localhost.example.com",
            "http://foo.localhost",
            "http://128.0.0.1",
        ] {
            let err = parse_url(url).expect_err(url).to_string();
            assert!(err.contains("refusing"), "{url}: {err}");
        }
    }

    #[test]
    fn refuses_bad_urls() {
        for url in [
            "https://127.0.0.1",
            "127.0.0.1:8000",
            "http://user:pw@127.0.0.1",
            "http://127.0.0.1/?a=b",
            "not a url",
        ] {
            assert!(parse_url(url).is_err(), "{url} should be refused");
        }
    }

    #[test]
    fn keeps_port_authority_and_prefix() {
        let p = parse_url("http://127.0.0.1:8123/prefix/").expect("valid");
        assert_eq!(p.port, 8123);
        assert_eq!(p.authority, "127.0.0.1:8123");
        assert_eq!(p.base_path, "/prefix");
        let p = parse_url("http://[::1]").expect("valid");
        assert_eq!(p.port, 80);
        assert_eq!(p.base_path, "");
        assert_eq!(p.host, Host::Ip("::1".parse().expect("ip")));
    }

    #[tokio::test]
    async fn resolves_localhost_to_loopback() {
        let t = resolve("http://localhost:8000").await.expect("localhost");
        assert!(t.addr.ip().is_loopback());
        assert_eq!(t.addr.port(), 8000);
        assert_eq!(t.path("/healthz"), "/healthz");
    }
}
