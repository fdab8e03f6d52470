//! The outside world out: handing decided updates to destinations.
//!
//! The pure parts: what a request carries ([`request`]), how a response is
//! classified and when to try again ([`retry`]), what a shipping label
//! becomes ([`label`], with its renderer, fetcher and mailer beside it). The daemon's delivery lanes
//! (`daemon::delivery::dispatch`) make the requests; the store records each attempt.

pub mod connector;
pub mod label;
pub mod request;
pub mod retry;
