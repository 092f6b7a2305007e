//! [`Authenticator`]: turns a bearer token into a [`Principal`], or says why not.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::clock::{Clock, SharedClock, SystemClock};
use crate::discovery::Discovery;
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::http::{HttpClient, HttpSettings, check_url};
#[cfg(feature = "introspection")]
use crate::introspection::cache::{AnswerCache, CacheSettings};
#[cfg(feature = "introspection")]
use crate::introspection::{Checks, ClientAuth, Endpoint, Introspector};
use crate::jwt::jwks::{JwksSettings, JwksSource, algorithm_from_name};
use crate::jwt::{JwksCache, JwtSettings, JwtValidator, VerifiedCacheSettings};
use crate::principal::Principal;

/// The default signature algorithms: RS256/384/512, PS256/384/512, ES256/384 and EdDSA.
pub const DEFAULT_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Validates access tokens for one issuer. Cheap to clone (one `Arc`); share one per issuer.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_bearer::Authenticator;
///
/// let auth = Authenticator::builder()
///     .issuer("https://as.example.com")
///     .audience("https://api.example.com")
///     .discover()
///     .build()?;
/// // Optional: fetch the keys now, so a misconfiguration shows at start-up.
/// auth.warm_up().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    jwt: Option<JwtValidator>,
    #[cfg(feature = "introspection")]
    introspector: Option<Introspector>,
    #[cfg(feature = "introspection")]
    introspect_all: bool,
    issuer: String,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Starts configuring an authenticator.
    pub fn builder() -> AuthenticatorBuilder {
        AuthenticatorBuilder::default()
    }

    /// Validates `token` (the bare token, without `Bearer `).
    ///
    /// A token shaped like a JWS (three base64url segments whose header is a JSON object with
    /// an `alg`) is checked locally against the key set; any other token is introspected. A
    /// token whose path is not configured is a 401 `invalid_token`. With
    /// [`introspect_all_tokens`](AuthenticatorBuilder::introspect_all_tokens), every token is
    /// introspected.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        #[cfg(feature = "introspection")]
        if let Some(introspector) = &self.inner.introspector {
            let is_jws = crate::jwt::looks_like_jws(token);
            if self.inner.introspect_all || !is_jws {
                match introspector.introspect(token).await? {
                    Some(principal) => return Ok(principal),
                    // The server does not introspect JWTs: check this one locally.
                    None if is_jws && self.inner.jwt.is_some() => {}
                    None => {
                        return Err(AuthError::new(
                            AuthErrorKind::Inactive,
                            "the authorization server does not introspect this kind of token",
                        ));
                    }
                }
            }
        }
        match &self.inner.jwt {
            Some(jwt) => jwt.validate(token).await,
            None => Err(AuthError::new(
                AuthErrorKind::MalformedToken,
                "JWT access tokens are not accepted here",
            )),
        }
    }

    /// Forgets everything cached about `token`, so the next request with it is judged anew:
    /// call it when the application learns the token was revoked (RFC 7009).
    pub async fn forget(&self, token: &str) {
        if let Some(jwt) = &self.inner.jwt {
            jwt.forget(token).await;
        }
        #[cfg(feature = "introspection")]
        if let Some(introspector) = &self.inner.introspector {
            introspector.forget(token).await;
        }
        #[cfg(not(feature = "introspection"))]
        let _ = token;
    }

    /// The number of verified JWTs cached now (after pending maintenance).
    pub async fn verified_token_cache_len(&self) -> u64 {
        match &self.inner.jwt {
            Some(jwt) => jwt.cached_tokens().await,
            None => 0,
        }
    }

    /// The number of introspection answers cached now (after pending maintenance).
    #[cfg(feature = "introspection")]
    pub async fn introspection_cache_len(&self) -> u64 {
        match &self.inner.introspector {
            Some(introspector) => introspector.cache().entry_count().await,
            None => 0,
        }
    }

    /// Fetches the issuer's metadata and key set now (if not cached), so that a wrong URL or
    /// an unreachable issuer shows at start-up rather than on the first request.
    pub async fn warm_up(&self) -> Result<(), AuthError> {
        if let Some(jwt) = &self.inner.jwt {
            jwt.jwks().warm_up().await?;
        }
        Ok(())
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }
}

/// Configures an [`Authenticator`]. Every setting has a safe default except the issuer, the
/// audience and where the keys come from, which must be given.
#[must_use]
#[derive(Default)]
pub struct AuthenticatorBuilder {
    issuer: Option<String>,
    audiences: Vec<String>,
    skip_audience: bool,
    jwks_uri: Option<String>,
    discover: bool,
    algorithms: Option<Vec<String>>,
    leeway: Option<Duration>,
    require_at_jwt: bool,
    jwks: JwksSettings,
    verified: VerifiedCacheSettings,
    http: HttpSettings,
    http_client: Option<reqwest::Client>,
    clock: Option<SharedClock>,
    #[cfg(feature = "introspection")]
    introspection: IntrospectionConfig,
}

#[cfg(feature = "introspection")]
#[derive(Default)]
struct IntrospectionConfig {
    endpoint: Option<String>,
    client: Option<ClientAuth>,
    all: bool,
    cache: CacheSettings,
}

impl fmt::Debug for AuthenticatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorBuilder")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("jwks_uri", &self.jwks_uri)
            .field("discover", &self.discover)
            .finish_non_exhaustive()
    }
}

impl AuthenticatorBuilder {
    /// The issuer identifier. A token's `iss` must equal it exactly (no trailing-slash or case
    /// folding).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an accepted audience. A token's `aud` must name at least one of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accepts tokens whatever their `aud`.
    ///
    /// Dangerous: a token the issuer minted for another API becomes valid here. Only for
    /// issuers that mint tokens for this resource server alone.
    pub fn skip_audience_check(mut self) -> Self {
        self.skip_audience = true;
        self
    }

    /// The URL of the issuer's JWK Set.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Finds the JWK Set through the issuer's metadata
    /// (`{issuer}/.well-known/openid-configuration`, then RFC 8414's
    /// `/.well-known/oauth-authorization-server`), on first use. The metadata's `issuer` must
    /// equal the configured one exactly.
    pub fn discover(mut self) -> Self {
        self.discover = true;
        self
    }

    /// The accepted signature algorithms, by JWA name (default [`DEFAULT_ALGORITHMS`]).
    /// `none` and the `HS*` family are refused: a public key set cannot verify them safely.
    pub fn algorithms<I, S>(mut self, algorithms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.algorithms = Some(algorithms.into_iter().map(Into::into).collect());
        self
    }

    /// Clock skew tolerated for `exp` and `nbf` (default 60 s, at most 5 min).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// RFC 9068 mode: the token's `typ` header must be `at+jwt` or `application/at+jwt`, so
    /// that an OpenID Connect ID token is never taken for an access token.
    pub fn require_at_jwt(mut self, on: bool) -> Self {
        self.require_at_jwt = on;
        self
    }

    /// How long a fetched key set is used when the response has no `Cache-Control: max-age`
    /// (default 5 min; between 1 s and a day, then clamped to [1 min, 24 h] like max-age).
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks.ttl = ttl;
        self
    }

    /// Minimum time between two fetches caused by tokens with unknown `kid`s (default 30 s,
    /// at most a day).
    pub fn jwks_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks.cooldown = cooldown;
        self
    }

    /// How long past its expiry a key set keeps serving while the issuer cannot be reached
    /// (default 1 h, at most 7 days).
    pub fn stale_if_error(mut self, bound: Duration) -> Self {
        self.jwks.stale_if_error = bound;
        self
    }

    /// The most verified JWTs remembered (default 10 000; zero turns the cache off). A token
    /// seen again skips the signature check while it is within its `exp` and the key that
    /// verified it is still in the issuer's key set. Keys are the SHA-256 of the token.
    pub fn verified_token_cache(mut self, capacity: u64) -> Self {
        self.verified.capacity = capacity;
        self
    }

    /// Tokens longer than this (default 4 KiB) are never put in the verified-token cache.
    pub fn verified_token_max_len(mut self, bytes: usize) -> Self {
        self.verified.max_token_len = bytes;
        self
    }

    /// The most keys kept from one key set (default 100); further keys are ignored.
    pub fn max_keys(mut self, max: usize) -> Self {
        self.jwks.max_keys = max;
        self
    }

    /// Connect timeout for the issuer's endpoints (default 2 s, at most 5 min).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http.connect_timeout = timeout;
        self
    }

    /// Total timeout of one fetch, body included (default 5 s, at most 5 min).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// Cap on the size of a key set, metadata document or introspection answer (default
    /// 256 KiB, at least 1 KiB).
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.http.max_body = max;
        self
    }

    /// Allows plain-`http` issuer URLs for non-loopback hosts. Loopback hosts (`127.0.0.1`,
    /// `::1`, `localhost`) are always allowed, for tests and sidecars.
    pub fn allow_http(mut self) -> Self {
        self.http.allow_http = true;
        self
    }

    /// Fetches with this `reqwest::Client` instead of the crate's own (for a proxy or extra
    /// root certificates; the system's roots are trusted by default).
    ///
    /// The client's own timeouts and redirect policy then apply: give it short ones (the
    /// crate's are 2 s to connect, 5 s in all, redirects only within the same origin). The
    /// response size cap and content-type checks still apply.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// The URL of the RFC 7662 introspection endpoint. Without it, and with
    /// [`discover`](Self::discover), the metadata's `introspection_endpoint` is used.
    #[cfg(feature = "introspection")]
    pub fn introspection_endpoint(mut self, url: impl Into<String>) -> Self {
        self.introspection.endpoint = Some(url.into());
        self
    }

    /// Turns on introspection of opaque tokens, authenticating to the endpoint with `client`
    /// (e.g. [`ClientAuth::basic`]).
    #[cfg(feature = "introspection")]
    pub fn introspection_client(mut self, client: ClientAuth) -> Self {
        self.introspection.client = Some(client);
        self
    }

    /// Introspects every token, JWTs included (for servers that check revocation on each
    /// token). Needs introspection to be configured.
    ///
    /// Some servers (oidc-provider among them) refuse to introspect JWT access tokens
    /// (`unsupported_token_type`); such a token is then checked locally, if a key set is
    /// configured, and refused otherwise.
    #[cfg(feature = "introspection")]
    pub fn introspect_all_tokens(mut self, on: bool) -> Self {
        self.introspection.all = on;
        self
    }

    /// The longest an active introspection answer is cached (default 60 s, at most 1 h); never
    /// past the token's `exp`. Zero turns caching of active answers off.
    #[cfg(feature = "introspection")]
    pub fn introspection_cache_ttl(mut self, cap: Duration) -> Self {
        self.introspection.cache.positive_cap = cap;
        self
    }

    /// How long an inactive answer is cached (default 10 s, at most 1 h; zero: not cached).
    #[cfg(feature = "introspection")]
    pub fn introspection_negative_ttl(mut self, ttl: Duration) -> Self {
        self.introspection.cache.negative_ttl = ttl;
        self
    }

    /// The most introspection answers kept (default 10 000).
    #[cfg(feature = "introspection")]
    pub fn introspection_cache_capacity(mut self, entries: u64) -> Self {
        self.introspection.cache.max_entries = entries;
        self
    }

    /// The clock used for every expiry (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks the configuration and builds the authenticator. Nothing is fetched yet.
    pub fn build(self) -> Result<Authenticator, ConfigError> {
        crate::crypto::ensure_backend()?;
        let issuer = self.issuer.ok_or(ConfigError::MissingIssuer)?;
        if self.audiences.is_empty() && !self.skip_audience {
            return Err(ConfigError::MissingAudience);
        }
        let leeway = self.leeway.unwrap_or(Duration::from_secs(60));
        if leeway > Duration::from_secs(300) {
            return Err(ConfigError::InvalidSetting {
                name: "leeway",
                reason: "at most 5 minutes".into(),
            });
        }
        let bounded = |name: &'static str, value: Duration, min: Duration, max: Duration| {
            if value < min || value > max {
                Err(ConfigError::InvalidSetting {
                    name,
                    reason: format!("must be between {min:?} and {max:?}"),
                })
            } else {
                Ok(())
            }
        };
        const DAY: Duration = Duration::from_secs(24 * 3600);
        bounded(
            "jwks_refetch_cooldown",
            self.jwks.cooldown,
            Duration::ZERO,
            DAY,
        )?;
        bounded(
            "stale_if_error",
            self.jwks.stale_if_error,
            Duration::ZERO,
            7 * DAY,
        )?;
        bounded("jwks_ttl", self.jwks.ttl, Duration::from_secs(1), DAY)?;
        let timeout_range = (Duration::from_millis(1), Duration::from_secs(300));
        bounded(
            "connect_timeout",
            self.http.connect_timeout,
            timeout_range.0,
            timeout_range.1,
        )?;
        bounded(
            "http_timeout",
            self.http.timeout,
            timeout_range.0,
            timeout_range.1,
        )?;
        #[cfg(feature = "introspection")]
        {
            let hour = Duration::from_secs(3600);
            let cache = &self.introspection.cache;
            bounded(
                "introspection_cache_ttl",
                cache.positive_cap,
                Duration::ZERO,
                hour,
            )?;
            bounded(
                "introspection_negative_ttl",
                cache.negative_ttl,
                Duration::ZERO,
                hour,
            )?;
        }
        if self.http.max_body < 1024 {
            return Err(ConfigError::InvalidSetting {
                name: "max_response_bytes",
                reason: "must be at least 1 KiB".into(),
            });
        }
        if self.jwks.max_keys == 0 {
            return Err(ConfigError::InvalidSetting {
                name: "max_keys",
                reason: "must be at least 1".into(),
            });
        }
        let allowed = parse_algorithms(self.algorithms.as_deref())?;
        let http = match self.http_client {
            Some(client) => HttpClient::from_client(client, &self.http),
            None => HttpClient::new(&self.http)?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));

        let discovery = if self.discover {
            Some(Arc::new(Discovery::new(
                http.clone(),
                issuer.clone(),
                check_url("issuer", &issuer, self.http.allow_http)?,
            )))
        } else {
            None
        };

        #[cfg(feature = "introspection")]
        let introspect_all = self.introspection.all;

        let jwks_source = match (self.jwks_uri, &discovery) {
            (Some(uri), _) => Some(JwksSource::Uri(check_url(
                "jwks_uri",
                &uri,
                self.http.allow_http,
            )?)),
            (None, Some(discovery)) => Some(JwksSource::Discover(Arc::clone(discovery))),
            (None, None) => None,
        };
        let jwt = jwks_source.map(|source| {
            let jwks = JwksCache::new(
                source,
                http.clone(),
                clock.clone(),
                self.jwks,
                allowed.clone(),
            );
            JwtValidator::new(
                JwtSettings {
                    issuer: issuer.clone(),
                    audiences: self.audiences.clone(),
                    check_audience: !self.skip_audience,
                    leeway,
                    require_at_jwt: self.require_at_jwt,
                    allowed,
                },
                jwks,
                clock.clone(),
                self.verified.clone(),
            )
        });

        #[cfg(feature = "introspection")]
        let introspector = {
            let config = self.introspection;
            match (config.client, config.endpoint) {
                (None, None) if config.all => {
                    return Err(ConfigError::IncompleteIntrospection(
                        "`.introspection_client(…)` to introspect all tokens",
                    ));
                }
                (None, None) => None,
                (None, Some(_)) => {
                    return Err(ConfigError::IncompleteIntrospection(
                        "client credentials: `.introspection_client(ClientAuth::basic(…))`",
                    ));
                }
                (Some(client), endpoint) => {
                    let endpoint = match (endpoint, &discovery) {
                        (Some(url), _) => Endpoint::Url(check_url(
                            "introspection_endpoint",
                            &url,
                            self.http.allow_http,
                        )?),
                        (None, Some(discovery)) => Endpoint::Discover(Arc::clone(discovery)),
                        (None, None) => {
                            return Err(ConfigError::IncompleteIntrospection(
                                "an endpoint: `.introspection_endpoint(…)` or `.discover()`",
                            ));
                        }
                    };
                    if config.cache.max_entries == 0 {
                        return Err(ConfigError::InvalidSetting {
                            name: "introspection_cache_capacity",
                            reason: "must be at least 1".into(),
                        });
                    }
                    Some(Introspector::new(
                        endpoint,
                        http,
                        client,
                        Checks {
                            issuer: issuer.clone(),
                            audiences: self.audiences,
                            check_audience: !self.skip_audience,
                            leeway,
                        },
                        clock.clone(),
                        AnswerCache::new(config.cache, clock),
                    ))
                }
            }
        };

        #[cfg(feature = "introspection")]
        let has_introspection = introspector.is_some();
        #[cfg(not(feature = "introspection"))]
        let has_introspection = false;
        if jwt.is_none() && !has_introspection {
            return Err(ConfigError::NoValidator);
        }

        Ok(Authenticator {
            inner: Arc::new(Inner {
                jwt,
                #[cfg(feature = "introspection")]
                introspector,
                #[cfg(feature = "introspection")]
                introspect_all,
                issuer,
            }),
        })
    }
}

fn parse_algorithms(names: Option<&[String]>) -> Result<Vec<Algorithm>, ConfigError> {
    let names: Vec<&str> = match names {
        Some(names) => names.iter().map(String::as_str).collect(),
        None => DEFAULT_ALGORITHMS.to_vec(),
    };
    if names.is_empty() {
        return Err(ConfigError::InvalidAlgorithms(
            "the allowlist is empty".into(),
        ));
    }
    names
        .iter()
        .map(|name| {
            algorithm_from_name(name).ok_or_else(|| {
                ConfigError::InvalidAlgorithms(format!(
                    "{name:?} cannot be used (supported: {})",
                    DEFAULT_ALGORITHMS.join(", ")
                ))
            })
        })
        .collect()
}
