//! The shared HTTP layer of every upstream client: rate limits, timeouts, retries of idempotent reads, Retry-After, metrics.
