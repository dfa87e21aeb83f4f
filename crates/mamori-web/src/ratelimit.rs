//! Keyed rate limits: token buckets per client IP, per account or per session, chosen per route.
//!
//! A [`RateLimiter`] holds one bucket per key: `burst` requests at once, refilled at `burst`
//! per `per`. The request past the limit gets a 429 page with `Retry-After` (whole seconds).
//!
//! Hand-written rather than `governor`: governor's keyed store (a DashMap) has no upper bound
//! on keys (`retain_recent` drops only buckets that have refilled), so a flood of distinct keys
//! within one window grows it without limit. Here memory is capped: keys live in two
//! generations, and when the current one fills to half the cap, the older one is dropped whole
//! (a key that is still in use moves to the current one on its next request). A dropped key
//! starts again with a full bucket, which errs toward letting a request through, never toward
//! blocking one wrongly. The bucket arithmetic is a few lines, and the injectable [`Clock`]
//! lets tests move time instead of sleeping.
//!
//! Apply with `route_layer`, inside the session layer:
//! `post(login).route_layer(from_fn_with_state(rule, rate_limit))`.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use http::HeaderMap;

use crate::{
    clock::{to_delta, Clock},
    errors::AppError,
    session::{Session, ACCOUNT_KEY},
};

/// A limit: `burst` requests at once, refilling at `burst` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The bucket's size.
    pub burst: u32,
    /// The time to refill the whole bucket.
    pub per: Duration,
}

impl RateLimit {
    /// `n` requests per minute.
    pub fn per_minute(n: u32) -> Self {
        Self {
            burst: n,
            per: Duration::from_secs(60),
        }
    }

    /// `n` requests per hour.
    pub fn per_hour(n: u32) -> Self {
        Self {
            burst: n,
            per: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Default)]
struct Generations {
    current: HashMap<String, DateTime<Utc>>,
    previous: HashMap<String, DateTime<Utc>>,
}

/// Token buckets by key, with memory capped at `max_keys` buckets.
pub struct RateLimiter {
    limit: RateLimit,
    max_keys: usize,
    clock: Arc<dyn Clock>,
    state: Mutex<Generations>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are IP addresses and account ids: not printed.
        f.debug_struct("RateLimiter")
            .field("limit", &self.limit)
            .field("max_keys", &self.max_keys)
            .field("keys", &self.len())
            .finish()
    }
}

impl RateLimiter {
    /// A limiter for `limit`, holding at most `max_keys` buckets.
    pub fn new(limit: RateLimit, max_keys: usize, clock: Arc<dyn Clock>) -> Self {
        // Windows beyond a year are clamped so that time arithmetic cannot overflow.
        let limit = RateLimit {
            burst: limit.burst.max(1),
            per: limit.per.min(Duration::from_secs(366 * 24 * 3600)),
        };
        Self {
            limit,
            max_keys: max_keys.max(2),
            clock,
            state: Mutex::new(Generations::default()),
        }
    }

    /// The limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        let g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        g.current.len() + g.previous.len()
    }

    /// True if no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes one token from `key`'s bucket, or says how long until one is there.
    ///
    /// The bucket is kept as GCRA's "theoretical arrival time" (the instant the bucket would be
    /// full again), which is the token bucket in integer nanoseconds: no float drift at the
    /// edges of a window.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = self.clock.now();
        let window = to_delta(self.limit.per);
        let interval = window / i32::try_from(self.limit.burst).unwrap_or(i32::MAX);
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let tat = match g.current.get(key).copied() {
            Some(tat) => tat,
            None => {
                let tat = g.previous.remove(key).unwrap_or(now);
                if g.current.len() >= self.max_keys / 2 {
                    g.previous = std::mem::take(&mut g.current);
                }
                tat
            }
        };
        // A clock stepping back must not leave a key blocked for longer than one window.
        let tat = tat.clamp(now, now + window);
        let next = tat + interval;
        if next - now <= window {
            g.current.insert(key.to_owned(), next);
            Ok(())
        } else {
            g.current.insert(key.to_owned(), tat);
            Err((next - now - window).to_std().unwrap_or_default())
        }
    }
}

/// What a route's limit is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The client's IP address (IPv6 by /64, since one host commonly holds a whole /64).
    Ip,
    /// The logged-in account (session value [`ACCOUNT_KEY`]); the IP when not logged in.
    Account,
    /// The session; the IP when there is none yet.
    Session,
}

/// Which peers are proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct ClientIpConfig {
    /// Addresses of reverse proxies in front of the shop. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<IpAddr>,
}

impl ClientIpConfig {
    /// The client's address: the TCP peer, or, when the peer is a trusted proxy, the rightmost
    /// `X-Forwarded-For` entry that is not a trusted proxy (entries left of it are the
    /// client's own claims and could be forged).
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|ip| !self.trusted_proxies.contains(ip))
                .unwrap_or(peer),
        )
    }
}

impl ClientIpConfig {
    /// The client's key as the rate limits count it (`ip:203.0.113.5`, IPv6 by
    /// `ip:2001:db8:1:2::/64`, `ip:unknown` without a peer). A full address: hash it before
    /// storing it anywhere near personal data.
    pub fn client_key(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> String {
        ip_key(self.client_ip(peer, headers))
    }
}

fn ip_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => format!("ip:{v4}"),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("ip:{net}/64")
            }
        },
        // No peer address (served without connect info): one shared bucket, which fails
        // towards limiting rather than towards none.
        None => "ip:unknown".to_owned(),
    }
}

/// A route's rate limit: the limiter, and what it counts per.
#[derive(Debug, Clone)]
pub struct RateLimitRule {
    /// The buckets (share one limiter between routes to give them one budget).
    pub limiter: Arc<RateLimiter>,
    /// The key.
    pub key: KeyKind,
    /// How the client IP is found.
    pub client_ip: Arc<ClientIpConfig>,
}

impl RateLimitRule {
    /// A rule keyed by `key` over a new limiter.
    pub fn new(limit: RateLimit, key: KeyKind, max_keys: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            limiter: Arc::new(RateLimiter::new(limit, max_keys, clock)),
            key,
            client_ip: Arc::new(ClientIpConfig::default()),
        }
    }

    /// Uses `config` to find client IPs.
    pub fn with_client_ip(mut self, config: Arc<ClientIpConfig>) -> Self {
        self.client_ip = config;
        self
    }

    fn key_for(&self, req: &Request) -> String {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let ip = || ip_key(self.client_ip.client_ip(peer, req.headers()));
        let session = req.extensions().get::<Session>();
        match self.key {
            KeyKind::Ip => ip(),
            KeyKind::Account => session
                .and_then(|s| s.get::<String>(ACCOUNT_KEY))
                .map(|a| format!("account:{a}"))
                .unwrap_or_else(ip),
            KeyKind::Session => session
                .and_then(Session::storage_key)
                .map(|k| format!("session:{}", k.to_hex()))
                .unwrap_or_else(ip),
        }
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`): 429 with `Retry-After` past the limit.
pub async fn rate_limit(State(rule): State<RateLimitRule>, req: Request, next: Next) -> Response {
    let key = rule.key_for(&req);
    match rule.limiter.check(&key) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::info!(kind = ?rule.key, "rate limit reached");
            AppError::TooManyRequests {
                retry_after_secs: secs.max(1),
            }
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::clock::ManualClock;

    fn limiter(limit: RateLimit, max_keys: usize) -> (RateLimiter, ManualClock) {
        let clock = ManualClock::new(Utc::now());
        (
            RateLimiter::new(limit, max_keys, Arc::new(clock.clone())),
            clock,
        )
    }

    #[test]
    fn buckets_empty_and_refill() {
        let (l, clock) = limiter(RateLimit::per_minute(3), 100);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        let wait = l.check("a").unwrap_err();
        assert_eq!(wait.as_secs(), 20);
        assert!(l.check("b").is_ok(), "another key is unaffected");
        clock.advance(Duration::from_secs(19));
        assert!(l.check("a").is_err());
        clock.advance(Duration::from_secs(1));
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        // A clock stepping back blocks for at most one window.
        clock.set(Utc::now() - chrono::TimeDelta::hours(1));
        let wait = l.check("a").unwrap_err();
        assert!(wait <= Duration::from_secs(60), "{wait:?}");
    }

    #[test]
    fn memory_is_capped() {
        let (l, _clock) = limiter(RateLimit::per_minute(1), 10);
        for i in 0..1000 {
            let _ = l.check(&format!("k{i}"));
            assert!(l.len() <= 10, "{} keys held", l.len());
        }
        // A key in steady use survives the churn of others within the cap.
        let (l, _clock) = limiter(RateLimit::per_minute(1), 10);
        assert!(l.check("hot").is_ok());
        for i in 0..3 {
            let _ = l.check(&format!("k{i}"));
            assert!(l.check("hot").is_err());
        }
    }

    #[test]
    fn client_ip_resolution() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let cfg = ClientIpConfig {
            trusted_proxies: vec![proxy],
        };
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7, 10.0.0.1".parse().unwrap(),
        );
        let direct: IpAddr = "192.0.2.5".parse().unwrap();
        assert_eq!(cfg.client_ip(Some(direct), &h), Some(direct));
        assert_eq!(
            cfg.client_ip(Some(proxy), &h),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(cfg.client_ip(None, &h), None);
        assert_eq!(
            ip_key(Some("2001:db8:1:2:3:4:5:6".parse().unwrap())),
            "ip:2001:db8:1:2::/64"
        );
        assert_eq!(
            ip_key(Some("::ffff:192.0.2.1".parse().unwrap())),
            "ip:192.0.2.1"
        );
    }
}
