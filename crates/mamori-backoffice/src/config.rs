//! The back office's settings.

use std::{net::SocketAddr, time::Duration};

use ipnet::IpNet;
use mamori_pay::url::Url;
use mamori_staff::EnrolmentToken;
use secrecy::ExposeSecret as _;

/// Settings of the back office.
#[derive(Debug, Clone)]
pub struct BackofficeConfig {
    /// Where the back office listens (its own listener, never the storefront's).
    pub listen: SocketAddr,
    /// Where staff reach it: the WebAuthn origin (and relying-party id, its host). WebAuthn
    /// refuses IP addresses as relying-party ids, so local use is `http://localhost:<port>`.
    pub public_url: Url,
    /// Peer addresses allowed to connect; every other peer gets 403 before anything runs.
    pub allowed_cidrs: Vec<IpNet>,
    /// A session unused this long ends (30 minutes).
    pub idle_timeout: Duration,
    /// A session this old ends however busy (12 hours).
    pub absolute_lifetime: Duration,
    /// How long a second factor counts as fresh for sensitive actions (5 minutes).
    pub step_up_window: Duration,
    /// CSV exports per staff member per hour.
    pub exports_per_hour: u32,
    /// Most rows in one export.
    pub export_max_rows: usize,
    /// Reveals of a masked field per staff member per hour.
    pub reveals_per_hour: u32,
    /// Login attempts per client IP per minute (on top of the per-account lockout).
    pub logins_per_minute: u32,
    /// Largest accepted product image upload, in bytes.
    pub image_max_bytes: usize,
    /// Largest accepted product image side, in pixels.
    pub image_max_side: u32,
    /// The shop's name, for the staff mails and page titles.
    pub shop_name: String,
    /// The shop's public URL, for the signature of the mails to customers about their orders.
    pub shop_url: String,
    /// Where customers write to, in those mails.
    pub support_email: String,
    /// Served over HTTPS (cookies `Secure` with the `__Host-` prefix, HSTS).
    pub tls: bool,
    /// The storefront's own listener (`http://127.0.0.1:8080/`): the self-check asks it for
    /// back-office paths at each look, to show that the back office is not reachable there.
    pub storefront_url: Option<Url>,
    /// The mail domain of the canary customers' addresses (`guard.canary_domain`); planting
    /// from the back office refuses without one.
    pub canary_domain: Option<String>,
    /// Hook for card-testing detection (card guideline measure 5): a one-line description of the
    /// configured decline thresholds, set by `mamori serve` when they are configured. Unset, the
    /// self-check shows the measure as not checked (未確認).
    pub card_testing: Option<String>,
    /// The domain of incident notices' VERP envelope senders (`[respond.notices]`).
    pub notice_bounce_domain: Option<String>,
    /// The configuration's flat shipping fee (`shop.shipping_fee`): the shipping page's rates
    /// until the settings have their own.
    pub shipping_fee: i64,
    /// The configuration's free-shipping threshold (`shop.free_shipping_from`), likewise.
    pub free_shipping_from: i64,
}

/// The default allow-list: the loopback networks.
pub fn loopback_cidrs() -> Vec<IpNet> {
    // Both literals are valid networks; a parse failure could only drop an entry (never widen).
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

impl Default for BackofficeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8082)),
            public_url: default_public_url(),
            allowed_cidrs: loopback_cidrs(),
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_lifetime: Duration::from_secs(12 * 60 * 60),
            step_up_window: Duration::from_secs(5 * 60),
            exports_per_hour: 10,
            export_max_rows: 10_000,
            reveals_per_hour: 60,
            logins_per_minute: 20,
            image_max_bytes: 5 * 1024 * 1024,
            image_max_side: 4096,
            shop_name: "守り商店".to_owned(),
            shop_url: "http://127.0.0.1:8080/".to_owned(),
            support_email: "support@shop.example.jp".to_owned(),
            tls: false,
            storefront_url: None,
            canary_domain: None,
            card_testing: None,
            notice_bounce_domain: None,
            shipping_fee: 770,
            free_shipping_from: 11_000,
        }
    }
}

/// `http://localhost:8082/`.
pub fn default_public_url() -> Url {
    match Url::parse("http://localhost:8082/") {
        Ok(url) => url,
        // A constant that always parses.
        Err(_) => unreachable!("the default back-office URL is a valid constant"),
    }
}

impl BackofficeConfig {
    /// The public origin (`scheme://host[:port]`) without a trailing slash.
    pub fn origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// An absolute URL on the back office for `path_and_query` (`/enrol?token=...`).
    pub fn link(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.origin())
    }

    /// The one-time enrolment link of `token` (`/enrol?token=...`), as shown once to the owner
    /// who invited or printed by `mamori staff create`.
    pub fn enrol_link(&self, token: &EnrolmentToken) -> String {
        let q = serde_urlencoded::to_string([("token", token.secret.expose_secret())])
            .unwrap_or_default();
        self.link(&format!("/enrol?{q}"))
    }

    /// True when `ip` is inside the allow-list (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
            v4 => v4,
        };
        self.allowed_cidrs.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_allow_loopback_only() {
        let c = BackofficeConfig::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8082");
        assert_eq!(c.origin(), "http://localhost:8082");
        for ok in ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"] {
            assert!(c.allows(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "10.0.0.1",
            "192.168.1.2",
            "::2",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!c.allows(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn enrolment_links_carry_the_token() {
        let token = EnrolmentToken {
            secret: secrecy::SecretString::from("AbC-_09".to_owned()),
            expires_at: 0,
        };
        assert_eq!(
            BackofficeConfig::default().enrol_link(&token),
            "http://localhost:8082/enrol?token=AbC-_09"
        );
    }
}
