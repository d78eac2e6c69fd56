//! The webhook port: one JSON document POSTed to a URL (Slack and Teams incoming webhooks,
//! PagerDuty's Events API, a tenant's own signed webhook), the policy of where such URLs may
//! point ([`Outbound`]), and the Standard Webhooks signature ([`SigningSecret`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::{PortError, PortResult};

/// Posts JSON to webhooks.
#[async_trait]
pub trait Webhook: Send + Sync {
    /// POSTs `body`, JSON text sent byte for byte (what a signature covers), as
    /// `application/json` with `headers` to `url`, and succeeds on a 2xx answer. A URL that is
    /// not `http(s)://` is `Invalid` and nothing is sent; any other answer, a timeout or a
    /// refused connection is `Backend` with the status or cause.
    async fn post_bytes(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> PortResult<()>;

    /// POSTs `body` with no extra header; see [`Webhook::post_bytes`].
    async fn post(&self, url: &str, body: &serde_json::Value) -> PortResult<()> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| PortError::caused("encoding a webhook body", e))?;
        self.post_bytes(url, &[], &bytes).await
    }
}

/// A tenant's webhook signing secret, as the Standard Webhooks specification writes it:
/// `whsec_` then the key in base64. Shown to the tenant once, when made; never in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// Key bytes a new secret has; the specification asks for 24 to 64.
    const BYTES: usize = 32;

    /// A new random secret.
    pub fn generate() -> Self {
        let mut key = vec![0u8; Self::BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SigningSecret(key)
    }

    /// The `webhook-signature` header of message `id` sent at `timestamp` (Unix seconds) with
    /// `body`: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Display for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "whsec_{}", BASE64.encode(&self.0))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl FromStr for SigningSecret {
    type Err = PortError;

    /// `whsec_` and 24 to 64 bytes in base64.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refused = || {
            PortError::Invalid(
                "a webhook signing secret is `whsec_` and 24 to 64 bytes in base64".to_owned(),
            )
        };
        let key = text
            .strip_prefix("whsec_")
            .and_then(|b64| BASE64.decode(b64).ok())
            .ok_or_else(refused)?;
        if (24..=64).contains(&key.len()) {
            Ok(SigningSecret(key))
        } else {
            Err(refused())
        }
    }
}

/// Whether `url` is an absolute http or https URL with a host.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    matches!(rest, Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !url.contains(crate::text::is_blank))
}

/// Where requests to URLs that tenants set (webhooks, and channels to come) may go. A tenant is
/// not trusted with the server's own network: such a URL is `https`, and its host — named or
/// resolved — is a public address, never loopback, private, link-local (the cloud's metadata
/// service among them) or otherwise reserved. The operator may name private hosts that are
/// allowed anyway (`DD0C_OUTBOUND_PRIVATE_HOSTS`), plain `http` included, for an in-house
/// relay or a test server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outbound {
    private_hosts: Vec<String>,
}

impl Outbound {
    /// The policy allowing `hosts` (names or addresses, matched without case) though private.
    pub fn allowing_private<I, S>(hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Outbound {
            private_hosts: hosts
                .into_iter()
                .map(|h| {
                    h.as_ref()
                        .trim()
                        .trim_matches(['[', ']'])
                        .to_ascii_lowercase()
                })
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// Whether the operator allowed `host` though private.
    pub fn allows_private(&self, host: &str) -> bool {
        let host = host.trim_matches(['[', ']']);
        self.private_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    }

    /// The host of `url` when its shape may be requested: an absolute `https` URL (`http` only
    /// to an allowed private host) with a host and no user name, whose host, when an address or
    /// `localhost`, is public. A named host must still resolve to public addresses
    /// ([`Outbound::check_addresses`]), when it is saved and again when it is connected to.
    pub fn check_url(&self, url: &str) -> Result<String, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(format!("{url:?} names no host")),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!("{url:?} carries a user name or password"));
        }
        let allowed = self.allows_private(&host);
        match parsed.scheme() {
            "https" => {}
            "http" if allowed => {}
            scheme => return Err(format!("{url:?} is {scheme}: outbound URLs must be https")),
        }
        if allowed {
            return Ok(host);
        }
        if host == "localhost" || host.ends_with(".localhost") {
            return Err(private(&host, "loopback"));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            self.check_addresses(&host, &[ip])?;
        }
        Ok(host)
    }

    /// Whether `host`, resolved to `addresses`, may be connected to: every address public, or
    /// the host allowed though private.
    pub fn check_addresses(&self, host: &str, addresses: &[IpAddr]) -> Result<(), String> {
        if self.allows_private(host) {
            return Ok(());
        }
        match addresses
            .iter()
            .find_map(|ip| reserved(*ip).map(|why| (ip, why)))
        {
            Some((ip, why)) => Err(private(&format!("{host} ({ip})"), why)),
            None => Ok(()),
        }
    }
}

fn private(what: &str, why: &str) -> String {
    format!(
        "{what} is a {why} address: outbound URLs must reach public hosts \
         (an operator allows private ones with DD0C_OUTBOUND_PRIVATE_HOSTS)"
    )
}

/// What kind of address that the public internet does not route `ip` is, if it is one.
pub fn reserved(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => reserved_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => reserved_v4(v4),
            None => reserved_v6(v6),
        },
    }
}

fn reserved_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_link_local() {
        Some("link-local (metadata service)")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("multicast or reserved")
    } else if ip.is_documentation() || (a == 198 && (18..20).contains(&b)) || (a == 192 && b == 0) {
        Some("reserved")
    } else {
        None
    }
}

fn reserved_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local (metadata service)")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private")
    } else if ip.is_multicast() {
        Some("multicast or reserved")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("reserved")
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // NAT64: the IPv4 address it carries decides.
        let [.., c, d] = ip.segments();
        reserved_v4(Ipv4Addr::from((u32::from(c) << 16) | u32::from(d)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_secret_reads_back_and_signs_the_specifications_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            .parse()
            .expect("a secret");
        assert_eq!(secret.to_string(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let fresh = SigningSecret::generate();
        assert_eq!(fresh.to_string().parse::<SigningSecret>().ok(), Some(fresh));
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_c2hvcnQ=",
            "whsec_!!",
        ] {
            assert!(bad.parse::<SigningSecret>().is_err(), "{bad}");
        }
    }

    #[test]
    fn public_https_urls_pass() {
        let policy = Outbound::default();
        assert_eq!(
            policy.check_url("https://hooks.slack.com/services/T/B/x"),
            Ok("hooks.slack.com".into())
        );
        assert!(policy.check_url("https://93.184.216.34/x").is_ok());
    }

    #[test]
    fn internal_targets_are_refused_naming_why() {
        let policy = Outbound::default();
        for (url, why) in [
            ("https://169.254.169.254/latest/meta-data/", "metadata"),
            ("https://127.0.0.1:8080/", "loopback"),
            ("https://[::1]/", "loopback"),
            ("https://[::ffff:10.0.0.1]/", "private"),
            ("https://10.1.2.3/", "private"),
            ("https://192.168.0.1/", "private"),
            ("https://100.64.0.1/", "private"),
            ("https://[fd00:ec2::254]/", "private"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://localhost/", "loopback"),
            ("http://hooks.slack.com/x", "https"),
            ("https://user:pw@hooks.slack.com/x", "password"),
        ] {
            let refused = policy.check_url(url).expect_err(url);
            assert!(refused.contains(why), "{url}: {refused}");
        }
    }

    #[test]
    fn a_resolved_private_address_is_refused_unless_the_operator_allows_the_host() {
        let policy = Outbound::allowing_private(["relay.internal"]);
        let inside: [IpAddr; 2] = [
            "8.8.8.8".parse().expect("an address"),
            "10.0.0.7".parse().expect("an address"),
        ];
        assert!(policy.check_addresses("hooks.example", &inside).is_err());
        assert!(policy.check_addresses("relay.internal", &inside).is_ok());
        assert_eq!(
            policy.check_url("http://RELAY.internal:8080/x"),
            Ok("relay.internal".into())
        );
    }
}
