//! The authenticated caller: [`Principal`] and its [`Scopes`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::error::{AuthError, AuthErrorKind};

/// How a token was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// A JWT access token checked locally against the issuer's keys.
    Jwt,
    /// An opaque token the authorization server described through introspection (RFC 7662).
    Introspected,
}

impl TokenKind {
    /// `"jwt"` or `"introspected"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Introspected => "introspected",
        }
    }
}

/// The authenticated caller, inserted into the request's extensions by
/// [`BearerAuth`](crate::BearerAuth) before the inner service runs.
///
/// Cloning is cheap (one `Arc`). It never holds the raw token.
///
/// ```
/// # use tower_bearer::Principal;
/// fn handler(req: http::Request<()>) {
///     if let Some(p) = req.extensions().get::<Principal>() {
///         println!("{:?} acting for client {:?}", p.subject(), p.client_id());
///     }
/// }
/// # let _ = handler;
/// ```
#[derive(Clone)]
pub struct Principal {
    inner: Arc<Inner>,
}

struct Inner {
    subject: Option<String>,
    client_id: Option<String>,
    scopes: Scopes,
    issuer: String,
    audiences: Vec<String>,
    expires_at: Option<f64>,
    kind: TokenKind,
    claims: Map<String, Value>,
}

/// The parts a validator has read from a token.
pub(crate) struct PrincipalParts {
    pub(crate) subject: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) scopes: Scopes,
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) expires_at: Option<f64>,
    pub(crate) kind: TokenKind,
    pub(crate) claims: Map<String, Value>,
}

impl Principal {
    pub(crate) fn new(parts: PrincipalParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                subject: parts.subject,
                client_id: parts.client_id,
                scopes: parts.scopes,
                issuer: parts.issuer,
                audiences: parts.audiences,
                expires_at: parts.expires_at,
                kind: parts.kind,
                claims: parts.claims,
            }),
        }
    }

    /// The `sub` claim: the resource owner, or for client-credentials tokens usually the client.
    pub fn subject(&self) -> Option<&str> {
        self.inner.subject.as_deref()
    }

    /// The `client_id` claim (RFC 9068 §2.2), or `azp` when `client_id` is absent.
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    /// The scopes granted to the token.
    pub fn scopes(&self) -> &Scopes {
        &self.inner.scopes
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.scopes.contains(scope)
    }

    /// The `iss` claim; always equal to the configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The `aud` claim as a list (a single string becomes a list of one).
    pub fn audiences(&self) -> &[String] {
        &self.inner.audiences
    }

    /// When the token expires, if it says.
    pub fn expires_at(&self) -> Option<SystemTime> {
        let secs = self.inner.expires_at?;
        if secs >= 0.0 {
            UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(secs).ok()?)
        } else {
            None
        }
    }

    /// The `exp` claim in seconds since the Unix epoch.
    pub fn expires_at_unix(&self) -> Option<f64> {
        self.inner.expires_at
    }

    /// How the token was judged.
    pub fn kind(&self) -> TokenKind {
        self.inner.kind
    }

    /// Every claim of the token (or every member of the introspection answer).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.inner.claims
    }

    /// One claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.inner.claims.get(name)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.inner.subject)
            .field("client_id", &self.inner.client_id)
            .field("scopes", &self.inner.scopes)
            .field("issuer", &self.inner.issuer)
            .field("audiences", &self.inner.audiences)
            .field("expires_at", &self.inner.expires_at)
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

/// Serializes the principal's summary (not the full claims):
/// `{"sub", "client_id", "scopes": [...], "iss", "aud": [...], "exp", "kind"}`.
impl serde::Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let inner = &*self.inner;
        let mut map = serializer.serialize_map(Some(7))?;
        map.serialize_entry("sub", &inner.subject)?;
        map.serialize_entry("client_id", &inner.client_id)?;
        map.serialize_entry("scopes", &inner.scopes.sorted)?;
        map.serialize_entry("iss", &inner.issuer)?;
        map.serialize_entry("aud", &inner.audiences)?;
        match inner.expires_at {
            // Integral NumericDates stay integers.
            Some(exp) if exp.fract() == 0.0 && exp.abs() < 9.0e15 => {
                map.serialize_entry("exp", &(exp as i64))?
            }
            other => map.serialize_entry("exp", &other)?,
        }
        map.serialize_entry("kind", inner.kind.as_str())?;
        map.end()
    }
}

/// The set of scopes granted to a token, read from `scope` or `scp`.
///
/// Either claim may be a space-separated string (RFC 8693 §4.2, RFC 9068 §2.2.3) or an array of
/// strings. Every scope must be a `scope-token` of RFC 6749 §3.3 (printable ASCII without
/// space, `"` or `\`); anything else makes the token invalid.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    sorted: Vec<String>,
}

impl Scopes {
    /// Reads the scopes of a claims set: `scope` when present, else `scp`, else none.
    pub(crate) fn from_claims(claims: &Map<String, Value>) -> Result<Self, AuthError> {
        match claims.get("scope").or_else(|| claims.get("scp")) {
            None => Ok(Self::default()),
            Some(value) => Self::from_value(value),
        }
    }

    pub(crate) fn from_value(value: &Value) -> Result<Self, AuthError> {
        let mut sorted = Vec::new();
        match value {
            Value::String(s) => {
                for scope in s.split(' ').filter(|s| !s.is_empty()) {
                    sorted.push(checked_scope(scope)?.to_owned());
                }
            }
            Value::Array(items) => {
                for item in items {
                    let Value::String(s) = item else {
                        return Err(bad_scope("a scope array holds a non-string"));
                    };
                    sorted.push(checked_scope(s)?.to_owned());
                }
            }
            _ => {
                return Err(bad_scope(
                    "the scope claim is neither a string nor an array",
                ));
            }
        }
        sorted.sort_unstable();
        sorted.dedup();
        Ok(Self { sorted })
    }

    /// Builds a scope set from scope names (for tests and custom validators).
    pub fn from_iter_checked<I, S>(scopes: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut sorted = Vec::new();
        for s in scopes {
            let s = s.into();
            if !is_scope_token(&s) {
                return None;
            }
            sorted.push(s);
        }
        sorted.sort_unstable();
        sorted.dedup();
        Some(Self { sorted })
    }

    /// Whether `scope` is granted.
    pub fn contains(&self, scope: &str) -> bool {
        self.sorted
            .binary_search_by(|s| s.as_str().cmp(scope))
            .is_ok()
    }

    /// Whether every scope of `required` is granted.
    pub fn contains_all<S: AsRef<str>>(&self, required: &[S]) -> bool {
        required.iter().all(|s| self.contains(s.as_ref()))
    }

    /// Whether at least one scope of `wanted` is granted.
    pub fn contains_any<S: AsRef<str>>(&self, wanted: &[S]) -> bool {
        wanted.iter().any(|s| self.contains(s.as_ref()))
    }

    /// The scopes, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.sorted.iter().map(String::as_str)
    }

    /// How many scopes are granted.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether no scope is granted.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sorted.join(" "))
    }
}

fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

fn checked_scope(s: &str) -> Result<&str, AuthError> {
    if is_scope_token(s) {
        Ok(s)
    } else {
        Err(bad_scope("a scope holds characters outside RFC 6749 §3.3"))
    }
}

fn bad_scope(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidClaims, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scopes(v: Value) -> Result<Vec<String>, AuthErrorKind> {
        let Value::Object(map) = v else { panic!() };
        Scopes::from_claims(&map)
            .map(|s| s.iter().map(String::from).collect())
            .map_err(|e| e.kind())
    }

    #[test]
    fn string_and_array_forms() {
        assert_eq!(
            scopes(json!({"scope": "write read"})),
            Ok(vec!["read".into(), "write".into()])
        );
        assert_eq!(
            scopes(json!({"scope": ["read", "write"]})),
            Ok(vec!["read".into(), "write".into()])
        );
        assert_eq!(scopes(json!({"scp": ["read"]})), Ok(vec!["read".into()]));
        assert_eq!(
            scopes(json!({"scp": "read  write"})),
            Ok(vec!["read".into(), "write".into()])
        );
        assert_eq!(scopes(json!({})), Ok(vec![]));
    }

    #[test]
    fn bad_forms_are_invalid() {
        assert_eq!(
            scopes(json!({"scp": [123, "x"]})),
            Err(AuthErrorKind::InvalidClaims)
        );
        assert_eq!(
            scopes(json!({"scope": 5})),
            Err(AuthErrorKind::InvalidClaims)
        );
        assert_eq!(
            scopes(json!({"scope": "a\u{1}b"})),
            Err(AuthErrorKind::InvalidClaims)
        );
        assert_eq!(
            scopes(json!({"scope": ["a b"]})),
            Err(AuthErrorKind::InvalidClaims)
        );
    }

    #[test]
    fn readwrite_is_not_read() {
        let Value::Object(map) = json!({"scope": "readwrite"}) else {
            panic!()
        };
        let s = Scopes::from_claims(&map).unwrap();
        assert!(!s.contains("read"));
        assert!(s.contains("readwrite"));
    }
}
