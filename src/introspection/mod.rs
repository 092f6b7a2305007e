//! Opaque access tokens, described by the authorization server (RFC 7662 introspection).
//!
//! The resource server POSTs `token=…&token_type_hint=access_token` to the introspection
//! endpoint, authenticated as a client ([`ClientAuth`]), and reads the answer strictly:
//!
//! * only a 200 with a JSON object is an answer; `active` must be the JSON boolean `true`
//!   (`"true"`, `1`, `null` or a missing `active` mean inactive, and then nothing else is read);
//! * for an active token: `exp` in the past (beyond the leeway) → 401; `iss`, when present,
//!   must equal the configured issuer; `aud`, when present, must name a configured audience;
//!   `token_type`, when present, must be `Bearer` or `access_token` (so an active refresh token
//!   is never taken for an access token); `scope` is a space-separated string or an array;
//! * the endpoint unreachable, slow, 5xx, 429, or answering garbage → 503 with `Retry-After`;
//!   the endpoint refusing our own credentials (401/403) or our request (400) → 500 and an
//!   error log: the caller's token was never judged.
//!
//! Answers are cached by the SHA-256 of the token, so that a token costs one call per cache
//! lifetime: an active answer for min(`exp` − now, 60 s), an inactive one for 10 s, at most
//! 10 000 entries (all configurable on the
//! [`AuthenticatorBuilder`](crate::AuthenticatorBuilder)); failures are never cached.

pub(crate) mod cache;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use serde_json::{Map, Value};

use crate::claims::{audiences, numeric_date, optional_string};
use crate::clock::{SharedClock, unix_seconds};
use crate::discovery::Discovery;
use crate::error::{AuthError, AuthErrorKind};
use crate::http::HttpClient;
use crate::principal::{Principal, PrincipalParts, Scopes, TokenKind};
use cache::{AnswerCache, Entry, Verdict};

/// How the resource server authenticates to the introspection endpoint (RFC 7662 §2.1).
///
/// `Debug` never shows the secret.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_secret_basic` (RFC 6749 §2.3.1): HTTP Basic with the client id and secret, each
    /// form-urlencoded first. The default choice.
    ClientSecretBasic {
        /// The resource server's client id.
        client_id: String,
        /// Its secret.
        client_secret: String,
    },
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    ClientSecretPost {
        /// The resource server's client id.
        client_id: String,
        /// Its secret.
        client_secret: String,
    },
}

impl ClientAuth {
    /// `client_secret_basic`.
    pub fn basic(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self::ClientSecretBasic {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// `client_secret_post`.
    pub fn post(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self::ClientSecretPost {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    fn client_id(&self) -> &str {
        match self {
            Self::ClientSecretBasic { client_id, .. }
            | Self::ClientSecretPost { client_id, .. } => client_id,
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match self {
            Self::ClientSecretBasic { .. } => "ClientSecretBasic",
            Self::ClientSecretPost { .. } => "ClientSecretPost",
        };
        f.debug_struct(method)
            .field("client_id", &self.client_id())
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// Where the introspection endpoint is.
pub(crate) enum Endpoint {
    Url(Url),
    Discover(Arc<Discovery>),
}

/// The claim checks applied to an active answer.
pub(crate) struct Checks {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) check_audience: bool,
    pub(crate) leeway: Duration,
}

/// Introspects opaque tokens, through the answer cache. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Introspector {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    http: HttpClient,
    auth: ClientAuth,
    checks: Checks,
    clock: SharedClock,
    cache: AnswerCache,
}

impl Introspector {
    pub(crate) fn new(
        endpoint: Endpoint,
        http: HttpClient,
        auth: ClientAuth,
        checks: Checks,
        clock: SharedClock,
        cache: AnswerCache,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                endpoint,
                http,
                auth,
                checks,
                clock,
                cache,
            }),
        }
    }

    /// The principal of an active token, from the cache or the authorization server;
    /// `Ok(None)` when the server does not introspect this kind of token.
    pub(crate) async fn introspect(&self, token: &str) -> Result<Option<Principal>, AuthError> {
        let key = cache::token_key(token);
        let verdict = self
            .inner
            .cache
            .get_or_insert(key, || async {
                let verdict = self.call(token).await?;
                Ok::<Entry, AuthError>(self.inner.cache.entry(verdict))
            })
            .await?;
        match verdict {
            Verdict::Active(principal) => {
                // The cache's deadline never passes `exp`; this re-check covers the leeway.
                let now = unix_seconds(self.inner.clock.now());
                let leeway = self.inner.checks.leeway.as_secs_f64();
                match principal.expires_at_unix() {
                    Some(exp) if now > exp + leeway => Err(expired()),
                    _ => Ok(Some(principal)),
                }
            }
            Verdict::Inactive(err) => Err(err),
            Verdict::Unsupported => Ok(None),
        }
    }

    /// Drops the cached answer for `token`.
    pub(crate) async fn forget(&self, token: &str) {
        self.inner.cache.forget(&cache::token_key(token)).await;
    }

    pub(crate) fn cache(&self) -> &AnswerCache {
        &self.inner.cache
    }

    async fn endpoint(&self) -> Result<Url, AuthError> {
        match &self.inner.endpoint {
            Endpoint::Url(url) => Ok(url.clone()),
            Endpoint::Discover(discovery) => {
                let metadata = discovery.metadata().await?;
                let Some(uri) = &metadata.introspection_endpoint else {
                    tracing::error!("the issuer's metadata names no introspection_endpoint");
                    return Err(AuthError::new(
                        AuthErrorKind::Internal,
                        "the issuer's metadata has no introspection_endpoint",
                    ));
                };
                discovery.check_url("introspection_endpoint", uri)
            }
        }
    }

    /// One introspection call. `Ok` carries the verdict (active or not); `Err` means the token
    /// could not be judged.
    async fn call(&self, token: &str) -> Result<Verdict, AuthError> {
        let url = self.endpoint().await?;
        let auth = &self.inner.auth;
        let mut form: Vec<(&str, &str)> =
            vec![("token", token), ("token_type_hint", "access_token")];
        let basic = match auth {
            ClientAuth::ClientSecretBasic {
                client_id,
                client_secret,
            } => {
                let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
                let secret: String =
                    form_urlencoded::byte_serialize(client_secret.as_bytes()).collect();
                Some(format!(
                    "Basic {}",
                    STANDARD.encode(format!("{id}:{secret}"))
                ))
            }
            ClientAuth::ClientSecretPost {
                client_id,
                client_secret,
            } => {
                form.push(("client_id", client_id));
                form.push(("client_secret", client_secret));
                None
            }
        };
        let fetched = match self.inner.http.post_form(&url, &form, basic).await {
            Ok(fetched) => fetched,
            Err(e) => {
                return Err(match e.status.map(|s| s.as_u16()) {
                    Some(401 | 403) => {
                        tracing::error!(
                            client_id = auth.client_id(),
                            status = ?e.status,
                            "the introspection endpoint refused the resource server's credentials"
                        );
                        AuthError::new(
                            AuthErrorKind::Internal,
                            "the introspection endpoint refused the resource server's credentials",
                        )
                    }
                    Some(400) if error_code(&e.body) == Some("unsupported_token_type") => {
                        tracing::debug!(
                            "the introspection endpoint does not introspect this token type"
                        );
                        return Ok(Verdict::Unsupported);
                    }
                    Some(400) => {
                        tracing::error!(
                            status = ?e.status,
                            error = ?error_code(&e.body),
                            "the introspection endpoint refused the request as malformed"
                        );
                        AuthError::new(
                            AuthErrorKind::Internal,
                            "the introspection endpoint refused the request",
                        )
                    }
                    _ => {
                        tracing::warn!(detail = ?e.detail, "introspection failed");
                        e.into()
                    }
                });
            }
        };
        let answer: Map<String, Value> = serde_json::from_slice(&fetched.body).map_err(|_| {
            tracing::warn!(%url, "the introspection answer is not a JSON object");
            AuthError::unavailable("the introspection answer is not a JSON object")
        })?;
        let now = unix_seconds(self.inner.clock.now());
        Ok(match Self::judge(&self.inner.checks, now, answer) {
            Ok(principal) => Verdict::Active(principal),
            Err(err) => Verdict::Inactive(err),
        })
    }

    /// Reads an introspection answer (RFC 7662 §2.2).
    pub(crate) fn judge(
        checks: &Checks,
        now: f64,
        answer: Map<String, Value>,
    ) -> Result<Principal, AuthError> {
        if answer.get("active") != Some(&Value::Bool(true)) {
            return Err(AuthError::new(
                AuthErrorKind::Inactive,
                "the authorization server says the token is not active",
            ));
        }
        let leeway = checks.leeway.as_secs_f64();
        let exp = match answer.get("exp") {
            None => None,
            Some(v) => Some(numeric_date(v).ok_or_else(|| invalid("exp is not a NumericDate"))?),
        };
        if exp.is_some_and(|exp| now > exp + leeway) {
            return Err(expired());
        }
        if let Some(v) = answer.get("nbf") {
            let nbf = numeric_date(v).ok_or_else(|| invalid("nbf is not a NumericDate"))?;
            if now + leeway < nbf {
                return Err(AuthError::new(
                    AuthErrorKind::NotYetValid,
                    "the token is not valid yet (nbf)",
                ));
            }
        }
        let issuer = match answer.get("iss") {
            None => checks.issuer.clone(),
            Some(Value::String(iss)) if *iss == checks.issuer => iss.clone(),
            Some(_) => {
                return Err(AuthError::new(
                    AuthErrorKind::WrongIssuer,
                    "the introspected token's iss is not the configured issuer",
                ));
            }
        };
        let audiences = audiences(answer.get("aud"))?;
        if answer.contains_key("aud")
            && checks.check_audience
            && !audiences.iter().any(|a| checks.audiences.contains(a))
        {
            return Err(wrong_audience("the token is meant for another audience"));
        }
        match answer.get("token_type") {
            None => {}
            Some(Value::String(t))
                if t.eq_ignore_ascii_case("bearer") || t.eq_ignore_ascii_case("access_token") => {}
            Some(_) => {
                return Err(AuthError::new(
                    AuthErrorKind::WrongTokenType,
                    "the introspected token is not an access token",
                ));
            }
        }
        let scopes = Scopes::from_claims(&answer)?;
        let subject = optional_string(&answer, "sub")?;
        let client_id = optional_string(&answer, "client_id")?;
        Ok(Principal::new(PrincipalParts {
            subject,
            client_id,
            scopes,
            issuer,
            audiences,
            expires_at: exp,
            kind: TokenKind::Introspected,
            claims: answer,
        }))
    }
}

/// The `error` member of an OAuth error answer.
fn error_code(body: &[u8]) -> Option<&str> {
    #[derive(serde::Deserialize)]
    struct ErrorAnswer<'a> {
        #[serde(borrow)]
        error: Option<&'a str>,
    }
    serde_json::from_slice::<ErrorAnswer<'_>>(body).ok()?.error
}

fn expired() -> AuthError {
    AuthError::new(AuthErrorKind::Expired, "the token has expired")
}

fn invalid(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidClaims, detail)
}

fn wrong_audience(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::WrongAudience, detail)
}
