//! Shared helpers of the integration tests: a protected axum app and a request helper.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tower_bearer::testing::TestIssuer;
use tower_bearer::{
    Authenticator, AuthenticatorBuilder, BearerAuthLayer, Principal, RequireScopeLayer,
};

/// An authenticator builder for `issuer` with its audience and JWKS URI.
pub fn builder(issuer: &TestIssuer) -> AuthenticatorBuilder {
    Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(issuer.jwks_uri())
}

/// The protected app: `/me` (any token), `/read` (scope read), `/rw` (read and write),
/// `/any` (admin or read).
pub fn app(auth: Authenticator) -> Router {
    app_with(BearerAuthLayer::new(auth).realm("test"))
}

pub fn app_with<M>(layer: BearerAuthLayer<M>) -> Router
where
    BearerAuthLayer<M>: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
    <BearerAuthLayer<M> as tower::Layer<axum::routing::Route>>::Service: tower::Service<
            Request<Body>,
            Response = http::Response<Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    <<BearerAuthLayer<M> as tower::Layer<axum::routing::Route>>::Service as tower::Service<
        Request<Body>,
    >>::Future: Send + 'static,
{
    Router::new()
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        )
        .route("/me", get(me))
        .route("/read", get(me).layer(RequireScopeLayer::all(["read"])))
        .route(
            "/rw",
            get(me).layer(RequireScopeLayer::all(["read", "write"]).realm("test")),
        )
        .route(
            "/any",
            get(me).layer(RequireScopeLayer::any(["admin", "read"])),
        )
        .layer(layer)
}

async fn me(principal: Principal) -> axum::Json<Principal> {
    axum::Json(principal)
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub www: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The RFC 6750 error code of the challenge, if any.
    pub fn error(&self) -> Option<String> {
        let www = self.www.as_deref()?;
        let start = www.find("error=\"")? + 7;
        let end = www[start..].find('"')? + start;
        Some(www[start..end].to_string())
    }

    #[track_caller]
    pub fn assert_invalid_token(&self) {
        assert_eq!(self.status, 401, "{self:?}");
        assert_eq!(self.error().as_deref(), Some("invalid_token"), "{self:?}");
    }

    #[track_caller]
    pub fn assert_invalid_request(&self) {
        assert_eq!(self.status, 400, "{self:?}");
        assert_eq!(self.error().as_deref(), Some("invalid_request"), "{self:?}");
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let www = header_text(response.headers(), header::WWW_AUTHENTICATE);
    let retry_after = header_text(response.headers(), header::RETRY_AFTER);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        www,
        retry_after,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// GET `path` with `Authorization: Bearer {token}`.
pub async fn get_with(app: &Router, path: &str, token: &str) -> Answer {
    let request = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

/// GET `path` with these raw `Authorization` values.
pub async fn get_raw(app: &Router, path: &str, authorization: &[&[u8]]) -> Answer {
    let mut request = Request::get(path);
    for value in authorization {
        request = request.header(
            header::AUTHORIZATION,
            http::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

fn header_text(headers: &http::HeaderMap, name: http::HeaderName) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_string())
}
