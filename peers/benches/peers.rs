//! tower-bearer side by side with jwt-authorizer and tower-oauth2-resource-server, in one run.
//!
//! ```text
//! cd peers && cargo bench
//! ```
//!
//! Each layer validates the same RS256 tokens against the same JWK Set (served on loopback by
//! tower-bearer's test issuer), with the same issuer and audience checks, around the same
//! trivial axum-typed service, driven with tower's `oneshot` on one thread, each layer in its
//! default configuration. "unique" cycles through a pool of distinct tokens; tower-bearer's
//! verified-token cache stays on, and each token is forgotten (outside the timed part) before
//! it is sent again, so every request pays for a cache miss, the full check and the cache
//! insert: the cost of a token never seen before. "repeated" sends one token again and again.
//! tower-oauth2-resource-server runs with its `jwt-aws-lc-rs` feature, its fastest documented
//! configuration.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use criterion::{BatchSize, Criterion, criterion_group};
use http::{HeaderValue, Request};
use jwt_authorizer::{IntoLayer, JwtAuthorizer, RegisteredClaims, Validation};
use serde_json::Value;
use tokio::runtime::Runtime;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_bearer::testing::{KeyKind, TestIssuer};
use tower_bearer::{Authenticator, BearerAuthLayer};
use tower_oauth2_resource_server::server::OAuth2ResourceServer;
use tower_oauth2_resource_server::tenant::TenantConfiguration;

const TOKENS: usize = 1_000;
const GROUPS: [&str; 2] = ["peers_unique_tokens", "peers_repeated_token"];
const LAYERS: [&str; 4] = [
    "bare_decode",
    "tower_bearer",
    "jwt_authorizer",
    "tower_oauth2_resource_server",
];

fn ok(_: Request<Body>) -> std::future::Ready<Result<Response, Infallible>> {
    std::future::ready(Ok(Response::new(Body::empty())))
}

/// The same trivial service, with the response type jwt-authorizer 0.15 speaks (axum-core 0.4).
fn ok_04(
    _: Request<Body>,
) -> std::future::Ready<Result<axum_core_04::response::Response, Infallible>> {
    std::future::ready(Ok(http::Response::new(axum_core_04::body::Body::empty())))
}

fn call<S, B>(rt: &Runtime, service: &S, header: &HeaderValue)
where
    S: Service<Request<Body>, Response = http::Response<B>, Error = Infallible> + Clone,
{
    let mut request = Request::new(Body::empty());
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, header.clone());
    let response = rt
        .block_on(service.clone().oneshot(request))
        .expect("infallible");
    assert_eq!(response.status(), 200, "{:?}", response.headers());
}

/// Waits (up to 10 s) until `service` accepts a token.
fn warm<S, B>(rt: &Runtime, name: &str, service: &S, header: &HeaderValue)
where
    S: Service<Request<Body>, Response = http::Response<B>, Error = Infallible> + Clone,
{
    for _ in 0..100 {
        let mut request = Request::new(Body::empty());
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, header.clone());
        let response = rt
            .block_on(service.clone().oneshot(request))
            .expect("infallible");
        if response.status() == 200 {
            return;
        }
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
    }
    panic!("{name} does not accept the tokens");
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = rt.block_on(TestIssuer::start_with(&[KeyKind::Rsa]));
    let url = issuer.url().to_owned();
    let jwks = issuer.jwks_uri();
    let tokens: Vec<String> = (0..TOKENS)
        .map(|_| issuer.token().expires_in(3600).scope("read").sign())
        .collect();
    let headers: Vec<HeaderValue> = tokens
        .iter()
        .map(|t| HeaderValue::from_str(&format!("Bearer {t}")).expect("header"))
        .collect();
    let inner = service_fn(ok);

    // Bare jsonwebtoken 12 (aws-lc-rs): the floor.
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(issuer.jwk("rsa-1").expect("jwk")).expect("jwk");
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&url]);
    validation.set_audience(&[TestIssuer::AUDIENCE]);

    let auth = Authenticator::builder()
        .issuer(&url)
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(&jwks)
        .build()
        .expect("tower-bearer");
    rt.block_on(auth.warm_up()).expect("keys");
    let bearer = BearerAuthLayer::new(auth.clone()).layer(inner);

    let authorizer = rt
        .block_on(
            JwtAuthorizer::<RegisteredClaims>::from_jwks_url(&jwks)
                .validation(Validation::new().iss(&[&url]).aud(&[TestIssuer::AUDIENCE]))
                .build(),
        )
        .expect("jwt-authorizer");
    let jwt_authorizer = authorizer.into_layer().layer(service_fn(ok_04));

    let tenant = rt
        .block_on(
            TenantConfiguration::builder(&url)
                .jwks_url(&jwks)
                .audiences(&[TestIssuer::AUDIENCE])
                .build(),
        )
        .expect("tenant");
    let server = rt
        .block_on(
            OAuth2ResourceServer::<tower_oauth2_resource_server::claims::DefaultClaims>::builder()
                .add_tenant(tenant)
                .build(),
        )
        .expect("tower-oauth2-resource-server");
    let oauth2_server = server.into_layer().layer(inner);

    // Every layer accepts the tokens before anything is measured (some fetch their keys in
    // the background after start-up).
    warm(&rt, "tower-bearer", &bearer, &headers[0]);
    warm(&rt, "jwt-authorizer", &jwt_authorizer, &headers[0]);
    warm(
        &rt,
        "tower-oauth2-resource-server",
        &oauth2_server,
        &headers[0],
    );

    for (group_name, repeated) in [(GROUPS[0], false), (GROUPS[1], true)] {
        let mut group = c.benchmark_group(group_name);
        group.measurement_time(Duration::from_secs(6));
        let pick = move |i: &mut usize| {
            if !repeated {
                *i = (*i + 1) % TOKENS;
            }
            *i
        };
        let mut i = 0;
        group.bench_function(LAYERS[0], |b| {
            b.iter_batched(
                || &tokens[pick(&mut i)],
                |token| {
                    std::hint::black_box(
                        jsonwebtoken::decode::<Value>(token, &key, &validation).expect("valid"),
                    )
                },
                BatchSize::SmallInput,
            )
        });
        let mut i = 0;
        group.bench_function(LAYERS[1], |b| {
            b.iter_batched(
                || {
                    let i = pick(&mut i);
                    if !repeated {
                        // A token never seen before: not in the verified-token cache.
                        rt.block_on(auth.forget(&tokens[i]));
                    }
                    &headers[i]
                },
                |header| call(&rt, &bearer, header),
                BatchSize::SmallInput,
            )
        });
        let mut i = 0;
        group.bench_function(LAYERS[2], |b| {
            b.iter_batched(
                || &headers[pick(&mut i)],
                |header| call(&rt, &jwt_authorizer, header),
                BatchSize::SmallInput,
            )
        });
        let mut i = 0;
        group.bench_function(LAYERS[3], |b| {
            b.iter_batched(
                || &headers[pick(&mut i)],
                |header| call(&rt, &oauth2_server, header),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

fn estimate_ns(group: &str, id: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = dir
        .join("criterion")
        .join(group)
        .join(id)
        .join("new/estimates.json");
    let estimates: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| estimates["mean"]["point_estimate"].as_f64())
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    println!();
    for group in GROUPS {
        let ours = estimate_ns(group, LAYERS[1]);
        let peers = [estimate_ns(group, LAYERS[2]), estimate_ns(group, LAYERS[3])];
        let fastest_peer = peers
            .iter()
            .flatten()
            .copied()
            .fold(f64::INFINITY, f64::min);
        for layer in LAYERS {
            if let Some(ns) = estimate_ns(group, layer) {
                println!("{group:<22} {layer:<30} {:>8.2} µs", ns / 1000.0);
            }
        }
        if let Some(ours) = ours {
            println!(
                "{group:<22} tower-bearer vs the faster peer: {:.2}x the throughput",
                fastest_peer / ours
            );
        }
    }
}
