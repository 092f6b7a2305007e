//! A walkthrough of tower-bearer over real HTTP, with nothing to set up.
//!
//! It starts a test issuer (keys, discovery and a JWK Set on a loopback port) and a protected
//! axum API, then sends requests and prints each request and answer. It exits 0 when every
//! step gave the expected answer.
//!
//! ```text
//! cargo run --example demo --features axum,test-issuer
//! ```

use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_bearer::testing::{KeyKind, TestIssuer};
use tower_bearer::{Authenticator, BearerAuthLayer, ClientAuth, Principal, RequireScopeLayer};

struct Walkthrough {
    client: reqwest::Client,
    api: String,
    failures: u32,
    step: u32,
}

impl Walkthrough {
    /// Sends GET `path` (with `token`, if any), prints the exchange, checks the status.
    async fn step(&mut self, title: &str, path: &str, token: Option<&str>, expected: u16) {
        self.step += 1;
        println!("\n── {}. {title}", self.step);
        let mut request = self.client.get(format!("{}{path}", self.api));
        match token {
            Some(token) => {
                println!(
                    "   GET {path}  Authorization: Bearer {}…",
                    &token[..token.len().min(10)]
                );
                request = request.bearer_auth(token);
            }
            None => println!("   GET {path}  (no Authorization header)"),
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                println!("   ✗ request failed: {e}");
                self.failures += 1;
                return;
            }
        };
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        println!("   → {status}");
        if let Some(challenge) = challenge {
            println!("     WWW-Authenticate: {challenge}");
        }
        println!("     {body}");
        if status == expected {
            println!("   ✓ expected {expected}");
        } else {
            println!("   ✗ expected {expected}, got {status}");
            self.failures += 1;
        }
    }

    fn check(&mut self, what: &str, ok: bool) {
        if ok {
            println!("   ✓ {what}");
        } else {
            println!("   ✗ {what}");
            self.failures += 1;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // 1. An issuer with an RSA key; in production this is your authorization server.
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    println!("issuer  {}  (JWKS at {})", issuer.url(), issuer.jwks_uri());

    // 2. The resource server: one layer, scope guards per route.
    let auth = match Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .discover() // JWKS and introspection endpoint from the issuer's metadata
        .introspection_client(ClientAuth::basic(
            TestIssuer::INTROSPECTION_CLIENT,
            TestIssuer::INTROSPECTION_SECRET,
        ))
        .build()
    {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = Router::new()
        .route("/me", get(|p: Principal| async move { Json(p) }))
        .route(
            "/admin",
            get(|| async { "admin area" }).layer(RequireScopeLayer::all(["read", "admin"])),
        )
        .layer(BearerAuthLayer::new(auth.clone()).realm("demo"));
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot bind a loopback port: {e}");
            return ExitCode::FAILURE;
        }
    };
    let api = format!("http://{}", listener.local_addr().expect("bound address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("api     {api}  (audience {})", TestIssuer::AUDIENCE);

    let mut walk = Walkthrough {
        client: reqwest::Client::new(),
        api,
        failures: 0,
        step: 0,
    };

    let valid = issuer.token().scope("read").sign();
    walk.step(
        "A valid token: the handler gets the principal",
        "/me",
        Some(&valid),
        200,
    )
    .await;
    walk.step(
        "No token: 401 with the realm, no error code",
        "/me",
        None,
        401,
    )
    .await;
    let expired = issuer.token().expires_in(-3600).sign();
    walk.step(
        "An expired token: 401 invalid_token",
        "/me",
        Some(&expired),
        401,
    )
    .await;
    let other_api = issuer
        .token()
        .audience(json!("https://other-api.example"))
        .sign();
    walk.step(
        "A token for another API: 401 invalid_token",
        "/me",
        Some(&other_api),
        401,
    )
    .await;
    walk.step(
        "A token without the route's scope: 403 insufficient_scope",
        "/admin",
        Some(&valid),
        403,
    )
    .await;
    let admin = issuer.token().scope("read admin").sign();
    walk.step("A token with the scopes: 200", "/admin", Some(&admin), 200)
        .await;

    // Key rotation: the issuer starts signing with a new key.
    let before = issuer.jwks_fetches();
    let new_kid = issuer.add_key(KeyKind::EcP256);
    println!("\n   (the issuer rotates: new key {new_kid:?} published)");
    let rotated = issuer.token().key(&new_kid).scope("read").sign();
    walk.step(
        "A token signed with the new key: picked up after one JWKS refetch",
        "/me",
        Some(&rotated),
        200,
    )
    .await;
    let fetched = issuer.jwks_fetches() - before;
    walk.check(
        &format!("the rotation cost {fetched} JWKS fetch (expected 1)"),
        fetched == 1,
    );
    walk.step(
        "The new key again: served from the cache",
        "/me",
        Some(&rotated),
        200,
    )
    .await;
    let fetched = issuer.jwks_fetches() - before;
    walk.check(&format!("still {fetched} fetch in all"), fetched == 1);

    // Opaque tokens: the same layer introspects them (RFC 7662), once per cache lifetime.
    let opaque = issuer.opaque().scope("read").issue();
    let calls = issuer.introspection_calls();
    walk.step(
        "An opaque token: introspected, 200 (kind \"introspected\")",
        "/me",
        Some(&opaque),
        200,
    )
    .await;
    for _ in 0..4 {
        walk.step(
            "The same opaque token again: answered from the cache",
            "/me",
            Some(&opaque),
            200,
        )
        .await;
    }
    let made = issuer.introspection_calls() - calls;
    walk.check(
        &format!("5 requests made {made} introspection call (expected 1)"),
        made == 1,
    );

    issuer.revoke(&opaque);
    println!(
        "\n   (the issuer revokes the opaque token; the application is told and calls forget)"
    );
    auth.forget(&opaque).await;
    walk.step(
        "The revoked token after forget(): introspected anew, 401",
        "/me",
        Some(&opaque),
        401,
    )
    .await;
    let made = issuer.introspection_calls() - calls;
    walk.check(
        &format!("{made} introspection calls in all (expected 2)"),
        made == 2,
    );

    println!();
    if walk.failures == 0 {
        println!("all {} steps gave the expected answer", walk.step);
        ExitCode::SUCCESS
    } else {
        println!("{} step(s) failed", walk.failures);
        ExitCode::FAILURE
    }
}
