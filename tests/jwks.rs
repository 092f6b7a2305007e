//! The key set cache against a real issuer on a loopback port: rotation, the unknown-kid
//! cooldown, one fetch in flight, failures, the stale-if-error bound, max-age and discovery.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tower_bearer::clock::ManualClock;
use tower_bearer::testing::{KeyKind, TestIssuer};

/// Tokens that outlive the clock jumps of these tests.
const LONG: i64 = 3 * 24 * 3600;

#[tokio::test]
async fn rotation_costs_exactly_one_fetch() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let app = app(builder(&issuer).build().unwrap());
    let k1 = issuer.token().key("rsa-1").sign();
    assert_eq!(get_with(&app, "/me", &k1).await.status, 200);
    assert_eq!(issuer.jwks_fetches(), 1);

    let k2_kid = issuer.add_key(KeyKind::Rsa);
    let k2 = issuer.token().key(&k2_kid).sign();
    assert_eq!(get_with(&app, "/me", &k2).await.status, 200);
    assert_eq!(issuer.jwks_fetches(), 2);
    assert_eq!(get_with(&app, "/me", &k1).await.status, 200);
    assert_eq!(get_with(&app, "/me", &k2).await.status, 200);
    assert_eq!(issuer.jwks_fetches(), 2);

    // Unknown kids inside the cooldown: all 401, no further fetch.
    for i in 0..200 {
        let token = issuer
            .token()
            .key("rsa-1")
            .kid(&format!("random-{i}"))
            .sign();
        get_with(&app, "/me", &token).await.assert_invalid_token();
    }
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn unknown_kid_flood_costs_at_most_one_fetch() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let app = app(builder(&issuer).build().unwrap());
    let k1 = issuer.token().sign();
    assert_eq!(get_with(&app, "/me", &k1).await.status, 200);
    let before = issuer.jwks_fetches();
    for i in 0..200 {
        let token = issuer.token().kid(&format!("random-{i}")).sign();
        get_with(&app, "/me", &token).await.assert_invalid_token();
    }
    assert_eq!(issuer.jwks_fetches(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_a_new_kid_share_one_fetch() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let app = app(builder(&issuer).build().unwrap());
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
    let kid = issuer.add_key(KeyKind::EcP256);
    issuer.set_delay(Duration::from_millis(200));
    let token = issuer.token().key(&kid).sign();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            get_with(&app, "/me", &token).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_in_flight_does_not_block_known_keys() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let app = app(builder(&issuer).build().unwrap());
    let known = issuer.token().sign();
    assert_eq!(get_with(&app, "/me", &known).await.status, 200);
    let kid = issuer.add_key(KeyKind::Rsa);
    issuer.set_delay(Duration::from_secs(2));
    let slow = {
        let (app, token) = (app.clone(), issuer.token().key(&kid).sign());
        tokio::spawn(async move { get_with(&app, "/me", &token).await.status })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(get_with(&app, "/me", &known).await.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(slow.await.unwrap(), 200);
}

#[tokio::test]
async fn a_refresh_that_drops_a_key_makes_it_unusable() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa, KeyKind::Rsa]).await;
    let clock = ManualClock::new();
    let auth = builder(&issuer).clock(clock.clone()).build().unwrap();
    let app = app(auth.clone());
    let old = issuer.token().key("rsa-1").expires_in(LONG).sign();
    let new = issuer.token().key("rsa-2").expires_in(LONG).sign();
    assert_eq!(get_with(&app, "/me", &old).await.status, 200);
    issuer.remove_key("rsa-1");
    clock.advance(Duration::from_secs(301));
    auth.warm_up().await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2);
    get_with(&app, "/me", &old).await.assert_invalid_token();
    assert_eq!(get_with(&app, "/me", &new).await.status, 200);
}

#[tokio::test]
async fn expired_set_is_refreshed_in_the_background() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let clock = ManualClock::new();
    let app = app(builder(&issuer).clock(clock.clone()).build().unwrap());
    let token = issuer.token().expires_in(LONG).sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    clock.advance(Duration::from_secs(299));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    assert_eq!(issuer.jwks_fetches(), 1);
    clock.advance(Duration::from_secs(2));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    wait_for(|| issuer.jwks_fetches() == 2).await;
}

async fn wait_for(cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 2 s");
}

#[tokio::test]
async fn unreachable_at_first_use_is_503_and_recovers() {
    let issuer = TestIssuer::start().await;
    let app = app(builder(&issuer).build().unwrap());
    let token = issuer.token().sign();

    issuer.fail_with(Some(http::StatusCode::INTERNAL_SERVER_ERROR));
    let answer = get_with(&app, "/me", &token).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.retry_after.is_some());
    assert!(answer.www.is_none());
    assert_eq!(answer.json()["error"], "temporarily_unavailable");

    issuer.fail_with(Some(http::StatusCode::OK)); // 200 but text/html
    assert_eq!(get_with(&app, "/me", &token).await.status, 503);

    // Healthy again: the next request fetches and succeeds (no failure was cached).
    issuer.fail_with(None);
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
}

#[tokio::test]
async fn connection_refused_is_503() {
    let issuer = TestIssuer::start().await;
    let app = app(builder(&issuer).build().unwrap());
    let token = issuer.token().sign();
    issuer.stop();
    let started = Instant::now();
    let answer = get_with(&app, "/me", &token).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_hanging_issuer_times_out_as_503() {
    let issuer = TestIssuer::start().await;
    let app = app(builder(&issuer)
        .http_timeout(Duration::from_millis(300))
        .build()
        .unwrap());
    issuer.set_delay(Duration::from_secs(30));
    let started = Instant::now();
    let answer = get_with(&app, "/me", &issuer.token().sign()).await;
    assert_eq!(answer.status, 503);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn stale_keys_serve_within_the_bound_only() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new();
    let app = app(builder(&issuer).clock(clock.clone()).build().unwrap());
    let token = issuer.token().expires_in(LONG).sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);

    issuer.stop();
    // Within the TTL: served from the cache.
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    // Past the TTL, within the stale-if-error bound (1 h): still served.
    clock.advance(Duration::from_secs(300 + 1800));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    // Past TTL + bound: the keys are too old to trust.
    clock.advance(Duration::from_secs(1800 + 1));
    assert_eq!(get_with(&app, "/me", &token).await.status, 503);
    // A token with a new kid while the issuer is down: 503, it cannot be judged.
}

#[tokio::test]
async fn unknown_kid_while_the_issuer_is_down_is_503() {
    let issuer = TestIssuer::start().await;
    let app = app(builder(&issuer).build().unwrap());
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
    issuer.fail_with(Some(http::StatusCode::BAD_GATEWAY));
    let token = issuer.token().kid("new-key").sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 503);
    // Inside the cooldown, while the issuer is still failing, the answer stays 503 (the
    // failure is shared, no new fetch).
    let fetches = issuer.jwks_fetches();
    assert_eq!(get_with(&app, "/me", &token).await.status, 503);
    assert_eq!(issuer.jwks_fetches(), fetches);
    // Known kids are unaffected.
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
}

#[tokio::test]
async fn max_age_is_honoured_within_bounds() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    issuer.set_jwks_cache_control(Some("public, max-age=3600"));
    let clock = ManualClock::new();
    let app = app(builder(&issuer).clock(clock.clone()).build().unwrap());
    let token = issuer.token().expires_in(LONG).sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    clock.advance(Duration::from_secs(3000));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        issuer.jwks_fetches(),
        1,
        "max-age=3600 outlives the 5 min default"
    );

    // max-age=5 is raised to the 1 min floor.
    issuer.set_jwks_cache_control(Some("max-age=5"));
    clock.advance(Duration::from_secs(700));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    wait_for(|| issuer.jwks_fetches() == 2).await;
    clock.advance(Duration::from_secs(30));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(issuer.jwks_fetches(), 2);
    clock.advance(Duration::from_secs(31));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    wait_for(|| issuer.jwks_fetches() == 3).await;
}

#[tokio::test]
async fn discovery_finds_the_jwks() {
    let issuer = TestIssuer::start().await;
    let auth = tower_bearer::Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .discover()
        .build()
        .unwrap();
    let app = app(auth);
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
    assert_eq!(issuer.metadata_fetches(), 1);
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn discovery_refuses_metadata_of_another_issuer() {
    let issuer = TestIssuer::start().await;
    // The configured issuer has a trailing slash; the metadata's has none.
    let auth = tower_bearer::Authenticator::builder()
        .issuer(format!("{}/", issuer.url()))
        .audience(TestIssuer::AUDIENCE)
        .discover()
        .build()
        .unwrap();
    let app = app(auth);
    let token = issuer
        .token()
        .claim("iss", json!(format!("{}/", issuer.url())))
        .sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 503);
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_a_failed_fetch() {
    let issuer = TestIssuer::start().await;
    let app = app(builder(&issuer).build().unwrap());
    issuer.fail_with(Some(http::StatusCode::SERVICE_UNAVAILABLE));
    issuer.set_delay(Duration::from_millis(300));
    let token = issuer.token().sign();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            get_with(&app, "/me", &token).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 503);
    }
    assert_eq!(issuer.jwks_fetches(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn discovery_falls_back_to_rfc8414() {
    let issuer = TestIssuer::start().await;
    issuer.set_oidc_discovery(false);
    let auth = tower_bearer::Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .discover()
        .build()
        .unwrap();
    let app = app(auth);
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
    assert_eq!(issuer.metadata_fetches(), 1);
    // Two requests: the 404 at the OpenID location, then the RFC 8414 document, then the JWKS.
    assert_eq!(issuer.requests(), 3);
}

#[tokio::test]
async fn discovery_does_not_retry_a_failing_server_elsewhere() {
    let issuer = TestIssuer::start().await;
    let auth = tower_bearer::Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .discover()
        .build()
        .unwrap();
    let app = app(auth);
    issuer.fail_with(Some(http::StatusCode::BAD_GATEWAY));
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        503
    );
    assert_eq!(issuer.requests(), 1);
}

#[tokio::test]
async fn the_issuers_retry_after_is_passed_on() {
    let issuer = TestIssuer::start().await;
    let app = app(builder(&issuer).build().unwrap());
    issuer.fail_with(Some(http::StatusCode::TOO_MANY_REQUESTS));
    issuer.set_retry_after(Some(42));
    let answer = get_with(&app, "/me", &issuer.token().sign()).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.retry_after.as_deref(), Some("42"));
}

#[tokio::test]
async fn one_unreadable_entry_does_not_fail_the_set() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let mut deep = serde_json::Value::from(1);
    for _ in 0..300 {
        deep = json!([deep]);
    }
    // Nesting beyond the JSON parser's depth limit, in an unknown member and in a known one.
    let mut with_deep_x5c = issuer.jwk("rsa-1").unwrap();
    with_deep_x5c["kid"] = json!("deep-x5c");
    with_deep_x5c["x5c"] = deep.clone();
    issuer.add_raw_jwk(with_deep_x5c);
    issuer.add_raw_jwk(json!({"kty": "RSA", "kid": "deep-n", "n": deep, "e": "AQAB"}));
    let app = app(builder(&issuer).build().unwrap());
    assert_eq!(
        get_with(&app, "/me", &issuer.token().sign()).await.status,
        200
    );
    // The entry with the deep unknown member is a usable key too.
    let token = issuer.token().kid("deep-x5c").sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
}

#[tokio::test]
async fn a_duplicated_kid_still_finds_the_right_key() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa, KeyKind::Rsa]).await;
    // rsa-2's public key published under rsa-1's kid, before the real rsa-1.
    let mut impostor = issuer.jwk("rsa-2").unwrap();
    impostor["kid"] = json!("rsa-1");
    issuer.remove_key("rsa-1");
    issuer.remove_key("rsa-2");
    issuer.add_raw_jwk(impostor);
    issuer.add_raw_jwk(issuer.jwk("rsa-1").unwrap());
    let app = app(builder(&issuer).build().unwrap());
    assert_eq!(
        get_with(&app, "/me", &issuer.token().key("rsa-1").sign())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn settings_that_would_overflow_are_refused() {
    let issuer = TestIssuer::start().await;
    for builder in [
        builder(&issuer).jwks_refetch_cooldown(Duration::MAX),
        builder(&issuer).stale_if_error(Duration::MAX),
        builder(&issuer).jwks_ttl(Duration::MAX),
        builder(&issuer).http_timeout(Duration::MAX),
        builder(&issuer).connect_timeout(Duration::ZERO),
        builder(&issuer).introspection_cache_ttl(Duration::MAX),
        builder(&issuer).leeway(Duration::MAX),
    ] {
        assert!(matches!(
            builder.build(),
            Err(tower_bearer::ConfigError::InvalidSetting { .. })
        ));
    }
}

#[tokio::test]
async fn verified_token_cache() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa, KeyKind::Rsa]).await;
    let clock = ManualClock::new();
    let auth = builder(&issuer).clock(clock.clone()).build().unwrap();
    let app = app(auth.clone());
    let token = issuer.token().key("rsa-1").expires_in(120).sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    assert_eq!(auth.verified_token_cache_len().await, 1);
    // forget() evicts it.
    auth.forget(&token).await;
    assert_eq!(auth.verified_token_cache_len().await, 0);
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    // A hit re-checks exp (120 s + 60 s leeway) against the clock.
    clock.advance(Duration::from_secs(170));
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    clock.advance(Duration::from_secs(20));
    get_with(&app, "/me", &token).await.assert_invalid_token();
    // Tokens over 4 KiB are not cached.
    let big = issuer.token().claim("pad", json!("x".repeat(5000))).sign();
    auth.forget(&token).await;
    assert_eq!(get_with(&app, "/me", &big).await.status, 200);
    assert_eq!(auth.verified_token_cache_len().await, 0);
    // Disabled: nothing is cached.
    let off = builder(&issuer).verified_token_cache(0).build().unwrap();
    assert!(off.authenticate(&issuer.token().sign()).await.is_ok());
    assert_eq!(off.verified_token_cache_len().await, 0);
}

#[tokio::test]
async fn a_cached_token_dies_with_its_key() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa, KeyKind::Rsa]).await;
    let clock = ManualClock::new();
    let auth = builder(&issuer).clock(clock.clone()).build().unwrap();
    let app = app(auth.clone());
    let old = issuer.token().key("rsa-1").expires_in(LONG).sign();
    assert_eq!(get_with(&app, "/me", &old).await.status, 200);
    assert_eq!(auth.verified_token_cache_len().await, 1);
    issuer.remove_key("rsa-1");
    clock.advance(Duration::from_secs(301));
    auth.warm_up().await.unwrap();
    get_with(&app, "/me", &old).await.assert_invalid_token();
}
