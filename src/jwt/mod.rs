//! JWT access tokens checked locally against the issuer's key set.
//!
//! The order of the checks, each failure a 401 `invalid_token`:
//!
//! 1. The token is a JWS in compact form: three base64url segments (a five-segment JWE is
//!    refused). The header is a JSON object.
//! 2. The header's `alg` is in the allowlist, by its exact name (`none`, `None`, `HS256` never
//!    are). A header with `crit`, `b64`, `zip` or `enc` is refused; `jku`, `x5u`, `jwk` and `x5c`
//!    are ignored: keys only ever come from the configured key set.
//! 3. In RFC 9068 mode, `typ` is `at+jwt` or `application/at+jwt` (any case).
//! 4. The key is chosen by `kid` (a token without `kid` may use the only key of a one-key set)
//!    and must allow the header's `alg`; the signature must verify.
//! 5. Only then is the payload read: a JSON object whose `exp` (required) and `nbf` (optional)
//!    are NumericDates (integer or float) checked with the leeway, whose `iss` equals the
//!    configured issuer exactly, whose `aud` (string or array of strings) names a configured
//!    audience, and whose `scope`/`scp` is well-formed.

pub(crate) mod jwks;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::{SharedClock, unix_seconds};
use crate::error::{AuthError, AuthErrorKind};
use crate::principal::{Principal, PrincipalParts, Scopes, TokenKind};

use jwks::JwkKey;
pub(crate) use jwks::JwksCache;

use crate::claims::{audiences, numeric_date, optional_string};
use crate::digest::{TokenKey, token_key};

/// The claim checks of a validator.
#[derive(Debug, Clone)]
pub(crate) struct JwtSettings {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) check_audience: bool,
    pub(crate) leeway: Duration,
    pub(crate) require_at_jwt: bool,
    pub(crate) allowed: Vec<Algorithm>,
}

/// Checks JWT access tokens. Cheap to clone.
#[derive(Clone)]
pub(crate) struct JwtValidator {
    settings: Arc<JwtSettings>,
    jwks: JwksCache,
    clock: SharedClock,
    verified: Option<VerifiedCache>,
}

/// Settings of the verified-token cache.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedCacheSettings {
    /// Entries kept; zero turns the cache off.
    pub(crate) capacity: u64,
    /// Longer tokens are never cached.
    pub(crate) max_token_len: usize,
}

impl Default for VerifiedCacheSettings {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_token_len: 4096,
        }
    }
}

/// Tokens already verified, by SHA-256: a hit skips the signature check. A hit is served only
/// while the token is within its `exp` (plus leeway) and the key that verified it is still in
/// the issuer's current key set.
#[derive(Clone)]
struct VerifiedCache {
    cache: moka::future::Cache<TokenKey, Verified>,
    max_token_len: usize,
}

#[derive(Clone)]
struct Verified {
    principal: Principal,
    key: Arc<JwkKey>,
}

/// The members of a JOSE header the validator reads. Unknown members are ignored.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    // Present at all, even as `null`, these refuse the token.
    #[serde(default, deserialize_with = "jwks::present")]
    crit: bool,
    #[serde(default, deserialize_with = "jwks::present")]
    b64: bool,
    #[serde(default, deserialize_with = "jwks::present")]
    zip: bool,
    #[serde(default, deserialize_with = "jwks::present")]
    enc: bool,
}

fn malformed(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::MalformedToken, detail)
}

/// Whether `token` looks like a JWS: three segments whose first decodes to a JSON object with
/// an `alg`.
#[cfg(feature = "introspection")]
pub(crate) fn looks_like_jws(token: &str) -> bool {
    let mut segments = token.split('.');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some(header), Some(_), Some(_), None) => decode_header(header).is_ok(),
        _ => false,
    }
}

fn decode_header(segment: &str) -> Result<Header, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| malformed("the JOSE header is not base64url"))?;
    // A struct would also deserialize from a JSON array: insist on an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(malformed("the JOSE header is not a JSON object"));
    }
    serde_json::from_slice(&bytes).map_err(|_| malformed("the JOSE header is not valid"))
}

impl JwtValidator {
    pub(crate) fn new(
        settings: JwtSettings,
        jwks: JwksCache,
        clock: SharedClock,
        verified: VerifiedCacheSettings,
    ) -> Self {
        let verified = (verified.capacity > 0).then(|| VerifiedCache {
            cache: moka::future::Cache::builder()
                .max_capacity(verified.capacity)
                // A bound for entries nobody asks for again; hits check `exp` themselves.
                .time_to_idle(Duration::from_secs(3600))
                .build(),
            max_token_len: verified.max_token_len,
        });
        Self {
            settings: Arc::new(settings),
            jwks,
            clock,
            verified,
        }
    }

    /// The number of tokens in the verified-token cache, after pending maintenance.
    pub(crate) async fn cached_tokens(&self) -> u64 {
        match &self.verified {
            Some(verified) => {
                verified.cache.run_pending_tasks().await;
                verified.cache.entry_count()
            }
            None => 0,
        }
    }

    /// Drops `token` from the verified-token cache.
    pub(crate) async fn forget(&self, token: &str) {
        if let Some(verified) = &self.verified {
            verified.cache.invalidate(&token_key(token)).await;
        }
    }

    /// Validates `token`, from the verified-token cache when it can.
    pub(crate) async fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        let Some(verified) = self
            .verified
            .as_ref()
            .filter(|v| token.len() <= v.max_token_len)
        else {
            return self.verify(token).await.map(|(principal, _)| principal);
        };
        let key = token_key(token);
        if let Some(hit) = verified.cache.get(&key).await {
            if self.still_valid(&hit) {
                return Ok(hit.principal);
            }
            verified.cache.invalidate(&key).await;
        }
        let (principal, jwk) = self.verify(token).await?;
        verified
            .cache
            .insert(
                key,
                Verified {
                    principal: principal.clone(),
                    key: jwk,
                },
            )
            .await;
        Ok(principal)
    }

    fn still_valid(&self, hit: &Verified) -> bool {
        let now = unix_seconds(self.clock.now());
        let leeway = self.settings.leeway.as_secs_f64();
        let fresh = hit
            .principal
            .expires_at_unix()
            .is_some_and(|exp| now <= exp + leeway);
        fresh && self.jwks.holds(&hit.key)
    }

    pub(crate) fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// Checks `token` in full and builds its principal; also returns the key that verified it.
    async fn verify(&self, token: &str) -> Result<(Principal, Arc<JwkKey>), AuthError> {
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(malformed("the token is not a JWS in compact form"));
        };
        if header_b64.is_empty() || payload_b64.is_empty() || signature_b64.is_empty() {
            return Err(malformed("the token has an empty segment"));
        }
        let header = decode_header(header_b64)?;
        if header.crit || header.b64 {
            return Err(AuthError::new(
                AuthErrorKind::MalformedToken,
                "the token's header uses extensions (crit, b64) this server does not understand",
            ));
        }
        if header.zip || header.enc {
            return Err(malformed("the token is an encrypted JWT"));
        }
        let alg = jwks::algorithm_from_name(&header.alg)
            .filter(|alg| self.settings.allowed.contains(alg))
            .ok_or_else(|| {
                AuthError::new(
                    AuthErrorKind::DisallowedAlgorithm,
                    "the token's alg is not allowed",
                )
            })?;
        if self.settings.require_at_jwt && !is_at_jwt(header.typ.as_deref()) {
            return Err(AuthError::new(
                AuthErrorKind::WrongTokenType,
                "the token's typ is not at+jwt (RFC 9068)",
            ));
        }

        let keys = self.jwks.keys_for(header.kid.as_deref(), alg).await?;
        let message_len = header_b64.len() + 1 + payload_b64.len();
        let message = &token.as_bytes()[..message_len];
        let Some(jwk) = keys
            .into_iter()
            .find(|key| key.key.verify(alg, message, signature_b64))
        else {
            return Err(AuthError::new(
                AuthErrorKind::InvalidSignature,
                "the token's signature does not verify",
            ));
        };

        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| malformed("the token's payload is not base64url"))?;
        let claims: Map<String, Value> = serde_json::from_slice(&payload)
            .map_err(|_| malformed("the token's payload is not a JSON object"))?;
        Ok((self.check_claims(claims)?, jwk))
    }

    fn check_claims(&self, claims: Map<String, Value>) -> Result<Principal, AuthError> {
        let settings = &*self.settings;
        let now = unix_seconds(self.clock.now());
        let leeway = settings.leeway.as_secs_f64();

        let exp = match claims.get("exp") {
            None => return Err(invalid_claims("the token has no exp")),
            Some(v) => numeric_date(v).ok_or_else(|| invalid_claims("exp is not a NumericDate"))?,
        };
        if now > exp + leeway {
            return Err(AuthError::new(
                AuthErrorKind::Expired,
                "the token has expired",
            ));
        }
        if let Some(v) = claims.get("nbf") {
            let nbf = numeric_date(v).ok_or_else(|| invalid_claims("nbf is not a NumericDate"))?;
            if now + leeway < nbf {
                return Err(AuthError::new(
                    AuthErrorKind::NotYetValid,
                    "the token is not valid yet (nbf)",
                ));
            }
        }
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == settings.issuer => {}
            _ => {
                return Err(AuthError::new(
                    AuthErrorKind::WrongIssuer,
                    "the token's iss is not the configured issuer",
                ));
            }
        }
        let audiences = audiences(claims.get("aud"))?;
        if settings.check_audience
            && !audiences
                .iter()
                .any(|aud| settings.audiences.iter().any(|ours| ours == aud))
        {
            return Err(wrong_audience(if audiences.is_empty() {
                "the token has no aud"
            } else {
                "the token is meant for another audience"
            }));
        }
        let scopes = Scopes::from_claims(&claims)?;
        let subject = optional_string(&claims, "sub")?;
        let client_id = match optional_string(&claims, "client_id")? {
            Some(id) => Some(id),
            None => optional_string(&claims, "azp")?,
        };
        Ok(Principal::new(PrincipalParts {
            subject,
            client_id,
            scopes,
            issuer: settings.issuer.clone(),
            audiences,
            expires_at: Some(exp),
            kind: TokenKind::Jwt,
            claims,
        }))
    }
}

fn is_at_jwt(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    })
}

fn invalid_claims(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidClaims, detail)
}

fn wrong_audience(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::WrongAudience, detail)
}
