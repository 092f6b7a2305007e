//! A runnable resource server: the crate as a black box that anything speaking HTTP can test.
//!
//! ```text
//! cargo run --example resource_server --features axum -- \
//!   --issuer URL [--audience AUD]... [--jwks-uri URL] [--discover] \
//!   [--algorithms RS256,ES256,...] [--require-typ at+jwt] [--leeway SECS] [--realm NAME] \
//!   [--listen 127.0.0.1:8080]
//! ```
//!
//! Without `--jwks-uri`, the key set is found through discovery. Without `--audience`, the
//! audience check is off (a warning says so).
//!
//! Routes: `GET /health` (public), `GET /me` (any valid token; the principal as JSON),
//! `GET /read` (scope `read`), `POST /write` (scope `write`), `GET /admin` (scopes `read` and
//! `admin`). It prints `listening on ADDR` once it accepts connections.

use std::process::ExitCode;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use tower_bearer::{Authenticator, BearerAuthLayer, Principal, RequireScopeLayer};

const USAGE: &str = "usage: resource_server --issuer URL [--audience AUD]... [--jwks-uri URL] \
[--discover] [--introspection-url URL --client-id ID --client-secret SECRET] \
[--algorithms RS256,ES256,...] [--require-typ at+jwt] [--leeway SECS] [--realm NAME] \
[--listen 127.0.0.1:8080]";

#[derive(Default)]
struct Args {
    issuer: Option<String>,
    audiences: Vec<String>,
    jwks_uri: Option<String>,
    discover: bool,
    introspection: bool,
    algorithms: Option<Vec<String>>,
    require_typ: bool,
    leeway: Option<u64>,
    realm: Option<String>,
    listen: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--issuer" => args.issuer = Some(value()?),
            "--audience" => args.audiences.push(value()?),
            "--jwks-uri" => args.jwks_uri = Some(value()?),
            "--discover" => args.discover = true,
            "--introspection-url" | "--client-id" | "--client-secret" => {
                value()?;
                args.introspection = true;
            }
            "--algorithms" => {
                args.algorithms = Some(value()?.split(',').map(|s| s.trim().to_owned()).collect());
            }
            "--require-typ" => {
                let typ = value()?;
                if !typ.eq_ignore_ascii_case("at+jwt") {
                    return Err(format!("--require-typ only supports at+jwt, not {typ:?}"));
                }
                args.require_typ = true;
            }
            "--leeway" => {
                let secs = value()?;
                args.leeway = Some(
                    secs.parse()
                        .map_err(|_| format!("--leeway {secs:?} is not a number of seconds"))?,
                );
            }
            "--realm" => args.realm = Some(value()?),
            "--listen" => args.listen = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_bearer=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.introspection {
        eprintln!(
            "error: opaque-token introspection is not available in this version of tower-bearer"
        );
        return ExitCode::from(2);
    }
    let Some(issuer) = args.issuer else {
        eprintln!("error: --issuer is required\n{USAGE}");
        return ExitCode::from(2);
    };

    let mut builder = Authenticator::builder().issuer(issuer);
    if args.audiences.is_empty() {
        eprintln!(
            "warning: no --audience given: tokens for any audience of this issuer are accepted"
        );
        builder = builder.skip_audience_check();
    }
    for audience in args.audiences {
        builder = builder.audience(audience);
    }
    builder = match args.jwks_uri {
        Some(uri) => builder.jwks_uri(uri),
        None => builder.discover(),
    };
    let _ = args.discover; // discovery is also the default without --jwks-uri
    if let Some(algorithms) = args.algorithms {
        builder = builder.algorithms(algorithms);
    }
    if let Some(secs) = args.leeway {
        builder = builder.leeway(Duration::from_secs(secs));
    }
    builder = builder.require_at_jwt(args.require_typ);
    let auth = match builder.build() {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };

    let mut layer = BearerAuthLayer::new(auth);
    if let Some(realm) = args.realm {
        layer = layer.realm(realm);
    }
    // Scope guards answer with the realm of the layer in front of them.
    let guard = |scopes: &[&str]| RequireScopeLayer::all(scopes.iter().copied());

    let protected = Router::new()
        .route("/me", get(me))
        .route("/read", get(me).layer(guard(&["read"])))
        .route("/write", post(me).layer(guard(&["write"])))
        .route("/admin", get(me).layer(guard(&["read", "admin"])))
        .layer(layer);
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected);

    let listen = args.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(_) => println!("listening on {listen}"),
    }
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

async fn me(principal: Principal) -> Json<Principal> {
    Json(principal)
}
