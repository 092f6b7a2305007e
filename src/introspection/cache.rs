//! The introspection answer cache: bounded, keyed by the SHA-256 of the token, one
//! introspection call per token however many requests wait for it.
//!
//! * An active answer lives min(`exp` − now, cap) (cap default 60 s); without `exp`, the cap.
//! * An inactive answer lives the negative TTL (default 10 s; zero turns it off).
//! * Failures (the endpoint down, garbage) are never cached.
//! * Every hit re-checks the answer's deadline against the crate's clock, so an answer never
//!   outlives the token's `exp`, whatever moka's own timers do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use crate::clock::{SharedClock, unix_seconds};
use crate::error::AuthError;
use crate::principal::Principal;

pub(crate) use crate::digest::{TokenKey, token_key};

/// What the authorization server said about a token.
#[derive(Clone)]
pub(crate) enum Verdict {
    Active(Principal),
    Inactive(AuthError),
    /// The server does not introspect this kind of token (RFC 7009's
    /// `unsupported_token_type`, which some servers answer for JWT access tokens).
    Unsupported,
}

/// A cached verdict and its deadline (Unix seconds, on the crate's clock).
pub(crate) struct Entry {
    pub(crate) verdict: Verdict,
    pub(crate) valid_until: f64,
    ttl: Duration,
}

struct EntryTtl;

impl Expiry<TokenKey, Arc<Entry>> for EntryTtl {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        value: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Lifetimes and size of the cache.
#[derive(Debug, Clone)]
pub(crate) struct CacheSettings {
    pub(crate) positive_cap: Duration,
    pub(crate) negative_ttl: Duration,
    pub(crate) max_entries: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            positive_cap: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(10),
            max_entries: 10_000,
        }
    }
}

/// The cache. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AnswerCache {
    cache: Cache<TokenKey, Arc<Entry>>,
    settings: Arc<CacheSettings>,
    clock: SharedClock,
}

impl AnswerCache {
    pub(crate) fn new(settings: CacheSettings, clock: SharedClock) -> Self {
        let cache = Cache::builder()
            .max_capacity(settings.max_entries)
            .expire_after(EntryTtl)
            .build();
        Self {
            cache,
            settings: Arc::new(settings),
            clock,
        }
    }

    /// Builds the entry for a verdict: how long it may be served.
    pub(crate) fn entry(&self, verdict: Verdict) -> Entry {
        let now = unix_seconds(self.clock.now());
        let ttl = match &verdict {
            Verdict::Active(principal) => {
                let cap = self.settings.positive_cap.as_secs_f64();
                let left = principal.expires_at_unix().map_or(cap, |exp| exp - now);
                Duration::try_from_secs_f64(left.clamp(0.0, cap)).unwrap_or(Duration::ZERO)
            }
            Verdict::Inactive(_) | Verdict::Unsupported => self.settings.negative_ttl,
        };
        Entry {
            verdict,
            valid_until: now + ttl.as_secs_f64(),
            ttl,
        }
    }

    /// The cached verdict for `key`, or the one `introspect` produces; concurrent callers with
    /// the same key share one call. Errors are returned, never cached.
    pub(crate) async fn get_or_insert<F>(
        &self,
        key: TokenKey,
        introspect: impl Fn() -> F,
    ) -> Result<Verdict, AuthError>
    where
        F: Future<Output = Result<Entry, AuthError>>,
    {
        // At most twice: a stale hit is dropped and fetched anew.
        for _ in 0..2 {
            let entry = self
                .cache
                .try_get_with(key, async { introspect().await.map(Arc::new) })
                .await
                .map_err(|e: Arc<AuthError>| (*e).clone())?;
            if unix_seconds(self.clock.now()) < entry.valid_until {
                return Ok(entry.verdict.clone());
            }
            if entry.ttl.is_zero() {
                // Not meant to be cached (a zero negative TTL): the fresh verdict still holds.
                return Ok(entry.verdict.clone());
            }
            self.cache.invalidate(&key).await;
        }
        Err(AuthError::unavailable(
            "the introspection answer expired as it arrived",
        ))
    }

    /// Drops the cached verdict of `key`.
    pub(crate) async fn forget(&self, key: &TokenKey) {
        self.cache.invalidate(key).await;
    }

    /// The number of cached entries, after pending maintenance.
    pub(crate) async fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}
