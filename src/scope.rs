//! [`RequireScopeLayer`]: per-route scope guards (RFC 6750 §3.1 `insufficient_scope`).
//!
//! Put it on a route behind [`BearerAuthLayer`](crate::BearerAuthLayer):
//!
//! ```no_run
//! use axum::{Router, routing::{get, post}};
//! use tower_bearer::RequireScopeLayer;
//!
//! let routes: Router = Router::new()
//!     .route("/read", get(|| async { "ok" }).layer(RequireScopeLayer::all(["read"])))
//!     .route("/write", post(|| async { "ok" }).layer(RequireScopeLayer::all(["read", "write"])))
//!     .route("/any", get(|| async { "ok" }).layer(RequireScopeLayer::any(["admin", "ops"])));
//! ```
//!
//! A token that lacks the scopes gets 403 with
//! `WWW-Authenticate: Bearer error="insufficient_scope", …, scope="read write"`. A request with
//! no [`Principal`] at all means the authentication layer is missing: that is a 500 whose text
//! names the layer to add, never a pass.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::{AuthError, AuthErrorKind};
use crate::future::ResponseFuture;
use crate::principal::Principal;
use crate::response::Rfc6750;
use crate::service::LayerPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Any,
}

/// Requires scopes of the request's [`Principal`]: all of a list, or any of a list.
#[derive(Clone)]
#[must_use]
pub struct RequireScopeLayer {
    rule: Arc<Rule>,
}

struct Rule {
    mode: Mode,
    scopes: Vec<String>,
    /// The `scope` parameter of the challenge: the scopes, space-separated.
    joined: String,
    /// Set by [`RequireScopeLayer::realm`]; otherwise the policy of the `BearerAuthLayer` in
    /// front is used.
    reject: Option<Rfc6750>,
}

impl fmt::Debug for RequireScopeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("mode", &self.rule.mode)
            .field("scopes", &self.rule.scopes)
            .finish()
    }
}

impl RequireScopeLayer {
    /// Requires every scope of `scopes`.
    pub fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Mode::All, scopes)
    }

    /// Requires at least one scope of `scopes`.
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Mode::Any, scopes)
    }

    fn new<I, S>(mode: Mode, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let joined = scopes.join(" ");
        Self {
            rule: Arc::new(Rule {
                mode,
                scopes,
                joined,
                reject: None,
            }),
        }
    }

    /// Sets the `realm` of this guard's challenges. By default a guard answers with the
    /// policy of the [`BearerAuthLayer`](crate::BearerAuthLayer) in front of it (its realm,
    /// or its custom rejection), so this is rarely needed.
    pub fn realm(self, realm: impl Into<String>) -> Self {
        let rule = &*self.rule;
        Self {
            rule: Arc::new(Rule {
                mode: rule.mode,
                scopes: rule.scopes.clone(),
                joined: rule.joined.clone(),
                reject: Some(rule.reject.clone().unwrap_or_default().realm(realm)),
            }),
        }
    }
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            rule: Arc::clone(&self.rule),
        }
    }
}

/// The service of [`RequireScopeLayer`].
#[derive(Clone)]
pub struct RequireScope<S> {
    inner: S,
    rule: Arc<Rule>,
}

impl<S: fmt::Debug> fmt::Debug for RequireScope<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("inner", &self.inner)
            .field("scopes", &self.rule.scopes)
            .finish_non_exhaustive()
    }
}

impl<S> RequireScope<S> {
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let rule = &*self.rule;
        let verdict = match request.extensions().get::<Principal>() {
            None => {
                tracing::error!(
                    "RequireScope found no Principal: add BearerAuthLayer in front of this route"
                );
                Err(Rfc6750::new()
                    .detailed_descriptions(true)
                    .render(&AuthError::new(
                        AuthErrorKind::Internal,
                        "RequireScopeLayer needs tower_bearer::BearerAuthLayer in front of it",
                    )))
            }
            Some(principal) => {
                let granted = principal.scopes();
                let ok = match rule.mode {
                    Mode::All => granted.contains_all(&rule.scopes),
                    Mode::Any => granted.contains_any(&rule.scopes),
                };
                if ok {
                    Ok(())
                } else {
                    let err = AuthError::insufficient_scope(rule.joined.clone());
                    crate::service::log_rejection(&err);
                    let policy = request.extensions().get::<LayerPolicy>();
                    let mut res = match (&rule.reject, policy) {
                        (Some(own), _) => own.render(&err),
                        (None, Some(LayerPolicy(shared))) => shared.reject(&err),
                        (None, None) => Rfc6750::new().render(&err),
                    };
                    res.extensions_mut().insert(err);
                    Err(res)
                }
            }
        };
        match verdict {
            Ok(()) => ResponseFuture::new(self.inner.call(request)),
            Err(res) => {
                let res = res.map(ResBody::from);
                ResponseFuture::new(async move { Ok(res) })
            }
        }
    }
}
