//! [`BearerAuth`]: the middleware service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::error::{AuthError, AuthErrorKind};
use crate::future::ResponseFuture;
use crate::layer::{BearerAuthLayer, Shared};
use crate::token;

/// Authenticates every request before passing it to the inner service.
///
/// On success the request reaches the inner service with a [`Principal`](crate::Principal) in its extensions
/// (replacing any `Principal` that was already there: only this layer's word counts). On
/// failure the inner service is not called; the answer is an `Ok` response built by the
/// layer's rejection policy, with the [`AuthError`] in its extensions.
#[derive(Clone)]
pub struct BearerAuth<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: fmt::Debug> fmt::Debug for BearerAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("auth", &self.shared.auth)
            .finish_non_exhaustive()
    }
}

impl<S> BearerAuth<S> {
    pub(crate) fn from_shared(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: &BearerAuthLayer) -> Self {
        Self::from_shared(inner, Arc::clone(&layer.shared))
    }

    /// A reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // `self.inner` was polled ready, a clone of it was not: keep the ready one for this
        // request and leave the clone for the next (tower's "be careful when cloning").
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        ResponseFuture::new(async move {
            let (mut parts, body) = request.into_parts();
            let outcome = match token::extract(&parts, &shared.sources) {
                Ok(Some(token)) => shared.auth.authenticate(&token).await,
                Ok(None) => Err(AuthError::missing_token()),
                Err(err) => Err(err),
            };
            match outcome {
                Ok(principal) => {
                    // Replaces any `Principal` that arrived with the request: only ours counts.
                    parts.extensions.insert(principal);
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(err) => Ok(reject(&shared, err)),
            }
        })
    }
}

pub(crate) fn reject<ResBody: From<String>>(shared: &Shared, err: AuthError) -> Response<ResBody> {
    log_rejection(&err);
    let mut response = shared.reject(&err).map(ResBody::from);
    response.extensions_mut().insert(err);
    response
}

pub(crate) fn log_rejection(err: &AuthError) {
    match err.kind() {
        AuthErrorKind::IssuerUnavailable => {
            tracing::warn!(kind = ?err.kind(), detail = err.detail(), "bearer token not checked: issuer unavailable");
        }
        AuthErrorKind::Internal => {
            tracing::error!(kind = ?err.kind(), detail = err.detail(), "bearer token not checked");
        }
        _ => tracing::debug!(kind = ?err.kind(), detail = err.detail(), "bearer token rejected"),
    }
}
