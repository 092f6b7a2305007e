//! Interop with a real authorization server nobody here wrote: oidc-provider (npm, v9) on
//! 127.0.0.1, started by this test from `tests/interop/provider.mjs`.
//!
//! Needs Node.js 20+ and `npm ci` run once in `tests/interop` (`scripts/test` does it). If
//! either is missing the suite fails with a message saying what to install; it never skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tower_bearer::clock::ManualClock;
use tower_bearer::{Authenticator, AuthenticatorBuilder, ClientAuth};

const RS256: &str = "https://rs256.api.test";
const ES256: &str = "https://es256.api.test";
const EDDSA: &str = "https://eddsa.api.test";
const OPAQUE: &str = "https://opaque.api.test";
const SHORT: &str = "https://short.api.test";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// The provider process, with the key file and port it keeps across restarts.
struct Provider {
    child: Option<Child>,
    issuer: String,
    port: u16,
    keys: PathBuf,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Provider {
    /// Starts a provider with a new key file on a free port.
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tower-bearer-interop-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut provider = Provider {
            child: None,
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            keys: dir.join("keys.json"),
        };
        provider.restart().await;
        provider
    }

    /// (Re)starts the process on the same port with the current key file. A start that does
    /// not come up (the port briefly taken by another socket, a stalled process) is retried
    /// twice before the test fails with the provider's stderr.
    async fn restart(&mut self) {
        self.stop().await;
        assert!(
            interop_dir().join("node_modules/oidc-provider").exists(),
            "the interop suite needs oidc-provider: run `npm ci` in tests/interop \
             (scripts/test does it; it needs Node.js 20+ and npm)"
        );
        let mut failures = Vec::new();
        for _ in 0..3 {
            match self.launch().await {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(why) => failures.push(why),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the provider did not start: {failures:#?}");
    }

    /// One start: the running process once it has printed its ready line.
    async fn launch(&self) -> Result<Child, String> {
        let stderr_file = self.keys.with_file_name("provider.err");
        let mut child = Command::new("node")
            .arg(interop_dir().join("provider.mjs"))
            .args(["serve", "--keys"])
            .arg(&self.keys)
            .args(["--port", &self.port.to_string(), "--short-ttl", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&stderr_file).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `node` ({e}): the interop suite needs Node.js 20+ and npm")
            });
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(issuer) = line.strip_prefix("ready ") {
                    return Some(issuer.to_owned());
                }
            }
            None
        })
        .await;
        let why = match ready {
            Ok(Some(issuer)) => {
                assert_eq!(issuer, self.issuer);
                // Keep reading: a closed pipe would kill the provider at its next output.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Ok(child);
            }
            Ok(None) => "exited before it was ready",
            Err(_) => "printed no ready line within 20 s",
        };
        let _ = child.kill().await;
        let stderr = std::fs::read_to_string(&stderr_file).unwrap_or_default();
        Err(format!("{why}; stderr: {stderr}"))
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    fn keys_command(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("node")
            .arg(interop_dir().join("provider.mjs"))
            .args(args)
            .output()
            .expect("run node");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Puts a new key of `kind` first in the key file; returns its kid.
    fn add_key(&self, kind: &str) -> String {
        self.keys_command(&["add-key", self.keys.to_str().unwrap(), kind])
    }

    fn remove_key(&self, kid: &str) {
        self.keys_command(&["remove-key", self.keys.to_str().unwrap(), kid]);
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/test/stats", self.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn jwks_fetches(&self) -> u64 {
        self.stats().await["jwks"].as_u64().unwrap()
    }

    /// A client-credentials access token for `resource`.
    async fn token(&self, resource: &str, scope: &str) -> String {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth("caller", Some("caller-secret"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", resource),
                ("scope", scope),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {answer}"))
            .to_owned()
    }

    /// Revokes `token` (RFC 7009).
    async fn revoke(&self, token: &str) {
        let status = reqwest::Client::new()
            .post(format!("{}/token/revocation", self.issuer))
            .basic_auth("caller", Some("caller-secret"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }

    /// An authenticator for `audiences`, finding everything through discovery.
    fn auth(&self, audiences: &[&str]) -> AuthenticatorBuilder {
        let mut builder = Authenticator::builder()
            .issuer(&self.issuer)
            .discover()
            .introspection_client(ClientAuth::basic("resource-server", "rs-secret"));
        for aud in audiences {
            builder = builder.audience(*aud);
        }
        builder
    }
}

fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&bytes).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn discovery_from_the_issuer_alone() {
    let provider = Provider::start().await;
    let app = app(provider.auth(&[RS256, OPAQUE]).build().unwrap());
    // The JWT path needs the discovered jwks_uri, the opaque path the introspection_endpoint.
    let jwt = provider.token(RS256, "read").await;
    assert_eq!(get_with(&app, "/me", &jwt).await.status, 200);
    let opaque = provider.token(OPAQUE, "read").await;
    assert_eq!(get_with(&app, "/me", &opaque).await.status, 200);
    let stats = provider.stats().await;
    assert_eq!(
        (stats["jwks"].as_u64(), stats["introspection"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn jwt_access_tokens_of_each_algorithm() {
    let provider = Provider::start().await;
    for require_typ in [false, true] {
        let auth = provider
            .auth(&[RS256, ES256, EDDSA])
            .require_at_jwt(require_typ)
            .build()
            .unwrap();
        let app = app(auth);
        for resource in [RS256, ES256, EDDSA] {
            let token = provider.token(resource, "read write").await;
            let answer = get_with(&app, "/me", &token).await;
            assert_eq!(answer.status, 200, "{resource}: {answer:?}");
            let me = answer.json();
            assert_eq!(me["kind"], "jwt");
            assert_eq!(me["client_id"], "caller");
            assert_eq!(me["sub"], "caller");
            assert_eq!(me["scopes"], json!(["read", "write"]));
            assert_eq!(me["aud"], json!([resource]));
            assert_eq!(me["iss"], provider.issuer);
            assert_eq!(get_with(&app, "/rw", &token).await.status, 200);
        }
    }
}

#[tokio::test]
async fn a_token_for_another_resource_is_refused() {
    let provider = Provider::start().await;
    let app = app(provider.auth(&[RS256]).build().unwrap());
    let other = provider.token(ES256, "read").await;
    get_with(&app, "/me", &other).await.assert_invalid_token();
    let opaque_other = provider.token(OPAQUE, "read").await;
    get_with(&app, "/me", &opaque_other)
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn opaque_tokens_are_introspected() {
    let provider = Provider::start().await;
    let app = app(provider.auth(&[OPAQUE]).build().unwrap());
    let token = provider.token(OPAQUE, "read").await;
    let answer = get_with(&app, "/read", &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let me = answer.json();
    assert_eq!(me["kind"], "introspected");
    assert_eq!(me["scopes"], json!(["read"]));
    assert_eq!(me["client_id"], "caller");
    let answer = get_with(&app, "/rw", &token).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error().as_deref(), Some("insufficient_scope"));
}

#[tokio::test]
async fn revoked_opaque_tokens_stop_working() {
    let provider = Provider::start().await;
    let auth = provider
        .auth(&[OPAQUE])
        .introspection_cache_ttl(Duration::from_secs(1))
        .build()
        .unwrap();
    let app = app(auth.clone());

    // Revoked at the provider: refused once the cache entry (1 s here) is gone.
    let token = provider.token(OPAQUE, "read").await;
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    provider.revoke(&token).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    get_with(&app, "/me", &token).await.assert_invalid_token();

    // forget(): refused at once.
    let token = provider.token(OPAQUE, "read").await;
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    provider.revoke(&token).await;
    auth.forget(&token).await;
    get_with(&app, "/me", &token).await.assert_invalid_token();
}

#[tokio::test]
async fn a_token_past_its_ttl_is_refused() {
    let provider = Provider::start().await;
    let app = app(provider
        .auth(&[SHORT])
        .leeway(Duration::ZERO)
        .build()
        .unwrap());
    let token = provider.token(SHORT, "read").await;
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    get_with(&app, "/me", &token).await.assert_invalid_token();
}

#[tokio::test]
async fn key_rotation() {
    let mut provider = Provider::start().await;
    let clock = ManualClock::new();
    let auth = provider
        .auth(&[RS256])
        .jwks_ttl(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();
    let app = app(auth.clone());
    let old = provider.token(RS256, "read").await;
    assert_eq!(get_with(&app, "/me", &old).await.status, 200);

    // A new signing key, published first, the old one kept.
    let new_kid = provider.add_key("rsa");
    provider.restart().await;
    let new = provider.token(RS256, "read").await;
    assert_eq!(kid_of(&new), new_kid);
    assert_ne!(kid_of(&old), new_kid);
    assert_eq!(get_with(&app, "/me", &new).await.status, 200);
    assert_eq!(
        provider.jwks_fetches().await,
        1,
        "exactly one refetch for the new kid"
    );
    assert_eq!(get_with(&app, "/me", &old).await.status, 200);
    assert_eq!(provider.jwks_fetches().await, 1);

    // The old key removed: old tokens fail after the next refresh.
    provider.remove_key(&kid_of(&old));
    provider.restart().await;
    clock.advance(Duration::from_secs(61));
    auth.warm_up().await.unwrap();
    get_with(&app, "/me", &old).await.assert_invalid_token();
    assert_eq!(get_with(&app, "/me", &new).await.status, 200);
    provider.stop().await;
}

#[tokio::test]
async fn provider_down() {
    let mut provider = Provider::start().await;
    let app = app(provider.auth(&[RS256, OPAQUE]).build().unwrap());
    let jwt = provider.token(RS256, "read").await;
    let opaque = provider.token(OPAQUE, "read").await;
    assert_eq!(get_with(&app, "/me", &jwt).await.status, 200);
    provider.stop().await;
    // Keys cached: JWTs still pass. The opaque token was never introspected: 503.
    assert_eq!(get_with(&app, "/me", &jwt).await.status, 200);
    let answer = get_with(&app, "/me", &opaque).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.retry_after.is_some());
}

#[tokio::test]
async fn introspect_all_tokens_against_a_server_that_does_not_introspect_jwts() {
    // oidc-provider answers 400 unsupported_token_type for JWT access tokens: they are checked
    // locally instead, and opaque tokens are introspected.
    let provider = Provider::start().await;
    let auth = provider
        .auth(&[RS256, OPAQUE])
        .introspect_all_tokens(true)
        .build()
        .unwrap();
    let app = app(auth);
    let jwt = provider.token(RS256, "read").await;
    assert_eq!(get_with(&app, "/me", &jwt).await.json()["kind"], "jwt");
    let opaque = provider.token(OPAQUE, "read").await;
    assert_eq!(
        get_with(&app, "/me", &opaque).await.json()["kind"],
        "introspected"
    );
    let stats = provider.stats().await;
    assert_eq!(stats["introspection"].as_u64(), Some(2));
}
