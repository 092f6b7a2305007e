//! Authorization-server metadata: OpenID Connect Discovery 1.0 and RFC 8414.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use reqwest::Url;
use serde::Deserialize;

use crate::error::AuthError;
use crate::http::HttpClient;

/// The issuer's metadata, fetched on first use and kept. Shared by the key set and the
/// introspection endpoint of one authenticator.
#[derive(Debug)]
pub(crate) struct Discovery {
    http: HttpClient,
    issuer: String,
    issuer_url: Url,
    cached: RwLock<Option<Arc<Metadata>>>,
    /// One fetch at a time; waiters share its outcome.
    fetch: tokio::sync::Mutex<Option<AuthError>>,
    attempts: AtomicU64,
}

impl Discovery {
    pub(crate) fn new(http: HttpClient, issuer: String, issuer_url: Url) -> Self {
        Self {
            http,
            issuer,
            issuer_url,
            cached: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(None),
            attempts: AtomicU64::new(0),
        }
    }

    fn cached(&self) -> Option<Arc<Metadata>> {
        self.cached.read().ok().and_then(|g| g.clone())
    }

    /// The metadata: cached after the first success; a failure is shared by the callers
    /// that waited for it, and the next caller tries again.
    pub(crate) async fn metadata(&self) -> Result<Arc<Metadata>, AuthError> {
        if let Some(metadata) = self.cached() {
            return Ok(metadata);
        }
        let before = self.attempts.load(Ordering::Acquire);
        let mut last_error = self.fetch.lock().await;
        if let Some(metadata) = self.cached() {
            return Ok(metadata);
        }
        if self.attempts.load(Ordering::Acquire) != before
            && let Some(err) = &*last_error
        {
            return Err(err.clone());
        }
        let outcome = discover(&self.http, &self.issuer, &self.issuer_url).await;
        self.attempts.fetch_add(1, Ordering::Release);
        match outcome {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                if let Ok(mut guard) = self.cached.write() {
                    *guard = Some(Arc::clone(&metadata));
                }
                *last_error = None;
                Ok(metadata)
            }
            Err(err) => {
                *last_error = Some(err.clone());
                Err(err)
            }
        }
    }

    /// Checks a URL found in the metadata with the configured rules.
    pub(crate) fn check_url(&self, what: &'static str, url: &str) -> Result<Url, AuthError> {
        self.http.check_url(what, url)
    }
}

/// The members of the issuer's metadata the crate uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    #[serde(default)]
    pub(crate) jwks_uri: Option<String>,
    #[serde(default)]
    #[cfg_attr(not(feature = "introspection"), allow(dead_code))]
    pub(crate) introspection_endpoint: Option<String>,
}

/// The metadata URLs to try for `issuer`, in order: the OpenID Connect location
/// (`{issuer}/.well-known/openid-configuration`), then RFC 8414's, which puts the well-known
/// segment between the host and the issuer's path.
pub(crate) fn metadata_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut urls = Vec::with_capacity(2);
    let mut oidc = issuer.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    oidc.set_query(None);
    urls.push(oidc);
    let mut oauth = issuer.clone();
    oauth.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    oauth.set_query(None);
    urls.push(oauth);
    urls
}

/// Fetches the issuer's metadata and checks that it names the same issuer, exactly.
async fn discover(
    http: &HttpClient,
    issuer: &str,
    issuer_url: &Url,
) -> Result<Metadata, AuthError> {
    let mut last_err = None;
    for url in metadata_urls(issuer_url) {
        match http
            .get(&url, "application/json", &["application/json"])
            .await
        {
            Ok(fetched) => {
                let metadata: Metadata = serde_json::from_slice(&fetched.body).map_err(|e| {
                    AuthError::unavailable(format!("metadata at {url} is not valid: {e}"))
                })?;
                if metadata.issuer != issuer {
                    tracing::error!(
                        expected = issuer,
                        found = ?metadata.issuer,
                        "the issuer's metadata names another issuer"
                    );
                    return Err(AuthError::unavailable(format!(
                        "metadata at {url} names issuer {:?}, expected {issuer:?}",
                        metadata.issuer
                    )));
                }
                return Ok(metadata);
            }
            // The server answered 4xx here: try the next location. A server that cannot be
            // reached or fails (5xx) is not asked twice.
            Err(e) if e.status.is_some_and(|s| s.is_client_error()) => {
                tracing::debug!(%url, detail = %e.detail, "metadata not found here");
                last_err = Some(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last_err.map_or_else(|| AuthError::unavailable("no metadata URL"), Into::into))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> Vec<String> {
        metadata_urls(&Url::parse(issuer).unwrap())
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn no_double_slash() {
        assert_eq!(
            urls("https://as.example/"),
            [
                "https://as.example/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server"
            ]
        );
        assert_eq!(
            urls("https://as.example/tenant/"),
            [
                "https://as.example/tenant/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server/tenant"
            ]
        );
        assert_eq!(
            urls("https://as.example/tenant"),
            [
                "https://as.example/tenant/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server/tenant"
            ]
        );
    }
}
