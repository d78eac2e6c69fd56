//! Who is calling, for throttling sign-ins: the socket peer, or — only when that peer is a
//! proxy the operator trusts (`DD0C_TRUSTED_PROXIES`) — the address that proxy saw.
//!
//! A client writes whatever `X-Forwarded-For` it likes; a proxy appends the address it saw. So
//! the hops are read from the right, skipping trusted proxies, and the first other one is the
//! client: rotating forged hops on the left changes nothing. Where there is no socket peer (on
//! Lambda, behind API Gateway, which appends the caller's address) the header's hops are read
//! the same way.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::Api;

/// Addresses and CIDR ranges of trusted reverse proxies: `127.0.0.1,10.0.0.0/8,::1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Whether `address` is one of them.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0
            .iter()
            .any(|(network, bits)| in_network(address, *network, *bits))
    }
}

fn in_network(address: IpAddr, network: IpAddr, bits: u8) -> bool {
    let mask = |width: u32| -> u128 {
        match u32::from(bits) {
            0 => 0,
            b => u128::MAX << (width - b.min(width)),
        }
    };
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = mask(32) as u32;
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = mask(128);
            u128::from(a) & m == u128::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a| in_network(IpAddr::V4(a), network, bits)),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| {
                let bad = || format!("{entry:?} is not an IP address or CIDR range");
                let (address, bits) = match entry.split_once('/') {
                    Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
                    None => (entry, None),
                };
                let address: IpAddr = address.parse().map_err(|_| bad())?;
                let width = if address.is_ipv4() { 32 } else { 128 };
                match bits.unwrap_or(width) {
                    b if b <= width => Ok((address, b)),
                    _ => Err(bad()),
                }
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

/// The calling client's address as text (empty when nothing says).
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

impl ClientAddress {
    /// The client of a request from `peer` carrying `forwarded` (`X-Forwarded-For`).
    pub fn of(peer: Option<IpAddr>, forwarded: Option<&str>, trusted: &TrustedProxies) -> Self {
        if peer.is_some_and(|p| !trusted.contains(p)) {
            return ClientAddress(peer.map(|p| p.to_string()).unwrap_or_default());
        }
        let hops = forwarded.unwrap_or_default().split(',').map(str::trim);
        let mut client = None;
        for hop in hops.rev().filter(|h| !h.is_empty()) {
            match hop.parse::<IpAddr>() {
                Ok(address) if trusted.contains(address) => continue,
                Ok(address) => {
                    client = Some(address.to_string());
                    break;
                }
                // Not an address: whatever wrote it is not to be believed further left.
                Err(_) => break,
            }
        }
        ClientAddress(
            client
                .or_else(|| peer.map(|p| p.to_string()))
                .unwrap_or_default(),
        )
    }
}

impl FromRequestParts<Arc<Api>> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        api: &Arc<Api>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Ok(ClientAddress::of(peer, forwarded, &api.trusted_proxies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn ranges_parse_and_match() {
        let trusted: TrustedProxies = "127.0.0.1, 10.0.0.0/8,::1".parse().expect("parses");
        assert!(trusted.contains(ip("10.200.0.1")));
        assert!(trusted.contains(ip("::ffff:10.0.0.9")));
        assert!(trusted.contains(ip("::1")));
        assert!(!trusted.contains(ip("11.0.0.1")));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn a_forwarded_header_from_an_untrusted_peer_is_ignored() {
        let client = ClientAddress::of(
            Some(ip("203.0.113.7")),
            Some("1.2.3.4"),
            &Default::default(),
        );
        assert_eq!(client.0, "203.0.113.7");
    }

    #[test]
    fn behind_a_trusted_proxy_forged_left_hops_change_nothing() {
        let trusted: TrustedProxies = "127.0.0.1".parse().expect("parses");
        for forged in ["1.1.1.1", "2.2.2.2, 3.3.3.3", "127.0.0.1"] {
            let header = format!("{forged}, 198.51.100.4");
            let client = ClientAddress::of(Some(ip("127.0.0.1")), Some(&header), &trusted);
            assert_eq!(client.0, "198.51.100.4", "{header}");
        }
    }
}
