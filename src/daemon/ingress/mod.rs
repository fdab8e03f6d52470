//! Updates in: the webhook endpoint (with the health checks), the polling
//! schedules, and the per-channel rate limits.

pub mod limit;
pub mod poll;
pub mod webhook;
