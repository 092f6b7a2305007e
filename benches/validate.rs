//! Requests through `BearerAuth` around a trivial service, in one run:
//!
//! * for RS256, ES256 and EdDSA: unique tokens through the layer against bare
//!   `jsonwebtoken::decode` of the same tokens (P1), and one repeated token — a verified-token
//!   cache hit — against the same bare decode (P2);
//! * an opaque token whose introspection answer is cached against the bare service (P4).
//!
//! ```text
//! cargo bench
//! ```
//!
//! The layer runs in its default configuration. The unique-token runs cycle through a pool of
//! distinct tokens, each forgotten (outside the timed part) before it is sent again, so every
//! request pays what a token never seen before costs: a verified-token cache miss, the full
//! check and the cache insert. The key set is fetched once before measuring, as in a running
//! service. At the end the ratios are printed,
//! read from criterion's own estimates.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group};
use http::{HeaderValue, Request, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::Jwk};
use serde_json::Value;
use tokio::runtime::Runtime;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_bearer::testing::TestIssuer;
use tower_bearer::{Authenticator, BearerAuthLayer, ClientAuth, Principal};

const TOKENS: usize = 1_000;
const ALGORITHMS: &[(&str, &str, Algorithm)] = &[
    ("rs256", "rsa-1", Algorithm::RS256),
    ("es256", "ec-1", Algorithm::ES256),
    ("eddsa", "ed-1", Algorithm::EdDSA),
];
const INTROSPECTION_GROUP: &str = "introspection_cached";

type Inner = fn(Request<()>) -> std::future::Ready<Result<Response<String>, Infallible>>;

/// The trivial inner service: 200 when the layer inserted a principal.
fn inner(req: Request<()>) -> std::future::Ready<Result<Response<String>, Infallible>> {
    let ok = req.extensions().get::<Principal>().is_some();
    std::future::ready(Ok(Response::new(if ok {
        String::new()
    } else {
        "x".into()
    })))
}

fn call<S>(rt: &Runtime, service: &S, header: &HeaderValue) -> Response<String>
where
    S: Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone,
{
    let mut request = Request::new(());
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, header.clone());
    rt.block_on(service.clone().oneshot(request))
        .expect("infallible")
}

fn authenticator(issuer: &TestIssuer) -> Authenticator {
    Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(issuer.jwks_uri())
        .build()
        .expect("config")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start());
    let service_fn_inner = service_fn(inner as Inner);

    for &(name, kid, alg) in ALGORITHMS {
        let tokens: Vec<String> = (0..TOKENS)
            .map(|_| {
                issuer
                    .token()
                    .key(kid)
                    .expires_in(3600)
                    .scope("read")
                    .sign()
            })
            .collect();
        let headers: Vec<HeaderValue> = tokens
            .iter()
            .map(|t| HeaderValue::from_str(&format!("Bearer {t}")).expect("header"))
            .collect();

        // Bare jsonwebtoken: the same checks (alg, signature, exp, iss, aud).
        let jwk: Jwk = serde_json::from_value(issuer.jwk(kid).expect("jwk")).expect("jwk");
        let key = DecodingKey::from_jwk(&jwk).expect("decoding key");
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[issuer.url()]);
        validation.set_audience(&[TestIssuer::AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);

        let auth = authenticator(&issuer);
        rt.block_on(auth.warm_up()).expect("keys fetched");
        let layered = BearerAuthLayer::new(auth.clone()).layer(service_fn_inner);

        let mut group = c.benchmark_group(format!("{name}_tokens"));
        group.measurement_time(Duration::from_secs(6));
        let mut i = 0;
        group.bench_function("bare_decode", |b| {
            b.iter_batched(
                || {
                    i = (i + 1) % TOKENS;
                    &tokens[i]
                },
                |token| {
                    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
                        .expect("valid token");
                    std::hint::black_box(data)
                },
                BatchSize::SmallInput,
            )
        });
        let mut j = 0;
        group.bench_function("bearer_auth_unique", |b| {
            b.iter_batched(
                || {
                    j = (j + 1) % TOKENS;
                    rt.block_on(auth.forget(&tokens[j]));
                    &headers[j]
                },
                |header| {
                    let response = call(&rt, &layered, header);
                    assert_eq!(response.status(), 200);
                    std::hint::black_box(response)
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("bearer_auth_repeated", |b| {
            b.iter(|| {
                let response = call(&rt, &layered, &headers[0]);
                assert_eq!(response.status(), 200);
                std::hint::black_box(response);
            })
        });
        group.finish();
    }

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
    let protected = BearerAuthLayer::new(auth).layer(service_fn_inner);
    let header = HeaderValue::from_str(&format!("Bearer {opaque}")).expect("header");
    let mut group = c.benchmark_group(INTROSPECTION_GROUP);
    group.bench_function("bare_service", |b| {
        b.iter(|| std::hint::black_box(call(&rt, &service_fn_inner, &header)))
    });
    group.bench_function("cached_introspection", |b| {
        b.iter(|| {
            let response = call(&rt, &protected, &header);
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

/// Criterion's estimate (ns) of one benchmark: the figure it prints in the middle of `time:`.
fn estimate_ns(group: &str, id: &str) -> Option<f64> {
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
    estimates["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| estimates["mean"]["point_estimate"].as_f64())
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    println!();
    for &(name, _, _) in ALGORITHMS {
        let group = format!("{name}_tokens");
        let (Some(bare), Some(unique), Some(repeated)) = (
            estimate_ns(&group, "bare_decode"),
            estimate_ns(&group, "bearer_auth_unique"),
            estimate_ns(&group, "bearer_auth_repeated"),
        ) else {
            continue;
        };
        println!(
            "{:<6} bare decode {:>6.1} µs | unique tokens through BearerAuth {:>6.1} µs: \
             {:.3} of bare throughput (goal ≥ 0.90) | repeated token {:>5.2} µs: {:>5.1}x bare \
             (goal ≥ 10x)",
            name.to_uppercase(),
            bare / 1000.0,
            unique / 1000.0,
            bare / unique,
            repeated / 1000.0,
            bare / repeated
        );
    }
    if let (Some(bare), Some(cached)) = (
        estimate_ns(INTROSPECTION_GROUP, "bare_service"),
        estimate_ns(INTROSPECTION_GROUP, "cached_introspection"),
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
