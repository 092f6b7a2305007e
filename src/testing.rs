//! [`TestIssuer`]: a real token issuer on a loopback port, for your tests (feature
//! `test-issuer`).
//!
//! It generates RSA-2048, P-256 and Ed25519 keys, serves OpenID Connect discovery and the JWK
//! Set over HTTP, mints tokens with any header and claims, rotates keys, can be made to fail,
//! and counts what it served.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_bearer::{Authenticator, testing::TestIssuer};
//!
//! let issuer = TestIssuer::start().await;
//! let auth = Authenticator::builder()
//!     .issuer(issuer.url())
//!     .audience(TestIssuer::AUDIENCE)
//!     .jwks_uri(issuer.jwks_uri())
//!     .build()?;
//! let token = issuer.token().scope("read").sign();
//! let principal = auth.authenticate(&token).await?;
//! assert!(principal.has_scope("read"));
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The kind of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, 2048 bits: signs RS256/384/512 and PS256/384/512 (RS256 by default).
    Rsa,
    /// ECDSA on P-256: signs ES256.
    EcP256,
    /// Ed25519: signs EdDSA.
    Ed25519,
}

impl KeyKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::EcP256 => "ec",
            Self::Ed25519 => "ed",
        }
    }

    fn default_alg(self) -> &'static str {
        match self {
            Self::Rsa => "RS256",
            Self::EcP256 => "ES256",
            Self::Ed25519 => "EdDSA",
        }
    }
}

#[derive(Clone)]
enum Material {
    Rsa(Arc<RsaKeyPair>),
    Ec(Arc<EcdsaKeyPair>),
    Ed(Arc<Ed25519KeyPair>),
}

#[derive(Clone)]
struct TestKey {
    kid: String,
    kind: KeyKind,
    material: Material,
    declared_alg: Option<String>,
    published: bool,
}

impl TestKey {
    fn generate(kind: KeyKind, kid: String) -> Self {
        // Key generation only fails if the platform's RNG does; a test cannot go on then.
        let material = match kind {
            KeyKind::Rsa => Material::Rsa(Arc::new(
                RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"),
            )),
            KeyKind::EcP256 => Material::Ec(Arc::new(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .expect("P-256 key generation"),
            )),
            KeyKind::Ed25519 => Material::Ed(Arc::new(
                Ed25519KeyPair::generate().expect("Ed25519 key generation"),
            )),
        };
        Self {
            kid,
            kind,
            material,
            declared_alg: None,
            published: true,
        }
    }

    fn jwk(&self) -> Value {
        let mut jwk = match &self.material {
            Material::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Material::Ec(pair) => {
                let point = pair.public_key().as_ref();
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64(&point[1..33]),
                    "y": b64(&point[33..65]),
                })
            }
            Material::Ed(pair) => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64(pair.public_key().as_ref()),
            }),
        };
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        if let Some(alg) = &self.declared_alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    }

    fn sign(&self, alg: &str, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.material {
            Material::Rsa(pair) => {
                let encoding: &'static dyn signature::RsaEncoding = match alg {
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(encoding, &rng, message, &mut sig)
                    .expect("RSA signing");
                sig
            }
            Material::Ec(pair) => pair
                .sign(&rng, message)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Material::Ed(pair) => pair.sign(message).as_ref().to_vec(),
        }
    }

    fn public_der(&self) -> Vec<u8> {
        match &self.material {
            Material::Rsa(pair) => pair.public_key().as_ref().to_vec(),
            Material::Ec(pair) => pair.public_key().as_ref().to_vec(),
            Material::Ed(pair) => pair.public_key().as_ref().to_vec(),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    jwks: AtomicU64,
    metadata: AtomicU64,
    introspection: AtomicU64,
}

/// A raw answer an endpoint gives instead of its own.
#[derive(Clone)]
struct RawAnswer {
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    location: Option<String>,
}

impl RawAnswer {
    fn response(&self) -> Response<Full<Bytes>> {
        let mut res = Response::new(Full::new(self.body.clone()));
        *res.status_mut() = self.status;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static(self.content_type),
        );
        if let Some(location) = self
            .location
            .as_deref()
            .and_then(|l| http::HeaderValue::from_str(l).ok())
        {
            res.headers_mut().insert(header::LOCATION, location);
        }
        res
    }
}

struct State {
    issuer: String,
    keys: Mutex<Vec<TestKey>>,
    extra_jwks: Mutex<Vec<Value>>,
    failure: Mutex<Option<StatusCode>>,
    cache_control: Mutex<Option<String>>,
    delay: Mutex<Duration>,
    retry_after: Mutex<Option<u64>>,
    oidc_discovery: std::sync::atomic::AtomicBool,
    opaque: Mutex<std::collections::HashMap<String, Map<String, Value>>>,
    introspection_answer: Mutex<Option<RawAnswer>>,
    jwks_answer: Mutex<Option<RawAnswer>>,
    counters: Counters,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A token issuer serving discovery and a JWK Set on `127.0.0.1`.
///
/// Dropping it stops the server.
pub struct TestIssuer {
    state: Arc<State>,
    addr: SocketAddr,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// The audience [`TestIssuer::token`] puts in tokens by default.
    pub const AUDIENCE: &'static str = "https://api.example.test";

    /// The client id the introspection endpoint accepts (with [`Self::INTROSPECTION_SECRET`]),
    /// by `client_secret_basic` or `client_secret_post`.
    pub const INTROSPECTION_CLIENT: &'static str = "resource-server";

    /// The secret of [`Self::INTROSPECTION_CLIENT`].
    pub const INTROSPECTION_SECRET: &'static str = "rs-secret:with/odd chars";

    /// Starts an issuer with one RSA (`rsa-1`), one P-256 (`ec-1`) and one Ed25519 (`ed-1`) key.
    pub async fn start() -> Self {
        Self::start_with(&[KeyKind::Rsa, KeyKind::EcP256, KeyKind::Ed25519]).await
    }

    /// Starts an issuer with the default keys on `127.0.0.1:port` (0: any free port).
    pub async fn start_on(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        Ok(Self::serve(
            listener,
            &[KeyKind::Rsa, KeyKind::EcP256, KeyKind::Ed25519],
        ))
    }

    /// Starts an issuer with keys of the given kinds, named `rsa-1`, `ec-1`, `ed-1`, `rsa-2`…
    /// in order.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with(kinds: &[KeyKind]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the test issuer");
        Self::serve(listener, kinds)
    }

    fn serve(listener: TcpListener, kinds: &[KeyKind]) -> Self {
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            issuer: format!("http://{addr}"),
            keys: Mutex::new(Vec::new()),
            extra_jwks: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
            cache_control: Mutex::new(None),
            delay: Mutex::new(Duration::ZERO),
            retry_after: Mutex::new(None),
            oidc_discovery: std::sync::atomic::AtomicBool::new(true),
            opaque: Mutex::new(std::collections::HashMap::new()),
            introspection_answer: Mutex::new(None),
            jwks_answer: Mutex::new(None),
            counters: Counters::default(),
            next_id: AtomicU64::new(0),
        });
        let issuer = Self {
            state: Arc::clone(&state),
            addr,
            server: Mutex::new(Some(tokio::spawn(serve(listener, state)))),
        };
        for kind in kinds {
            issuer.add_key(*kind);
        }
        issuer
    }

    /// The issuer identifier, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.state.issuer
    }

    /// The socket address the issuer listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of the introspection endpoint (RFC 7662).
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.state.issuer)
    }

    /// Starts an opaque access token: active, `scope` empty, `client_id` `client-1`, `sub`
    /// `user-1`, `iss`, `aud` ([`TestIssuer::AUDIENCE`]), `exp` in 5 minutes, `token_type`
    /// `Bearer`. Finish with [`OpaqueBuilder::issue`].
    pub fn opaque(&self) -> OpaqueBuilder {
        let now = now_secs();
        let mut answer = Map::new();
        answer.insert("active".into(), json!(true));
        answer.insert("client_id".into(), json!("client-1"));
        answer.insert("sub".into(), json!("user-1"));
        answer.insert("iss".into(), json!(self.state.issuer));
        answer.insert("aud".into(), json!(Self::AUDIENCE));
        answer.insert("iat".into(), json!(now));
        answer.insert("exp".into(), json!(now + 300));
        answer.insert("token_type".into(), json!("Bearer"));
        OpaqueBuilder {
            state: Arc::clone(&self.state),
            answer,
        }
    }

    /// Revokes an opaque token: from now on it is introspected as `{"active": false}`.
    pub fn revoke(&self, token: &str) {
        lock(&self.state.opaque).remove(token);
    }

    /// Makes the introspection endpoint answer this, raw, instead of its own answer (`None`:
    /// its own again). Its client authentication still comes first.
    pub fn set_introspection_answer(
        &self,
        answer: Option<(StatusCode, &'static str, impl Into<Bytes>)>,
    ) {
        *lock(&self.state.introspection_answer) =
            answer.map(|(status, content_type, body)| RawAnswer {
                status,
                content_type,
                body: body.into(),
                location: None,
            });
    }

    /// Makes `/jwks` answer this, raw (`None`: the real key set again).
    pub fn set_jwks_answer(&self, answer: Option<(StatusCode, &'static str, impl Into<Bytes>)>) {
        *lock(&self.state.jwks_answer) = answer.map(|(status, content_type, body)| RawAnswer {
            status,
            content_type,
            body: body.into(),
            location: None,
        });
    }

    /// Makes `/jwks` answer `302 Found` to `location` (`None`: the real key set again).
    pub fn set_jwks_redirect(&self, location: Option<&str>) {
        *lock(&self.state.jwks_answer) = location.map(|l| RawAnswer {
            status: StatusCode::FOUND,
            content_type: "text/plain",
            body: Bytes::new(),
            location: Some(l.to_owned()),
        });
    }

    /// How many introspection requests the issuer received.
    pub fn introspection_calls(&self) -> u64 {
        self.state.counters.introspection.load(Ordering::SeqCst)
    }

    /// The URL of the JWK Set.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.state.issuer)
    }

    /// Generates a key of `kind`, publishes it, and returns its `kid`.
    pub fn add_key(&self, kind: KeyKind) -> String {
        let mut keys = lock(&self.state.keys);
        let n = keys.iter().filter(|k| k.kind == kind).count() + 1;
        let kid = format!("{}-{n}", kind.prefix());
        keys.push(TestKey::generate(kind, kid.clone()));
        kid
    }

    /// Stops publishing the key `kid` (tokens can still be signed with it).
    pub fn remove_key(&self, kid: &str) {
        for key in lock(&self.state.keys).iter_mut() {
            if key.kid == kid {
                key.published = false;
            }
        }
    }

    /// Sets (or removes) the `alg` member of a published key.
    pub fn set_key_alg(&self, kid: &str, alg: Option<&str>) {
        for key in lock(&self.state.keys).iter_mut() {
            if key.kid == kid {
                key.declared_alg = alg.map(str::to_owned);
            }
        }
    }

    /// Appends a raw entry to the published JWK Set (for keys of kinds it cannot generate).
    pub fn add_raw_jwk(&self, jwk: Value) {
        lock(&self.state.extra_jwks).push(jwk);
    }

    /// The published JWK of key `kid`.
    pub fn jwk(&self, kid: &str) -> Option<Value> {
        lock(&self.state.keys)
            .iter()
            .find(|k| k.kid == kid)
            .map(TestKey::jwk)
    }

    /// The public key bytes of `kid` (PKCS#1 DER for RSA, the SEC1 point for P-256, the raw key
    /// for Ed25519): what an attacker would use as an HMAC secret.
    pub fn public_key_bytes(&self, kid: &str) -> Option<Vec<u8>> {
        lock(&self.state.keys)
            .iter()
            .find(|k| k.kid == kid)
            .map(TestKey::public_der)
    }

    /// Makes every endpoint answer `status` (with an HTML body), or behave again with `None`.
    pub fn fail_with(&self, status: Option<StatusCode>) {
        *lock(&self.state.failure) = status;
    }

    /// Sends `Retry-After: secs` with the failures of [`fail_with`](Self::fail_with).
    pub fn set_retry_after(&self, secs: Option<u64>) {
        *lock(&self.state.retry_after) = secs;
    }

    /// Serves metadata only at RFC 8414's `/.well-known/oauth-authorization-server`
    /// (`/.well-known/openid-configuration` answers 404), or at both again.
    pub fn set_oidc_discovery(&self, on: bool) {
        self.state.oidc_discovery.store(on, Ordering::SeqCst);
    }

    /// Sends `Cache-Control: value` with the JWK Set.
    pub fn set_jwks_cache_control(&self, value: Option<&str>) {
        *lock(&self.state.cache_control) = value.map(str::to_owned);
    }

    /// Delays every answer by `delay` (counted when the answer is sent).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.state.delay) = delay;
    }

    /// Stops the server: new connections are refused and open ones are closed.
    pub fn stop(&self) {
        if let Some(task) = lock(&self.server).take() {
            task.abort();
        }
    }

    /// How many times the JWK Set was served.
    pub fn jwks_fetches(&self) -> u64 {
        self.state.counters.jwks.load(Ordering::SeqCst)
    }

    /// How many times a metadata document was served.
    pub fn metadata_fetches(&self) -> u64 {
        self.state.counters.metadata.load(Ordering::SeqCst)
    }

    /// How many HTTP requests the issuer received.
    pub fn requests(&self) -> u64 {
        self.state.counters.requests.load(Ordering::SeqCst)
    }

    /// Starts a token signed with the first key: `typ: at+jwt`, and claims `iss`, `sub`
    /// (`user-1`), `client_id` (`client-1`), `aud` ([`TestIssuer::AUDIENCE`]), `iat`, `exp`
    /// (in 5 minutes) and `jti`.
    pub fn token(&self) -> TokenBuilder {
        let key = lock(&self.state.keys).first().cloned();
        let id = self.state.next_id.fetch_add(1, Ordering::Relaxed);
        let now = now_secs();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.state.issuer));
        claims.insert("sub".into(), json!("user-1"));
        claims.insert("client_id".into(), json!("client-1"));
        claims.insert("aud".into(), json!(Self::AUDIENCE));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 300));
        claims.insert("jti".into(), json!(format!("jti-{id}")));
        let mut header = Map::new();
        header.insert("typ".into(), json!("at+jwt"));
        let mut builder = TokenBuilder {
            state: Arc::clone(&self.state),
            header,
            claims,
            key: None,
            alg: None,
            signing: Signing::Key,
        };
        if let Some(key) = key {
            builder = builder.key(&key.kid);
        }
        builder
    }
}

/// An opaque token being issued; finish with [`OpaqueBuilder::issue`].
#[must_use]
pub struct OpaqueBuilder {
    state: Arc<State>,
    answer: Map<String, Value>,
}

impl fmt::Debug for OpaqueBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueBuilder")
            .field("answer", &self.answer)
            .finish_non_exhaustive()
    }
}

impl OpaqueBuilder {
    /// Sets `scope` to a space-separated string.
    pub fn scope(self, scope: &str) -> Self {
        self.member("scope", json!(scope))
    }

    /// Sets `exp` to now + `secs`.
    pub fn expires_in(self, secs: i64) -> Self {
        self.member("exp", json!(now_secs() + secs))
    }

    /// Sets any member of the introspection answer (`active` included).
    pub fn member(mut self, name: &str, value: Value) -> Self {
        self.answer.insert(name.into(), value);
        self
    }

    /// Removes a member of the introspection answer.
    pub fn without(mut self, name: &str) -> Self {
        self.answer.remove(name);
        self
    }

    /// Issues the token: 32 random bytes, base64url.
    pub fn issue(self) -> String {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
        let token = b64(&bytes);
        lock(&self.state.opaque).insert(token.clone(), self.answer);
        token
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Signing {
    Key,
    Hmac(Vec<u8>),
    Unsigned,
    Raw(Vec<u8>),
}

/// A token being minted; finish with [`TokenBuilder::sign`].
#[must_use]
pub struct TokenBuilder {
    state: Arc<State>,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    key: Option<TestKey>,
    alg: Option<String>,
    signing: Signing,
}

impl fmt::Debug for TokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl TokenBuilder {
    /// Signs with key `kid` (header `kid` and default `alg` follow).
    ///
    /// # Panics
    /// If the issuer has no such key.
    pub fn key(mut self, kid: &str) -> Self {
        let key = lock(&self.state.keys)
            .iter()
            .find(|k| k.kid == kid)
            .cloned()
            .unwrap_or_else(|| panic!("the test issuer has no key {kid:?}"));
        self.header.insert("kid".into(), json!(key.kid));
        self.key = Some(key);
        self
    }

    /// Sets the header's `alg` and signs with that algorithm (the key must fit it, e.g. `PS256`
    /// on an RSA key). Any string may be put in the header this way.
    pub fn alg(mut self, alg: &str) -> Self {
        self.alg = Some(alg.to_owned());
        self
    }

    /// Sets the header's `kid` without changing the signing key.
    pub fn kid(mut self, kid: &str) -> Self {
        self.header.insert("kid".into(), json!(kid));
        self
    }

    /// Removes `kid` from the header.
    pub fn no_kid(mut self) -> Self {
        self.header.remove("kid");
        self
    }

    /// Sets (`Some`) or removes (`None`) the header's `typ`.
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        match typ {
            Some(t) => self.header.insert("typ".into(), json!(t)),
            None => self.header.remove("typ"),
        };
        self
    }

    /// Sets any header member.
    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.into(), value);
        self
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.into(), value);
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets `scope` to a space-separated string.
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", json!(scope))
    }

    /// Sets `aud`.
    pub fn audience(self, aud: Value) -> Self {
        self.claim("aud", aud)
    }

    /// Sets `exp` to now + `secs` (negative for a token that has expired).
    pub fn expires_in(self, secs: i64) -> Self {
        self.claim("exp", json!(now_secs() + secs))
    }

    /// Signs with HMAC-SHA256 keyed with `secret` (header `alg` HS256 unless set otherwise).
    pub fn hmac_secret(mut self, secret: &[u8]) -> Self {
        self.signing = Signing::Hmac(secret.to_vec());
        if self.alg.is_none() {
            self.alg = Some("HS256".into());
        }
        self
    }

    /// No signature at all (header `alg` `none` unless set otherwise).
    pub fn unsigned(mut self) -> Self {
        self.signing = Signing::Unsigned;
        if self.alg.is_none() {
            self.alg = Some("none".into());
        }
        self
    }

    /// Uses `payload` as the raw payload bytes instead of the JSON claims.
    pub fn raw_payload(mut self, payload: &[u8]) -> Self {
        self.signing = match self.signing {
            Signing::Key => Signing::Raw(payload.to_vec()),
            other => other,
        };
        self
    }

    /// Encodes and signs the token.
    pub fn sign(self) -> String {
        let alg = self
            .alg
            .clone()
            .or_else(|| self.key.as_ref().map(|k| k.kind.default_alg().to_owned()))
            .unwrap_or_else(|| "none".into());
        let mut header = self.header;
        header.insert("alg".into(), json!(alg));
        let header_b64 = b64(Value::Object(header).to_string().as_bytes());
        let payload = match &self.signing {
            Signing::Raw(bytes) => bytes.clone(),
            _ => Value::Object(self.claims).to_string().into_bytes(),
        };
        let message = format!("{header_b64}.{}", b64(&payload));
        let signature = match (&self.signing, &self.key) {
            (Signing::Unsigned, _) => Vec::new(),
            (Signing::Hmac(secret), _) => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
                aws_lc_rs::hmac::sign(&key, message.as_bytes())
                    .as_ref()
                    .to_vec()
            }
            (_, Some(key)) => key.sign(&alg, message.as_bytes()),
            (_, None) => Vec::new(),
        };
        format!("{message}.{}", b64(&signature))
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    // Connections live in this set: aborting the server task drops it and closes them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move {
                            let delay = *lock(&state.delay);
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            Ok::<_, Infallible>(handle(&state, req).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    state.counters.requests.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path();
    let is_jwks = path == "/jwks";
    let is_metadata = (path == "/.well-known/openid-configuration"
        && state.oidc_discovery.load(Ordering::SeqCst))
        || path == "/.well-known/oauth-authorization-server";
    if is_jwks {
        state.counters.jwks.fetch_add(1, Ordering::SeqCst);
    }
    if is_metadata {
        state.counters.metadata.fetch_add(1, Ordering::SeqCst);
    }
    if path == "/introspect" {
        state.counters.introspection.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(status) = *lock(&state.failure) {
        let mut res = respond(status, "text/html", "<html>unavailable</html>".into(), None);
        if let Some(secs) = *lock(&state.retry_after) {
            res.headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        return res;
    }
    if is_metadata {
        let doc = json!({
            "issuer": state.issuer,
            "jwks_uri": format!("{}/jwks", state.issuer),
            "introspection_endpoint": format!("{}/introspect", state.issuer),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        return respond(StatusCode::OK, "application/json", doc.to_string(), None);
    }
    if path == "/introspect" {
        return introspect(state, req).await;
    }
    if is_jwks && let Some(raw) = lock(&state.jwks_answer).clone() {
        return raw.response();
    }
    if is_jwks {
        let mut keys: Vec<Value> = lock(&state.keys)
            .iter()
            .filter(|k| k.published)
            .map(TestKey::jwk)
            .collect();
        keys.extend(lock(&state.extra_jwks).iter().cloned());
        let cache_control = lock(&state.cache_control).clone();
        return respond(
            StatusCode::OK,
            "application/jwk-set+json",
            json!({ "keys": keys }).to_string(),
            cache_control,
        );
    }
    respond(
        StatusCode::NOT_FOUND,
        "text/plain",
        "not found".into(),
        None,
    )
}

/// The RFC 7662 endpoint: authenticates the resource server, then describes the token.
async fn introspect(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt as _;
    if req.method() != http::Method::POST {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "POST only".into(),
            None,
        );
    }
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok());
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return respond(
                StatusCode::BAD_REQUEST,
                "text/plain",
                "bad body".into(),
                None,
            );
        }
    };
    let form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(&body).into_owned().collect();
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let credentials = match (&basic, form.get("client_id"), form.get("client_secret")) {
        (Some(pair), None, None) => pair
            .split_once(':')
            .map(|(id, secret)| (decode(id), decode(secret))),
        (None, Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        _ => None,
    };
    let authenticated = credentials.is_some_and(|(id, secret)| {
        id == TestIssuer::INTROSPECTION_CLIENT && secret == TestIssuer::INTROSPECTION_SECRET
    });
    if !authenticated {
        return respond(
            StatusCode::UNAUTHORIZED,
            "application/json",
            json!({"error": "invalid_client"}).to_string(),
            None,
        );
    }
    if let Some(raw) = lock(&state.introspection_answer).clone() {
        return raw.response();
    }
    let answer = form
        .get("token")
        .and_then(|token| lock(&state.opaque).get(token).cloned())
        .map_or_else(|| json!({"active": false}), Value::Object);
    respond(StatusCode::OK, "application/json", answer.to_string(), None)
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    cache_control: Option<String>,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    if let Some(cc) = cache_control.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
        res.headers_mut().insert(header::CACHE_CONTROL, cc);
    }
    res
}
