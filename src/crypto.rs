//! Choosing jsonwebtoken's crypto backend.

#[cfg(all(
    feature = "jwt",
    not(any(feature = "aws-lc-rs", feature = "rust-crypto"))
))]
compile_error!(
    "tower-bearer: the `jwt` feature needs a crypto backend: enable `aws-lc-rs` (the default) or `rust-crypto`"
);

use crate::error::ConfigError;

/// Makes sure jsonwebtoken has a crypto provider.
///
/// With exactly one backend feature, jsonwebtoken picks it itself. With both on (feature
/// unification, `--all-features`), jsonwebtoken would panic on first use, so `aws-lc-rs` is
/// installed as the process default here.
pub(crate) fn ensure_backend() -> Result<(), ConfigError> {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_some() {
        return Ok(());
    }
    #[cfg(feature = "aws-lc-rs")]
    {
        // Losing a race with another installer is fine: some provider is installed.
        let _ = CryptoProvider::install_default(&jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER);
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        let _ =
            CryptoProvider::install_default(&jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER);
    }
    match CryptoProvider::try_get_default() {
        Some(_) => Ok(()),
        None => Err(ConfigError::NoCryptoBackend),
    }
}
