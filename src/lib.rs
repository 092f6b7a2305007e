//! # tower-bearer
//!
//! OAuth 2.0 resource-server middleware for any [Tower](https://docs.rs/tower) service — axum,
//! hyper, tonic. [`BearerAuthLayer`] takes the access token from `Authorization: Bearer …`
//! (RFC 6750), validates it, and inserts the caller's [`Principal`] into the request's
//! extensions. JWT access tokens are checked locally against the issuer's JWK Set, fetched
//! over HTTP and cached. Failures are answered exactly as RFC 6750 §3 says.
//!
//! ## Quick start
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tower_bearer::{Authenticator, BearerAuthLayer, Principal, RequireScopeLayer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Authenticator::builder()
//!     .issuer("https://as.example.com")
//!     .audience("https://api.example.com")
//!     .discover() // finds the JWKS through the issuer's metadata
//!     .build()?;
//!
//! let app = Router::new()
//!     .route("/me", get(|p: Principal| async move { format!("{:?}", p.subject()) }))
//!     .route(
//!         "/reports",
//!         get(|| async { "reports" }).layer(RequireScopeLayer::all(["reports:read"])),
//!     )
//!     .layer(BearerAuthLayer::new(auth).realm("api"));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! ## What a request meets
//!
//! | request | answer |
//! |---|---|
//! | valid token | inner service, with a [`Principal`] in the extensions |
//! | no token | 401, `WWW-Authenticate: Bearer realm="…"` |
//! | malformed header or token presented twice | 400 `invalid_request` |
//! | bad signature, expired, wrong issuer or audience, unknown key | 401 `invalid_token` |
//! | valid token without a route's scope | 403 `insufficient_scope`, `scope="…"` |
//! | issuer's keys unreachable and none cached | 503 with `Retry-After` |
//!
//! See [`token`] for the exact extraction rules, [`response`] for the answers, and
//! [`Authenticator`] for every validation setting and its default.
//!
//! ## Features
//!
//! * `jwt` (default): JWT access tokens against a JWK Set.
//! * `aws-lc-rs` (default) / `rust-crypto`: the signature backend. With both on, `aws-lc-rs`
//!   is used.
//! * `introspection` (default): opaque tokens through RFC 7662 introspection, with a bounded
//!   answer cache.
//! * `axum`: extractors for [`Principal`], [`Scopes`] and [`Claims<T>`](Claims).
//! * `test-issuer`: [`testing::TestIssuer`], a real issuer on a loopback port for your tests.
//! * `metrics`: reserved.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(feature = "jwt"))]
compile_error!(
    "tower-bearer: enable the `jwt` feature (on by default); it is the only validator so far"
);

mod authenticator;
mod claims;
pub mod clock;
mod crypto;
mod digest;
mod discovery;
pub mod error;
#[cfg(feature = "axum")]
mod extract;
mod future;
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(all(test, feature = "introspection", not(feature = "__fuzz")))]
mod fuzzing;
mod http;
#[cfg(feature = "introspection")]
pub mod introspection;
mod jwt;
mod layer;
mod principal;
pub mod response;
mod scope;
mod service;
#[cfg(feature = "test-issuer")]
pub mod testing;
pub mod token;

pub use token::{FormBody, HeaderOnly};

pub use authenticator::{Authenticator, AuthenticatorBuilder, DEFAULT_ALGORITHMS};
pub use error::{AuthError, AuthErrorKind, ConfigError};
#[cfg(feature = "axum")]
pub use extract::{Claims, ExtractRejection};
pub use future::ResponseFuture;
#[cfg(feature = "introspection")]
pub use introspection::ClientAuth;
pub use layer::BearerAuthLayer;
pub use principal::{Principal, Scopes, TokenKind};
pub use scope::{RequireScope, RequireScopeLayer};
pub use service::BearerAuth;

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
