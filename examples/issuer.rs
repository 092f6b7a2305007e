//! A standalone test issuer, for trying the resource server (or any other) by hand and for the
//! load script: serves discovery, a JWK Set and introspection on a loopback port, and writes
//! ready-made tokens to a folder.
//!
//! ```text
//! cargo run --example issuer --features test-issuer -- [--port N] [--tokens DIR]
//! ```
//!
//! It prints `issuer URL` once it is ready, then runs until stopped. In DIR it writes
//! `valid` (scope `read`, 1 h), `admin` (scopes `read admin`), `expired`, `wrong_audience`,
//! `unknown_kid`, `malformed` (not a b64token) and `opaque` (an opaque token, scope `read`).
//! Tokens are for the audience `https://api.example.test`; the introspection client is
//! `resource-server` with the secret `rs-secret:with/odd chars`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use tower_bearer::testing::TestIssuer;

#[tokio::main]
async fn main() -> ExitCode {
    let mut port = 0u16;
    let mut tokens: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--port", Some(p)) => match p.parse() {
                Ok(p) => port = p,
                Err(_) => {
                    eprintln!("error: --port {p:?} is not a port");
                    return ExitCode::from(2);
                }
            },
            ("--tokens", Some(dir)) => tokens = Some(dir.into()),
            _ => {
                eprintln!("usage: issuer [--port N] [--tokens DIR]");
                return ExitCode::from(2);
            }
        }
    }
    let issuer = match TestIssuer::start_on(port).await {
        Ok(issuer) => issuer,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(dir) = tokens {
        let files = [
            (
                "valid",
                issuer.token().scope("read").expires_in(3600).sign(),
            ),
            (
                "admin",
                issuer.token().scope("read admin").expires_in(3600).sign(),
            ),
            (
                "expired",
                issuer.token().scope("read").expires_in(-3600).sign(),
            ),
            (
                "wrong_audience",
                issuer
                    .token()
                    .audience(json!("https://other.example"))
                    .sign(),
            ),
            (
                "unknown_kid",
                issuer.token().kid("unknown-kid").expires_in(3600).sign(),
            ),
            ("malformed", "not!a!token".to_owned()),
            (
                "opaque",
                issuer.opaque().scope("read").expires_in(3600).issue(),
            ),
        ];
        for (name, token) in files {
            if let Err(e) =
                std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(name), token))
            {
                eprintln!("error: cannot write tokens to {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        }
    }
    println!("issuer {}", issuer.url());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
