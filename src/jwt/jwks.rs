//! The issuer's key set (RFC 7517), fetched over HTTP and cached.
//!
//! * Parsing is tolerant key by key: a key this crate cannot or must not use (unknown `kty` or
//!   curve, `use` other than `sig`, `oct` secrets, private members, bad base64, RSA under 2048
//!   bits) is skipped with a debug log; the rest of the set still loads.
//! * Each usable key is prepared for verification once, when the set is fetched, with the algorithms it
//!   may verify: the allowlist ∩ the key's family ∩ the JWK's own `alg`, when it declares one.
//! * The set lives for its TTL (default 5 min, or the response's `Cache-Control: max-age`
//!   clamped to [1 min, 24 h]). When it has expired, requests go on using it while one
//!   background fetch replaces it; if fetches keep failing, it is served up to the
//!   stale-if-error bound (default 1 h) past its expiry, then requests get 503.
//! * A token naming an unknown `kid` triggers a fetch, at most one per cooldown (default 30 s).
//! * Only one fetch is ever in flight; concurrent callers wait for it and share its outcome,
//!   success or failure. Requests whose key is known never wait for a fetch.
//! * A failed fetch never replaces the set, and a set with no usable key counts as a failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwapOption;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::clock::SharedClock;
use crate::discovery::Discovery;
use crate::error::{AuthError, AuthErrorKind};
use crate::http::HttpClient;

use super::verify::{PublicKey, VerifyingKey};

/// Media types a key set may be served with.
const JWKS_CONTENT_TYPES: &[&str] = &["application/json", "application/jwk-set+json"];

/// Timing and size settings of a key set cache.
#[derive(Debug, Clone)]
pub(crate) struct JwksSettings {
    pub(crate) ttl: Duration,
    pub(crate) min_ttl: Duration,
    pub(crate) max_ttl: Duration,
    pub(crate) cooldown: Duration,
    pub(crate) stale_if_error: Duration,
    pub(crate) max_keys: usize,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            cooldown: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(3600),
            max_keys: 100,
        }
    }
}

/// Where the key set lives.
#[derive(Debug)]
pub(crate) enum JwksSource {
    /// A configured URL.
    Uri(Url),
    /// The `jwks_uri` of the issuer's metadata, looked up on first use.
    Discover(Arc<Discovery>),
}

/// A usable verification key.
pub(crate) struct JwkKey {
    pub(crate) kid: Option<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) key: VerifyingKey,
}

/// One fetched key set.
pub(crate) struct KeySet {
    pub(crate) keys: Vec<Arc<JwkKey>>,
    pub(crate) expires_at: SystemTime,
    pub(crate) generation: u64,
}

/// The cache. Cheap to clone.
#[derive(Clone)]
pub(crate) struct JwksCache {
    inner: Arc<Inner>,
}

struct Inner {
    source: JwksSource,
    http: HttpClient,
    clock: SharedClock,
    settings: JwksSettings,
    allowed: Vec<Algorithm>,
    /// The current set: read without a lock on every request, replaced whole by a fetch.
    current: ArcSwapOption<KeySet>,
    /// Held only by the one caller that runs a fetch; others wait on it, then share the outcome.
    refresh: tokio::sync::Mutex<RefreshState>,
    /// Completed fetch attempts (successful or not).
    attempts: AtomicU64,
    background: AtomicBool,
}

#[derive(Default)]
struct RefreshState {
    last_outcome: Option<Result<(), AuthError>>,
    last_unknown_kid_fetch: Option<SystemTime>,
    last_background_failure: Option<SystemTime>,
}

/// Why a fetch is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// No set yet, or the set is past its stale bound.
    Required,
    /// A token names a key the set does not hold.
    UnknownKid,
}

/// Keys tried for one token at most: an issuer that publishes one `kid` twice (a rotation
/// mistake) still works, and a token cannot make the server try many keys.
pub(crate) const MAX_CANDIDATES: usize = 3;

enum Lookup {
    /// The keys that may verify the token, in key-set order.
    Found(Vec<Arc<JwkKey>>),
    WrongAlgorithm,
    NotFound,
    Ambiguous,
}

impl JwksCache {
    pub(crate) fn new(
        source: JwksSource,
        http: HttpClient,
        clock: SharedClock,
        settings: JwksSettings,
        allowed: Vec<Algorithm>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                http,
                clock,
                settings,
                allowed,
                current: ArcSwapOption::empty(),
                refresh: tokio::sync::Mutex::new(RefreshState::default()),
                attempts: AtomicU64::new(0),
                background: AtomicBool::new(false),
            }),
        }
    }

    /// Whether `key` is still in the current key set and that set may still be used: a
    /// refresh that dropped the key makes the tokens it verified unusable, and so does a set
    /// past its stale-if-error bound. An expired set is refreshed in the background, as on the
    /// full path.
    pub(crate) fn holds(&self, key: &Arc<JwkKey>) -> bool {
        let Some(set) = self.current() else {
            return false;
        };
        let now = self.inner.clock.now();
        if now >= set.expires_at {
            if since(set.expires_at, now) >= self.inner.settings.stale_if_error {
                return false;
            }
            self.refresh_in_background(now);
        }
        set.keys.iter().any(|k| Arc::ptr_eq(k, key))
    }

    /// Installs `keys` as the current set, valid for a day (for fuzzing and property tests).
    #[cfg(any(test, feature = "__fuzz"))]
    pub(crate) fn install(&self, keys: Vec<Arc<JwkKey>>) {
        let set = KeySet {
            keys,
            expires_at: self.inner.clock.now() + Duration::from_secs(24 * 3600),
            generation: 1,
        };
        self.inner.current.store(Some(Arc::new(set)));
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        self.inner.current.load_full()
    }

    /// Fetches the key set now, unless one is cached and fresh.
    pub(crate) async fn warm_up(&self) -> Result<(), AuthError> {
        match self.current() {
            Some(set) if self.inner.clock.now() < set.expires_at => Ok(()),
            _ => self.refresh(Trigger::Required, None).await.map(|_| ()),
        }
    }

    /// The keys that may verify a token with header `kid` and `alg` (usually one).
    pub(crate) async fn keys_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Vec<Arc<JwkKey>>, AuthError> {
        let now = self.inner.clock.now();
        let set = match self.current() {
            None => self.refresh(Trigger::Required, None).await?,
            Some(set) if now < set.expires_at => set,
            Some(set) if since(set.expires_at, now) < self.inner.settings.stale_if_error => {
                self.refresh_in_background(now);
                set
            }
            Some(set) => match self.refresh(Trigger::Required, None).await {
                Ok(fresh) => fresh,
                Err(e) => {
                    tracing::warn!(
                        generation = set.generation,
                        "the cached key set is past its stale-if-error bound and cannot be refreshed"
                    );
                    return Err(e);
                }
            },
        };
        match lookup(&set, kid, alg) {
            Lookup::Found(keys) => return Ok(keys),
            Lookup::WrongAlgorithm => return Err(wrong_alg(kid, alg)),
            Lookup::Ambiguous => {
                return Err(AuthError::new(
                    AuthErrorKind::UnknownKey,
                    "the token has no kid and the key set holds several keys",
                ));
            }
            Lookup::NotFound => {}
        }
        let fresh = self
            .refresh(Trigger::UnknownKid, Some(set.generation))
            .await?;
        match lookup(&fresh, kid, alg) {
            Lookup::Found(keys) => Ok(keys),
            Lookup::WrongAlgorithm => Err(wrong_alg(kid, alg)),
            Lookup::NotFound | Lookup::Ambiguous => Err(AuthError::new(
                AuthErrorKind::UnknownKey,
                match kid {
                    Some(kid) => format!("no key with kid {kid:?} in the issuer's key set"),
                    None => "no usable key in the issuer's key set".to_owned(),
                },
            )),
        }
    }

    /// Starts one background refresh of an expired set, unless one is running or the last
    /// one failed less than a cooldown ago.
    fn refresh_in_background(&self, now: SystemTime) {
        if self.inner.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let wait = {
                let state = this.inner.refresh.lock().await;
                state
                    .last_background_failure
                    .is_some_and(|t| since(t, now) < this.inner.settings.cooldown)
            };
            if !wait {
                let outcome = this.refresh(Trigger::Required, None).await;
                if outcome.is_err() {
                    let mut state = this.inner.refresh.lock().await;
                    state.last_background_failure = Some(now);
                }
            }
            this.inner.background.store(false, Ordering::Release);
        });
    }

    /// Runs one fetch, or waits for the one in flight and shares its outcome.
    ///
    /// For [`Trigger::UnknownKid`], `seen` is the generation the caller looked in: if a newer
    /// set arrived meanwhile it is returned without a fetch; inside the cooldown the current set
    /// is returned as it is.
    async fn refresh(&self, trigger: Trigger, seen: Option<u64>) -> Result<Arc<KeySet>, AuthError> {
        let attempts_before = self.inner.attempts.load(Ordering::Acquire);
        let mut state = self.inner.refresh.lock().await;

        if let (Some(seen), Some(current)) = (seen, self.current())
            && current.generation != seen
        {
            return Ok(current);
        }
        if self.inner.attempts.load(Ordering::Acquire) != attempts_before {
            // A fetch finished while we waited for the lock: its outcome is ours.
            match (&state.last_outcome, self.current()) {
                (Some(Err(e)), _) => return Err(e.clone()),
                (_, Some(set)) if trigger == Trigger::UnknownKid || !self.is_stale(&set) => {
                    return Ok(set);
                }
                _ => {}
            }
        }
        let now = self.inner.clock.now();
        if trigger == Trigger::UnknownKid {
            if let (Some(last), Some(current)) = (state.last_unknown_kid_fetch, self.current())
                && since(last, now) < self.inner.settings.cooldown
            {
                tracing::debug!("unknown kid inside the refetch cooldown; not fetching");
                // While the issuer is failing, an unknown kid cannot be judged: say so
                // consistently rather than 503 once and 401 after.
                return match &state.last_outcome {
                    Some(Err(e)) => Err(e.clone()),
                    _ => Ok(current),
                };
            }
            state.last_unknown_kid_fetch = Some(now);
        }

        // The fetch runs in its own task so that a caller that goes away (a client hanging
        // up) cannot cancel it halfway for everyone waiting on it.
        let this = self.clone();
        let outcome = match tokio::spawn(async move { this.fetch_and_install().await }).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AuthError::unavailable("the key set fetch was aborted")),
        };
        state.last_outcome = Some(outcome.as_ref().map(|_| ()).map_err(Clone::clone));
        self.inner.attempts.fetch_add(1, Ordering::Release);
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "fetching the issuer's key set failed");
        }
        outcome
    }

    fn is_stale(&self, set: &KeySet) -> bool {
        self.inner.clock.now() >= set.expires_at
    }

    async fn jwks_url(&self) -> Result<Url, AuthError> {
        match &self.inner.source {
            JwksSource::Uri(url) => Ok(url.clone()),
            JwksSource::Discover(discovery) => {
                let metadata = discovery.metadata().await?;
                let Some(uri) = &metadata.jwks_uri else {
                    return Err(AuthError::unavailable(
                        "the issuer's metadata has no jwks_uri",
                    ));
                };
                discovery.check_url("jwks_uri", uri)
            }
        }
    }

    async fn fetch_and_install(&self) -> Result<Arc<KeySet>, AuthError> {
        let url = self.jwks_url().await?;
        let fetched = self
            .inner
            .http
            .get(
                &url,
                "application/jwk-set+json, application/json",
                JWKS_CONTENT_TYPES,
            )
            .await
            .map_err(AuthError::from)?;
        let keys = parse_jwks(
            &fetched.body,
            &self.inner.allowed,
            self.inner.settings.max_keys,
        )
        .map_err(|why| AuthError::unavailable(format!("the key set at {url} {why}")))?;
        let settings = &self.inner.settings;
        let ttl = fetched
            .max_age
            .unwrap_or(settings.ttl)
            .clamp(settings.min_ttl, settings.max_ttl);
        // Only the one fetch in flight gets here, so load-then-store cannot race.
        let generation = self
            .inner
            .current
            .load()
            .as_ref()
            .map_or(1, |set| set.generation + 1);
        let now = self.inner.clock.now();
        let set = Arc::new(KeySet {
            keys,
            expires_at: now.checked_add(ttl).unwrap_or(now),
            generation,
        });
        tracing::debug!(
            generation,
            keys = set.keys.len(),
            ttl_secs = ttl.as_secs(),
            "installed the issuer's key set"
        );
        self.inner.current.store(Some(Arc::clone(&set)));
        Ok(set)
    }
}

/// Time from `earlier` to `later`, zero if the clock went back. Comparing elapsed times (not
/// `earlier + setting`) keeps any setting, however large, from overflowing.
fn since(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or(Duration::ZERO)
}

fn wrong_alg(kid: Option<&str>, alg: Algorithm) -> AuthError {
    AuthError::new(
        AuthErrorKind::DisallowedAlgorithm,
        format!("alg {alg:?} is not allowed for the key {kid:?}"),
    )
}

fn lookup(set: &KeySet, kid: Option<&str>, alg: Algorithm) -> Lookup {
    match kid {
        Some(kid) => {
            let mut named = false;
            let mut found = Vec::new();
            for key in &set.keys {
                if key.kid.as_deref() == Some(kid) {
                    named = true;
                    if key.algorithms.contains(&alg) && found.len() < MAX_CANDIDATES {
                        found.push(Arc::clone(key));
                    }
                }
            }
            match (found.is_empty(), named) {
                (false, _) => Lookup::Found(found),
                (true, true) => Lookup::WrongAlgorithm,
                (true, false) => Lookup::NotFound,
            }
        }
        None => match set.keys.as_slice() {
            [] => Lookup::NotFound,
            [only] if only.algorithms.contains(&alg) => Lookup::Found(vec![Arc::clone(only)]),
            [_] => Lookup::WrongAlgorithm,
            _ => Lookup::Ambiguous,
        },
    }
}

/// The outer shape of a JWK Set. Entries are kept raw and parsed one by one, so that one
/// entry that cannot be read (too deep, wrong types) never fails the set.
#[derive(Deserialize)]
struct RawSet<'a> {
    #[serde(borrow)]
    keys: Option<Vec<&'a RawValue>>,
}

/// The members of a JWK the crate reads; the others are skipped without being parsed.
#[derive(Deserialize)]
struct JwkMembers {
    kty: Option<Value>,
    kid: Option<Value>,
    #[serde(rename = "use")]
    usage: Option<Value>,
    key_ops: Option<Value>,
    alg: Option<Value>,
    n: Option<Value>,
    e: Option<Value>,
    crv: Option<Value>,
    x: Option<Value>,
    y: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    d: bool,
    #[serde(default, deserialize_with = "present")]
    p: bool,
    #[serde(default, deserialize_with = "present")]
    q: bool,
    #[serde(default, deserialize_with = "present")]
    dp: bool,
    #[serde(default, deserialize_with = "present")]
    dq: bool,
    #[serde(default, deserialize_with = "present")]
    qi: bool,
    #[serde(default, deserialize_with = "present")]
    k: bool,
}

/// `true` for a member that is present, whatever its value (`null` included).
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// Parses a JWK Set, keeping the usable keys (at most `max_keys`).
pub(crate) fn parse_jwks(
    body: &[u8],
    allowed: &[Algorithm],
    max_keys: usize,
) -> Result<Vec<Arc<JwkKey>>, &'static str> {
    // A struct would also deserialize from a JSON array: insist on an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("is not a JSON object");
    }
    let set: RawSet<'_> = serde_json::from_slice(body).map_err(|_| "is not a JSON object")?;
    let Some(entries) = set.keys else {
        return Err("has no \"keys\" array");
    };
    let mut keys = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if keys.len() == max_keys {
            tracing::warn!(
                max_keys,
                total = entries.len(),
                "the key set holds more keys than the cap; the rest are ignored"
            );
            break;
        }
        let Ok(members) = serde_json::from_str::<JwkMembers>(entry.get()) else {
            tracing::debug!(
                index,
                "skipping a key set entry that is not a readable object"
            );
            continue;
        };
        match parse_key(&members, allowed) {
            Ok(key) => keys.push(Arc::new(key)),
            Err(why) => {
                let kid = members.kid.as_ref().and_then(Value::as_str);
                tracing::debug!(index, ?kid, reason = why, "skipping a key of the key set");
            }
        }
    }
    if keys.is_empty() {
        return Err("holds no usable key");
    }
    Ok(keys)
}

const RSA_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// Parses one JWK into a verification key, or says why it cannot be used.
fn parse_key(jwk: &JwkMembers, allowed: &[Algorithm]) -> Result<JwkKey, &'static str> {
    let text = |member: &Option<Value>| -> Result<Option<String>, &'static str> {
        match member {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err("a member has the wrong type"),
        }
    };
    let required = |member: &Option<Value>| -> Result<String, &'static str> {
        text(member)?.ok_or("a required member is missing")
    };
    let bytes = |member: &Option<Value>| -> Result<Vec<u8>, &'static str> {
        URL_SAFE_NO_PAD
            .decode(required(member)?)
            .map_err(|_| "a member is not base64url")
    };

    if let Some(usage) = text(&jwk.usage)?
        && usage != "sig"
    {
        return Err("use is not \"sig\"");
    }
    if let Some(ops) = &jwk.key_ops {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !verifies {
            return Err("key_ops does not allow \"verify\"");
        }
    }
    if jwk.d || jwk.p || jwk.q || jwk.dp || jwk.dq || jwk.qi || jwk.k {
        return Err("holds private or secret key material");
    }
    let kid = text(&jwk.kid)?;
    let declared = match text(&jwk.alg)? {
        None => None,
        Some(name) => {
            Some(algorithm_from_name(&name).ok_or("alg is not a supported signature algorithm")?)
        }
    };

    // The decoded members live here while the key is prepared.
    let (n, e, x, y);
    let mut point = Vec::new();
    let (family, public): (&[Algorithm], PublicKey<'_>) = match required(&jwk.kty)?.as_str() {
        "RSA" => {
            n = bytes(&jwk.n)?;
            e = bytes(&jwk.e)?;
            let n = strip_leading_zeros(&n);
            let e = strip_leading_zeros(&e);
            if n.len() < 256 {
                return Err("RSA modulus shorter than 2048 bits");
            }
            if n.len() > 1024 {
                return Err("RSA modulus longer than 8192 bits");
            }
            if e.is_empty() || e.len() > 8 {
                return Err("RSA exponent out of range");
            }
            (RSA_ALGS, PublicKey::Rsa { n, e })
        }
        "EC" => {
            let (alg, size) = match required(&jwk.crv)?.as_str() {
                "P-256" => (&[Algorithm::ES256][..], 32),
                "P-384" => (&[Algorithm::ES384][..], 48),
                _ => return Err("unsupported EC curve"),
            };
            x = bytes(&jwk.x)?;
            y = bytes(&jwk.y)?;
            if x.len() != size || y.len() != size {
                return Err("EC coordinates have the wrong length");
            }
            point.reserve_exact(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (alg, PublicKey::Ec { point: &point })
        }
        "OKP" => {
            if required(&jwk.crv)? != "Ed25519" {
                return Err("unsupported OKP curve");
            }
            let x: &[u8; 32] = {
                point = bytes(&jwk.x)?;
                point
                    .as_slice()
                    .try_into()
                    .map_err(|_| "Ed25519 public key has the wrong length")?
            };
            if !is_prime_order_ed25519(x) {
                return Err("Ed25519 public key is not a canonical point of prime order");
            }
            (&[Algorithm::EdDSA][..], PublicKey::Ed25519(x))
        }
        "oct" => return Err("symmetric keys are never used from a key set"),
        _ => return Err("unsupported kty"),
    };
    let algorithms: Vec<Algorithm> = family
        .iter()
        .copied()
        .filter(|a| allowed.contains(a) && declared.is_none_or(|d| d == *a))
        .collect();
    if algorithms.is_empty() {
        return Err("no allowed algorithm fits this key");
    }
    let key = VerifyingKey::new(&public, &algorithms)?;
    Ok(JwkKey {
        kid,
        algorithms,
        key,
    })
}

/// Whether `x` encodes, canonically, an Ed25519 point in the prime-order subgroup. A key of
/// small or mixed order lets signatures verify that no private key made (a small-order key
/// accepts forgeries), so such keys are never used.
fn is_prime_order_ed25519(x: &[u8; 32]) -> bool {
    let compressed = curve25519_dalek::edwards::CompressedEdwardsY(*x);
    match compressed.decompress() {
        Some(point) => {
            point.compress().as_bytes() == x && !point.is_small_order() && point.is_torsion_free()
        }
        None => false,
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The signature algorithms a key set may use, by their exact JWA names (RFC 7518).
pub(crate) fn algorithm_from_name(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all() -> Vec<Algorithm> {
        RSA_ALGS
            .iter()
            .copied()
            .chain([Algorithm::ES256, Algorithm::ES384, Algorithm::EdDSA])
            .collect()
    }

    fn rsa_n() -> String {
        URL_SAFE_NO_PAD.encode([0xc5u8; 256])
    }

    #[test]
    fn tolerant_key_by_key() {
        let body = json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": rsa_n(), "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": rsa_n(), "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed448", "kid": "ed448", "x": "AAAA"},
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "XYZ", "kid": "u"},
            {"kty": "RSA", "kid": "bad64", "n": "!!!", "e": "AQAB"},
            {"kty": "RSA", "kid": "short", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]), "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "kid": "nox", "y": "AAAA"},
            "not an object",
        ]});
        let keys = parse_jwks(body.to_string().as_bytes(), &all(), 100).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("a"));
        assert_eq!(keys[0].algorithms, RSA_ALGS);
    }

    #[test]
    fn declared_alg_limits_the_key() {
        let body = json!({"keys": [{"kty": "RSA", "alg": "RS256", "n": rsa_n(), "e": "AQAB"}]});
        let keys = parse_jwks(body.to_string().as_bytes(), &all(), 100).unwrap();
        assert_eq!(keys[0].algorithms, [Algorithm::RS256]);
        let body = json!({"keys": [{"kty": "RSA", "alg": "HS256", "n": rsa_n(), "e": "AQAB"}]});
        assert!(parse_jwks(body.to_string().as_bytes(), &all(), 100).is_err());
    }

    #[test]
    fn broken_sets_fail() {
        assert!(parse_jwks(b"[]", &all(), 100).is_err());
        assert!(parse_jwks(b"{\"keys\": {}}", &all(), 100).is_err());
        assert!(parse_jwks(b"{\"keys\": []}", &all(), 100).is_err());
        assert!(parse_jwks(b"<html>", &all(), 100).is_err());
    }

    #[test]
    fn key_count_is_capped() {
        let keys: Vec<Value> = (0..10)
            .map(|i| json!({"kty": "RSA", "kid": i.to_string(), "n": rsa_n(), "e": "AQAB"}))
            .collect();
        let body = json!({ "keys": keys });
        assert_eq!(
            parse_jwks(body.to_string().as_bytes(), &all(), 3)
                .unwrap()
                .len(),
            3
        );
    }
}
