//! Name resolution for the LLM agents.
//!
//! ureq resolves the host before every request, even one that then goes over
//! a pooled connection, and its default resolver bounds a lookup with a timeout
//! by spawning a thread for each one, even for `127.0.0.1`. This resolver
//! answers an IP address at once, and remembers what a name resolved to for
//! [`TTL`], so only the first request in a while looks a name up (through
//! ureq's resolver, with the connect timeout as before).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a looked-up name is reused. Short: a provider moving hosts is
/// seen quickly, while a burst of answers looks the name up once.
const TTL: Duration = Duration::from_secs(10);
/// Names remembered at most (an agent talks to one or two hosts).
const MAX_NAMES: usize = 32;

#[derive(Debug, Default)]
pub(crate) struct CallResolver {
    names: Mutex<Vec<(String, Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CallResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some((host, port)) = host_and_port(uri) else {
            // An unusual scheme (a SOCKS proxy's): ureq knows its default port.
            return DefaultResolver::default().resolve(uri, config, timeout);
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let key = format!("{}:{port}", host.to_ascii_lowercase());
        let now = Instant::now();
        {
            let names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, _, addrs)) = names
                .iter()
                .find(|(name, at, _)| *name == key && now.duration_since(*at) < TTL)
            {
                return Ok(addrs.clone());
            }
        }
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        names.retain(|(name, at, _)| *name != key && now.duration_since(*at) < TTL);
        if names.len() >= MAX_NAMES {
            names.remove(0);
        }
        names.push((key, now, addrs.clone()));
        Ok(addrs)
    }
}

/// The host (without IPv6 brackets) and port of an `http`/`https` URI.
fn host_and_port(uri: &Uri) -> Option<(&str, u16)> {
    let default_port = match uri.scheme_str()? {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = uri.authority()?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    Some((host, authority.port_u16().unwrap_or(default_port)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::Timeout;

    fn resolve(url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let uri: Uri = url.parse().unwrap();
        let config = Config::default();
        let timeout = NextTimeout {
            after: Duration::from_secs(5).into(),
            reason: Timeout::Resolve,
            per_read: None,
            per_write: None,
        };
        CallResolver::default()
            .resolve(&uri, &config, timeout)
            .map(|addrs| addrs.to_vec())
    }

    #[test]
    fn ip_addresses_are_answered_without_a_lookup() {
        assert_eq!(
            resolve("http://127.0.0.1:8080/v1").unwrap(),
            ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("https://[::1]/v1").unwrap(),
            ["[::1]:443".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("http://10.1.2.3/v1").unwrap(),
            ["10.1.2.3:80".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn names_are_looked_up_and_remembered() {
        let resolver = CallResolver::default();
        let uri: Uri = "http://localhost:8080/v1".parse().unwrap();
        let config = Config::default();
        let timeout = NextTimeout {
            after: Duration::from_secs(5).into(),
            reason: Timeout::Resolve,
            per_read: None,
            per_write: None,
        };
        let first = resolver.resolve(&uri, &config, timeout).unwrap();
        assert!(first
            .iter()
            .all(|a| a.port() == 8080 && a.ip().is_loopback()));
        assert_eq!(resolver.names.lock().unwrap().len(), 1);
        let again = resolver.resolve(&uri, &config, timeout).unwrap();
        assert_eq!(first.to_vec(), again.to_vec());
    }
}
