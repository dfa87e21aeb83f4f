//! Server-side sessions.
//!
//! The browser holds only a 256-bit random id in a cookie; the data stays on the server behind a
//! [`SessionStore`]. Stores never see the id itself, only its SHA-256 ([`StorageKey`]), so a
//! copy of the session table cannot be replayed as cookies.
//!
//! The cookie is `__Host-mamori_session` under TLS (Secure, no Domain, Path=/: it cannot be set
//! or overwritten by a sibling subdomain) and `mamori_session` otherwise; always HttpOnly and
//! SameSite=Lax. It is a browser-session cookie; the server enforces an idle timeout and an
//! absolute lifetime.
//!
//! [`session_layer`] loads the session before the handler and persists it after. Handlers take
//! the [`Session`] extractor and use [`Session::get`], [`Session::insert`], [`Session::renew`]
//! (call it at login, and at any privilege change, to defeat session fixation) and
//! [`Session::destroy`] (logout). A visitor gets a session (and a cookie) only once something is
//! written to it, such as a CSRF token for a form.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use axum::{
    extract::{FromRequestParts, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use cookie::{Cookie, SameSite};
use http::{header, request::Parts, HeaderMap, HeaderValue};
use rand::RngCore as _;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    clock::{to_delta, Clock},
    errors::AppError,
};

/// The session key under which the logged-in account's id is kept (the rate limiter keys
/// per-account limits on it).
pub const ACCOUNT_KEY: &str = "account_id";

/// A session failure. It never holds session data or ids.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The store failed (its message must hold no personal data).
    #[error("session store: {0}")]
    Store(String),
    /// A value could not be (de)serialized.
    #[error("session value for key {0:?} could not be serialized")]
    Serialize(String),
}

/// A session id: 256 bits from the OS generator, base64url in the cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId([u8; 32]);

impl SessionId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SessionId(bytes)
    }

    /// Parses the cookie value; anything but 43 base64url characters is refused.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() != 43 {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value)
            .ok()?;
        bytes.try_into().ok().map(SessionId)
    }

    /// The cookie value.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The key stores file the session under: SHA-256 of the id.
    pub fn storage_key(&self) -> StorageKey {
        StorageKey(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

/// What a store files a session under: the SHA-256 of its id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey(pub [u8; 32]);

impl StorageKey {
    /// Hex, for a text column.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short prefix only: enough to tell keys apart in a test failure.
        write!(f, "StorageKey({}…)", &self.to_hex()[..8])
    }
}

/// The values of a session: JSON values by key.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionData(BTreeMap<String, serde_json::Value>);

impl SessionData {
    /// The value under `key`, if present and of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.0
            .get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Sets `key` to `value`.
    pub fn insert<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), SessionError> {
        let v = serde_json::to_value(value).map_err(|_| SessionError::Serialize(key.into()))?;
        self.0.insert(key.to_owned(), v);
        Ok(())
    }

    /// Removes `key`; true if it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        self.0.remove(key).is_some()
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be personal; keys are names chosen by code.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The values.
    pub data: SessionData,
    /// When the session began (absolute expiry counts from here; renewal keeps it).
    pub created_at: DateTime<Utc>,
    /// When it was last used (idle expiry counts from here).
    pub last_seen: DateTime<Utc>,
}

/// Where sessions live. Implementations only store and fetch; expiry is decided by the layer
/// (and by [`SessionStore::purge_expired`] for housekeeping).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The record under `key`, if any.
    async fn load(&self, key: &StorageKey) -> Result<Option<SessionRecord>, SessionError>;
    /// Writes (inserts or replaces) the record under `key`.
    async fn save(&self, key: &StorageKey, record: &SessionRecord) -> Result<(), SessionError>;
    /// Removes the record under `key` (no error if absent).
    async fn delete(&self, key: &StorageKey) -> Result<(), SessionError>;
    /// Removes records last seen before `idle_before` or created before `created_before`;
    /// returns how many went.
    async fn purge_expired(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> Result<u64, SessionError>;
}

/// Sessions in memory, at most `capacity` of them (the least recently seen goes first).
#[derive(Debug)]
pub struct MemorySessionStore {
    capacity: usize,
    map: Mutex<HashMap<StorageKey, SessionRecord>>,
}

impl MemorySessionStore {
    /// A store for at most `capacity` sessions.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// How many sessions are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True if none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<StorageKey, SessionRecord>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new(100_000)
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn load(&self, key: &StorageKey) -> Result<Option<SessionRecord>, SessionError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn save(&self, key: &StorageKey, record: &SessionRecord) -> Result<(), SessionError> {
        let mut map = self.lock();
        if !map.contains_key(key) && map.len() >= self.capacity {
            // A linear scan is fine for a development store; real stores index last_seen.
            if let Some(oldest) = map.iter().min_by_key(|(_, r)| r.last_seen).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        map.insert(*key, record.clone());
        Ok(())
    }

    async fn delete(&self, key: &StorageKey) -> Result<(), SessionError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn purge_expired(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> Result<u64, SessionError> {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, r| r.last_seen >= idle_before && r.created_at >= created_before);
        Ok((before - map.len()) as u64)
    }
}

/// Session settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Served over TLS: `__Host-` name and `Secure`.
    pub tls: bool,
    /// The cookie's name without the `__Host-` prefix.
    pub cookie_name: String,
    /// A session unused this long is dead.
    pub idle_timeout: Duration,
    /// A session this old is dead however busy.
    pub absolute_timeout: Duration,
    /// `last_seen` is written at most this often when nothing else changed, to spare the store
    /// a write per request; idle expiry is exact to within this.
    pub touch_interval: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            tls: false,
            cookie_name: "mamori_session".to_owned(),
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
            touch_interval: Duration::from_secs(60),
        }
    }
}

impl SessionConfig {
    /// The cookie's full name.
    pub fn full_cookie_name(&self) -> String {
        if self.tls {
            format!("__Host-{}", self.cookie_name)
        } else {
            self.cookie_name.clone()
        }
    }

    /// The `Set-Cookie` value carrying `id`.
    pub fn set_cookie(&self, id: &SessionId) -> String {
        self.cookie(id.encode()).to_string()
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn removal_cookie(&self) -> String {
        let mut c = self.cookie(String::new());
        c.make_removal();
        c.to_string()
    }

    fn cookie(&self, value: String) -> Cookie<'static> {
        site_cookie(self.full_cookie_name(), value, self.tls)
    }

    fn expired(&self, record: &SessionRecord, now: DateTime<Utc>) -> bool {
        now - record.last_seen >= to_delta(self.idle_timeout)
            || now - record.created_at >= to_delta(self.absolute_timeout)
    }
}

#[derive(Debug)]
struct SessionState {
    id: Option<SessionId>,
    record: SessionRecord,
    dirty: bool,
    renew: bool,
    destroyed: bool,
}

/// The current request's session (extractor). Clones share the same state.
#[derive(Clone, Debug)]
pub struct Session {
    state: Arc<Mutex<SessionState>>,
}

impl Session {
    fn new(id: Option<SessionId>, record: SessionRecord) -> Self {
        Self {
            state: Arc::new(Mutex::new(SessionState {
                id,
                record,
                dirty: false,
                renew: false,
                destroyed: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value under `key`, if present and of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let s = self.lock();
        if s.destroyed {
            return None;
        }
        s.record.data.get(key)
    }

    /// Sets `key` to `value`; the session is saved (and created if new) after the handler.
    pub fn insert<T: Serialize>(&self, key: &str, value: &T) -> Result<(), SessionError> {
        let mut s = self.lock();
        if s.destroyed {
            // Writing after a logout starts a new session under a new id.
            s.destroyed = false;
            s.renew = true;
        }
        s.record.data.insert(key, value)?;
        s.dirty = true;
        Ok(())
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) {
        let mut s = self.lock();
        if s.record.data.remove(key) {
            s.dirty = true;
        }
    }

    /// Gives the session a new id and keeps its data; the old id stops working. Call at login.
    pub fn renew(&self) {
        let mut s = self.lock();
        s.renew = true;
        s.dirty = true;
    }

    /// Ends the session: its record is deleted and the cookie removed. Call at logout.
    pub fn destroy(&self) {
        let mut s = self.lock();
        s.destroyed = true;
        s.record.data = SessionData::default();
    }

    /// True if something is stored (so the session will be saved, and created if new).
    pub fn has_data(&self) -> bool {
        let s = self.lock();
        !s.destroyed && !s.record.data.is_empty()
    }

    /// True if the browser presented a live session with this request.
    pub fn is_established(&self) -> bool {
        self.lock().id.is_some()
    }

    /// The storage key of the session as it stands (after the handler, the layer may change it).
    pub fn storage_key(&self) -> Option<StorageKey> {
        self.lock().id.as_ref().map(SessionId::storage_key)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            tracing::error!("session missing: the session layer is not installed");
            AppError::Internal
        })
    }
}

/// What [`session_layer`] needs.
#[derive(Clone)]
pub struct SessionLayerState {
    /// Settings.
    pub config: Arc<SessionConfig>,
    /// Where sessions live.
    pub store: Arc<dyn SessionStore>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

/// A cookie with the attributes every cookie of this stack carries: `HttpOnly`, `SameSite=Lax`,
/// `Path=/`, no `Domain`, and `Secure` when served over TLS.
pub(crate) fn site_cookie(name: String, value: String, tls: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(tls)
        .build()
}

/// Every value of the cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .collect()
}

fn append_cookie(res: &mut Response, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        Err(_) => tracing::error!("could not build the session cookie header"),
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`): loads the session, runs the handler,
/// persists the session. A store failure answers 500.
pub async fn session_layer(
    State(st): State<SessionLayerState>,
    mut req: Request,
    next: Next,
) -> Response {
    let now = st.clock.now();
    let name = st.config.full_cookie_name();
    let presented = cookie_values(req.headers(), &name);
    let mut loaded = None;
    // Several cookies of one name can arrive (a plain-HTTP cookie shadowing one of ours);
    // the first that names a live session wins.
    for value in &presented {
        let Some(id) = SessionId::parse(value) else {
            continue;
        };
        let key = id.storage_key();
        match st.store.load(&key).await {
            Ok(Some(record)) if !st.config.expired(&record, now) => {
                loaded = Some((id, record));
                break;
            }
            Ok(Some(_)) => {
                if let Err(err) = st.store.delete(&key).await {
                    tracing::error!(error = %err, "could not delete an expired session");
                }
            }
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = %err, "could not load a session");
                return AppError::Internal.into_response();
            }
        }
    }
    let had_live = loaded.is_some();
    let session = match loaded {
        Some((id, record)) => Session::new(Some(id), record),
        None => Session::new(
            None,
            SessionRecord {
                data: SessionData::default(),
                created_at: now,
                last_seen: now,
            },
        ),
    };
    req.extensions_mut().insert(session.clone());

    let mut res = next.run(req).await;

    match persist(&st, &session, now).await {
        Ok(Some(cookie)) => append_cookie(&mut res, &cookie),
        Ok(None) => {
            if !presented.is_empty() && !had_live && session.lock().id.is_none() {
                // A dead cookie: tell the browser to drop it.
                append_cookie(&mut res, &st.config.removal_cookie());
            }
        }
        Err(err) => {
            tracing::error!(error = %err, "could not save a session");
            return AppError::Internal.into_response();
        }
    }
    res
}

/// Writes the session back; returns the `Set-Cookie` value to send, if any.
async fn persist(
    st: &SessionLayerState,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Option<String>, SessionError> {
    // Take what is needed and release the lock before awaiting the store.
    let (old_id, record, destroyed, renew, dirty) = {
        let s = session.lock();
        (
            s.id.clone(),
            s.record.clone(),
            s.destroyed,
            s.renew,
            s.dirty,
        )
    };
    if destroyed {
        return match old_id {
            Some(id) => {
                st.store.delete(&id.storage_key()).await?;
                session.lock().id = None;
                Ok(Some(st.config.removal_cookie()))
            }
            None => Ok(None),
        };
    }
    let mut record = record;
    match old_id {
        Some(id) if !renew => {
            if dirty || now - record.last_seen >= to_delta(st.config.touch_interval) {
                record.last_seen = now;
                st.store.save(&id.storage_key(), &record).await?;
            }
            Ok(None)
        }
        old => {
            if !dirty {
                return Ok(None);
            }
            let id = SessionId::generate();
            record.last_seen = now;
            st.store.save(&id.storage_key(), &record).await?;
            if let Some(old) = old {
                st.store.delete(&old.storage_key()).await?;
            }
            let cookie = st.config.set_cookie(&id);
            let mut s = session.lock();
            s.id = Some(id);
            s.renew = false;
            s.dirty = false;
            Ok(Some(cookie))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_junk() {
        let id = SessionId::generate();
        let text = id.encode();
        assert_eq!(text.len(), 43);
        assert_eq!(SessionId::parse(&text), Some(id.clone()));
        assert_ne!(SessionId::generate(), id);
        for junk in ["", "abc", &"A".repeat(44), &"!".repeat(43)] {
            assert!(SessionId::parse(junk).is_none(), "{junk}");
        }
        assert_eq!(format!("{id:?}"), "SessionId([redacted])");
        assert_ne!(id.storage_key().0.as_slice(), id.0.as_slice());
    }

    #[test]
    fn cookie_attributes_follow_tls() {
        let id = SessionId::generate();
        let plain = SessionConfig::default().set_cookie(&id);
        assert!(
            plain.starts_with(&format!("mamori_session={}", id.encode())),
            "{plain}"
        );
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(plain.contains(attr), "{plain}");
        }
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(!plain.contains("Domain"), "{plain}");

        let tls = SessionConfig {
            tls: true,
            ..SessionConfig::default()
        };
        let secure = tls.set_cookie(&id);
        assert!(secure.starts_with("__Host-mamori_session="), "{secure}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
            assert!(secure.contains(attr), "{secure}");
        }
        assert!(!secure.contains("Domain"), "{secure}");
        let gone = tls.removal_cookie();
        assert!(gone.contains("Max-Age=0"), "{gone}");
    }

    #[test]
    fn data_debug_shows_keys_only() {
        let mut d = SessionData::default();
        d.insert("email", &"taro@example.jp").unwrap();
        let shown = format!("{d:?}");
        assert!(shown.contains("email"));
        assert!(!shown.contains("taro"));
    }

    #[tokio::test]
    async fn memory_store_is_bounded_and_purges() {
        let store = MemorySessionStore::new(2);
        let t0 = Utc::now();
        let rec = |s: i64| SessionRecord {
            data: SessionData::default(),
            created_at: t0,
            last_seen: t0 + chrono::TimeDelta::seconds(s),
        };
        let keys: Vec<_> = (0..3)
            .map(|_| SessionId::generate().storage_key())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            store.save(k, &rec(i as i64)).await.unwrap();
        }
        assert_eq!(store.len(), 2);
        assert!(store.load(&keys[0]).await.unwrap().is_none());
        let gone = store
            .purge_expired(t0 + chrono::TimeDelta::seconds(2), t0)
            .await
            .unwrap();
        assert_eq!(gone, 1);
        assert!(store.load(&keys[2]).await.unwrap().is_some());
    }
}
