//! Reading registered claims, shared by JWT validation and introspection answers.

use serde_json::{Map, Value};

use crate::error::{AuthError, AuthErrorKind};

/// A NumericDate (RFC 7519 §2): an integer or a float, finite.
pub(crate) fn numeric_date(value: &Value) -> Option<f64> {
    value.as_f64().filter(|f| f.is_finite())
}

/// `aud` as a list: absent is empty, a string is a list of one, an array must hold strings.
pub(crate) fn audiences(value: Option<&Value>) -> Result<Vec<String>, AuthError> {
    let wrong = |detail: &'static str| AuthError::new(AuthErrorKind::WrongAudience, detail);
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(aud)) => Ok(vec![aud.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| wrong("the token's aud holds a non-string")),
        Some(_) => Err(wrong("the token's aud is neither a string nor an array")),
    }
}

/// A member that, when present, must be a string (`sub`, `client_id`, `azp`).
pub(crate) fn optional_string(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AuthError::new(
            AuthErrorKind::InvalidClaims,
            match name {
                "sub" => "sub is not a string",
                "client_id" => "client_id is not a string",
                _ => "a claim has the wrong type",
            },
        )),
    }
}
