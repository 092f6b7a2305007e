//! axum extractors: [`Principal`], [`Scopes`] and typed [`Claims<T>`].
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use serde::Deserialize;
//! use tower_bearer::{Claims, Principal};
//!
//! #[derive(Deserialize)]
//! struct Tenant { tenant_id: String }
//!
//! async fn me(principal: Principal) -> String {
//!     format!("hello {}", principal.subject().unwrap_or("anonymous"))
//! }
//!
//! async fn tenant(Claims(t): Claims<Tenant>) -> String {
//!     t.tenant_id
//! }
//!
//! let app: Router = Router::new().route("/me", get(me)).route("/tenant", get(tenant));
//! ```
//!
//! Rejections:
//! * no [`Principal`] in the request: the route is not behind
//!   [`BearerAuthLayer`](crate::BearerAuthLayer) — **500**, and the text names the layer to add;
//! * [`Claims<T>`] whose `T` does not match the token's claims (a missing or mistyped claim) —
//!   **401 `invalid_token`**: the token is valid, but not one this route can use. The detail is
//!   logged at debug level, not sent.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{AuthError, AuthErrorKind};
use crate::principal::{Principal, Scopes};
use crate::response::Rfc6750;

/// The token's claims, deserialized into `T`.
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

/// Why an extractor of this crate failed.
#[derive(Debug)]
pub struct ExtractRejection {
    kind: RejectionKind,
}

#[derive(Debug)]
enum RejectionKind {
    MissingLayer,
    ClaimsMismatch,
}

impl ExtractRejection {
    /// The status of the rejection: 500 for a missing layer, 401 for claims that do not fit.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            RejectionKind::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
            RejectionKind::ClaimsMismatch => StatusCode::UNAUTHORIZED,
        }
    }

    /// The text of the rejection.
    pub fn body_text(&self) -> String {
        match self.kind {
            RejectionKind::MissingLayer => "Missing request extension: tower_bearer::Principal. \
                 Is `tower_bearer::BearerAuthLayer` added in front of this route?"
                .to_owned(),
            RejectionKind::ClaimsMismatch => {
                "The access token's claims do not fit this resource".to_owned()
            }
        }
    }
}

impl IntoResponse for ExtractRejection {
    fn into_response(self) -> Response {
        match self.kind {
            RejectionKind::MissingLayer => (self.status(), self.body_text()).into_response(),
            RejectionKind::ClaimsMismatch => {
                let err = AuthError::new(AuthErrorKind::InvalidClaims, self.body_text());
                let res = Rfc6750::new().render(&err);
                res.map(axum::body::Body::from)
            }
        }
    }
}

impl std::fmt::Display for ExtractRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body_text())
    }
}

impl std::error::Error for ExtractRejection {}

fn principal(parts: &Parts) -> Result<&Principal, ExtractRejection> {
    parts.extensions.get::<Principal>().ok_or_else(|| {
        tracing::error!("no Principal in the request: add BearerAuthLayer in front of this route");
        ExtractRejection {
            kind: RejectionKind::MissingLayer,
        }
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        principal(parts).cloned()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Scopes {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        principal(parts).map(|p| p.scopes().clone())
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Claims<T> {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let principal = principal(parts)?;
        T::deserialize(principal.claims()).map(Claims).map_err(|e| {
            tracing::debug!(error = %e, "the token's claims do not fit the handler's type");
            ExtractRejection {
                kind: RejectionKind::ClaimsMismatch,
            }
        })
    }
}
