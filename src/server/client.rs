//! Who the client is: its address (for throttling and logs) and the scheme it used.
//!
//! Without configuration the client is the TCP peer and forwarding headers are ignored: anyone
//! can write them. Behind a reverse proxy listed in `trusted_proxies`, the peer is that proxy,
//! so the client is taken from the one header the proxies are configured to write
//! (`proxy_header`: `X-Forwarded-For` by default, or `Forwarded`; the other is ignored, since a
//! client could send it through a proxy that does not overwrite it): walking the hops from the
//! right (nearest) end, the first address that is not itself a trusted proxy. Hops to its left
//! were written by the client or by proxies nobody vouches for, so they are never used. The
//! scheme comes from the nearest proxy's `X-Forwarded-Proto` (or `Forwarded: proto=`).

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Request extension: the client as worked out by [`client_info`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address; `None` when the server does not know its peer (in-process tests).
    pub ip: Option<IpAddr>,
    /// `http` or `https` as a trusted proxy reported it; `None` when no trusted proxy said.
    pub forwarded_proto: Option<String>,
}

/// Which forwarding header the trusted proxies write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For` and `X-Forwarded-Proto` (nginx, Caddy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=...;proto=...`.
    Forwarded,
}

impl std::str::FromStr for ProxyHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ProxyHeader::XForwardedFor),
            "forwarded" => Ok(ProxyHeader::Forwarded),
            other => Err(format!(
                "proxy_header: \"{other}\" is neither x-forwarded-for nor forwarded"
            )),
        }
    }
}

/// The proxies whose forwarding headers are believed, and the header they write.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Arc<Vec<IpNet>>,
    header: ProxyHeader,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self::with_header(nets, ProxyHeader::default())
    }

    pub fn with_header(nets: Vec<IpNet>, header: ProxyHeader) -> Self {
        TrustedProxies {
            nets: Arc::new(nets),
            header,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

/// Parses one `trusted_proxies` entry: an address (`10.0.0.7`, `::1`) or a network
/// (`10.0.0.0/8`, `fd00::/8`).
pub fn parse_proxy(entry: &str) -> Result<IpNet, String> {
    let e = entry.trim();
    e.parse::<IpNet>()
        .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("trusted_proxies: \"{e}\" is not an IP address or network like 10.0.0.0/8")
        })
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, seen on dual-stack sockets) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// One hop of a forwarding header as written: an address, possibly with a port, brackets or
/// quotes. `None` for what is not an address (`unknown`, obfuscated names, garbage).
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = s.parse::<SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.split(']').next()) {
        return inner.parse::<IpAddr>().ok().map(canonical);
    }
    // IPv4 with a port.
    s.rsplit_once(':')
        .and_then(|(h, _)| h.parse::<std::net::Ipv4Addr>().ok())
        .map(IpAddr::V4)
}

/// The hops of the configured header: `X-Forwarded-For` (all its lines, in order) or the
/// `for=` of each `Forwarded` element.
fn forwarded_hops(headers: &HeaderMap, which: ProxyHeader) -> Vec<String> {
    match which {
        ProxyHeader::XForwardedFor => headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        ProxyHeader::Forwarded => forwarded_elements(headers)
            .filter_map(|element| forwarded_param(&element, "for"))
            .collect(),
    }
}

/// The elements of every `Forwarded` line, in order.
fn forwarded_elements(headers: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::to_string)
}

fn forwarded_param(element: &str, name: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// The scheme the nearest proxy reported (the last value: a proxy that appends rather than
/// replaces leaves the client's own words to its left).
fn forwarded_proto(headers: &HeaderMap, which: ProxyHeader) -> Option<String> {
    let proto = match which {
        ProxyHeader::XForwardedFor => headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .map(|s| s.trim().to_ascii_lowercase()),
        ProxyHeader::Forwarded => forwarded_elements(headers)
            .filter_map(|e| forwarded_param(&e, "proto"))
            .last()
            .map(|v| v.trim_matches('"').to_ascii_lowercase()),
    }?;
    matches!(proto.as_str(), "http" | "https").then_some(proto)
}

/// Works out the client of a request that came from `peer`.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientInfo {
    let Some(peer) = peer.map(canonical) else {
        return ClientInfo {
            ip: None,
            forwarded_proto: None,
        };
    };
    if !trusted.contains(peer) {
        return ClientInfo {
            ip: Some(peer),
            forwarded_proto: None,
        };
    }
    // Rightmost untrusted hop; an unreadable hop ends the walk at the proxy that reported it.
    let mut client = peer;
    for hop in forwarded_hops(headers, trusted.header).iter().rev() {
        match parse_hop(hop) {
            Some(ip) if trusted.contains(ip) => client = ip,
            Some(ip) => {
                client = ip;
                break;
            }
            None => break,
        }
    }
    ClientInfo {
        ip: Some(client),
        forwarded_proto: forwarded_proto(headers, trusted.header),
    }
}

/// Middleware: puts the [`ClientInfo`] of each request in its extensions.
pub async fn client_info(trusted: TrustedProxies, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let info = resolve(peer, req.headers(), &trusted);
    req.extensions_mut().insert(info);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|e| parse_proxy(e).unwrap()).collect())
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn untrusted_peers_forged_headers_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
        ]);
        let got = resolve(ip("203.0.113.9"), &h, &proxies(&["10.0.0.0/8"]));
        assert_eq!(got.ip, ip("203.0.113.9"));
        assert_eq!(got.forwarded_proto, None);
        let none = resolve(ip("203.0.113.9"), &h, &TrustedProxies::default());
        assert_eq!(none.ip, ip("203.0.113.9"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        // The client forged "6.6.6.6"; the edge proxy appended the real client; an inner proxy
        // appended the edge proxy.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            resolve(ip("192.168.1.1"), &h, &trusted).ip,
            ip("198.51.100.7")
        );
        // Several header lines are one list.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7, 10.0.0.2"),
        ]);
        assert_eq!(resolve(ip("10.0.0.3"), &h, &trusted).ip, ip("198.51.100.7"));
        // Every hop trusted: the leftmost one is the client.
        let h = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.2")]);
        assert_eq!(resolve(ip("10.0.0.3"), &h, &trusted).ip, ip("10.1.1.1"));
        // Garbage ends the walk at the proxy that wrote it.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, nonsense, 10.0.0.2")]);
        assert_eq!(resolve(ip("10.0.0.3"), &h, &trusted).ip, ip("10.0.0.2"));
        // No header: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.3"), &HeaderMap::new(), &trusted).ip,
            ip("10.0.0.3")
        );
    }

    #[test]
    fn forwarded_header_ports_brackets_and_mapped_addresses() {
        let nets = vec![
            parse_proxy("127.0.0.1").unwrap(),
            parse_proxy("::1").unwrap(),
        ];
        let rfc = TrustedProxies::with_header(nets, ProxyHeader::Forwarded);
        let h = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https",
            ),
            // Sent by the client through a proxy that writes only Forwarded: ignored.
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        let got = resolve(ip("::1"), &h, &rfc);
        assert_eq!(got.ip, ip("2001:db8::7"));
        assert_eq!(got.forwarded_proto.as_deref(), Some("https"));
        let trusted = proxies(&["127.0.0.1", "::1"]);
        // And the other way round: X-Forwarded-For only, Forwarded ignored.
        assert_eq!(resolve(ip("::1"), &h, &trusted).ip, ip("9.9.9.9"));
        let h = headers(&[("x-forwarded-for", "198.51.100.7:5000")]);
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), &h, &trusted).ip,
            ip("198.51.100.7")
        );
        let h = headers(&[("x-forwarded-proto", "HTTPS")]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &h, &trusted)
                .forwarded_proto
                .as_deref(),
            Some("https")
        );
        let h = headers(&[("x-forwarded-proto", "gopher")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted).forwarded_proto, None);
    }

    #[test]
    fn proxy_entries_parse_or_say_why_not() {
        assert!(parse_proxy("10.0.0.0/8").is_ok());
        assert!(parse_proxy(" 127.0.0.1 ").is_ok());
        assert!(parse_proxy("fd00::/8").is_ok());
        assert!(parse_proxy("::1").is_ok());
        let err = parse_proxy("proxy.local").unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
        assert!(parse_proxy("10.0.0.0/33").is_err());
    }
}
