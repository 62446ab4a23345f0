//! Which proxy, if any, an outbound LLM call goes through (SPEC: outbound
//! calls honour `HTTPS_PROXY`/`NO_PROXY`; a connection can bypass the proxy).
//!
//! ureq 3 reads `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY` and `NO_PROXY` by
//! itself, but: it uses the first proxy variable it finds whatever the target's
//! scheme; it does not trim blanks in `NO_PROXY` (`"a, b"` never matches `b`),
//! knows no ports or CIDR ranges, and `.corp.example` does not match
//! `corp.example`. Windows admins write all of these. So the choice is made
//! here, per call, and handed to ureq as an explicit proxy (or none), which
//! also switches ureq's own environment lookup off.
//!
//! Loopback targets (`localhost`, `127.0.0.0/8`, `::1`) never use a proxy: a
//! proxy cannot reach this machine's Ollama, and corporate machines often set
//! `HTTPS_PROXY` without a matching `NO_PROXY`.

use std::net::IpAddr;

use super::LlmError;

/// The proxy to use for `target`, or `None` for a direct connection.
/// `bypass` is the connection's `no_proxy` setting; `env` reads a variable
/// (injected so the rules are tested without touching the process environment).
pub(crate) fn choose(
    target: &str,
    bypass: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ureq::Proxy>, LlmError> {
    if bypass {
        return Ok(None);
    }
    let Some((var, url)) = proxy_url_for(target, env) else {
        return Ok(None);
    };
    // The URL may hold credentials: the error names the variable, not its value.
    ureq::Proxy::new(&url)
        .map(Some)
        .map_err(|_| LlmError::Connect(format!("the proxy in {var} is not a valid proxy URL")))
}

/// Reads the real process environment.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The variable name and proxy URL that apply to `target`, like curl: the
/// scheme's own variable first (`HTTPS_PROXY` for https, `HTTP_PROXY` for
/// http), then `ALL_PROXY`; upper case before lower case; empty ones skipped.
pub(crate) fn proxy_url_for(
    target: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(&'static str, String)> {
    let uri: ureq::http::Uri = target.parse().ok()?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    if is_loopback(host) {
        return None;
    }
    let no_proxy = env("NO_PROXY")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| env("no_proxy"));
    if let Some(list) = no_proxy {
        if no_proxy_matches(&list, host, port) {
            return None;
        }
    }
    let vars: &[&'static str] = if https {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    vars.iter().find_map(|var| {
        env(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| (*var, v))
    })
}

fn is_loopback(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `NO_PROXY` (comma- or blank-separated) exempts `host:port`.
/// Entries: `*` (everything); `example.com`, `.example.com` or
/// `*.example.com` (that domain and every subdomain, as curl does); an entry
/// with `:port` (only that port); an IP address; a CIDR range `10.0.0.0/8`.
pub(crate) fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
    let host = host.to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    list.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| entry_matches(&entry.to_ascii_lowercase(), &host, host_ip, port))
}

fn entry_matches(entry: &str, host: &str, host_ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((net, bits)) = entry.split_once('/') {
        return match (host_ip, net.parse::<IpAddr>(), bits.parse::<u8>()) {
            (Some(ip), Ok(net), Ok(bits)) => in_cidr(ip, net, bits),
            _ => false,
        };
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return host_ip == Some(ip); // a bare IPv6 address holds colons: no port split
    }
    let (name, entry_port) = split_port(entry);
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return host_ip == Some(ip);
    }
    let domain = name.trim_start_matches("*.").trim_start_matches('.');
    !domain.is_empty()
        && (host == domain
            || (host.len() > domain.len()
                && host.ends_with(domain)
                && host.as_bytes()[host.len() - domain.len() - 1] == b'.'))
}

/// `host:port` or `[v6]:port` → (host, port); anything else → (entry, None).
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((ip, after)) = rest.split_once(']') {
            return (ip, after.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn no_proxy_entries_match_like_curl_and_forgive_blanks() {
        let cases: &[(&str, &str, u16, bool, &str)] = &[
            ("example.com", "example.com", 443, true, "exact"),
            ("example.com", "api.example.com", 443, true, "subdomain"),
            (
                "example.com",
                "badexample.com",
                443,
                false,
                "not a suffix on a dot",
            ),
            (
                ".example.com",
                "example.com",
                443,
                true,
                "leading dot matches the domain too",
            ),
            ("*.example.com", "a.b.example.com", 443, true, "wildcard"),
            (
                "a.com, example.com",
                "example.com",
                443,
                true,
                "blank after comma",
            ),
            (
                "a.com example.com",
                "example.com",
                443,
                true,
                "blank-separated",
            ),
            ("EXAMPLE.com", "Example.COM", 443, true, "case-insensitive"),
            (
                "example.com:8443",
                "example.com",
                8443,
                true,
                "port matches",
            ),
            (
                "example.com:8443",
                "example.com",
                443,
                false,
                "port differs",
            ),
            ("10.0.0.0/8", "10.1.2.3", 443, true, "CIDR v4"),
            ("10.0.0.0/8", "11.1.2.3", 443, false, "outside CIDR"),
            ("192.168.1.5", "192.168.1.5", 80, true, "IP"),
            ("fd00::/8", "fd12::1", 443, true, "CIDR v6"),
            ("::1", "::1", 443, true, "bare v6"),
            (
                "[fd00::1]:443",
                "fd00::1",
                443,
                true,
                "bracketed v6 with port",
            ),
            ("*", "anything.at.all", 443, true, "everything"),
            ("", "example.com", 443, false, "empty list"),
            (".", "example.com", 443, false, "a lone dot matches nothing"),
            ("10.0.0.0/99", "10.0.0.1", 443, false, "nonsense CIDR"),
        ];
        for (list, host, port, want, why) in cases {
            assert_eq!(
                no_proxy_matches(list, host, *port),
                *want,
                "{why}: {list:?} vs {host}:{port}"
            );
        }
    }

    #[test]
    fn the_scheme_picks_its_own_proxy_variable_then_all_proxy() {
        let env = env_of(&[
            ("HTTPS_PROXY", "http://secure-proxy:3128"),
            ("http_proxy", "http://plain-proxy:3128"),
        ]);
        assert_eq!(
            proxy_url_for("https://api.openai.com/v1", &env),
            Some(("HTTPS_PROXY", "http://secure-proxy:3128".to_string()))
        );
        assert_eq!(
            proxy_url_for("http://llm.intra:8000/v1", &env),
            Some(("http_proxy", "http://plain-proxy:3128".to_string()))
        );
        let env = env_of(&[("HTTPS_PROXY", "  "), ("ALL_PROXY", "socks5://p:1080")]);
        assert_eq!(
            proxy_url_for("https://api.anthropic.com", &env),
            Some(("ALL_PROXY", "socks5://p:1080".to_string()))
        );
        assert_eq!(
            proxy_url_for("https://api.anthropic.com", &env_of(&[])),
            None
        );
    }

    #[test]
    fn no_proxy_and_loopback_go_direct() {
        let env = env_of(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("HTTP_PROXY", "http://proxy:3128"),
            ("NO_PROXY", "intra.example, 10.0.0.0/8"),
        ]);
        for target in [
            "https://llm.intra.example/v1",
            "http://10.2.3.4:8000/v1",
            "http://127.0.0.1:11434/v1",
            "http://localhost:1234/v1",
            "http://[::1]:8080/v1",
        ] {
            assert_eq!(proxy_url_for(target, &env), None, "{target}");
        }
        assert!(proxy_url_for("https://api.openai.com/v1", &env).is_some());
        let lower = env_of(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("no_proxy", "openai.com"),
        ]);
        assert_eq!(proxy_url_for("https://api.openai.com/v1", &lower), None);
    }

    #[test]
    fn the_connection_setting_bypasses_any_proxy() {
        let env = env_of(&[("HTTPS_PROXY", "http://proxy:3128")]);
        assert!(choose("https://api.openai.com/v1", false, &env)
            .unwrap()
            .is_some());
        assert!(choose("https://api.openai.com/v1", true, &env)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_broken_proxy_url_is_reported_without_its_credentials() {
        let env = env_of(&[("HTTPS_PROXY", "ftp://user:hunter2@proxy")]);
        let err = choose("https://api.openai.com/v1", false, &env).unwrap_err();
        assert!(err.to_string().contains("HTTPS_PROXY"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
