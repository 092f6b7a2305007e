//! Heap allocations the layer adds per request on its two cached paths, counted with a
//! counting global allocator: a JWT answered from the verified-token cache, and an opaque
//! token whose introspection answer is cached. Each is compared with the same request sent to
//! the bare inner service.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{Request, Response};
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_bearer::testing::TestIssuer;
use tower_bearer::{Authenticator, BearerAuthLayer, ClientAuth};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ROUNDS: u64 = 2_000;

/// Allocations per request through `service`, after a warm-up.
fn per_request<S>(rt: &tokio::runtime::Runtime, service: S, header: &http::HeaderValue) -> f64
where
    S: Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone,
{
    let send = |service: S| {
        let mut request = Request::new(());
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, header.clone());
        let response = rt.block_on(service.oneshot(request)).unwrap();
        assert_eq!(response.status(), 200);
    };
    for _ in 0..100 {
        send(service.clone());
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..ROUNDS {
        send(service.clone());
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / ROUNDS as f64
}

#[test]
fn allocations_on_the_cached_paths() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let issuer = rt.block_on(TestIssuer::start());
    let inner =
        service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) });

    let jwt = issuer.token().scope("read").expires_in(3600).sign();
    let jwt_header = http::HeaderValue::from_str(&format!("Bearer {jwt}")).unwrap();
    let auth = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(issuer.jwks_uri())
        .build()
        .unwrap();
    let bare = per_request(&rt, inner, &jwt_header);
    let cached_jwt = per_request(&rt, BearerAuthLayer::new(auth).layer(inner), &jwt_header);

    let opaque = issuer.opaque().scope("read").expires_in(3600).issue();
    let opaque_header = http::HeaderValue::from_str(&format!("Bearer {opaque}")).unwrap();
    let auth = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .introspection_endpoint(issuer.introspection_endpoint())
        .introspection_client(ClientAuth::basic(
            TestIssuer::INTROSPECTION_CLIENT,
            TestIssuer::INTROSPECTION_SECRET,
        ))
        .build()
        .unwrap();
    let cached_opaque = per_request(&rt, BearerAuthLayer::new(auth).layer(inner), &opaque_header);
    assert_eq!(issuer.introspection_calls(), 1);

    println!(
        "allocations per request: bare service {bare:.2}; verified-token cache hit {cached_jwt:.2} \
         (+{:.2}); cached introspection {cached_opaque:.2} (+{:.2})",
        cached_jwt - bare,
        cached_opaque - bare
    );
    // Regression guard: what the layer adds on its cached paths stays small.
    assert!(
        cached_jwt - bare <= 8.0,
        "verified-token cache hit: +{:.2}",
        cached_jwt - bare
    );
    assert!(
        cached_opaque - bare <= 8.0,
        "cached introspection: +{:.2}",
        cached_opaque - bare
    );
}
