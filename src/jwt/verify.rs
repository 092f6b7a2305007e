//! Signature checks with keys prepared once, when the key set is loaded.
//!
//! With the `aws-lc-rs` backend, each key is parsed into an aws-lc public key per algorithm it
//! may verify, when the set is fetched: a request then pays for the signature check alone, not
//! for rebuilding the key (for RSA, the big numbers and their Montgomery context) on every
//! call. With `rust-crypto` alone, jsonwebtoken's own verification is used.

/// A public key as read from a JWK, before it is prepared for verification.
pub(crate) enum PublicKey<'a> {
    /// Big-endian modulus and exponent, without leading zeros.
    Rsa { n: &'a [u8], e: &'a [u8] },
    /// An uncompressed SEC1 point on P-256 (ES256) or P-384 (ES384).
    Ec { point: &'a [u8] },
    /// An Ed25519 public key.
    Ed25519(&'a [u8; 32]),
}

#[cfg(feature = "aws-lc-rs")]
pub(crate) use self::aws_lc::VerifyingKey;
#[cfg(not(feature = "aws-lc-rs"))]
pub(crate) use self::jose::VerifyingKey;

/// Room for the longest signature accepted (RSA with an 8192-bit modulus, 1024 bytes), plus
/// the slack base64's length estimate asks for.
#[cfg(feature = "aws-lc-rs")]
const SIGNATURE_BUFFER: usize = 1024 + 3;

#[cfg(feature = "aws-lc-rs")]
mod aws_lc {
    use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::Algorithm;

    use super::{PublicKey, SIGNATURE_BUFFER};

    /// One parsed aws-lc key per algorithm the JWK may verify.
    pub(crate) struct VerifyingKey {
        parsed: Vec<(Algorithm, ParsedPublicKey)>,
    }

    fn rsa_parameters(alg: Algorithm) -> Option<&'static signature::RsaParameters> {
        Some(match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    fn parse(key: &PublicKey<'_>, alg: Algorithm) -> Result<ParsedPublicKey, &'static str> {
        let rejected = |_| "the key is not a valid public key";
        match (key, alg) {
            (PublicKey::Rsa { n, e }, _) => {
                let params = rsa_parameters(alg).ok_or("the algorithm does not fit the key")?;
                RsaPublicKeyComponents { n: *n, e: *e }
                    .to_parsed_public_key(params)
                    .map_err(rejected)
            }
            (PublicKey::Ec { point }, Algorithm::ES256) => {
                ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).map_err(rejected)
            }
            (PublicKey::Ec { point }, Algorithm::ES384) => {
                ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point).map_err(rejected)
            }
            (PublicKey::Ed25519(x), Algorithm::EdDSA) => {
                ParsedPublicKey::new(&signature::ED25519, x).map_err(rejected)
            }
            _ => Err("the algorithm does not fit the key"),
        }
    }

    impl VerifyingKey {
        /// Prepares `key` for each of `algorithms` (all of them must fit the key).
        pub(crate) fn new(
            key: &PublicKey<'_>,
            algorithms: &[Algorithm],
        ) -> Result<Self, &'static str> {
            let parsed = algorithms
                .iter()
                .map(|&alg| parse(key, alg).map(|parsed| (alg, parsed)))
                .collect::<Result<_, _>>()?;
            Ok(Self { parsed })
        }

        /// Whether `signature_b64` (base64url, unpadded) is a valid `alg` signature of
        /// `message` under this key.
        pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature_b64: &str) -> bool {
            let Some((_, key)) = self.parsed.iter().find(|(a, _)| *a == alg) else {
                return false;
            };
            let mut signature = [0u8; SIGNATURE_BUFFER];
            let Ok(len) = URL_SAFE_NO_PAD.decode_slice(signature_b64, &mut signature) else {
                return false;
            };
            key.verify_sig(message, &signature[..len]).is_ok()
        }
    }
}

#[cfg(not(feature = "aws-lc-rs"))]
mod jose {
    use jsonwebtoken::{Algorithm, DecodingKey};

    use super::PublicKey;

    /// jsonwebtoken's key, rebuilt by its backend on each check.
    pub(crate) struct VerifyingKey {
        key: DecodingKey,
    }

    impl VerifyingKey {
        /// Prepares `key` (the algorithms are checked by the caller).
        pub(crate) fn new(
            key: &PublicKey<'_>,
            _algorithms: &[Algorithm],
        ) -> Result<Self, &'static str> {
            let key = match key {
                PublicKey::Rsa { n, e } => DecodingKey::from_rsa_raw_components(n, e),
                PublicKey::Ec { point } => DecodingKey::from_ec_der(point),
                PublicKey::Ed25519(x) => DecodingKey::from_ed_der(*x),
            };
            Ok(Self { key })
        }

        /// Whether `signature_b64` (base64url, unpadded) is a valid `alg` signature of
        /// `message` under this key.
        pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature_b64: &str) -> bool {
            matches!(
                jsonwebtoken::crypto::verify(signature_b64, message, &self.key, alg),
                Ok(true)
            )
        }
    }
}

#[cfg(all(test, feature = "aws-lc-rs"))]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::Algorithm;

    use super::{PublicKey, SIGNATURE_BUFFER, VerifyingKey};

    const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn rsa_keys_verify_each_prepared_algorithm_only() {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = pair.public_key();
        let components = signature::RsaPublicKeyComponents::<Vec<u8>>::from(public);
        let key = PublicKey::Rsa {
            n: &components.n,
            e: &components.e,
        };
        let verifier = VerifyingKey::new(&key, &[Algorithm::RS256, Algorithm::PS256]).unwrap();
        let rng = SystemRandom::new();
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(&signature::RSA_PKCS1_SHA256, &rng, MESSAGE, &mut sig)
            .unwrap();
        assert!(verifier.verify(Algorithm::RS256, MESSAGE, &b64(&sig)));
        // The same bytes are no PSS signature, and RS384 was never prepared.
        assert!(!verifier.verify(Algorithm::PS256, MESSAGE, &b64(&sig)));
        assert!(!verifier.verify(Algorithm::RS384, MESSAGE, &b64(&sig)));
        assert!(!verifier.verify(Algorithm::RS256, b"another message", &b64(&sig)));
        // Padded or non-url base64 and oversized signatures are refused, never a panic.
        assert!(!verifier.verify(Algorithm::RS256, MESSAGE, &format!("{}=", b64(&sig))));
        assert!(!verifier.verify(Algorithm::RS256, MESSAGE, &"A".repeat(5000)));
        pair.sign(&signature::RSA_PSS_SHA256, &rng, MESSAGE, &mut sig)
            .unwrap();
        assert!(verifier.verify(Algorithm::PS256, MESSAGE, &b64(&sig)));
    }

    #[test]
    fn ec_and_ed25519_keys_verify() {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .unwrap();
        let key = PublicKey::Ec {
            point: pair.public_key().as_ref(),
        };
        let verifier = VerifyingKey::new(&key, &[Algorithm::ES256]).unwrap();
        let sig = pair.sign(&rng, MESSAGE).unwrap();
        assert!(verifier.verify(Algorithm::ES256, MESSAGE, &b64(sig.as_ref())));
        assert!(!verifier.verify(Algorithm::ES384, MESSAGE, &b64(sig.as_ref())));
        // A P-256 point is no P-384 key.
        assert!(VerifyingKey::new(&key, &[Algorithm::ES384]).is_err());
        // A point off the curve is refused when the set is loaded.
        let mut off_curve = pair.public_key().as_ref().to_vec();
        off_curve[64] ^= 1;
        assert!(
            VerifyingKey::new(&PublicKey::Ec { point: &off_curve }, &[Algorithm::ES256]).is_err()
        );

        let pair = Ed25519KeyPair::generate().unwrap();
        let x: [u8; 32] = pair.public_key().as_ref().try_into().unwrap();
        let verifier = VerifyingKey::new(&PublicKey::Ed25519(&x), &[Algorithm::EdDSA]).unwrap();
        let sig = pair.sign(MESSAGE);
        assert!(verifier.verify(Algorithm::EdDSA, MESSAGE, &b64(sig.as_ref())));
        assert!(!verifier.verify(Algorithm::EdDSA, b"x", &b64(sig.as_ref())));
    }

    #[test]
    fn the_buffer_holds_the_longest_signature() {
        let longest = b64(&[0xa5; 1024]);
        let mut buffer = [0u8; SIGNATURE_BUFFER];
        assert_eq!(
            URL_SAFE_NO_PAD.decode_slice(&longest, &mut buffer),
            Ok(1024)
        );
        assert!(
            URL_SAFE_NO_PAD
                .decode_slice(b64(&[0xa5; 1100]), &mut buffer)
                .is_err()
        );
    }
}
