//! [`BearerAuthLayer`]: the `tower::Layer` that puts [`BearerAuth`] in front of a service.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::authenticator::Authenticator;
use crate::response::{OnReject, Rfc6750};
use crate::service::BearerAuth;
use crate::token::TokenSources;

/// Applies [`BearerAuth`] to a service: every request must carry a valid bearer token.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use tower_bearer::{Authenticator, BearerAuthLayer};
///
/// # fn app() -> Result<Router, tower_bearer::ConfigError> {
/// let auth = Authenticator::builder()
///     .issuer("https://as.example.com")
///     .audience("https://api.example.com")
///     .discover()
///     .build()?;
/// let app = Router::new()
///     .route("/me", get(|| async { "hello" }))
///     .layer(BearerAuthLayer::new(auth).realm("api"));
/// # Ok(app) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct BearerAuthLayer {
    pub(crate) shared: Arc<Shared>,
}

/// What every [`BearerAuth`] of one layer shares.
pub(crate) struct Shared {
    pub(crate) auth: Authenticator,
    pub(crate) sources: TokenSources,
    pub(crate) default_reject: Rfc6750,
    pub(crate) custom_reject: Option<Box<dyn OnReject>>,
}

impl Shared {
    pub(crate) fn reject(&self, err: &crate::AuthError) -> http::Response<String> {
        match &self.custom_reject {
            Some(custom) => custom.on_reject(err),
            None => self.default_reject.render(err),
        }
    }
}

impl fmt::Debug for BearerAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("auth", &self.shared.auth)
            .field("sources", &self.shared.sources)
            .field("reject", &self.shared.default_reject)
            .field("custom_reject", &self.shared.custom_reject.is_some())
            .finish()
    }
}

impl BearerAuthLayer {
    /// A layer that validates tokens with `auth`, reads them from the `Authorization` header
    /// only, and answers failures per RFC 6750.
    pub fn new(auth: Authenticator) -> Self {
        Self {
            shared: Arc::new(Shared {
                auth,
                sources: TokenSources::default(),
                default_reject: Rfc6750::new(),
                custom_reject: None,
            }),
        }
    }

    fn update(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => f(shared),
            None => {
                let old = &*self.shared;
                let mut shared = Shared {
                    auth: old.auth.clone(),
                    sources: old.sources.clone(),
                    default_reject: old.default_reject.clone(),
                    custom_reject: None,
                };
                f(&mut shared);
                self.shared = Arc::new(shared);
            }
        }
        self
    }

    /// Sets the `realm` of every `WWW-Authenticate` challenge.
    pub fn realm(self, realm: impl Into<String>) -> Self {
        let realm = realm.into();
        self.update(|s| s.default_reject = s.default_reject.clone().realm(realm))
    }

    /// Sends detailed `error_description`s (for development; see
    /// [`Rfc6750::detailed_descriptions`]).
    pub fn detailed_descriptions(self, on: bool) -> Self {
        self.update(|s| s.default_reject = s.default_reject.clone().detailed_descriptions(on))
    }

    /// Also accepts the token in the `access_token` query parameter (RFC 6750 §2.3).
    ///
    /// Off by default: URLs end up in logs, browser history and `Referer` headers.
    pub fn allow_query_token(self, on: bool) -> Self {
        self.update(|s| s.sources.query = on)
    }

    /// Caps the token's length in bytes (default 8 KiB). Longer tokens are refused before any
    /// decoding.
    pub fn max_token_len(self, max: usize) -> Self {
        self.update(|s| s.sources.max_len = max)
    }

    /// Replaces the rejection policy (default: [`Rfc6750`] with this layer's realm).
    pub fn on_reject(self, policy: impl OnReject) -> Self {
        let policy: Box<dyn OnReject> = Box::new(policy);
        self.update(|s| s.custom_reject = Some(policy))
    }

    /// The authenticator.
    pub fn authenticator(&self) -> &Authenticator {
        &self.shared.auth
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth::from_shared(inner, Arc::clone(&self.shared))
    }
}
