//! [`BearerAuth`]: the middleware service.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use tower_service::Service;

use crate::error::{AuthError, AuthErrorKind};
use crate::future::ResponseFuture;
use crate::layer::{BearerAuthLayer, Shared};
use crate::principal::Principal;
use crate::token::{self, FormBody, HeaderOnly};

/// Authenticates every request before passing it to the inner service.
///
/// On success the request reaches the inner service with a [`Principal`] in its extensions
/// (replacing any `Principal` that was already there: only this layer's word counts). On
/// failure the inner service is not called; the answer is an `Ok` response built by the
/// layer's rejection policy, with the [`AuthError`] in its extensions.
pub struct BearerAuth<S, M = HeaderOnly> {
    inner: S,
    shared: Arc<Shared>,
    mode: PhantomData<fn() -> M>,
}

impl<S: Clone, M> Clone for BearerAuth<S, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            mode: PhantomData,
        }
    }
}

impl<S: fmt::Debug, M> fmt::Debug for BearerAuth<S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("auth", &self.shared.auth)
            .finish_non_exhaustive()
    }
}

impl<S, M> BearerAuth<S, M> {
    pub(crate) fn from_shared(inner: S, shared: Arc<Shared>) -> Self {
        Self {
            inner,
            shared,
            mode: PhantomData,
        }
    }

    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: &BearerAuthLayer<M>) -> Self {
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

    /// Takes the service that was polled ready and leaves a clone in its place.
    fn take_ready(&mut self) -> S
    where
        S: Clone,
    {
        // `self.inner` was polled ready, a clone of it was not: keep the ready one for this
        // request and leave the clone for the next (tower's "be careful when cloning").
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

/// Finds the token in `parts` (and `form_token`, read from the body) and validates it.
async fn authenticate(
    shared: &Shared,
    parts: &Parts,
    form_token: Option<String>,
) -> Result<Principal, AuthError> {
    let token = match (token::extract(parts, &shared.sources)?, form_token) {
        (Some(_), Some(_)) => {
            return Err(AuthError::invalid_request(
                "the token is presented in more than one way",
            ));
        }
        (Some(token), None) => token,
        (None, Some(token)) => std::borrow::Cow::Owned(token),
        (None, None) => return Err(AuthError::missing_token()),
    };
    shared.auth.authenticate(&token).await
}

/// Runs the inner service with the principal, or answers the rejection.
async fn finish<S, ReqBody, ResBody>(
    shared: &Arc<Shared>,
    mut inner: S,
    mut parts: Parts,
    body: ReqBody,
    outcome: Result<Principal, AuthError>,
) -> Result<Response<ResBody>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    match outcome {
        Ok(principal) => {
            // Replaces any `Principal` that arrived with the request: only ours counts.
            parts.extensions.insert(principal);
            // Lets scope guards further in answer with this layer's policy (realm, custom
            // rejections).
            parts.extensions.insert(LayerPolicy(Arc::clone(shared)));
            inner.call(Request::from_parts(parts, body)).await
        }
        Err(err) => Ok(reject(shared, err)),
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S, HeaderOnly>
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
        let inner = self.take_ready();
        let shared = Arc::clone(&self.shared);
        ResponseFuture::new(async move {
            let (parts, body) = request.into_parts();
            let outcome = authenticate(&shared, &parts, None).await;
            finish(&shared, inner, parts, body, outcome).await
        })
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S, FormBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: http_body::Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let inner = self.take_ready();
        let shared = Arc::clone(&self.shared);
        ResponseFuture::new(async move {
            let (parts, body) = request.into_parts();
            if !token::has_form_body(&parts, shared.sources.max_form_body) {
                let outcome = authenticate(&shared, &parts, None).await;
                return finish(&shared, inner, parts, body, outcome).await;
            }
            let limit = shared.sources.max_form_body;
            let bytes = match http_body_util::Limited::new(body, limit).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    let err = AuthError::invalid_request(format!(
                        "the form body could not be read within {limit} bytes"
                    ));
                    return Ok(reject(&shared, err));
                }
            };
            let outcome = match token::from_urlencoded(&bytes, shared.sources.max_len) {
                Ok(form_token) => authenticate(&shared, &parts, form_token).await,
                Err(err) => Err(err),
            };
            finish(&shared, inner, parts, ReqBody::from(bytes), outcome).await
        })
    }
}

/// The rejection policy of the [`BearerAuth`] that authenticated a request, for the guards
/// behind it.
#[derive(Clone)]
pub(crate) struct LayerPolicy(pub(crate) Arc<Shared>);

pub(crate) fn reject<ResBody: From<String>>(shared: &Shared, err: AuthError) -> Response<ResBody> {
    log_rejection(&err);
    let mut response = shared.reject(&err).map(ResBody::from);
    response.extensions_mut().insert(err);
    response
}

pub(crate) fn log_rejection(err: &AuthError) {
    match err.kind() {
        AuthErrorKind::IssuerUnavailable => {
            tracing::warn!(kind = ?err.kind(), detail = ?err.detail(), "bearer token not checked: issuer unavailable");
        }
        AuthErrorKind::Internal => {
            tracing::error!(kind = ?err.kind(), detail = ?err.detail(), "bearer token not checked");
        }
        _ => tracing::debug!(kind = ?err.kind(), detail = ?err.detail(), "bearer token rejected"),
    }
}
