//! Upstream faults against real local HTTP servers, and floods: the caller gets 503 (never
//! 401) within the timeout, nothing bad is cached, the next request after the endpoint heals
//! succeeds, and floods keep upstream traffic and memory bounded.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_bearer::testing::{KeyKind, TestIssuer};
use tower_bearer::{Authenticator, ClientAuth};

const TIMEOUT: Duration = Duration::from_millis(1500);
const MARGIN: Duration = Duration::from_millis(1000);

/// A server that accepts, sends a status line and headers, then one body byte per second.
async fn trickling_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for _ in 0..1000 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if stream.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A raw answer for the key set endpoint: status, content type, body.
type RawAnswer = (StatusCode, &'static str, Bytes);

/// Asserts a 503 with `Retry-After`, within the timeout and a margin.
async fn assert_unavailable(app: &axum::Router, token: &str, what: &str) {
    let started = Instant::now();
    let answer = get_with(app, "/me", token).await;
    let took = started.elapsed();
    assert_eq!(answer.status, 503, "{what}: {answer:?}");
    assert!(answer.retry_after.is_some(), "{what}");
    assert!(answer.www.is_none(), "{what}");
    assert!(took < TIMEOUT + MARGIN, "{what}: took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_endpoint_faults() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let token = issuer.token().sign();
    let html = (
        StatusCode::OK,
        "text/html",
        Bytes::from_static(b"<html>keys</html>"),
    );
    let cases: Vec<(&str, Option<RawAnswer>, Option<Duration>)> = vec![
        ("never answering", None, Some(Duration::from_secs(30))),
        (
            "500",
            Some((
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                Bytes::from_static(b"{}"),
            )),
            None,
        ),
        (
            "502",
            Some((
                StatusCode::BAD_GATEWAY,
                "text/plain",
                Bytes::from_static(b"bad gateway"),
            )),
            None,
        ),
        (
            "429",
            Some((
                StatusCode::TOO_MANY_REQUESTS,
                "application/json",
                Bytes::from_static(b"{}"),
            )),
            None,
        ),
        ("text/html", Some(html), None),
        (
            "broken JSON",
            Some((
                StatusCode::OK,
                "application/json",
                Bytes::from_static(b"{\"keys\":[{\"kty\":"),
            )),
            None,
        ),
        (
            "a 10 MiB body",
            Some((
                StatusCode::OK,
                "application/json",
                Bytes::from(vec![b' '; 10 * 1024 * 1024]),
            )),
            None,
        ),
        (
            "an empty keys array",
            Some((
                StatusCode::OK,
                "application/json",
                Bytes::from_static(b"{\"keys\":[]}"),
            )),
            None,
        ),
        (
            "keys not an array",
            Some((
                StatusCode::OK,
                "application/json",
                Bytes::from_static(b"{\"keys\":{\"kty\":\"RSA\"}}"),
            )),
            None,
        ),
        (
            "a JSON array",
            Some((
                StatusCode::OK,
                "application/json",
                Bytes::from_static(b"[]"),
            )),
            None,
        ),
    ];
    for (what, answer, delay) in cases {
        // A new authenticator each time: nothing cached yet.
        let app = app(builder(&issuer).http_timeout(TIMEOUT).build().unwrap());
        issuer.set_jwks_answer(answer);
        issuer.set_delay(delay.unwrap_or(Duration::ZERO));
        assert_unavailable(&app, &token, what).await;
        assert_unavailable(&app, &token, what).await;
        // Healed: the very next request fetches again and succeeds.
        issuer.set_jwks_answer(None::<(StatusCode, &str, Bytes)>);
        issuer.set_delay(Duration::ZERO);
        assert_eq!(
            get_with(&app, "/me", &token).await.status,
            200,
            "{what}: recovery"
        );
    }
}

#[tokio::test]
async fn trickling_and_refusing_endpoints() {
    let trickle = trickling_server().await;
    let issuer = TestIssuer::start().await;
    let token = issuer.token().sign();
    let auth = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(format!("{trickle}/jwks"))
        .http_timeout(TIMEOUT)
        .build()
        .unwrap();
    assert_unavailable(&app(auth), &token, "one byte per second").await;

    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let auth = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(format!("http://127.0.0.1:{port}/jwks"))
        .build()
        .unwrap();
    assert_unavailable(&app(auth), &token, "connection refused").await;

    // Introspection trickling.
    let auth = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .introspection_endpoint(format!("{trickle}/introspect"))
        .introspection_client(ClientAuth::basic("rs", "secret"))
        .http_timeout(TIMEOUT)
        .build()
        .unwrap();
    assert_unavailable(
        &app(auth),
        "opaque-token",
        "introspection, one byte per second",
    )
    .await;
}

#[tokio::test]
async fn redirects_to_another_host_are_not_followed() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let elsewhere = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let app = app(builder(&issuer).build().unwrap());
    issuer.set_jwks_redirect(Some(&elsewhere.jwks_uri()));
    let forged = elsewhere.token().claim("iss", json!(issuer.url())).sign();
    assert_unavailable(&app, &forged, "cross-origin redirect").await;
    assert_eq!(elsewhere.requests(), 0);
    issuer.set_jwks_redirect(None);
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
}

#[tokio::test]
async fn ten_thousand_keys_are_capped() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let template = issuer.jwk("rsa-1").unwrap();
    let keys: Vec<serde_json::Value> = (0..10_000)
        .map(|i| {
            let mut key = template.clone();
            key["kid"] = json!(format!("copy-{i}"));
            key
        })
        .collect();
    let body = json!({ "keys": keys }).to_string();
    assert!(body.len() > 256 * 1024);
    issuer.set_jwks_answer(Some((StatusCode::OK, "application/json", body)));

    // Over the default 256 KiB body cap: refused whole.
    let capped = app(builder(&issuer).build().unwrap());
    let early = issuer.token().kid("copy-5").sign();
    assert_eq!(get_with(&capped, "/me", &early).await.status, 503);

    // With room for the body: the first 100 keys are kept, the rest ignored.
    let roomy = app(builder(&issuer)
        .max_response_bytes(8 * 1024 * 1024)
        .build()
        .unwrap());
    assert_eq!(get_with(&roomy, "/me", &early).await.status, 200);
    let late = issuer.token().kid("copy-5000").sign();
    get_with(&roomy, "/me", &late).await.assert_invalid_token();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_of_random_kids() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let app = app(builder(&issuer).build().unwrap());
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
    let started = Instant::now();
    let template = issuer.token().sign();
    let (_, rest) = template.split_once('.').unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..4u32 {
        let (app, rest) = (app.clone(), rest.to_owned());
        tasks.spawn(async move {
            use base64::Engine as _;
            for i in 0..25_000u32 {
                let header = json!({"alg": "RS256", "kid": format!("random-{worker}-{i}")});
                let header =
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string());
                let answer = get_with(&app, "/me", &format!("{header}.{rest}")).await;
                assert_eq!(answer.status, 401);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let elapsed = started.elapsed();
    // One fetch at start, then at most one per 30 s cooldown.
    let allowed = 1 + 1 + elapsed.as_secs() / 30;
    let fetches = issuer.jwks_fetches();
    println!("100 000 unknown kids in {elapsed:?}: {fetches} fetches");
    assert!(fetches <= allowed, "{fetches} fetches in {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_from_a_thousand_tasks_during_rotation() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let app = app(builder(&issuer).build().unwrap());
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
    let kid = issuer.add_key(KeyKind::Rsa);
    issuer.set_delay(Duration::from_millis(100));
    let token = issuer.token().key(&kid).sign();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let (app, token) = (app.clone(), token.clone());
        tasks.spawn(async move { get_with(&app, "/me", &token).await.status });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "one fetch at start, one for the new key"
    );
}
