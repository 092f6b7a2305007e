//! [`BearerAuthLayer`]: the `tower::Layer` that puts [`BearerAuth`] in front of a service.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use crate::authenticator::Authenticator;
use crate::response::{OnReject, Rfc6750};
use crate::service::BearerAuth;
use crate::token::{FormBody, HeaderOnly, TokenSources};

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
///
/// `M` is [`HeaderOnly`] unless [`allow_form_token`](BearerAuthLayer::allow_form_token) made
/// it [`FormBody`].
#[must_use]
pub struct BearerAuthLayer<M = HeaderOnly> {
    pub(crate) shared: Arc<Shared>,
    mode: PhantomData<fn() -> M>,
}

impl<M> Clone for BearerAuthLayer<M> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            mode: PhantomData,
        }
    }
}

/// What every [`BearerAuth`] of one layer shares.
pub(crate) struct Shared {
    pub(crate) auth: Authenticator,
    pub(crate) sources: TokenSources,
    pub(crate) default_reject: Rfc6750,
    pub(crate) custom_reject: Option<Arc<dyn OnReject>>,
}

impl Shared {
    pub(crate) fn reject(&self, err: &crate::AuthError) -> http::Response<String> {
        match &self.custom_reject {
            Some(custom) => custom.on_reject(err),
            None => self.default_reject.render(err),
        }
    }
}

impl<M> fmt::Debug for BearerAuthLayer<M> {
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
            mode: PhantomData,
        }
    }

    /// Also accepts the token in the `access_token` field of form-encoded bodies of non-GET
    /// requests (RFC 6750 §2.2). Off by default.
    ///
    /// The body is read (up to [`max_form_body`](BearerAuthLayer::max_form_body) bytes) and
    /// handed on unchanged; the request body type must be `From<Bytes>`.
    pub fn allow_form_token(self) -> BearerAuthLayer<FormBody> {
        BearerAuthLayer {
            shared: self.shared,
            mode: PhantomData,
        }
    }
}

impl<M> BearerAuthLayer<M> {
    fn update(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => f(shared),
            None => {
                let old = &*self.shared;
                let mut shared = Shared {
                    auth: old.auth.clone(),
                    sources: old.sources.clone(),
                    default_reject: old.default_reject.clone(),
                    custom_reject: old.custom_reject.clone(),
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

    /// Caps the form body read for a token (default 64 KiB; only with
    /// [`allow_form_token`](BearerAuthLayer::allow_form_token)). A body whose
    /// `Content-Length` is larger is not read (a token in it is not seen); a body without a
    /// declared length that turns out larger is answered 400 `invalid_request`.
    pub fn max_form_body(self, max: usize) -> Self {
        self.update(|s| s.sources.max_form_body = max)
    }

    /// Replaces the rejection policy (default: [`Rfc6750`] with this layer's realm).
    pub fn on_reject(self, policy: impl OnReject) -> Self {
        let policy: Arc<dyn OnReject> = Arc::new(policy);
        self.update(|s| s.custom_reject = Some(policy))
    }

    /// The authenticator.
    pub fn authenticator(&self) -> &Authenticator {
        &self.shared.auth
    }
}

impl<S, M> Layer<S> for BearerAuthLayer<M> {
    type Service = BearerAuth<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth::from_shared(inner, Arc::clone(&self.shared))
    }
}
