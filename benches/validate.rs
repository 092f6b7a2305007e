//! Requests through `BearerAuth` around a trivial service, in the same run:
//!
//! * unique RS256 tokens against bare `jsonwebtoken::decode` of the same tokens;
//! * an opaque token whose introspection answer is cached against the bare service.
//!
//! ```text
//! cargo bench --features test-issuer
//! ```
//!
//! Every iteration takes the next token of a pool of distinct tokens, so nothing is reused
//! within a pass over the pool. The key set is fetched once before measuring (as in a
//! running service). At the end the ratio of the two throughputs is printed, read from
//! criterion's own estimates.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::Jwk};
use serde_json::Value;
use tower::{Layer, ServiceExt, service_fn};
use tower_bearer::testing::{KeyKind, TestIssuer};
use tower_bearer::{Authenticator, BearerAuthLayer, ClientAuth, Principal};

const TOKENS: usize = 2_000;
const GROUP: &str = "rs256_unique_tokens";
const INTROSPECTION_GROUP: &str = "introspection_cached";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start_with(&[KeyKind::Rsa]));
    let tokens: Vec<String> = (0..TOKENS)
        .map(|_| issuer.token().expires_in(3600).scope("read").sign())
        .collect();

    // Bare jsonwebtoken: the same checks (alg, signature, exp, iss, aud).
    let jwk: Jwk = serde_json::from_value(issuer.jwk("rsa-1").expect("rsa-1")).expect("jwk");
    let key = DecodingKey::from_jwk(&jwk).expect("decoding key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer.url()]);
    validation.set_audience(&[TestIssuer::AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);

    // The layer around a trivial service.
    // The pool of tokens is reused across passes: the verified-token cache is off here, so
    // every request pays the full check, as with tokens never seen before.
    let auth = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(issuer.jwks_uri())
        .verified_token_cache(0)
        .build()
        .expect("config");
    rt.block_on(auth.warm_up()).expect("keys fetched");
    let inner = service_fn(|req: Request<()>| async move {
        let ok = req.extensions().get::<Principal>().is_some();
        Ok::<_, Infallible>(Response::new(if ok { String::new() } else { "x".into() }))
    });
    let service = BearerAuthLayer::new(auth).layer(inner);
    let headers: Vec<http::HeaderValue> = tokens
        .iter()
        .map(|t| http::HeaderValue::from_str(&format!("Bearer {t}")).expect("header"))
        .collect();

    let mut group = c.benchmark_group(GROUP);
    group.measurement_time(Duration::from_secs(8));
    let mut i = 0;
    group.bench_function("bare_decode", |b| {
        b.iter(|| {
            i = (i + 1) % TOKENS;
            let data =
                jsonwebtoken::decode::<Value>(&tokens[i], &key, &validation).expect("valid token");
            std::hint::black_box(data);
        })
    });
    let mut j = 0;
    group.bench_function("bearer_auth_layer", |b| {
        b.iter(|| {
            j = (j + 1) % TOKENS;
            let mut request = Request::new(());
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, headers[j].clone());
            let response = rt
                .block_on(service.clone().oneshot(request))
                .expect("infallible");
            assert_eq!(response.status(), 200);
            std::hint::black_box(response);
        })
    });
    // One token again and again, with the verified-token cache on (the default).
    let cached = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(issuer.jwks_uri())
        .build()
        .expect("config");
    rt.block_on(cached.warm_up()).expect("keys fetched");
    let cached_service = BearerAuthLayer::new(cached).layer(inner);
    group.bench_function("bearer_auth_layer_repeated_token", |b| {
        b.iter(|| {
            let mut request = Request::new(());
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, headers[0].clone());
            let response = rt
                .block_on(cached_service.clone().oneshot(request))
                .expect("infallible");
            assert_eq!(response.status(), 200);
            std::hint::black_box(response);
        })
    });
    group.finish();

    // A cached introspection answer against the bare inner service.
    let auth = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .introspection_endpoint(issuer.introspection_endpoint())
        .introspection_client(ClientAuth::basic(
            TestIssuer::INTROSPECTION_CLIENT,
            TestIssuer::INTROSPECTION_SECRET,
        ))
        .build()
        .expect("config");
    let opaque = issuer.opaque().scope("read").expires_in(3600).issue();
    rt.block_on(auth.authenticate(&opaque)).expect("active");
    let calls = issuer.introspection_calls();
    let protected = BearerAuthLayer::new(auth).layer(inner);
    let header = http::HeaderValue::from_str(&format!("Bearer {opaque}")).expect("header");
    let mut group = c.benchmark_group(INTROSPECTION_GROUP);
    group.bench_function("bare_service", |b| {
        b.iter(|| {
            let mut request = Request::new(());
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, header.clone());
            let response = rt.block_on(inner.oneshot(request)).expect("infallible");
            std::hint::black_box(response);
        })
    });
    group.bench_function("cached_introspection", |b| {
        b.iter(|| {
            let mut request = Request::new(());
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, header.clone());
            let response = rt
                .block_on(protected.clone().oneshot(request))
                .expect("infallible");
            assert_eq!(response.status(), 200);
            std::hint::black_box(response);
        })
    });
    group.finish();
    assert_eq!(
        issuer.introspection_calls(),
        calls,
        "every request hit the cache"
    );
}

/// Criterion's mean estimate (ns) of one benchmark of this group.
fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = dir
        .join("criterion")
        .join(group)
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let estimates: Value = serde_json::from_str(&text).ok()?;
    // The estimate criterion prints in the middle of `time:` (slope when it has one).
    estimates["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| estimates["mean"]["point_estimate"].as_f64())
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let (Some(bare), Some(layer)) = (
        mean_ns(GROUP, "bare_decode"),
        mean_ns(GROUP, "bearer_auth_layer"),
    ) {
        println!(
            "\nRS256, unique tokens: bare decode {:.1} µs, through BearerAuth {:.1} µs; \
             layer throughput / bare throughput = {:.3} (goal ≥ 0.90)",
            bare / 1000.0,
            layer / 1000.0,
            bare / layer
        );
    }
    if let (Some(bare), Some(hit)) = (
        mean_ns(GROUP, "bare_decode"),
        mean_ns(GROUP, "bearer_auth_layer_repeated_token"),
    ) {
        println!(
            "RS256, one repeated token (verified-token cache hit): {:.2} µs through BearerAuth; \
             {:.1}x the throughput of bare decode",
            hit / 1000.0,
            bare / hit
        );
    }
    if let (Some(bare), Some(cached)) = (
        mean_ns(INTROSPECTION_GROUP, "bare_service"),
        mean_ns(INTROSPECTION_GROUP, "cached_introspection"),
    ) {
        println!(
            "Opaque token, cached introspection answer: bare service {:.2} µs, through \
             BearerAuth {:.2} µs; added {:.2} µs per request (goal ≤ 2 µs)",
            bare / 1000.0,
            cached / 1000.0,
            (cached - bare) / 1000.0
        );
    }
}
