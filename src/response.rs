//! RFC 6750 §3 answers: the status, the `WWW-Authenticate` challenge and a JSON body for every
//! [`AuthError`].
//!
//! The default, [`Rfc6750`], is what the layer uses unless you install your own policy with
//! [`BearerAuthLayer::on_reject`](crate::BearerAuthLayer::on_reject):
//!
//! | failure | status | challenge |
//! |---|---|---|
//! | no token | 401 | `Bearer realm="…"` |
//! | malformed request | 400 | `Bearer realm="…", error="invalid_request", error_description="…"` |
//! | bad, expired, wrong-audience token | 401 | `Bearer realm="…", error="invalid_token", error_description="…"` |
//! | missing scope | 403 | `Bearer realm="…", error="insufficient_scope", error_description="…", scope="…"` |
//! | issuer unreachable | 503 + `Retry-After` | none |
//! | misconfiguration | 500 | none |
//!
//! Every parameter value is made safe for a quoted-string: characters outside printable ASCII
//! are replaced by `?`, and `"` and `\` are escaped with a backslash.
//!
//! A custom policy is any `Fn(&AuthError) -> Response<String>`; it can call
//! [`Rfc6750::render`] and adjust the result:
//!
//! ```
//! use tower_bearer::{AuthError, response::Rfc6750};
//!
//! let default = Rfc6750::new().realm("api");
//! let policy = move |err: &AuthError| {
//!     let mut res = default.render(err);
//!     res.headers_mut().insert("x-auth-failure", http::HeaderValue::from_static("1"));
//!     res
//! };
//! # let _ = policy;
//! ```

use std::fmt::{self, Write as _};
use std::sync::Arc;

use http::{HeaderValue, Response, header};

use crate::error::AuthError;

/// Decides the response for a rejected request.
///
/// Implemented for [`Rfc6750`] and for every `Fn(&AuthError) -> Response<String> + Send + Sync`.
pub trait OnReject: Send + Sync + 'static {
    /// Builds the response for `err`. The layer inserts `err` into its extensions afterwards.
    fn on_reject(&self, err: &AuthError) -> Response<String>;
}

impl<F> OnReject for F
where
    F: Fn(&AuthError) -> Response<String> + Send + Sync + 'static,
{
    fn on_reject(&self, err: &AuthError) -> Response<String> {
        self(err)
    }
}

/// The default, RFC 6750-exact rejection policy.
#[derive(Debug, Clone, Default)]
pub struct Rfc6750 {
    realm: Option<Arc<str>>,
    detailed: bool,
}

impl Rfc6750 {
    /// The default policy: no realm, generic descriptions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the `realm` parameter of every challenge.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(Arc::from(realm.into()));
        self
    }

    /// Sends [`AuthError::detail`] as `error_description` instead of a generic text.
    ///
    /// For development: details name internals (issuer URLs, key ids) that an attacker
    /// should not learn. Tokens never appear in them.
    #[must_use]
    pub fn detailed_descriptions(mut self, on: bool) -> Self {
        self.detailed = on;
        self
    }

    /// Renders the answer to `err`.
    pub fn render(&self, err: &AuthError) -> Response<String> {
        let kind = err.kind();
        let status = kind.status();
        let description = if self.detailed {
            err.detail()
        } else {
            kind.generic_description()
        };

        let mut body = String::with_capacity(96);
        body.push('{');
        if let Some(code) = kind.error_code() {
            body.push_str("\"error\":");
            push_json_string(&mut body, code);
            body.push(',');
        }
        body.push_str("\"error_description\":");
        push_json_string(&mut body, description);
        if let Some(scope) = err.required_scope() {
            body.push_str(",\"scope\":");
            push_json_string(&mut body, scope);
        }
        body.push('}');

        let mut res = Response::new(body);
        *res.status_mut() = status;
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));

        if status.as_u16() == 401 || status.as_u16() == 400 || status.as_u16() == 403 {
            let challenge = self.challenge(err, description);
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if let Some(after) = err.retry_after() {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        res
    }

    /// The `WWW-Authenticate` value for `err` (RFC 6750 §3).
    fn challenge(&self, err: &AuthError, description: &str) -> String {
        let mut out = String::from("Bearer");
        let mut first = true;
        let mut param = |out: &mut String, name: &str, value: &str| {
            out.push_str(if first { " " } else { ", " });
            first = false;
            let _ = write!(out, "{name}=\"{}\"", QuotedValue(value));
        };
        if let Some(realm) = &self.realm {
            param(&mut out, "realm", realm);
        }
        if let Some(code) = err.kind().error_code() {
            param(&mut out, "error", code);
            param(&mut out, "error_description", description);
        }
        if let Some(scope) = err.required_scope() {
            param(&mut out, "scope", scope);
        }
        out
    }
}

impl OnReject for Rfc6750 {
    fn on_reject(&self, err: &AuthError) -> Response<String> {
        self.render(err)
    }
}

/// Writes a value for an HTTP quoted-string: printable ASCII only, `"` and `\` escaped.
struct QuotedValue<'a>(&'a str);

impl fmt::Display for QuotedValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '"' | '\\' => {
                    f.write_char('\\')?;
                    f.write_char(c)?;
                }
                ' '..='~' => f.write_char(c)?,
                _ => f.write_char('?')?,
            }
        }
        Ok(())
    }
}

fn push_json_string(out: &mut String, s: &str) {
    // serde_json never fails on a &str.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\"")));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthErrorKind;

    fn www(res: &Response<String>) -> &str {
        res.headers()[header::WWW_AUTHENTICATE].to_str().unwrap()
    }

    #[test]
    fn missing_token_has_realm_and_no_error() {
        let res = Rfc6750::new()
            .realm("api")
            .render(&AuthError::missing_token());
        assert_eq!(res.status(), 401);
        assert_eq!(www(&res), "Bearer realm=\"api\"");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        let body: serde_json::Value = serde_json::from_str(res.body()).unwrap();
        assert!(body.get("error").is_none());
    }

    #[test]
    fn insufficient_scope_lists_scope() {
        let res = Rfc6750::new().render(&AuthError::insufficient_scope("read write"));
        assert_eq!(res.status(), 403);
        assert_eq!(
            www(&res),
            "Bearer error=\"insufficient_scope\", error_description=\"The access token lacks a required scope\", scope=\"read write\""
        );
    }

    #[test]
    fn descriptions_are_escaped_and_ascii() {
        let err = AuthError::new(AuthErrorKind::InvalidSignature, "bad \"kid\" \\ é\n");
        let res = Rfc6750::new().detailed_descriptions(true).render(&err);
        assert_eq!(
            www(&res),
            "Bearer error=\"invalid_token\", error_description=\"bad \\\"kid\\\" \\\\ ??\""
        );
        let body: serde_json::Value = serde_json::from_str(res.body()).unwrap();
        assert_eq!(body["error_description"], "bad \"kid\" \\ é\n");
    }

    #[test]
    fn generic_descriptions_by_default() {
        let err = AuthError::new(AuthErrorKind::UnknownKey, "kid abc not in https://x/jwks");
        let res = Rfc6750::new().render(&err);
        assert!(!www(&res).contains("abc"));
        assert!(!res.body().contains("abc"));
    }

    #[test]
    fn unavailable_is_503_with_retry_after_and_no_challenge() {
        let res = Rfc6750::new().render(&AuthError::unavailable("down"));
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
