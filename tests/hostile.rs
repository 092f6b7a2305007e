//! The attack bank: hostile requests, each with its exact expected status and RFC 6750 error
//! code, and a check that the inner service was never reached when the request was refused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Answer, builder, send};
use http::Request;
use serde_json::{Value, json};
use tower_bearer::testing::{KeyKind, TestIssuer};
use tower_bearer::{BearerAuthLayer, Principal};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An app whose handler counts the requests that reach it.
struct Bank {
    issuer: TestIssuer,
    app: Router,
    hits: Arc<AtomicUsize>,
    cases: usize,
}

impl Bank {
    async fn new() -> Self {
        let issuer = TestIssuer::start().await;
        Self::with(issuer, |b| b).await
    }

    async fn with(
        issuer: TestIssuer,
        configure: impl FnOnce(BearerAuthLayer) -> BearerAuthLayer,
    ) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let layer = configure(BearerAuthLayer::new(builder(&issuer).build().unwrap()));
        let app = Router::new()
            .route(
                "/me",
                get(move |p: Principal| {
                    let counter = Arc::clone(&counter);
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        axum::Json(p)
                    }
                }),
            )
            .layer(layer);
        Self {
            issuer,
            app,
            hits,
            cases: 0,
        }
    }

    /// Sends `GET /me` with these raw `Authorization` values and checks the answer.
    async fn raw(&mut self, name: &str, values: &[&[u8]], status: u16, error: Option<&str>) {
        let mut request = Request::get("/me");
        for value in values {
            request = request.header(
                "authorization",
                http::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        let request = request.body(Body::empty()).unwrap();
        self.check(name, request, status, error).await;
    }

    /// Sends `GET /me` with `Authorization: Bearer {token}` and checks the answer.
    async fn token(&mut self, name: &str, token: &str, status: u16, error: Option<&str>) {
        let value = format!("Bearer {token}");
        self.raw(name, &[value.as_bytes()], status, error).await;
    }

    async fn check(
        &mut self,
        name: &str,
        request: Request<Body>,
        status: u16,
        error: Option<&str>,
    ) {
        self.cases += 1;
        let before = self.hits.load(Ordering::SeqCst);
        let answer: Answer = send(&self.app, request).await;
        assert_eq!(answer.status, status, "{name}: {answer:?}");
        assert_eq!(answer.error().as_deref(), error, "{name}: {answer:?}");
        let reached = self.hits.load(Ordering::SeqCst) - before;
        assert_eq!(
            reached,
            usize::from(status == 200),
            "{name}: inner service reached {reached} times"
        );
    }

    /// A token with this raw header and payload JSON, signed by `rsa-1` with RS256.
    fn signed(&self, header: &Value, payload: &[u8]) -> String {
        let mut builder = self.issuer.token().key("rsa-1").raw_payload(payload);
        if let Value::Object(members) = header {
            for (name, value) in members {
                builder = builder.header(name, value.clone());
            }
        }
        builder.sign()
    }

    fn claims(&self) -> Value {
        json!({
            "iss": self.issuer.url(),
            "aud": TestIssuer::AUDIENCE,
            "sub": "user-1",
            "exp": now() + 300,
        })
    }
}

const BAD: Option<&str> = Some("invalid_token");
const MALFORMED: Option<&str> = Some("invalid_request");

#[tokio::test]
async fn rfc8725_algorithm_attacks() {
    let mut bank = Bank::new().await;
    let issuer = &bank.issuer;
    let good = issuer.token().sign();
    let signature = good.rsplit('.').next().unwrap().to_owned();

    let mut cases: Vec<(String, String)> = Vec::new();
    // A nested JWT (`cty: JWT`) is not unwrapped: the outer token is what is checked, and its
    // own claims are valid, so `cty` alone changes nothing.
    let mut valid: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let unsigned = issuer.token().alg(alg).unsigned().sign();
        cases.push((format!("alg {alg}, no signature"), unsigned.clone()));
        cases.push((
            format!("alg {alg}, with a signature"),
            format!("{unsigned}{signature}"),
        ));
    }
    let rsa_public = issuer.public_key_bytes("rsa-1").unwrap();
    let jwk = issuer.jwk("rsa-1").unwrap();
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let pem = format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&rsa_public)
    );
    for alg in ["HS256", "HS384", "HS512"] {
        for (what, secret) in [
            ("PEM", pem.as_bytes().to_vec()),
            ("DER", rsa_public.clone()),
            ("JWK JSON", jwk.to_string().into_bytes()),
            ("raw modulus", n.clone()),
        ] {
            let token = issuer
                .token()
                .key("rsa-1")
                .alg(alg)
                .hmac_secret(&secret)
                .sign();
            cases.push((format!("{alg} keyed with the public key's {what}"), token));
        }
    }
    // Keys that point to, or embed, the attacker's key.
    let attacker = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let attacker_jwk = attacker.jwk("rsa-1").unwrap();
    for (name, value) in [
        ("jku", json!(attacker.jwks_uri())),
        ("x5u", json!(format!("{}/cert.pem", attacker.url()))),
        ("jwk", attacker_jwk.clone()),
        (
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
    ] {
        let token = attacker
            .token()
            .claim("iss", json!(issuer.url()))
            .kid("rsa-1")
            .header(name, value)
            .sign();
        cases.push((format!("header {name} with the attacker's key"), token));
    }
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("crit", json!(["urn:example:unknown"])),
        ("b64", json!(false)),
        ("zip", json!("DEF")),
        ("cty", json!("JWT")),
    ] {
        let token = issuer.token().header(name, value.clone()).sign();
        let reason = format!("header {name}: {value}");
        if name == "cty" {
            valid.push((reason, token));
        } else {
            cases.push((reason, token));
        }
    }
    let parts: Vec<&str> = good.split('.').collect();
    cases.push((
        "a five-segment JWE".into(),
        format!(
            "{}.{}.{}.{}.{}",
            b64(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#),
            parts[1],
            parts[2],
            parts[1],
            parts[2]
        ),
    ));
    cases.push((
        "the RS256 header on the EC key".into(),
        issuer.token().key("rsa-1").kid("ec-1").sign(),
    ));
    cases.push((
        "an unknown alg name (Ed25519)".into(),
        issuer.token().alg("Ed25519").sign(),
    ));
    cases.push((
        "ES512 (unsupported)".into(),
        issuer.token().key("ec-1").alg("ES512").sign(),
    ));

    for (name, token) in cases {
        bank.token(&name, &token, 401, BAD).await;
    }
    for (name, token) in valid {
        bank.token(&name, &token, 200, None).await;
    }
    assert_eq!(
        attacker.requests(),
        0,
        "nothing was ever fetched from the attacker"
    );
    println!("{} algorithm cases", bank.cases);
}

#[tokio::test]
async fn malformed_structure() {
    let mut bank = Bank::new().await;
    let good = bank.issuer.token().sign();
    let p: Vec<String> = good.split('.').map(str::to_owned).collect();
    let claims = bank.claims().to_string();
    let header = json!({"alg": "RS256", "kid": "rsa-1"});

    let mut cases: Vec<(String, String, u16, Option<&str>)> = vec![
        (
            "empty header segment".into(),
            format!(".{}.{}", p[1], p[2]),
            401,
            BAD,
        ),
        (
            "empty payload segment".into(),
            format!("{}..{}", p[0], p[2]),
            401,
            BAD,
        ),
        (
            "empty signature".into(),
            format!("{}.{}.", p[0], p[1]),
            401,
            BAD,
        ),
        ("only dots".into(), "...".into(), 401, BAD),
        (
            "two segments".into(),
            format!("{}.{}", p[0], p[1]),
            401,
            BAD,
        ),
        ("four segments".into(), format!("{good}.{}", p[2]), 401, BAD),
        (
            "padding inside the payload".into(),
            format!("{}.{}=.{}", p[0], p[1], p[2]),
            400,
            MALFORMED,
        ),
        (
            "padding at the end of the signature".into(),
            format!("{good}=="),
            401,
            BAD,
        ),
        (
            "characters outside base64url".into(),
            format!("{}.{}+/.{}", p[0], p[1], p[2]),
            401,
            BAD,
        ),
        (
            "non-b64token characters".into(),
            format!("{}.{}!.{}", p[0], p[1], p[2]),
            400,
            MALFORMED,
        ),
        (
            "header is an array".into(),
            format!("{}.{}.{}", b64(b"[\"RS256\"]"), p[1], p[2]),
            401,
            BAD,
        ),
        (
            "header is a string".into(),
            format!("{}.{}.{}", b64(b"\"RS256\""), p[1], p[2]),
            401,
            BAD,
        ),
        (
            "header is a number".into(),
            format!("{}.{}.{}", b64(b"256"), p[1], p[2]),
            401,
            BAD,
        ),
        (
            "header is null".into(),
            format!("{}.{}.{}", b64(b"null"), p[1], p[2]),
            401,
            BAD,
        ),
        (
            "header is invalid UTF-8".into(),
            format!("{}.{}.{}", b64(b"{\"alg\":\"\xff\"}"), p[1], p[2]),
            401,
            BAD,
        ),
        (
            "header nested 10 000 levels".into(),
            format!(
                "{}.{}.{}",
                b64(format!(
                    "{{\"alg\":\"RS256\",\"x\":{}{}}}",
                    "[".repeat(10_000),
                    "]".repeat(10_000)
                )
                .as_bytes()),
                p[1],
                p[2]
            ),
            401,
            BAD,
        ),
        (
            "duplicate alg in the header".into(),
            format!(
                "{}.{}.{}",
                b64(br#"{"alg":"none","alg":"RS256","kid":"rsa-1"}"#),
                p[1],
                p[2]
            ),
            401,
            BAD,
        ),
    ];
    // Signed payloads that are not JSON objects.
    for (what, payload) in [
        ("an array", b"[1,2]".to_vec()),
        ("a string", b"\"claims\"".to_vec()),
        ("a number", b"42".to_vec()),
        ("null", b"null".to_vec()),
        ("invalid UTF-8", b"{\"sub\":\"\xff\xfe\"}".to_vec()),
        (
            "nested 10 000 levels",
            format!("{{\"x\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        ),
        (
            "truncated JSON",
            claims.as_bytes()[..claims.len() - 1].to_vec(),
        ),
    ] {
        cases.push((
            format!("signed payload that is {what}"),
            bank.signed(&header, &payload),
            401,
            BAD,
        ));
    }
    // Duplicate claim names: the last one counts (RFC 7519 §4 allows it) — never a panic.
    let duplicated = format!(
        "{{\"iss\":\"https://evil.example\",\"iss\":\"{}\",\"aud\":\"{}\",\"exp\":1,\"exp\":{}}}",
        bank.issuer.url(),
        TestIssuer::AUDIENCE,
        now() + 300
    );
    cases.push((
        "duplicate claim names, the last valid".into(),
        bank.signed(&header, duplicated.as_bytes()),
        200,
        None,
    ));
    let duplicated = format!(
        "{{\"iss\":\"{}\",\"aud\":\"{}\",\"exp\":{},\"exp\":1}}",
        bank.issuer.url(),
        TestIssuer::AUDIENCE,
        now() + 300
    );
    cases.push((
        "duplicate claim names, the last expired".into(),
        bank.signed(&header, duplicated.as_bytes()),
        401,
        BAD,
    ));

    for (name, token, status, error) in cases {
        bank.token(&name, &token, status, error).await;
    }

    // A 1 MiB claim inside a token under a raised size cap.
    let issuer = TestIssuer::start().await;
    let huge = issuer
        .token()
        .claim("blob", json!("x".repeat(1024 * 1024)))
        .sign();
    let mut big = Bank::with(issuer, |layer| layer.max_token_len(2 * 1024 * 1024)).await;
    big.token("a 1 MiB claim under a 2 MiB cap", &huge, 200, None)
        .await;
    // Over the default cap: refused before any decoding and any fetch.
    let mut small = Bank::new().await;
    small
        .token("a token over the 8 KiB cap", &huge, 401, BAD)
        .await;
    assert_eq!(small.issuer.requests(), 0);
    println!("{} structure cases", bank.cases + big.cases + small.cases);
}

#[tokio::test]
async fn hostile_claims() {
    let mut bank = Bank::new().await;
    let issuer = &bank.issuer;
    let url = issuer.url().to_owned();
    let t = |claim: &str, value: Value| issuer.token().claim(claim, value).sign();
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("exp negative", t("exp", json!(-1)), 401, BAD),
        ("exp 1e30", t("exp", json!(1e30)), 200, None),
        (
            "exp beyond i64::MAX",
            t("exp", json!(18_446_744_073_709_551_616.0_f64)),
            200,
            None,
        ),
        ("exp u64::MAX", t("exp", json!(u64::MAX)), 200, None),
        ("exp a string", t("exp", json!("9999999999")), 401, BAD),
        ("exp a boolean", t("exp", json!(true)), 401, BAD),
        ("exp an array", t("exp", json!([now() + 300])), 401, BAD),
        (
            "exp an object",
            t("exp", json!({"value": now() + 300})),
            401,
            BAD,
        ),
        ("exp null", t("exp", json!(null)), 401, BAD),
        ("nbf a string", t("nbf", json!("0")), 401, BAD),
        ("nbf a boolean", t("nbf", json!(false)), 401, BAD),
        ("nbf 1e30", t("nbf", json!(1e30)), 401, BAD),
        (
            "iss with a trailing slash",
            t("iss", json!(format!("{url}/"))),
            401,
            BAD,
        ),
        (
            "iss in upper case",
            t("iss", json!(url.to_uppercase())),
            401,
            BAD,
        ),
        ("iss a number", t("iss", json!(42)), 401, BAD),
        (
            "aud an object",
            t("aud", json!({"aud": TestIssuer::AUDIENCE})),
            401,
            BAD,
        ),
        ("aud a number", t("aud", json!(1)), 401, BAD),
        (
            "aud nested arrays",
            t("aud", json!([[TestIssuer::AUDIENCE]])),
            401,
            BAD,
        ),
        (
            "aud with trailing slash",
            t("aud", json!(format!("{}/", TestIssuer::AUDIENCE))),
            401,
            BAD,
        ),
        (
            "sub missing (allowed)",
            issuer.token().without_claim("sub").sign(),
            200,
            None,
        ),
        ("sub a number", t("sub", json!(7)), 401, BAD),
        (
            "client_id an object",
            t("client_id", json!({"id": 1})),
            401,
            BAD,
        ),
        (
            "scope with a control character",
            t("scope", json!("read\u{0}write")),
            401,
            BAD,
        ),
        (
            "scope with a newline",
            t("scope", json!("read\nadmin")),
            401,
            BAD,
        ),
        (
            "scope nested arrays",
            t("scope", json!([["read"]])),
            401,
            BAD,
        ),
        ("scp a number", t("scp", json!(1)), 401, BAD),
    ];
    for (name, token, status, error) in cases {
        bank.token(name, &token, status, error).await;
    }
    // A trailing slash on the configured issuer, and none in the token.
    let issuer2 = TestIssuer::start().await;
    let token = issuer2.token().sign();
    let hits = Arc::new(AtomicUsize::new(0));
    let auth = tower_bearer::Authenticator::builder()
        .issuer(format!("{}/", issuer2.url()))
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(issuer2.jwks_uri())
        .build()
        .unwrap();
    let counter = Arc::clone(&hits);
    let app = Router::new()
        .route(
            "/me",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "x" }
            }),
        )
        .layer(BearerAuthLayer::new(auth));
    let answer = common::get_with(&app, "/me", &token).await;
    answer.assert_invalid_token();
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    println!("{} claims cases", bank.cases + 1);
}

#[tokio::test]
async fn header_level_attacks() {
    let mut bank = Bank::new().await;
    let token = bank.issuer.token().sign();
    let value = format!("Bearer {token}");
    bank.raw(
        "non-ASCII bytes in the token",
        &[b"Bearer \xc3\xa9t\xc3\xa9"],
        400,
        MALFORMED,
    )
    .await;
    bank.raw(
        "obs-text after the token",
        &[format!("{value}\u{00ff}").as_bytes()],
        400,
        MALFORMED,
    )
    .await;
    bank.raw(
        "a tab instead of the space",
        &[format!("Bearer\t{token}").as_bytes()],
        400,
        MALFORMED,
    )
    .await;
    bank.raw(
        "a tab inside the token",
        &[b"Bearer abc\tdef"],
        400,
        MALFORMED,
    )
    .await;
    let hundred: Vec<&[u8]> = (0..100).map(|_| value.as_bytes()).collect();
    bank.raw("100 Authorization headers", &hundred, 400, MALFORMED)
        .await;
    bank.raw(
        "a Basic and a Bearer header",
        &[b"Basic dXNlcjpwYXNz", value.as_bytes()],
        400,
        MALFORMED,
    )
    .await;
    let huge = format!("Bearer {}", "a".repeat(64 * 1024));
    bank.raw("a 64 KiB token", &[huge.as_bytes()], 401, BAD)
        .await;
    let huge_junk = format!("Bearer {}", "!".repeat(64 * 1024));
    bank.raw("a 64 KiB non-b64token", &[huge_junk.as_bytes()], 401, BAD)
        .await;
    bank.raw("scheme only", &[b"Bearer"], 400, MALFORMED).await;
    bank.raw("whitespace only", &[b" \t "], 400, MALFORMED)
        .await;
    bank.raw("another scheme", &[b"Negotiate abc"], 401, None)
        .await;
    bank.raw("a scheme with junk", &[b"Bearer~ abc"], 401, None)
        .await;
    bank.raw(
        "60 000 spaces before the token",
        &[format!("Bearer{}{token}", " ".repeat(60_000)).as_bytes()],
        200,
        None,
    )
    .await;
    bank.raw(
        "the token with surrounding whitespace",
        &[format!("  {value}  ").as_bytes()],
        200,
        None,
    )
    .await;
    assert_eq!(bank.issuer.jwks_fetches(), 1);
    println!("{} header cases", bank.cases);
}

#[tokio::test]
async fn forged_principal_and_proxy_headers_are_not_trusted() {
    let mut bank = Bank::new().await;
    let forged = {
        let token = bank.issuer.token().claim("sub", json!("admin")).sign();
        let auth = builder(&bank.issuer).build().unwrap();
        auth.authenticate(&token).await.unwrap()
    };
    // A principal planted in the extensions by a careless outer layer, and headers a proxy
    // might inject: none of them authenticates.
    let mut request = Request::get("/me")
        .header("x-forwarded-user", "admin")
        .header("x-auth-request-user", "admin")
        .header("x-remote-user", "admin")
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(forged.clone());
    bank.check("planted principal, no token", request, 401, None)
        .await;
    // With a valid token, the handler sees the token's principal, not the planted one.
    let token = bank.issuer.token().sign();
    let mut request = Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(forged);
    let answer = send(&bank.app, request).await;
    assert_eq!(answer.json()["sub"], "user-1");
}
