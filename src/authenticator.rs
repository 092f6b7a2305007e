//! [`Authenticator`]: turns a bearer token into a [`Principal`], or says why not.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::clock::{Clock, SharedClock, SystemClock};
use crate::error::{AuthError, ConfigError};
use crate::http::{HttpClient, HttpSettings, check_url};
use crate::jwt::jwks::{JwksSettings, JwksSource, algorithm_from_name};
use crate::jwt::{JwksCache, JwtSettings, JwtValidator};
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
    jwt: JwtValidator,
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
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        self.inner.jwt.validate(token).await
    }

    /// Fetches the issuer's metadata and key set now (if not cached), so that a wrong URL or
    /// an unreachable issuer shows at start-up rather than on the first request.
    pub async fn warm_up(&self) -> Result<(), AuthError> {
        self.inner.jwt.jwks().warm_up().await
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
    http: HttpSettings,
    http_client: Option<reqwest::Client>,
    clock: Option<SharedClock>,
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
    /// (default 5 min).
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks.ttl = ttl;
        self
    }

    /// Minimum time between two fetches caused by tokens with unknown `kid`s (default 30 s).
    pub fn jwks_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks.cooldown = cooldown;
        self
    }

    /// How long past its expiry a key set keeps serving while the issuer cannot be reached
    /// (default 1 h).
    pub fn stale_if_error(mut self, bound: Duration) -> Self {
        self.jwks.stale_if_error = bound;
        self
    }

    /// The most keys kept from one key set (default 100); further keys are ignored.
    pub fn max_keys(mut self, max: usize) -> Self {
        self.jwks.max_keys = max;
        self
    }

    /// Connect timeout for the issuer's endpoints (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http.connect_timeout = timeout;
        self
    }

    /// Total timeout of one fetch, body included (default 5 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// Cap on the size of a key set or metadata document (default 256 KiB).
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

        let source = match (self.jwks_uri, self.discover) {
            (Some(uri), _) => JwksSource::Uri(check_url("jwks_uri", &uri, self.http.allow_http)?),
            (None, true) => JwksSource::Discover {
                issuer_url: check_url("issuer", &issuer, self.http.allow_http)?,
                issuer: issuer.clone(),
                resolved: Default::default(),
            },
            (None, false) => return Err(ConfigError::NoValidator),
        };
        let jwks = JwksCache::new(source, http, clock.clone(), self.jwks, allowed.clone());
        let jwt = JwtValidator::new(
            JwtSettings {
                issuer: issuer.clone(),
                audiences: self.audiences,
                check_audience: !self.skip_audience,
                leeway,
                require_at_jwt: self.require_at_jwt,
                allowed,
            },
            jwks,
            clock,
        );
        Ok(Authenticator {
            inner: Arc::new(Inner { jwt, issuer }),
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
