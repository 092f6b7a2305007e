//! Entry points for fuzzing (`fuzz/`) and property tests: each takes arbitrary input, must
//! never panic, and asserts the crate's own invariants about the result.
//!
//! Not part of the public API: enabled by the hidden `__fuzz` feature.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::clock::{SharedClock, SystemClock, unix_seconds};
use crate::http::{HttpClient, HttpSettings};
use crate::introspection::{Checks, Introspector};
use crate::jwt::jwks::{JwksCache, JwksSettings, JwksSource, algorithm_from_name, parse_jwks};
use crate::jwt::{JwtSettings, JwtValidator};
use crate::token::{DEFAULT_MAX_TOKEN_LEN, parse_authorization};

/// The issuer the fuzzing validator expects.
pub const ISSUER: &str = "https://issuer.fuzz.test";
/// The audience the fuzzing validator expects.
pub const AUDIENCE: &str = "https://api.fuzz.test";

/// A fixed RSA-2048 public key (kid `k1`) and a P-256 key (kid `k2`): tokens can name them,
/// but no input can carry a valid signature.
const KEYS: &str = r#"{"keys":[
{"kty":"RSA","kid":"k1","n":"9WDkb9Hf5j2cnlfW-ppy1-lBkyR7VgxN2S7s6HtqHnzztlkS6F_scE0BAYAhsdcua-6CytMKr0MsaHJ_qcF_4Ja-QlMsLJalV5etLVcfrFrtgHKS4TxoZ7VSUZarA-vCVBidUXDq9BTIY_Vp0p6EiGQSqvJVWjRvJtQri2qTIAN1nNMKR7KkievnSSxph92-lj7-vRki6NMZxzXwGG09McJjqh0gEe1QaKJD6_KIUR76F5wK7FJnjIszhwy-a6Qflpn4ePxS21sQPzPZnCE0Veg7boer6Wc3dgPzxSqaQ01bLtgclHBHBKVFJMLD5RcowsSXRkcEJVbi6G5sRl8suQ","e":"AQAB"},
{"kty":"EC","crv":"P-256","kid":"k2","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
]}"#;

fn all_algorithms() -> Vec<jsonwebtoken::Algorithm> {
    crate::authenticator::DEFAULT_ALGORITHMS
        .iter()
        .filter_map(|name| algorithm_from_name(name))
        .collect()
}

/// Parses an `Authorization` value. A token that comes back is a b64token within the cap.
pub fn authorization_header(value: &[u8]) {
    if let Ok(Some(token)) = parse_authorization(value, DEFAULT_MAX_TOKEN_LEN) {
        assert!(!token.is_empty() && token.len() <= DEFAULT_MAX_TOKEN_LEN);
        let body = token.trim_end_matches('=');
        assert!(!body.is_empty());
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        );
    }
}

/// Parses a JWK Set. No more keys than the cap come back, each with an allowed algorithm.
pub fn jwks(body: &[u8]) {
    if let Ok(keys) = parse_jwks(body, &all_algorithms(), 100) {
        assert!(!keys.is_empty() && keys.len() <= 100);
        assert!(keys.iter().all(|k| !k.algorithms.is_empty()));
    }
}

/// Judges an introspection answer. Only `"active": true` can ever be accepted.
pub fn introspection_answer(body: &[u8]) {
    let Ok(answer) = serde_json::from_slice::<Map<String, Value>>(body) else {
        return;
    };
    let active = answer.get("active") == Some(&Value::Bool(true));
    let checks = Checks {
        issuer: ISSUER.to_owned(),
        audiences: vec![AUDIENCE.to_owned()],
        check_audience: true,
        leeway: Duration::from_secs(60),
    };
    let now = unix_seconds(std::time::SystemTime::now());
    if Introspector::judge(&checks, now, answer).is_ok() {
        assert!(active, "an answer without \"active\": true was accepted");
    }
}

struct Target {
    runtime: tokio::runtime::Runtime,
    validator: JwtValidator,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        crate::crypto::ensure_backend().expect("a crypto backend");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let clock: SharedClock = Arc::new(SystemClock);
        let http = HttpClient::new(&HttpSettings::default()).expect("an HTTP client");
        // Port 9 (discard) on loopback: an unknown kid's refetch fails at once.
        let source = JwksSource::Uri("http://127.0.0.1:9/jwks".parse().expect("a URL"));
        let allowed = all_algorithms();
        let jwks = JwksCache::new(
            source,
            http,
            clock.clone(),
            JwksSettings::default(),
            allowed.clone(),
        );
        jwks.install(parse_jwks(KEYS.as_bytes(), &allowed, 100).expect("the fixed keys"));
        let settings = JwtSettings {
            issuer: ISSUER.to_owned(),
            audiences: vec![AUDIENCE.to_owned()],
            check_audience: true,
            leeway: Duration::from_secs(60),
            require_at_jwt: false,
            allowed,
        };
        Target {
            runtime,
            // No verified-token cache: every input takes the full path.
            validator: JwtValidator::new(
                settings,
                jwks,
                clock,
                crate::jwt::VerifiedCacheSettings {
                    capacity: 0,
                    max_token_len: 0,
                },
            ),
        }
    })
}

/// Validates an arbitrary string as a JWT. No input can carry a valid signature, so nothing is
/// ever accepted.
pub fn token(input: &str) {
    let target = target();
    let outcome = target.runtime.block_on(target.validator.validate(input));
    assert!(outcome.is_err(), "an arbitrary token was accepted");
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    const NAMES: &[&str] = &[
        "keys",
        "kty",
        "kid",
        "use",
        "alg",
        "n",
        "e",
        "crv",
        "x",
        "y",
        "d",
        "key_ops",
        "active",
        "exp",
        "nbf",
        "iss",
        "aud",
        "scope",
        "scp",
        "sub",
        "client_id",
        "token_type",
        "typ",
        "crit",
        "b64",
        "zip",
        "enc",
    ];

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            prop::sample::select(vec![
                "RSA",
                "EC",
                "OKP",
                "oct",
                "P-256",
                "P-384",
                "Ed25519",
                "RS256",
                "ES256",
                "EdDSA",
                "none",
                "HS256",
                "sig",
                "enc",
                "AQAB",
                "k1",
                "k2",
                "Bearer",
                "refresh_token",
                ISSUER,
                AUDIENCE,
                "read write",
                "",
            ])
            .prop_map(|s| json!(s)),
            ".{0,40}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(NAMES.to_vec()), inner), 0..8)
                    .prop_map(|members| {
                        Value::Object(
                            members
                                .into_iter()
                                .map(|(k, v)| (k.to_owned(), v))
                                .collect(),
                        )
                    }),
            ]
        })
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn the_fixed_keys_load() {
        let keys = parse_jwks(KEYS.as_bytes(), &all_algorithms(), 100).unwrap();
        assert_eq!(keys.len(), 2);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn extraction_never_panics_on_header_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            authorization_header(&bytes);
        }

        #[test]
        fn extraction_of_bearer_like_values(value in "[ \t]{0,2}(?i:bearer)[ \t]{0,3}[A-Za-z0-9._~+/=!é -]{0,60}") {
            authorization_header(value.as_bytes());
        }

        #[test]
        fn jwks_parsing_never_panics(v in value()) {
            jwks(v.to_string().as_bytes());
            jwks(json!({ "keys": [v.clone(), v] }).to_string().as_bytes());
        }

        #[test]
        fn introspection_parsing_never_panics_or_accepts_inactive(v in value(), active in leaf()) {
            introspection_answer(v.to_string().as_bytes());
            let mut answer = match v { Value::Object(map) => map, _ => Map::new() };
            answer.insert("active".into(), active);
            introspection_answer(Value::Object(answer).to_string().as_bytes());
        }

        #[test]
        fn arbitrary_strings_are_never_accepted(s in any::<String>()) {
            token(&s);
        }

        #[test]
        fn jws_shaped_inputs_are_never_accepted(
            alg in prop::sample::select(vec!["RS256", "PS256", "ES256", "EdDSA", "HS256", "none", "None"]),
            kid in prop::sample::select(vec!["k1", "k2", "k3"]),
            extra in value(),
            claims in value(),
            signature in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut header = json!({ "alg": alg, "kid": kid });
            if let Value::Object(members) = extra {
                for (k, v) in members {
                    if k != "alg" && k != "kid" {
                        header[k] = v;
                    }
                }
            }
            let mut payload = json!({ "iss": ISSUER, "aud": AUDIENCE, "exp": 4_000_000_000_u64 });
            if let Value::Object(members) = claims {
                for (k, v) in members {
                    payload[k] = v;
                }
            }
            token(&format!(
                "{}.{}.{}",
                b64(header.to_string().as_bytes()),
                b64(payload.to_string().as_bytes()),
                b64(&signature)
            ));
        }
    }
}
