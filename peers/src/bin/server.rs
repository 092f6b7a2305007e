//! An axum hello-world server behind one of the three layers, for `compare`.
//!
//! ```text
//! server LAYER ISSUER_URL JWKS_URL LISTEN_ADDR [VERIFIED_CACHE]
//! ```
//!
//! LAYER is `tower-bearer`, `jwt-authorizer` or `tower-oauth2-resource-server`. Each layer
//! checks RS256 tokens against the JWK Set at JWKS_URL, with the issuer and the test issuer's
//! audience, in front of `GET /` answering `hello`. VERIFIED_CACHE sets tower-bearer's
//! verified-token cache capacity (default 10 000, `0` turns it off). The server prints
//! `listening on ADDR` once it accepts connections.

use std::process::ExitCode;

use jwt_authorizer::{IntoLayer, JwtAuthorizer, RegisteredClaims, Validation};
use tokio::net::TcpListener;
use tower_bearer::testing::TestIssuer;
use tower_bearer::{Authenticator, BearerAuthLayer};
use tower_oauth2_resource_server::claims::DefaultClaims;
use tower_oauth2_resource_server::server::OAuth2ResourceServer;
use tower_oauth2_resource_server::tenant::TenantConfiguration;

async fn hello() -> &'static str {
    "hello"
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (layer, issuer, jwks, listen) = match args.as_slice() {
        [layer, issuer, jwks, listen] | [layer, issuer, jwks, listen, _] => (
            layer.as_str(),
            issuer.as_str(),
            jwks.as_str(),
            listen.as_str(),
        ),
        _ => {
            eprintln!("usage: server LAYER ISSUER_URL JWKS_URL LISTEN_ADDR [VERIFIED_CACHE]");
            return ExitCode::from(2);
        }
    };
    let cache = match args.get(4).map(|c| c.parse::<u64>()) {
        None => 10_000,
        Some(Ok(cache)) => cache,
        Some(Err(_)) => {
            eprintln!("error: VERIFIED_CACHE is a number of entries");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = match layer {
        "tower-bearer" => {
            let auth = Authenticator::builder()
                .issuer(issuer)
                .audience(TestIssuer::AUDIENCE)
                .jwks_uri(jwks)
                .verified_token_cache(cache)
                .build()
                .expect("tower-bearer configuration");
            auth.warm_up().await.expect("the key set");
            let app = axum::Router::new()
                .route("/", axum::routing::get(hello))
                .layer(BearerAuthLayer::new(auth));
            println!("listening on {listen}");
            axum::serve(listener, app).await
        }
        "jwt-authorizer" => {
            let authorizer = JwtAuthorizer::<RegisteredClaims>::from_jwks_url(jwks)
                .validation(
                    Validation::new()
                        .iss(&[issuer])
                        .aud(&[TestIssuer::AUDIENCE]),
                )
                .build()
                .await
                .expect("jwt-authorizer configuration");
            let app = axum_07::Router::new()
                .route("/", axum_07::routing::get(hello))
                .layer(authorizer.into_layer());
            println!("listening on {listen}");
            axum_07::serve(listener, app).await
        }
        "tower-oauth2-resource-server" => {
            let tenant = TenantConfiguration::builder(issuer)
                .jwks_url(jwks)
                .audiences(&[TestIssuer::AUDIENCE])
                .build()
                .await
                .expect("tenant");
            let server = OAuth2ResourceServer::<DefaultClaims>::builder()
                .add_tenant(tenant)
                .build()
                .await
                .expect("tower-oauth2-resource-server configuration");
            let app = axum::Router::new()
                .route("/", axum::routing::get(hello))
                .layer(server.into_layer());
            println!("listening on {listen}");
            axum::serve(listener, app).await
        }
        other => {
            eprintln!(
                "error: unknown layer {other:?} (tower-bearer, jwt-authorizer, tower-oauth2-resource-server)"
            );
            return ExitCode::from(2);
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
