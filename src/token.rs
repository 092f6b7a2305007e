//! Finding the access token in a request (RFC 6750 §2).
//!
//! * The `Authorization` header (§2.1) is always read: the scheme `Bearer` in any case, one or
//!   more spaces, then a `b64token` (`1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`).
//!   A header of another scheme (`Basic …`) counts as no token.
//! * The `access_token` query parameter (§2.3) and form body field (§2.2) are read only when
//!   switched on ([`BearerAuthLayer::allow_query_token`](crate::BearerAuthLayer::allow_query_token),
//!   [`BearerAuthLayer::allow_form_token`](crate::BearerAuthLayer::allow_form_token)).
//!
//! How malformed input is answered:
//!
//! | input | answer |
//! |---|---|
//! | no `Authorization` header, or another scheme | 401, no `error` |
//! | empty `Authorization` header | 400 `invalid_request` |
//! | `Bearer` with no token, a tab instead of the space, bytes outside the b64token grammar | 400 `invalid_request` |
//! | two `Authorization` headers, or a token presented in two ways | 400 `invalid_request` |
//! | a well-formed token longer than the size cap (default 8 KiB) | 401 `invalid_token` |
//! | a well-formed token that fails validation (`Bearer a.b`) | 401 `invalid_token` |

use http::header::AUTHORIZATION;
use http::request::Parts;

use crate::error::{AuthError, AuthErrorKind};

/// Default cap on the token's length in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// Default cap on a form body read for its `access_token` (RFC 6750 §2.2).
pub const DEFAULT_MAX_FORM_BODY: usize = 64 * 1024;

/// Where tokens may be found, and how long they may be.
#[derive(Debug, Clone)]
pub(crate) struct TokenSources {
    pub(crate) query: bool,
    pub(crate) max_len: usize,
    pub(crate) max_form_body: usize,
}

impl Default for TokenSources {
    fn default() -> Self {
        Self {
            query: false,
            max_len: DEFAULT_MAX_TOKEN_LEN,
            max_form_body: DEFAULT_MAX_FORM_BODY,
        }
    }
}

/// Marker: tokens come from the header (and the query, if enabled); the body is never read.
/// The default mode of [`BearerAuthLayer`](crate::BearerAuthLayer).
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderOnly;

/// Marker: the `access_token` field of `application/x-www-form-urlencoded` bodies of non-GET
/// requests is read as well (RFC 6750 §2.2). Set by
/// [`BearerAuthLayer::allow_form_token`](crate::BearerAuthLayer::allow_form_token).
///
/// Reading the body needs a request body type that can be rebuilt from bytes
/// (`From<Bytes>`, as axum's `Body` and `http_body_util::Full<Bytes>` are). Bodies larger than
/// the cap (default 64 KiB) are answered 400 `invalid_request`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FormBody;

/// Whether the request may carry a form-encoded token: a non-GET request whose content type
/// is `application/x-www-form-urlencoded` (parameters allowed) and whose declared length, if
/// any, is within `max_body` (a larger body is left unread, so its token is not seen).
pub(crate) fn has_form_body(parts: &Parts, max_body: usize) -> bool {
    if parts.method == http::Method::GET {
        return false;
    }
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_body as u64) {
        return false;
    }
    parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Reads the token from the header and (if enabled) the query string.
///
/// `Ok(None)` means the request carries no bearer token in those places.
pub(crate) fn extract<'a>(
    parts: &'a Parts,
    sources: &TokenSources,
) -> Result<Option<std::borrow::Cow<'a, str>>, AuthError> {
    let header = from_header(parts, sources.max_len)?;
    let query = if sources.query {
        from_query(parts.uri.query(), sources.max_len)?
    } else {
        None
    };
    match (header, query) {
        (Some(_), Some(_)) => Err(AuthError::invalid_request(
            "the token is presented in more than one way",
        )),
        (Some(t), None) => Ok(Some(std::borrow::Cow::Borrowed(t))),
        (None, Some(t)) => Ok(Some(std::borrow::Cow::Owned(t))),
        (None, None) => Ok(None),
    }
}

fn from_header(parts: &Parts, max_len: usize) -> Result<Option<&str>, AuthError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    parse_authorization(value.as_bytes(), max_len)
}

/// Parses one `Authorization` header value.
pub(crate) fn parse_authorization(value: &[u8], max_len: usize) -> Result<Option<&str>, AuthError> {
    // A field value's leading and trailing whitespace is not part of it (RFC 9110 §5.5).
    let value = value.trim_ascii();
    if value.is_empty() {
        return Err(AuthError::invalid_request("empty Authorization header"));
    }
    let scheme_end = value
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    let rest = &value[scheme_end..];
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    if spaces == 0 {
        return Err(AuthError::invalid_request(
            "the Bearer scheme must be followed by a space and a token",
        ));
    }
    let token = &rest[spaces..];
    check_token(token, max_len).map(Some)
}

/// Checks a token's length (first, before any other work) and its b64token grammar.
pub(crate) fn check_token(token: &[u8], max_len: usize) -> Result<&str, AuthError> {
    if token.is_empty() {
        return Err(AuthError::invalid_request("the bearer token is empty"));
    }
    if token.len() > max_len {
        return Err(AuthError::new(
            AuthErrorKind::MalformedToken,
            format!("the token is longer than {max_len} bytes"),
        ));
    }
    let body_end = token
        .iter()
        .position(|&b| !is_b64token_char(b))
        .unwrap_or(token.len());
    if body_end == 0 || token[body_end..].iter().any(|&b| b != b'=') {
        return Err(AuthError::invalid_request(
            "the bearer token is not a b64token",
        ));
    }
    // Only ASCII bytes got through, so this cannot fail.
    std::str::from_utf8(token)
        .map_err(|_| AuthError::invalid_request("the bearer token is not a b64token"))
}

/// `B64TOKEN[b]`: whether byte `b` may appear in a b64token before its trailing `=`s. A table,
/// because every request scans its whole token.
static B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

fn is_b64token_char(b: u8) -> bool {
    B64TOKEN[usize::from(b)]
}

/// Reads `access_token` from a query string or a form body.
pub(crate) fn from_query(query: Option<&str>, max_len: usize) -> Result<Option<String>, AuthError> {
    let Some(query) = query else {
        return Ok(None);
    };
    from_urlencoded(query.as_bytes(), max_len)
}

pub(crate) fn from_urlencoded(input: &[u8], max_len: usize) -> Result<Option<String>, AuthError> {
    let mut found = None;
    for (name, value) in form_urlencoded::parse(input) {
        if name != "access_token" {
            continue;
        }
        if found.is_some() {
            return Err(AuthError::invalid_request(
                "more than one access_token parameter",
            ));
        }
        check_token(value.as_bytes(), max_len)?;
        found = Some(value.into_owned());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthErrorKind as K;

    fn parse(v: &[u8]) -> Result<Option<&str>, K> {
        parse_authorization(v, 64).map_err(|e| e.kind())
    }

    #[test]
    fn scheme_is_case_insensitive_and_spaces_are_many() {
        assert_eq!(parse(b"Bearer abc"), Ok(Some("abc")));
        assert_eq!(parse(b"bearer abc"), Ok(Some("abc")));
        assert_eq!(parse(b"BEARER abc"), Ok(Some("abc")));
        assert_eq!(parse(b"Bearer   abc=="), Ok(Some("abc==")));
        assert_eq!(parse(b"Bearer a-._~+/Z9"), Ok(Some("a-._~+/Z9")));
        // Surrounding whitespace is not part of the field value.
        assert_eq!(parse(b" \tBearer abc \t"), Ok(Some("abc")));
    }

    #[test]
    fn other_schemes_are_no_token() {
        assert_eq!(parse(b"Basic dXNlcjpwYXNz"), Ok(None));
        assert_eq!(parse(b"BearerX abc"), Ok(None));
        assert_eq!(parse(b"Digest \xff"), Ok(None));
    }

    #[test]
    fn malformed_values_are_invalid_request() {
        for v in [
            &b""[..],
            b"Bearer",
            b"Bearer   ",
            b"Bearer\tabc",
            b"Bearer !!.@@.##",
            b"Bearer abc def",
            b"  \t ",
            b"Bearer a=b",
            b"Bearer =",
            b"Bearer \xc3\xa9",
        ] {
            assert_eq!(parse(v), Err(K::InvalidRequest), "{v:?}");
        }
    }

    #[test]
    fn oversized_token_is_rejected_before_grammar() {
        let mut v = b"Bearer ".to_vec();
        v.extend(std::iter::repeat_n(b'!', 65));
        assert_eq!(parse(&v), Err(K::MalformedToken));
    }

    #[test]
    fn query_token_once() {
        assert_eq!(
            from_query(Some("a=1&access_token=abc"), 64).unwrap(),
            Some("abc".to_string())
        );
        assert_eq!(
            from_query(Some("access_token=a&access_token=b"), 64)
                .unwrap_err()
                .kind(),
            K::InvalidRequest
        );
        assert_eq!(from_query(Some("x=1"), 64).unwrap(), None);
    }
}
