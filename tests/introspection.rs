//! Opaque tokens through RFC 7662 introspection against a real endpoint on a loopback port:
//! strict answers, failures, the answer cache, single flight, revocation, hybrid dispatch.

mod common;

use std::time::{Duration, Instant};

use common::*;
use http::StatusCode;
use serde_json::json;
use tower_bearer::clock::ManualClock;
use tower_bearer::testing::TestIssuer;
use tower_bearer::{Authenticator, AuthenticatorBuilder, ClientAuth};

fn introspecting(issuer: &TestIssuer) -> AuthenticatorBuilder {
    Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .introspection_endpoint(issuer.introspection_endpoint())
        .introspection_client(ClientAuth::basic(
            TestIssuer::INTROSPECTION_CLIENT,
            TestIssuer::INTROSPECTION_SECRET,
        ))
}

#[tokio::test]
async fn active_token_with_scope() {
    let issuer = TestIssuer::start().await;
    let app = app(introspecting(&issuer).build().unwrap());
    let token = issuer.opaque().scope("read").issue();
    let answer = get_with(&app, "/read", &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let me = answer.json();
    assert_eq!(me["kind"], "introspected");
    assert_eq!(me["client_id"], "client-1");
    assert_eq!(me["scopes"], json!(["read"]));
    assert_eq!(me["iss"], issuer.url());
    let answer = get_with(&app, "/rw", &token).await;
    assert_eq!(answer.status, 403);
}

#[tokio::test]
async fn client_secret_post_works_too() {
    let issuer = TestIssuer::start().await;
    let auth = introspecting(&issuer)
        .introspection_client(ClientAuth::post(
            TestIssuer::INTROSPECTION_CLIENT,
            TestIssuer::INTROSPECTION_SECRET,
        ))
        .build()
        .unwrap();
    let token = issuer.opaque().issue();
    assert_eq!(get_with(&app(auth), "/me", &token).await.status, 200);
}

#[tokio::test]
async fn active_must_be_the_boolean_true() {
    let issuer = TestIssuer::start().await;
    let app = app(introspecting(&issuer)
        .introspection_negative_ttl(Duration::ZERO)
        .build()
        .unwrap());
    for active in [json!("true"), json!(1), json!(null), json!(false)] {
        let token = issuer
            .opaque()
            .scope("read")
            .member("active", active.clone())
            .issue();
        get_with(&app, "/read", &token).await.assert_invalid_token();
    }
    let token = issuer.opaque().scope("read").without("active").issue();
    get_with(&app, "/read", &token).await.assert_invalid_token();
    // An unknown token: {"active": false}.
    get_with(&app, "/read", "unknown-token")
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn active_answers_are_checked() {
    let issuer = TestIssuer::start().await;
    let app = app(introspecting(&issuer).build().unwrap());
    let cases = [
        ("token_type", json!("refresh_token")),
        ("iss", json!("https://other.example")),
        ("aud", json!("https://other-api.example")),
        ("aud", json!(["https://other-api.example"])),
        ("exp", json!(1)),
        ("exp", json!("soon")),
        ("scope", json!([1, 2])),
    ];
    for (name, value) in cases {
        let token = issuer.opaque().member(name, value.clone()).issue();
        let answer = get_with(&app, "/me", &token).await;
        answer.assert_invalid_token();
    }
    // Accepted forms.
    for (name, value) in [
        ("token_type", json!("bearer")),
        ("token_type", json!("access_token")),
        ("exp", json!(4_000_000_000.5)),
        ("scope", json!(["read", "write"])),
        ("aud", json!(["x", TestIssuer::AUDIENCE])),
    ] {
        let token = issuer.opaque().member(name, value.clone()).issue();
        assert_eq!(
            get_with(&app, "/me", &token).await.status,
            200,
            "{name}: {value}"
        );
    }
    // Members that may be absent.
    let token = issuer
        .opaque()
        .without("aud")
        .without("iss")
        .without("exp")
        .without("token_type")
        .issue();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
}

async fn assert_503_then_recovers(issuer: &TestIssuer, app: &axum::Router, token: &str) {
    let answer = get_with(app, "/me", token).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.retry_after.is_some());
    let calls = issuer.introspection_calls();
    issuer.set_introspection_answer(None::<(StatusCode, &str, Vec<u8>)>);
    issuer.fail_with(None);
    issuer.set_delay(Duration::ZERO);
    assert_eq!(get_with(app, "/me", token).await.status, 200);
    assert_eq!(
        issuer.introspection_calls(),
        calls + 1,
        "nothing was cached"
    );
}

#[tokio::test]
async fn endpoint_failures_are_503_and_never_cached() {
    let issuer = TestIssuer::start().await;
    let app = app(introspecting(&issuer)
        .http_timeout(Duration::from_millis(500))
        .build()
        .unwrap());
    let token = issuer.opaque().issue();

    issuer.fail_with(Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_503_then_recovers(&issuer, &app, &token).await;

    let cases: Vec<(StatusCode, &'static str, Vec<u8>)> = vec![
        (StatusCode::OK, "text/html", b"<html>hi</html>".to_vec()),
        (
            StatusCode::OK,
            "application/json",
            b"{\"active\":tru".to_vec(),
        ),
        (StatusCode::OK, "application/json", b"[true]".to_vec()),
        (
            StatusCode::OK,
            "application/json",
            vec![b' '; 2 * 1024 * 1024],
        ),
        (
            StatusCode::TOO_MANY_REQUESTS,
            "application/json",
            b"{}".to_vec(),
        ),
        (StatusCode::BAD_GATEWAY, "text/plain", b"down".to_vec()),
    ];
    for (status, content_type, body) in cases {
        let token = issuer.opaque().issue();
        issuer.set_introspection_answer(Some((status, content_type, body)));
        assert_503_then_recovers(&issuer, &app, &token).await;
    }

    // A hang: 503 within the timeout.
    let token = issuer.opaque().issue();
    issuer.set_delay(Duration::from_secs(10));
    let started = Instant::now();
    assert_503_then_recovers(&issuer, &app, &token).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn our_credentials_refused_is_500() {
    let issuer = TestIssuer::start().await;
    let auth = introspecting(&issuer)
        .introspection_client(ClientAuth::basic(TestIssuer::INTROSPECTION_CLIENT, "wrong"))
        .build()
        .unwrap();
    let app = app(auth);
    let token = issuer.opaque().issue();
    let answer = get_with(&app, "/me", &token).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert!(answer.www.is_none());
    assert_eq!(answer.json()["error"], "server_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_call() {
    let issuer = TestIssuer::start().await;
    let app = app(introspecting(&issuer).build().unwrap());
    issuer.set_delay(Duration::from_millis(200));
    let token = issuer.opaque().issue();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            get_with(&app, "/me", &token).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(issuer.introspection_calls(), 1);
}

#[tokio::test]
async fn one_call_per_token_within_the_ttl() {
    let issuer = TestIssuer::start().await;
    let app = app(introspecting(&issuer).build().unwrap());
    let tokens: Vec<String> = (0..100).map(|_| issuer.opaque().issue()).collect();
    for round in 0..100 {
        for token in &tokens {
            let answer = get_with(&app, "/me", token).await;
            assert_eq!(answer.status, 200, "round {round}");
        }
    }
    assert_eq!(issuer.introspection_calls(), 100);
}

#[tokio::test]
async fn cached_answers_never_outlive_exp() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new();
    let auth = introspecting(&issuer)
        .clock(clock.clone())
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let app = app(auth);
    let token = issuer.opaque().expires_in(2).issue();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    clock.advance(Duration::from_secs(1));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    assert_eq!(issuer.introspection_calls(), 1);
    clock.advance(Duration::from_secs(2));
    get_with(&app, "/me", &token).await.assert_invalid_token();
    // The stale entry was dropped and the server asked again (it still says active, but the
    // exp it gives is past).
    assert_eq!(issuer.introspection_calls(), 2);
}

#[tokio::test]
async fn the_positive_cap_limits_caching() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new();
    let app = app(introspecting(&issuer).clock(clock.clone()).build().unwrap());
    let token = issuer.opaque().expires_in(3600).issue();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    clock.advance(Duration::from_secs(59));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    assert_eq!(issuer.introspection_calls(), 1);
    clock.advance(Duration::from_secs(2));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    assert_eq!(issuer.introspection_calls(), 2);
}

#[tokio::test]
async fn inactive_answers_are_cached_briefly() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new();
    let app = app(introspecting(&issuer).clock(clock.clone()).build().unwrap());
    get_with(&app, "/me", "never-issued")
        .await
        .assert_invalid_token();
    get_with(&app, "/me", "never-issued")
        .await
        .assert_invalid_token();
    assert_eq!(issuer.introspection_calls(), 1);
    clock.advance(Duration::from_secs(11));
    get_with(&app, "/me", "never-issued")
        .await
        .assert_invalid_token();
    assert_eq!(issuer.introspection_calls(), 2);
}

#[tokio::test]
async fn forget_makes_the_next_request_ask_again() {
    let issuer = TestIssuer::start().await;
    let auth = introspecting(&issuer).build().unwrap();
    let app = app(auth.clone());
    let token = issuer.opaque().issue();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    issuer.revoke(&token);
    // Still cached: the application has not heard of the revocation.
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    assert_eq!(issuer.introspection_calls(), 1);
    auth.forget(&token).await;
    get_with(&app, "/me", &token).await.assert_invalid_token();
    assert_eq!(issuer.introspection_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stays_bounded() {
    let issuer = TestIssuer::start().await;
    let auth = introspecting(&issuer)
        .introspection_cache_capacity(1_000)
        .build()
        .unwrap();
    // 100 000 distinct (unknown, so inactive) tokens, straight through the authenticator,
    // 16 tasks at a time.
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16u32 {
        let auth = auth.clone();
        tasks.spawn(async move {
            for i in (worker..100_000).step_by(16) {
                let _ = auth.authenticate(&format!("opaque-{i}")).await;
                if i % 10_000 == 0 {
                    assert!(auth.introspection_cache_len().await <= 1_000);
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(issuer.introspection_calls(), 100_000);
    let len = auth.introspection_cache_len().await;
    assert!(len <= 1_000, "{len} entries");
    assert!(len > 0);
}

#[tokio::test]
async fn hybrid_dispatch() {
    let issuer = TestIssuer::start().await;
    let auth = introspecting(&issuer)
        .jwks_uri(issuer.jwks_uri())
        .build()
        .unwrap();
    let app = app(auth);
    let jwt = issuer.token().sign();
    assert_eq!(get_with(&app, "/me", &jwt).await.json()["kind"], "jwt");
    assert_eq!(
        (issuer.jwks_fetches(), issuer.introspection_calls()),
        (1, 0)
    );
    let opaque = issuer.opaque().issue();
    assert_eq!(
        get_with(&app, "/me", &opaque).await.json()["kind"],
        "introspected"
    );
    assert_eq!(
        (issuer.jwks_fetches(), issuer.introspection_calls()),
        (1, 1)
    );
}

#[tokio::test]
async fn only_one_path_configured() {
    let issuer = TestIssuer::start().await;
    // Introspection only: a JWT is a 401, and never fetched keys for.
    let app_opaque = app(introspecting(&issuer).build().unwrap());
    get_with(&app_opaque, "/me", &issuer.token().sign())
        .await
        .assert_invalid_token();
    // JWT only: an opaque token is a 401.
    let app_jwt = app(builder(&issuer).build().unwrap());
    get_with(&app_jwt, "/me", &issuer.opaque().issue())
        .await
        .assert_invalid_token();
    assert_eq!(issuer.introspection_calls(), 0);
}

#[tokio::test]
async fn introspect_all_tokens_mode() {
    let issuer = TestIssuer::start().await;
    let auth = introspecting(&issuer)
        .jwks_uri(issuer.jwks_uri())
        .introspect_all_tokens(true)
        .build()
        .unwrap();
    let app = app(auth);
    // The test issuer does not know its JWTs at the introspection endpoint: inactive.
    get_with(&app, "/me", &issuer.token().sign())
        .await
        .assert_invalid_token();
    assert_eq!(
        (issuer.jwks_fetches(), issuer.introspection_calls()),
        (0, 1)
    );
}

#[tokio::test]
async fn discovered_introspection_endpoint() {
    let issuer = TestIssuer::start().await;
    let auth = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .discover()
        .introspection_client(ClientAuth::basic(
            TestIssuer::INTROSPECTION_CLIENT,
            TestIssuer::INTROSPECTION_SECRET,
        ))
        .build()
        .unwrap();
    let app = app(auth);
    assert_eq!(
        get_with(&app, "/me", &issuer.opaque().issue()).await.status,
        200
    );
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
    assert_eq!(issuer.metadata_fetches(), 1);
}

#[test]
fn client_auth_debug_redacts_the_secret() {
    let auth = ClientAuth::basic("rs", "s3cr3t");
    let text = format!("{auth:?}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(text.contains("rs"));
}

#[tokio::test]
async fn unsupported_token_type_falls_back_to_local_jwt_checks() {
    let issuer = TestIssuer::start().await;
    let auth = introspecting(&issuer)
        .jwks_uri(issuer.jwks_uri())
        .introspect_all_tokens(true)
        .build()
        .unwrap();
    let app = app(auth);
    issuer.set_introspection_answer(Some((
        StatusCode::BAD_REQUEST,
        "application/json",
        r#"{"error":"unsupported_token_type"}"#,
    )));
    // A JWT the server will not introspect is checked against the key set…
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.json()["kind"],
        "jwt"
    );
    // …and a forged one still fails there.
    let forged = issuer
        .token()
        .claim("sub", json!("admin"))
        .hmac_secret(b"guess")
        .sign();
    get_with(&app, "/me", &forged).await.assert_invalid_token();
    // An opaque token the server will not introspect has no other path: 401.
    get_with(&app, "/me", "opaque-token")
        .await
        .assert_invalid_token();
    // Any other 400 is our request's fault: 500.
    issuer.set_introspection_answer(Some((
        StatusCode::BAD_REQUEST,
        "application/json",
        r#"{"error":"invalid_request"}"#,
    )));
    assert_eq!(
        get_with(&app, "/me", "another-opaque-token").await.status,
        500
    );
}
