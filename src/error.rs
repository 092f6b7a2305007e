//! Errors: [`AuthError`] for requests that are turned away, [`ConfigError`] for a layer that
//! cannot be built.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// Why a request was not authenticated.
///
/// `AuthError` is opaque on purpose: match on [`AuthError::kind`], which is
/// `#[non_exhaustive]`, so new failure reasons can be added without breaking you. A copy of the
/// error is inserted into the extensions of every rejection response, so a logging layer
/// further out can read it.
///
/// The error never holds the token itself.
#[derive(Clone)]
pub struct AuthError {
    kind: AuthErrorKind,
    detail: Cow<'static, str>,
    scope: Option<String>,
    retry_after: Option<Duration>,
}

/// The reason behind an [`AuthError`]; it decides the status code and the RFC 6750 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// The request carried no bearer token (401, no `error` parameter).
    MissingToken,
    /// The request was malformed: a broken `Authorization` header, a token that is not a
    /// b64token, a token presented in more than one way (400 `invalid_request`).
    InvalidRequest,
    /// The token is not a well-formed JWS or its header or claims could not be read
    /// (401 `invalid_token`).
    MalformedToken,
    /// The token's `alg` is not allowed, or not allowed for the key it names (401 `invalid_token`).
    DisallowedAlgorithm,
    /// No key of the issuer's key set matches the token (401 `invalid_token`).
    UnknownKey,
    /// The signature does not verify (401 `invalid_token`).
    InvalidSignature,
    /// The token is past its `exp` (plus leeway) (401 `invalid_token`).
    Expired,
    /// The token's `nbf` lies in the future (beyond the leeway) (401 `invalid_token`).
    NotYetValid,
    /// The token's `iss` is not the configured issuer (401 `invalid_token`).
    WrongIssuer,
    /// The token's `aud` names none of the configured audiences (401 `invalid_token`).
    WrongAudience,
    /// RFC 9068 mode is on and the token's `typ` is not `at+jwt` (401 `invalid_token`).
    WrongTokenType,
    /// A claim the crate relies on is missing or has the wrong type (401 `invalid_token`).
    InvalidClaims,
    /// The authorization server says the token is not active (401 `invalid_token`).
    Inactive,
    /// The token is valid but lacks a scope the route requires (403 `insufficient_scope`).
    InsufficientScope,
    /// The issuer's key set or metadata could not be fetched and no usable cached copy exists
    /// (503 with `Retry-After`). The token was never judged.
    IssuerUnavailable,
    /// The layer is misconfigured, or the authorization server refused the resource server's
    /// own credentials (500). The token was never judged.
    Internal,
}

impl AuthErrorKind {
    /// The HTTP status this kind of failure is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::MalformedToken
            | Self::DisallowedAlgorithm
            | Self::UnknownKey
            | Self::InvalidSignature
            | Self::Expired
            | Self::NotYetValid
            | Self::WrongIssuer
            | Self::WrongAudience
            | Self::WrongTokenType
            | Self::InvalidClaims
            | Self::Inactive => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::IssuerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error code of the answer: RFC 6750 §3.1 codes for 400/401/403, RFC 6749 codes
    /// (`temporarily_unavailable`, `server_error`) for 503/500, and `None` for a request that
    /// carried no token (RFC 6750 §3.1: no error information in that case).
    pub fn error_code(self) -> Option<&'static str> {
        match self.status() {
            StatusCode::BAD_REQUEST => Some("invalid_request"),
            StatusCode::FORBIDDEN => Some("insufficient_scope"),
            StatusCode::SERVICE_UNAVAILABLE => Some("temporarily_unavailable"),
            StatusCode::INTERNAL_SERVER_ERROR => Some("server_error"),
            _ if self == Self::MissingToken => None,
            _ => Some("invalid_token"),
        }
    }

    /// The description sent to clients when detailed descriptions are off: generic, the same
    /// for every failure of one status, so it tells an attacker nothing.
    pub fn generic_description(self) -> &'static str {
        match self.status() {
            StatusCode::BAD_REQUEST => "The request is malformed",
            StatusCode::FORBIDDEN => "The access token lacks a required scope",
            StatusCode::SERVICE_UNAVAILABLE => "The token issuer cannot be reached; retry later",
            StatusCode::INTERNAL_SERVER_ERROR => "The server cannot check access tokens",
            _ if self == Self::MissingToken => "A bearer token is required",
            _ => "The access token is invalid",
        }
    }
}

impl AuthError {
    /// An error of `kind` with a detailed, token-free description.
    pub fn new(kind: AuthErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            scope: None,
            retry_after: None,
        }
    }

    pub(crate) fn missing_token() -> Self {
        Self::new(
            AuthErrorKind::MissingToken,
            "no bearer token in the request",
        )
    }

    pub(crate) fn invalid_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::InvalidRequest, detail)
    }

    pub(crate) fn unavailable(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::IssuerUnavailable, detail).with_retry_after(Duration::from_secs(5))
    }

    /// An `insufficient_scope` error naming the scopes (space-separated) the resource needs.
    pub fn insufficient_scope(required: impl Into<String>) -> Self {
        let mut err = Self::new(
            AuthErrorKind::InsufficientScope,
            "the access token lacks a required scope",
        );
        err.scope = Some(required.into());
        err
    }

    /// Sets the delay a client should wait before retrying (sent as `Retry-After`).
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The HTTP status of the rejection.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The detailed description. It never contains the token, but it may name internals
    /// (the issuer URL, a key id), so it is sent to clients only when detailed descriptions
    /// are switched on.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// For [`AuthErrorKind::InsufficientScope`]: the scopes the resource requires.
    pub fn required_scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// For [`AuthErrorKind::IssuerUnavailable`]: how long a client should wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind)
            .field("detail", &self.detail)
            .field("scope", &self.scope)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for AuthError {}

/// A configuration that cannot work, reported when the layer is built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was configured. Tokens are only accepted from one named issuer.
    #[error("an issuer is required: call `.issuer(\"https://…\")`")]
    MissingIssuer,
    /// No audience was configured and the audience check was not switched off explicitly.
    #[error(
        "an audience is required: call `.audience(\"…\")`, or `.skip_audience_check()` to accept tokens meant for any resource"
    )]
    MissingAudience,
    /// Neither a JWKS URI, discovery, nor introspection was configured: no token could ever
    /// be checked.
    #[error(
        "no way to check tokens: set `.jwks_uri(…)` or `.discover()` for JWTs, or `.introspection_client(…)` for opaque tokens"
    )]
    NoValidator,
    /// A URL could not be parsed, or is not `https` (plain `http` is only accepted for
    /// loopback hosts unless allowed explicitly).
    #[error("invalid URL for {what}: {reason}")]
    InvalidUrl {
        /// Which setting held the URL.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The algorithm allowlist is empty, or names an algorithm that cannot be used with a
    /// public key set (`none`, `HS*`) or that the crate does not know.
    #[error("invalid algorithm allowlist: {0}")]
    InvalidAlgorithms(String),
    /// A setting is out of its allowed range.
    #[error("invalid setting `{name}`: {reason}")]
    InvalidSetting {
        /// The setting's name.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Introspection is half configured: an endpoint without client credentials, or
    /// credentials without an endpoint or discovery.
    #[error("introspection needs {0}")]
    IncompleteIntrospection(&'static str),
    /// No JWT crypto backend is usable: enable exactly one of the `aws-lc-rs` and
    /// `rust-crypto` features, or install a `jsonwebtoken` `CryptoProvider` yourself.
    #[error(
        "no JWT crypto backend: enable the `aws-lc-rs` or `rust-crypto` feature of tower-bearer"
    )]
    NoCryptoBackend,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}
