//! The crate's one HTTP client: short timeouts, a cap on response bodies, strict content types.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header;
use reqwest::Url;

use crate::error::{AuthError, ConfigError};

/// Default connect timeout for the issuer's endpoints.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default total timeout (connect, send, read the whole body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default cap on a JWKS, metadata or introspection response body.
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;

/// HTTP settings shared by every fetch of one authenticator.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_body: usize,
    pub(crate) allow_http: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            allow_http: false,
        }
    }
}

/// One `reqwest::Client` (cheap to clone: an `Arc` inside) and the body cap.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    max_body: usize,
    allow_http: bool,
}

/// A failed fetch: what the endpoint answered, if it answered at all.
#[derive(Debug)]
pub(crate) struct FetchError {
    /// The status, when the endpoint answered with one other than 2xx.
    pub(crate) status: Option<http::StatusCode>,
    /// The endpoint's `Retry-After` (in seconds), if it sent one.
    pub(crate) retry_after: Option<Duration>,
    /// The start (at most 4 KiB) of the body of a non-2xx answer, for its error code.
    #[cfg_attr(not(feature = "introspection"), allow(dead_code))]
    pub(crate) body: Bytes,
    pub(crate) detail: String,
}

impl FetchError {
    fn new(detail: String) -> Self {
        Self {
            status: None,
            retry_after: None,
            body: Bytes::new(),
            detail,
        }
    }
}

impl From<FetchError> for AuthError {
    fn from(e: FetchError) -> Self {
        let err = AuthError::unavailable(e.detail);
        match e.retry_after {
            // Passed on to our clients, within reason.
            Some(after) => {
                err.with_retry_after(after.clamp(Duration::from_secs(1), Duration::from_secs(300)))
            }
            None => err,
        }
    }
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) body: Bytes,
    pub(crate) max_age: Option<Duration>,
}

impl HttpClient {
    /// Uses a client the application built (custom roots, a proxy). Its timeouts and redirect
    /// policy are its own; the body cap and content-type checks still apply.
    pub(crate) fn from_client(client: reqwest::Client, settings: &HttpSettings) -> Self {
        Self {
            client,
            max_body: settings.max_body,
            allow_http: settings.allow_http,
        }
    }

    pub(crate) fn new(settings: &HttpSettings) -> Result<Self, ConfigError> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::custom(same_origin_redirects))
            .user_agent(concat!("tower-bearer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(Self {
            client,
            max_body: settings.max_body,
            allow_http: settings.allow_http,
        })
    }

    /// Checks a URL learnt at run time (from discovery) with the configured rules.
    pub(crate) fn check_url(&self, what: &'static str, url: &str) -> Result<Url, AuthError> {
        check_url(what, url, self.allow_http)
            .map_err(|e| AuthError::unavailable(format!("unusable {what} from metadata: {e}")))
    }

    /// GETs `url` expecting one of `content_types` (compared without parameters).
    pub(crate) async fn get(
        &self,
        url: &Url,
        accept: &'static str,
        content_types: &[&str],
    ) -> Result<Fetched, FetchError> {
        let request = self.client.get(url.clone()).header(header::ACCEPT, accept);
        self.send(url, request, content_types).await
    }

    /// POSTs a form to `url`, with an `Authorization` value if given, expecting JSON.
    #[cfg(feature = "introspection")]
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        authorization: Option<String>,
    ) -> Result<Fetched, FetchError> {
        let mut request = self
            .client
            .post(url.clone())
            .header(header::ACCEPT, "application/json")
            .form(form);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        self.send(url, request, &["application/json"]).await
    }

    async fn send(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
        content_types: &[&str],
    ) -> Result<Fetched, FetchError> {
        let mut response = request.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            FetchError::new(format!("{url}: {why}"))
        })?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let mut body = BytesMut::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                let room = 4096 - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() == 4096 {
                    break;
                }
            }
            return Err(FetchError {
                status: Some(status),
                retry_after,
                body: body.freeze(),
                detail: format!("{url}: status {status}"),
            });
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(media_type)
            .unwrap_or_default();
        if !content_types
            .iter()
            .any(|ct| content_type.eq_ignore_ascii_case(ct))
        {
            return Err(FetchError::new(format!(
                "{url}: unexpected content type {content_type:?}"
            )));
        }
        let max_age = response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body as u64)
        {
            return Err(FetchError::new(format!(
                "{url}: body larger than {} bytes",
                self.max_body
            )));
        }
        let mut body = BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_body {
                        return Err(FetchError::new(format!(
                            "{url}: body larger than {} bytes",
                            self.max_body
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    let why = if e.is_timeout() {
                        "timed out"
                    } else {
                        "failed"
                    };
                    return Err(FetchError::new(format!("{url}: reading the body {why}")));
                }
            }
        }
        Ok(Fetched {
            body: body.freeze(),
            max_age,
        })
    }
}

/// Follows at most 3 redirects, and only within the same origin: a key set or metadata
/// document must not be able to send us to another host.
fn same_origin_redirects(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    if attempt.previous().len() >= 3 {
        return attempt.error("too many redirects");
    }
    let same = attempt
        .previous()
        .first()
        .is_some_and(|first| first.origin() == attempt.url().origin());
    if same {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

/// The media type of a `Content-Type` value, without parameters.
fn media_type(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// `max-age` from a `Cache-Control` value (`no-store`/`no-cache` give zero).
fn parse_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        let (name, arg) = match directive.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = arg
                .and_then(|a| a.parse::<u64>().ok())
                .map(Duration::from_secs);
        }
    }
    max_age
}

/// Parses a configured URL: `https`, or `http` for loopback hosts (or anywhere, if allowed).
pub(crate) fn check_url(
    what: &'static str,
    url: &str,
    allow_http: bool,
) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidUrl { what, reason };
    let parsed = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http || is_loopback(&parsed) => {}
        "http" => {
            return Err(invalid(
                "plain http is only allowed for loopback hosts; use https or `.allow_http()`"
                    .into(),
            ));
        }
        other => return Err(invalid(format!("unsupported scheme {other:?}"))),
    }
    if parsed.host().is_none() {
        return Err(invalid("no host".into()));
    }
    Ok(parsed)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_parsing() {
        assert_eq!(
            parse_max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=abc"), None);
    }

    #[test]
    fn url_rules() {
        assert!(check_url("x", "https://example.com/jwks", false).is_ok());
        assert!(check_url("x", "http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("x", "http://localhost/jwks", false).is_ok());
        assert!(check_url("x", "http://[::1]/jwks", false).is_ok());
        assert!(check_url("x", "http://example.com/jwks", false).is_err());
        assert!(check_url("x", "http://example.com/jwks", true).is_ok());
        assert!(check_url("x", "ftp://example.com/jwks", true).is_err());
        assert!(check_url("x", "not a url", true).is_err());
    }

    #[test]
    fn media_types() {
        assert_eq!(
            media_type("application/json; charset=utf-8"),
            "application/json"
        );
        assert_eq!(
            media_type("application/jwk-set+json"),
            "application/jwk-set+json"
        );
    }
}
