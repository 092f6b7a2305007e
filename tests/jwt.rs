//! Token extraction, JWT validation, scopes and RFC 6750 answers, through a real axum app
//! whose keys come from a real issuer on a loopback port.

mod common;

use common::*;
use serde_json::json;
use tower_bearer::testing::{KeyKind, TestIssuer};

async fn setup() -> (TestIssuer, axum::Router) {
    let issuer = TestIssuer::start().await;
    let app = app(builder(&issuer).build().unwrap());
    (issuer, app)
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_its_principal() {
    let (issuer, app) = setup().await;
    let token = issuer.token().scope("read write").sign();
    let answer = get_with(&app, "/me", &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let me = answer.json();
    assert_eq!(me["sub"], "user-1");
    assert_eq!(me["client_id"], "client-1");
    assert_eq!(me["scopes"], json!(["read", "write"]));
    assert_eq!(me["iss"], issuer.url());
    assert_eq!(me["aud"], json!([TestIssuer::AUDIENCE]));
    assert_eq!(me["kind"], "jwt");
    assert!(me["exp"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn scheme_case_and_spaces() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sign();
    for prefix in ["bearer ", "BEARER ", "Bearer  ", "bEaReR    "] {
        let value = format!("{prefix}{token}");
        let answer = get_raw(&app, "/me", &[value.as_bytes()]).await;
        assert_eq!(answer.status, 200, "{prefix:?}: {answer:?}");
    }
}

#[tokio::test]
async fn no_token_is_401_with_realm_and_no_error() {
    let (_issuer, app) = setup().await;
    let answer = get_raw(&app, "/me", &[]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.www.as_deref(), Some("Bearer realm=\"test\""));
    // Another scheme counts as no token.
    let answer = get_raw(&app, "/me", &[b"Basic dXNlcjpwYXNz"]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.www.as_deref(), Some("Bearer realm=\"test\""));
}

#[tokio::test]
async fn malformed_authorization_headers() {
    let (issuer, app) = setup().await;
    // Documented choice: a header that is not a well-formed Bearer credential is 400
    // invalid_request; a well-formed token that is not a valid JWT is 401 invalid_token.
    for value in [
        &b""[..],
        b"Bearer",
        b"Bearer   ",
        b"Bearer !!.@@.##",
        b"Bearer\tabc",
    ] {
        let answer = get_raw(&app, "/me", &[value]).await;
        answer.assert_invalid_request();
        assert!(
            answer
                .www
                .as_deref()
                .unwrap()
                .starts_with("Bearer realm=\"test\", error=")
        );
    }
    get_raw(&app, "/me", &[b"Bearer a.b"])
        .await
        .assert_invalid_token();
    let token = issuer.token().sign();
    let answer = get_raw(
        &app,
        "/me",
        &[format!("Bearer {token}").as_bytes(), b"Bearer x"],
    )
    .await;
    answer.assert_invalid_request();
}

#[tokio::test]
async fn header_and_query_token_together_is_invalid_request() {
    let issuer = TestIssuer::start().await;
    let auth = builder(&issuer).build().unwrap();
    let app = app_with(tower_bearer::BearerAuthLayer::new(auth).allow_query_token(true));
    let token = issuer.token().sign();
    let answer = get_with(&app, &format!("/me?access_token={token}"), &token).await;
    answer.assert_invalid_request();
    // The query alone works when enabled…
    let request = http::Request::get(format!("/me?access_token={token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(&app, request).await.status, 200);
    // …and is ignored when not.
    let (_issuer2, default_app) = setup().await;
    let request = http::Request::get(format!("/me?access_token={token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = send(&default_app, request).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error(), None);
}

#[tokio::test]
async fn oversized_token_is_refused_before_any_fetch() {
    let (issuer, app) = setup().await;
    let huge = "a".repeat(8 * 1024 + 1);
    get_with(&app, "/me", &huge).await.assert_invalid_token();
    assert_eq!(issuer.requests(), 0);
}

#[tokio::test]
async fn tolerant_jwks_parsing() {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    // The RSA key is published with only kty, kid, n, e.
    let mut bare = issuer.jwk("rsa-1").unwrap();
    bare.as_object_mut().unwrap().remove("use");
    issuer.remove_key("rsa-1");
    issuer.add_raw_jwk(bare.clone());
    // An encryption key, an Ed448 key, a symmetric key and an unknown kty.
    let enc_kid = issuer.add_key(KeyKind::Rsa);
    let mut enc = issuer.jwk(&enc_kid).unwrap();
    enc["use"] = json!("enc");
    issuer.remove_key(&enc_kid);
    issuer.add_raw_jwk(enc);
    issuer.add_raw_jwk(json!({"kty": "OKP", "crv": "Ed448", "kid": "ed448", "x": "AAAA"}));
    issuer.add_raw_jwk(json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}));
    issuer.add_raw_jwk(json!({"kty": "PQC", "kid": "future"}));
    let app = app(builder(&issuer).build().unwrap());

    let rs = issuer.token().key("rsa-1").sign();
    assert_eq!(get_with(&app, "/me", &rs).await.status, 200);
    let ps = issuer.token().key("rsa-1").alg("PS256").sign();
    assert_eq!(get_with(&app, "/me", &ps).await.status, 200);
    let on_enc = issuer.token().key(&enc_kid).sign();
    get_with(&app, "/me", &on_enc).await.assert_invalid_token();
}

#[tokio::test]
async fn every_key_family() {
    let (issuer, app) = setup().await;
    for (kid, alg) in [
        ("rsa-1", "RS256"),
        ("rsa-1", "PS256"),
        ("rsa-1", "RS512"),
        ("ec-1", "ES256"),
        ("ed-1", "EdDSA"),
    ] {
        let token = issuer.token().key(kid).alg(alg).sign();
        let answer = get_with(&app, "/me", &token).await;
        assert_eq!(answer.status, 200, "{alg}: {answer:?}");
    }
}

#[tokio::test]
async fn declared_key_alg_limits_the_key() {
    let issuer = TestIssuer::start().await;
    issuer.set_key_alg("rsa-1", Some("RS256"));
    let app = app(builder(&issuer).build().unwrap());
    let rs = issuer.token().key("rsa-1").alg("RS256").sign();
    assert_eq!(get_with(&app, "/me", &rs).await.status, 200);
    let ps = issuer.token().key("rsa-1").alg("PS256").sign();
    get_with(&app, "/me", &ps).await.assert_invalid_token();
}

#[tokio::test]
async fn algorithm_confusion_is_refused() {
    let (issuer, app) = setup().await;
    let public = issuer.public_key_bytes("rsa-1").unwrap();
    let hs = issuer.token().key("rsa-1").hmac_secret(&public).sign();
    get_with(&app, "/me", &hs).await.assert_invalid_token();
    let jwk_json = issuer.jwk("rsa-1").unwrap().to_string();
    let hs = issuer
        .token()
        .key("rsa-1")
        .hmac_secret(jwk_json.as_bytes())
        .sign();
    get_with(&app, "/me", &hs).await.assert_invalid_token();
    for alg in ["none", "None", "NONE"] {
        let unsigned = issuer.token().key("rsa-1").alg(alg).unsigned().sign();
        get_with(&app, "/me", &unsigned)
            .await
            .assert_invalid_token();
    }
    // alg none with a real signature appended.
    let signed = issuer.token().key("rsa-1").sign();
    let sig = signed.rsplit('.').next().unwrap();
    let none = issuer.token().key("rsa-1").unsigned().sign();
    get_with(&app, "/me", &format!("{none}{sig}"))
        .await
        .assert_invalid_token();
    // RS256 header on the EC key's kid, signed by the RSA key.
    let cross = issuer.token().key("rsa-1").kid("ec-1").alg("RS256").sign();
    get_with(&app, "/me", &cross).await.assert_invalid_token();
}

#[tokio::test]
async fn embedded_keys_in_the_header_are_ignored() {
    let (issuer, app) = setup().await;
    // An attacker's own issuer: its key is embedded or pointed to, never trusted.
    let attacker = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let jwk = attacker.jwk("rsa-1").unwrap();
    let forged = attacker
        .token()
        .claim("iss", json!(issuer.url()))
        .header("jwk", jwk)
        .header("jku", json!(attacker.jwks_uri()))
        .sign();
    get_with(&app, "/me", &forged).await.assert_invalid_token();
    assert_eq!(attacker.requests(), 0);
}

#[tokio::test]
async fn kid_less_tokens() {
    let one = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    let app_one = app(builder(&one).build().unwrap());
    let token = one.token().no_kid().sign();
    assert_eq!(get_with(&app_one, "/me", &token).await.status, 200);

    let two = TestIssuer::start_with(&[KeyKind::Rsa, KeyKind::Rsa]).await;
    let app_two = app(builder(&two).build().unwrap());
    let token = two.token().no_kid().sign();
    get_with(&app_two, "/me", &token)
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn audience_forms() {
    let (issuer, app) = setup().await;
    let ours = TestIssuer::AUDIENCE;
    for (aud, status) in [
        (json!(ours), 200),
        (json!(["other", ours]), 200),
        (json!(["other"]), 401),
        (json!([ours, 123]), 401),
        (json!({"aud": ours}), 401),
    ] {
        let token = issuer.token().audience(aud.clone()).sign();
        assert_eq!(get_with(&app, "/me", &token).await.status, status, "{aud}");
    }
    let token = issuer.token().without_claim("aud").sign();
    get_with(&app, "/me", &token).await.assert_invalid_token();
}

#[tokio::test]
async fn issuer_must_match_exactly() {
    let (issuer, app) = setup().await;
    for iss in [
        format!("{}/", issuer.url()),
        issuer.url().to_uppercase(),
        "https://evil.example".into(),
    ] {
        let token = issuer.token().claim("iss", json!(iss)).sign();
        get_with(&app, "/me", &token).await.assert_invalid_token();
    }
    let token = issuer.token().without_claim("iss").sign();
    get_with(&app, "/me", &token).await.assert_invalid_token();
}

#[tokio::test]
async fn scope_claim_forms() {
    let (issuer, app) = setup().await;
    for (name, value) in [
        ("scope", json!("read write")),
        ("scope", json!(["read", "write"])),
        ("scp", json!(["read"])),
        ("scp", json!("read write")),
    ] {
        let token = issuer.token().claim(name, value.clone()).sign();
        let answer = get_with(&app, "/read", &token).await;
        assert_eq!(answer.status, 200, "{name}: {value}");
    }
    let token = issuer.token().scope("readwrite").sign();
    let answer = get_with(&app, "/read", &token).await;
    assert_eq!(answer.status, 403);
    // The guard answers with the realm of the layer in front of it.
    assert!(
        answer
            .www
            .as_deref()
            .unwrap()
            .starts_with("Bearer realm=\"test\", error=\"insufficient_scope\"")
    );
    assert_eq!(answer.error().as_deref(), Some("insufficient_scope"));
    let token = issuer.token().claim("scp", json!([123, "x"])).sign();
    get_with(&app, "/read", &token).await.assert_invalid_token();
}

#[tokio::test]
async fn insufficient_scope_names_what_the_route_needs() {
    let (issuer, app) = setup().await;
    let token = issuer.token().scope("read").sign();
    let answer = get_with(&app, "/rw", &token).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.www.as_deref(),
        Some(
            "Bearer realm=\"test\", error=\"insufficient_scope\", \
             error_description=\"The access token lacks a required scope\", scope=\"read write\""
        )
    );
    assert_eq!(answer.json()["error"], "insufficient_scope");
    // any-of: read is enough for /any.
    assert_eq!(get_with(&app, "/any", &token).await.status, 200);
    let none = issuer.token().scope("other").sign();
    assert_eq!(get_with(&app, "/any", &none).await.status, 403);
}

#[tokio::test]
async fn error_description_quotes_are_escaped() {
    let issuer = TestIssuer::start().await;
    let auth = builder(&issuer).build().unwrap();
    let layer = tower_bearer::BearerAuthLayer::new(auth).detailed_descriptions(true);
    let app = app_with(layer);
    // The detailed description names the kid, which holds a quote and a backslash.
    let token = issuer.token().kid("a\"b\\c").sign();
    let answer = get_with(&app, "/me", &token).await;
    answer.assert_invalid_token();
    let www = answer.www.unwrap();
    assert!(
        www.contains(
            r#"error_description="no key with kid \"a\\\"b\\\\c\" in the issuer's key set""#
        ),
        "{www}"
    );
}

#[tokio::test]
async fn rfc9068_typ_mode() {
    let issuer = TestIssuer::start().await;
    let app = app(builder(&issuer).require_at_jwt(true).build().unwrap());
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
        let token = issuer.token().typ(Some(typ)).sign();
        assert_eq!(get_with(&app, "/me", &token).await.status, 200, "{typ}");
    }
    let token = issuer.token().typ(Some("JWT")).sign();
    get_with(&app, "/me", &token).await.assert_invalid_token();
    let token = issuer.token().typ(None).sign();
    get_with(&app, "/me", &token).await.assert_invalid_token();
}

#[tokio::test]
async fn time_claims() {
    let (issuer, app) = setup().await;
    // Within the default 60 s leeway.
    let token = issuer.token().expires_in(-30).sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    let token = issuer.token().expires_in(-120).sign();
    get_with(&app, "/me", &token).await.assert_invalid_token();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = issuer.token().claim("nbf", json!(now + 600)).sign();
    get_with(&app, "/me", &token).await.assert_invalid_token();
    let token = issuer.token().claim("nbf", json!(now + 30)).sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    for exp in [
        json!((now + 300).to_string()),
        json!(true),
        json!([now + 300]),
        json!(null),
        json!(-1),
        json!(1e30),
    ] {
        let token = issuer.token().claim("exp", exp.clone()).sign();
        let answer = get_with(&app, "/me", &token).await;
        if exp == json!(1e30) {
            assert_eq!(
                answer.status, 200,
                "a far-future float exp is a valid NumericDate"
            );
        } else {
            answer.assert_invalid_token();
        }
    }
    let token = issuer
        .token()
        .claim("exp", json!(now as f64 + 300.5))
        .sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
    let token = issuer.token().without_claim("exp").sign();
    get_with(&app, "/me", &token).await.assert_invalid_token();
}

#[tokio::test]
async fn forged_principal_in_extensions_is_replaced() {
    let (issuer, app) = setup().await;
    // A request with no token and a principal planted by a careless outer layer is still 401.
    let forged = {
        let token = issuer.token().claim("sub", json!("admin")).sign();
        let auth = builder(&issuer).build().unwrap();
        auth.authenticate(&token).await.unwrap()
    };
    let mut request = http::Request::get("/me")
        .body(axum::body::Body::empty())
        .unwrap();
    request.extensions_mut().insert(forged.clone());
    assert_eq!(send(&app, request).await.status, 401);
    // With a valid token, the handler sees the token's principal, not the planted one.
    let token = issuer.token().sign();
    let mut request = http::Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    request.extensions_mut().insert(forged);
    let answer = send(&app, request).await;
    assert_eq!(answer.json()["sub"], "user-1");
}

#[tokio::test]
async fn structural_garbage_is_invalid_token() {
    let (issuer, app) = setup().await;
    let good = issuer.token().sign();
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        format!("{}..{}", parts[0], parts[2]),
        format!("{}.{}.", parts[0], parts[1]),
        format!(
            "{}.{}.{}.{}.{}",
            parts[0], parts[1], parts[2], parts[1], parts[2]
        ),
        format!("{}.{}", parts[0], parts[1]),
        // A header that is a JSON array, a string, null.
        format!("WyJSUzI1NiJd.{}.{}", parts[1], parts[2]),
        format!("IlJTMjU2Ig.{}.{}", parts[1], parts[2]),
        format!("bnVsbA.{}.{}", parts[1], parts[2]),
    ];
    for token in cases {
        get_with(&app, "/me", &token).await.assert_invalid_token();
    }
    // A signed payload that is not a JSON object.
    for payload in [&b"[1,2]"[..], b"\"x\"", b"42", b"null", b"\xff\xfe"] {
        let token = issuer.token().raw_payload(payload).sign();
        get_with(&app, "/me", &token).await.assert_invalid_token();
    }
    // Header extensions we do not understand.
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("b64", json!(false)),
        ("zip", json!("DEF")),
    ] {
        let token = issuer.token().header(name, value).sign();
        get_with(&app, "/me", &token).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn tampered_signature_and_payload() {
    let (issuer, app) = setup().await;
    let good = issuer.token().scope("read").sign();
    let parts: Vec<&str> = good.split('.').collect();
    let other = issuer.token().scope("read write admin").sign();
    let other_payload = other.split('.').nth(1).unwrap();
    let swapped = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    get_with(&app, "/me", &swapped).await.assert_invalid_token();
}

fn form_post(body: String, token_header: Option<&str>) -> http::Request<axum::body::Body> {
    let mut request = http::Request::post("/echo").header(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    if let Some(token) = token_header {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(axum::body::Body::from(body)).unwrap()
}

#[tokio::test]
async fn form_body_token_when_enabled() {
    let issuer = TestIssuer::start().await;
    let layer = tower_bearer::BearerAuthLayer::new(builder(&issuer).build().unwrap())
        .allow_form_token()
        .max_form_body(4096);
    let app = app_with(layer);
    let token = issuer.token().sign();
    let body = format!("a=1&access_token={token}&b=2");
    // The token is read and the body reaches the handler intact.
    let answer = send(&app, form_post(body.clone(), None)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, body);
    // Header and form together: two methods.
    send(&app, form_post(body.clone(), Some(&token)))
        .await
        .assert_invalid_request();
    // Header alone, with a form body that has no token: fine.
    let answer = send(&app, form_post("a=1".into(), Some(&token))).await;
    assert_eq!(answer.status, 200);
    // A GET never has its body read.
    let request = http::Request::get("/me")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(format!("access_token={token}")))
        .unwrap();
    assert_eq!(send(&app, request).await.status, 401);
    // A body over the cap.
    let answer = send(
        &app,
        form_post(
            format!("access_token={token}&pad={}", "x".repeat(5000)),
            None,
        ),
    )
    .await;
    answer.assert_invalid_request();
}

#[tokio::test]
async fn form_body_token_is_ignored_by_default() {
    let (issuer, app) = setup().await;
    let token = issuer.token().sign();
    let answer = send(&app, form_post(format!("access_token={token}"), None)).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error(), None);
}

#[tokio::test]
async fn missing_layer_is_a_500_that_names_it() {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/guarded",
            get(|| async { "x" }).layer(tower_bearer::RequireScopeLayer::all(["read"])),
        )
        .route(
            "/extract",
            get(|p: tower_bearer::Principal| async move { format!("{p:?}") }),
        );
    for path in ["/guarded", "/extract"] {
        let answer = get_raw(&app, path, &[]).await;
        assert_eq!(answer.status, 500, "{path}");
        assert!(
            answer.body.contains("BearerAuthLayer"),
            "{path}: {}",
            answer.body
        );
    }
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct TenantClaims {
    tenant: String,
    sub: String,
}

#[tokio::test]
async fn typed_claims_extractor() {
    use axum::routing::get;
    use tower_bearer::{BearerAuthLayer, Claims, Scopes};
    let issuer = TestIssuer::start().await;
    let app = axum::Router::new()
        .route(
            "/tenant",
            get(|Claims(c): Claims<TenantClaims>| async move { c.tenant }),
        )
        .route("/scopes", get(|s: Scopes| async move { s.to_string() }))
        .layer(BearerAuthLayer::new(builder(&issuer).build().unwrap()));
    let token = issuer
        .token()
        .claim("tenant", json!("acme"))
        .scope("b a")
        .sign();
    let answer = get_with(&app, "/tenant", &token).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "acme"));
    assert_eq!(get_with(&app, "/scopes", &token).await.body, "a b");
    // The claims do not fit the handler's type: 401 invalid_token.
    let token = issuer.token().claim("tenant", json!(42)).sign();
    get_with(&app, "/tenant", &token)
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn custom_rejection_policy_and_error_in_extensions() {
    use tower::ServiceExt;
    use tower_bearer::{AuthError, AuthErrorKind, BearerAuthLayer, response::Rfc6750};
    let issuer = TestIssuer::start().await;
    let default = Rfc6750::new().realm("custom");
    let layer = BearerAuthLayer::new(builder(&issuer).build().unwrap()).on_reject(
        move |err: &AuthError| {
            let mut res = default.render(err);
            res.headers_mut()
                .insert("x-auth-failure", http::HeaderValue::from_static("1"));
            res
        },
    );
    let app = app_with(layer);
    let token = issuer.token().expires_in(-3600).sign();
    let request = http::Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-auth-failure"], "1");
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=\"custom\"")
    );
    let err = response.extensions().get::<AuthError>().unwrap();
    assert_eq!(err.kind(), AuthErrorKind::Expired);
    // Scope guards use the same policy.
    let token = issuer.token().scope("none").sign();
    let answer = get_with(&app, "/read", &token).await;
    assert_eq!(answer.status, 403);
    assert!(answer.www.unwrap().starts_with("Bearer realm=\"custom\""));
}

#[tokio::test]
async fn small_order_ed25519_keys_are_never_used() {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let issuer = TestIssuer::start().await;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut order_two = [0xffu8; 32];
    order_two[0] = 0xec;
    order_two[31] = 0x7f;
    for (kid, x) in [
        ("identity", identity),
        ("zero", [0u8; 32]),
        ("order-2", order_two),
    ] {
        issuer.add_raw_jwk(json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(&x)}));
    }
    let app = app(builder(&issuer).build().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": issuer.url(), "aud": TestIssuer::AUDIENCE, "exp": now + 300, "scope": "admin",
    });
    // R = identity, S = 0: verifies under a small-order key for any message.
    let mut signature = [0u8; 64];
    signature[0] = 1;
    for kid in ["identity", "zero", "order-2"] {
        let header = json!({"alg": "EdDSA", "kid": kid});
        let token = format!(
            "{}.{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes()),
            b64(&signature)
        );
        get_with(&app, "/me", &token).await.assert_invalid_token();
    }
    // The set still loads: the real Ed25519 key works.
    let token = issuer.token().key("ed-1").sign();
    assert_eq!(get_with(&app, "/me", &token).await.status, 200);
}

#[tokio::test]
async fn refused_header_members_are_refused_even_as_null() {
    let (issuer, app) = setup().await;
    for name in ["crit", "b64", "zip", "enc"] {
        let token = issuer.token().header(name, json!(null)).sign();
        get_with(&app, "/me", &token).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn large_form_bodies_with_a_header_token_pass() {
    let issuer = TestIssuer::start().await;
    let layer = tower_bearer::BearerAuthLayer::new(builder(&issuer).build().unwrap())
        .allow_form_token()
        .max_form_body(1024);
    let app = app_with(layer);
    let token = issuer.token().sign();
    let body = format!("data={}", "x".repeat(100 * 1024));
    let mut request = form_post(body.clone(), Some(&token));
    request
        .headers_mut()
        .insert("content-length", body.len().to_string().parse().unwrap());
    let answer = send(&app, request).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), body.len());
}
