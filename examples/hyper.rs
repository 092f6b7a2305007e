//! tower-bearer on a plain hyper 1 server, without axum.
//!
//! It starts a test issuer, serves a protected hyper service on a loopback port, calls it with
//! and without a token, and exits 0 when both answers are as expected.
//!
//! ```text
//! cargo run --example hyper --features test-issuer
//! ```

use std::convert::Infallible;
use std::process::ExitCode;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower::ServiceBuilder;
use tower_bearer::testing::TestIssuer;
use tower_bearer::{Authenticator, BearerAuthLayer, Principal};

/// The protected handler: reads the principal the layer inserted.
async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let who = request
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.subject().map(str::to_owned))
        .unwrap_or_default();
    Ok(Response::new(Full::from(format!("hello {who}\n"))))
}

#[tokio::main]
async fn main() -> ExitCode {
    let issuer = TestIssuer::start().await;
    let auth = Authenticator::builder()
        .issuer(issuer.url())
        .audience(TestIssuer::AUDIENCE)
        .jwks_uri(issuer.jwks_uri())
        .build()
        .expect("valid configuration");
    let service = ServiceBuilder::new()
        .layer(BearerAuthLayer::new(auth).realm("hyper-example"))
        .service_fn(hello);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    println!("listening on {addr}");

    let client = reqwest::Client::new();
    let url = format!("http://{addr}/");
    let token = issuer.token().sign();
    let with = client.get(&url).bearer_auth(&token).send().await;
    let without = client.get(&url).send().await;
    let mut ok = true;
    for (label, response, expected) in [("with a token", with, 200), ("without", without, 401)] {
        match response {
            Ok(r) => {
                let status = r.status().as_u16();
                let challenge = r
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap_or("?").to_owned());
                let body = r.text().await.unwrap_or_default();
                println!("GET / {label}: {status} {challenge:?} {}", body.trim());
                ok &= status == expected;
            }
            Err(e) => {
                println!("GET / {label}: request failed: {e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
