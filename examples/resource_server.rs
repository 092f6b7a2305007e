//! A runnable resource server: the crate as a black box that anything speaking HTTP can test.
//!
//! ```text
//! cargo run --example resource_server --features axum -- \
//!   --issuer URL [--audience AUD]... [--jwks-uri URL] [--discover] \
//!   [--introspection-url URL --client-id ID --client-secret SECRET] \
//!   [--algorithms RS256,ES256,...] [--require-typ at+jwt] [--leeway SECS] [--realm NAME] \
//!   [--listen 127.0.0.1:8080]
//! ```
//!
//! JWT access tokens are checked against `--jwks-uri`, or the key set found through discovery.
//! Opaque tokens are introspected when `--client-id` and `--client-secret` are given, at
//! `--introspection-url` or the discovered endpoint. Discovery is on unless `--introspection-url`
//! is given without `--discover` (then only opaque tokens are accepted, and a warning says so).
//! Without `--audience`, the audience check is off (a warning says so). Logs go to stderr
//! (`RUST_LOG`, default `info,tower_bearer=debug`).
//!
//! Routes: `GET /health` (public), `GET /me` (any valid token; the principal as JSON),
//! `GET /read` (scope `read`), `POST /write` (scope `write`), `GET /admin` (scopes `read` and
//! `admin`). It prints `listening on ADDR` once it accepts connections.

use std::process::ExitCode;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use tower_bearer::{Authenticator, BearerAuthLayer, ClientAuth, Principal, RequireScopeLayer};

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
    introspection_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
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
            "--introspection-url" => args.introspection_url = Some(value()?),
            "--client-id" => args.client_id = Some(value()?),
            "--client-secret" => args.client_secret = Some(value()?),
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
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
    let introspects = match (args.client_id, args.client_secret) {
        (Some(id), Some(secret)) => {
            builder = builder.introspection_client(ClientAuth::basic(id, secret));
            if let Some(url) = args.introspection_url.clone() {
                builder = builder.introspection_endpoint(url);
            }
            true
        }
        (None, None) if args.introspection_url.is_none() => false,
        _ => {
            eprintln!("error: introspection needs --client-id and --client-secret\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(uri) = &args.jwks_uri {
        builder = builder.jwks_uri(uri.clone());
    }
    let jwt = args.discover
        || !introspects
        || args.introspection_url.is_none()
        || args.jwks_uri.is_some();
    // Discovery: asked for, or the only way to find the keys or the introspection endpoint.
    if args.discover || !introspects || args.introspection_url.is_none() {
        builder = builder.discover();
    }
    if !jwt {
        eprintln!(
            "warning: JWT access tokens will be refused (401): add --jwks-uri URL or --discover to accept them too"
        );
    }
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
