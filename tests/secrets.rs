//! Tokens and client secrets never leak: not into logs (captured at TRACE level, from every
//! crate), not into responses, not into `Debug` output.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{app, builder, get_with};
use tower_bearer::testing::TestIssuer;
use tower_bearer::{Authenticator, BearerAuthLayer, ClientAuth};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_absent(haystack: &str, secrets: &[(&str, &str)], place: &str) {
    for (what, secret) in secrets {
        assert!(!haystack.contains(secret), "{what} found in {place}");
    }
}

#[tokio::test]
async fn no_secret_in_logs_responses_or_debug() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let issuer = TestIssuer::start().await;
    let wrong_secret = "wrong-secret-7f3a9c";
    let configure = |secret: &str| {
        builder(&issuer)
            .introspection_endpoint(issuer.introspection_endpoint())
            .introspection_client(ClientAuth::basic(TestIssuer::INTROSPECTION_CLIENT, secret))
    };
    let auth = configure(TestIssuer::INTROSPECTION_SECRET).build().unwrap();
    let refused = configure(wrong_secret).build().unwrap();
    let good_app = app(auth.clone());
    let refused_app = app(refused.clone());

    let valid = issuer.token().scope("read").sign();
    let expired = issuer.token().expires_in(-3600).sign();
    let tampered = {
        let other = issuer.token().scope("admin").sign();
        let mut parts: Vec<&str> = valid.split('.').collect();
        parts[1] = other.split('.').nth(1).unwrap();
        parts.join(".")
    };
    let opaque = issuer.opaque().scope("read").issue();
    let unknown_opaque = "unknown-opaque-token-5d1e";
    let tokens = [
        valid.clone(),
        expired,
        tampered,
        opaque.clone(),
        unknown_opaque.to_owned(),
    ];

    let mut responses = String::new();
    for token in &tokens {
        for app in [&good_app, &refused_app] {
            for path in ["/me", "/rw"] {
                let answer = get_with(app, path, token).await;
                responses.push_str(&format!("{answer:?}\n"));
            }
        }
    }
    // The issuer down: 503 answers.
    issuer.stop();
    let cold = app(configure(TestIssuer::INTROSPECTION_SECRET).build().unwrap());
    for token in &tokens {
        responses.push_str(&format!("{:?}\n", get_with(&cold, "/me", token).await));
    }
    assert!(responses.contains("status: 200"), "some requests succeeded");
    assert!(
        responses.contains("status: 500"),
        "the refused credentials were exercised"
    );
    assert!(
        responses.contains("status: 503"),
        "the outage was exercised"
    );

    let mut secrets: Vec<(String, String)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        secrets.push((format!("token {i}"), token.clone()));
        if let Some(signature) = token.split('.').nth(2) {
            secrets.push((format!("signature of token {i}"), signature.to_owned()));
        }
    }
    secrets.push((
        "the client secret".into(),
        TestIssuer::INTROSPECTION_SECRET.into(),
    ));
    secrets.push(("the wrong client secret".into(), wrong_secret.into()));
    let secrets: Vec<(&str, &str)> = secrets
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("bearer token rejected"),
        "the capture saw the crate's logs"
    );
    assert_absent(&logs, &secrets, "the logs");
    assert_absent(&responses, &secrets, "the responses");

    // Debug of every public type that holds a token or a secret.
    let principal = auth.authenticate(&opaque).await;
    let debug = format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        ClientAuth::basic("id", TestIssuer::INTROSPECTION_SECRET),
        ClientAuth::post("id", wrong_secret),
        auth,
        BearerAuthLayer::new(refused),
        Authenticator::builder()
            .introspection_client(ClientAuth::basic("id", TestIssuer::INTROSPECTION_SECRET)),
        principal,
    );
    assert_absent(&debug, &secrets, "Debug output");
}
