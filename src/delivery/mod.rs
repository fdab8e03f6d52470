//! The outside world out: handing decided updates to destinations.
//!
//! So far the pure parts (issue 3 groundwork): what a request carries
//! ([`request`]), how a response is classified and when to try again
//! ([`retry`]). The HTTP client and the attempt records come with the daemon.

pub mod request;
pub mod retry;
