//! Crash-test hooks between durable steps (SPEC 10.2). With
//! `ORDERSYNC_FAILPOINT=<name>` in its environment, a debug build (what
//! `cargo test` runs) aborts the process at that point, as `kill -9` would
//! there; release builds compile every hook to nothing.
//!
//! The points:
//! - `ingest-before-commit`: an update, its order, decisions and deliveries
//!   are written in the writer's transaction, which has not committed (the
//!   sender has no answer);
//! - `ingest-after-commit`: that transaction committed, the sender has no
//!   answer yet, and the dispatcher has not heard of the deliveries;
//! - `delivery-after-2xx`: a destination answered 2xx; the attempt is not
//!   recorded.
//! - `etsy-after-refresh-stored`: Etsy answered a refresh with a new refresh
//!   token (the old one is now void), which is committed to the store; the
//!   new access token has not been used.

/// Aborts here if this failpoint is armed (debug builds only).
#[inline]
pub fn hit(name: &str) {
    #[cfg(debug_assertions)]
    {
        static ARMED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        let armed = ARMED.get_or_init(|| std::env::var("ORDERSYNC_FAILPOINT").ok());
        if armed.as_deref() == Some(name) {
            eprintln!("failpoint `{name}`: aborting");
            std::process::abort();
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}
