//! Who the client is behind a reverse proxy (`--trusted-proxies`), and
//! whether a browser request comes from our own pages (login CSRF).
//!
//! Behind a proxy every request arrives from the proxy's address, so the
//! per-address limits would put every user in one bucket. The proxy says who
//! its client was in `X-Forwarded-For`, but anyone can send that header: it is
//! believed only when the TCP peer is a configured proxy, and read from the
//! right (the entries a trusted proxy appended) to the first address that is
//! not itself a trusted proxy. Entries to its left were written by the client.

use std::net::IpAddr;

/// One network in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or a single address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/len` or a bare address (a network of one).
    pub fn parse(raw: &str) -> Result<Cidr, String> {
        let raw = raw.trim();
        let bad =
            || format!("trusted proxy {raw:?} is not an address or a CIDR (10.0.0.0/8, fd00::/8)");
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (raw, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(len) => len
                .parse::<u8>()
                .ok()
                .filter(|len| *len <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr {
            network: mask(network, prefix),
            prefix,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
        let ip = canonical(ip);
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & kept).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & kept).into())
        }
    }
}

/// The reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// From `--trusted-proxies` (empty entries ignored); a bad entry stops the start.
    pub fn new(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(Cidr::parse)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// No proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted
    /// proxy, the rightmost `X-Forwarded-For` entry that is not one. A
    /// malformed header is ignored (the peer is used).
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) || forwarded_for.is_empty() {
            return peer;
        }
        let mut entries = Vec::new();
        for entry in forwarded_for.iter().flat_map(|h| h.split(',')) {
            match parse_forwarded_entry(entry) {
                Some(ip) => entries.push(canonical(ip)),
                None => return peer,
            }
        }
        let mut client = peer;
        for ip in entries.into_iter().rev() {
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80` (some
/// proxies add the port).
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|addr| addr.ip())
}

/// Whether a request that can carry the refresh cookie comes from a page the
/// server should trust: its own pages or a configured CORS origin. Browsers
/// always send `Origin` on a cross-origin POST and `Sec-Fetch-Site` where
/// supported; a request with neither (curl, scripts) is not a browser acting
/// for another site, so it is allowed.
pub fn same_site_request(
    origin: Option<&str>,
    fetch_site: Option<&str>,
    own_hosts: &[&str],
    cors_allows: impl Fn(&str) -> bool,
) -> bool {
    let fetch_site = fetch_site.map(|s| s.trim().to_ascii_lowercase());
    let Some(origin) = origin.map(str::trim) else {
        return fetch_site.as_deref() != Some("cross-site");
    };
    if cors_allows(origin) {
        return true;
    }
    // The browser itself says the page is ours (a page cannot set this
    // header); this also holds behind a proxy that rewrites `Host`.
    if fetch_site.as_deref() == Some("same-origin") {
        return true;
    }
    own_hosts
        .iter()
        .any(|host| origin_matches_host(origin, host))
}

/// `https://chat.corp[:port]` against a `Host` header (`chat.corp[:port]`),
/// ignoring the scheme (a proxy may end TLS). A `Host` without a port matches
/// any port of the same name (proxies often pass the name only).
fn origin_matches_host(origin: &str, host: &str) -> bool {
    let origin = origin.to_ascii_lowercase();
    let (authority, default_port) = if let Some(rest) = origin.strip_prefix("https://") {
        (rest, 443)
    } else if let Some(rest) = origin.strip_prefix("http://") {
        (rest, 80)
    } else {
        return false;
    };
    let Some((origin_name, origin_port)) = split_authority(authority) else {
        return false;
    };
    let Some((host_name, host_port)) = split_authority(&host.trim().to_ascii_lowercase()) else {
        return false;
    };
    origin_name == host_name
        && host_port.is_none_or(|port| port == origin_port.unwrap_or(default_port))
}

/// `name[:port]` or `[v6][:port]`; `None` when malformed.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    if authority.is_empty() || authority.contains(['/', '@', ' ']) {
        return None;
    }
    let (name, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(port) => (v6, Some(port)),
            None if after.is_empty() => (v6, None),
            None => return None,
        }
    } else {
        match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    Some((name.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_of_both_families_contain_what_they_should() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.1.0.1")));
        let one = Cidr::parse(" 192.168.1.5 ").unwrap();
        assert!(one.contains(ip("192.168.1.5")) && !one.contains(ip("192.168.1.6")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0/8",
            "proxy.corp",
            "10.0.0.0/x",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_peer_and_read_from_the_right() {
        let proxies =
            TrustedProxies::new(&["127.0.0.1".into(), "10.0.0.0/8".into(), "".into()]).unwrap();
        let untrusted = ip("192.0.2.7");
        // A client that is not a proxy cannot choose its address.
        assert_eq!(proxies.client_ip(untrusted, &["203.0.113.9"]), untrusted);
        let proxy = ip("127.0.0.1");
        assert_eq!(proxies.client_ip(proxy, &[]), proxy);
        assert_eq!(
            proxies.client_ip(proxy, &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // The client wrote the left entry; the proxy appended the right one.
        assert_eq!(
            proxies.client_ip(proxy, &["198.51.100.1, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Trusted hops are skipped, over several headers too.
        assert_eq!(
            proxies.client_ip(proxy, &["203.0.113.9, 10.0.0.2", "10.0.0.3"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            proxies.client_ip(proxy, &["[2001:db8::5]:443", "203.0.113.9:1234"]),
            ip("203.0.113.9")
        );
        // Only proxies in the chain: the leftmost one.
        assert_eq!(
            proxies.client_ip(proxy, &["10.0.0.4, 10.0.0.3"]),
            ip("10.0.0.4")
        );
        // Malformed: the peer.
        for bad in ["unknown", "203.0.113.9, ", "<script>", ""] {
            assert_eq!(proxies.client_ip(proxy, &[bad]), proxy, "{bad}");
        }
    }

    #[test]
    fn only_our_own_origin_or_a_configured_one_may_use_the_cookie_routes() {
        let cors = |o: &str| o == "https://portal.example";
        let hosts = ["chat.corp:8080"];
        let ok = |origin, site| same_site_request(origin, site, &hosts, cors);
        assert!(ok(None, None), "curl");
        assert!(ok(None, Some("same-origin")));
        assert!(ok(None, Some("none")), "typed into the address bar");
        assert!(!ok(None, Some("cross-site")));
        assert!(ok(Some("http://chat.corp:8080"), None));
        assert!(ok(Some("https://chat.corp:8080"), Some("same-origin")));
        assert!(ok(Some("https://portal.example"), Some("cross-site")));
        assert!(!ok(Some("https://evil.example"), None));
        assert!(!ok(Some("https://evil.example"), Some("cross-site")));
        assert!(!ok(Some("http://chat.corp:9090"), None), "another port");
        assert!(!ok(Some("http://chat.corp.evil:8080"), None));
        assert!(!ok(Some("null"), None));
        // A rewritten Host, but the browser says same-origin.
        assert!(ok(Some("https://chat.example"), Some("same-origin")));
        // A Host without a port (nginx's $host) matches any port of that name.
        let bare = ["chat.corp"];
        assert!(same_site_request(
            Some("https://chat.corp"),
            None,
            &bare,
            cors
        ));
        assert!(same_site_request(
            Some("http://chat.corp:8080"),
            None,
            &bare,
            cors
        ));
        let v6 = ["[::1]:8080"];
        assert!(same_site_request(
            Some("http://[::1]:8080"),
            None,
            &v6,
            cors
        ));
        assert!(!same_site_request(
            Some("http://[::2]:8080"),
            None,
            &v6,
            cors
        ));
        assert!(same_site_request(
            Some("https://chat.corp"),
            None,
            &["chat.corp:443"],
            cors
        ));
    }
}
