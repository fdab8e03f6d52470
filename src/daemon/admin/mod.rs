//! The admin surface: the JSON API and `/metrics` behind the admin token
//! (`api`), the dashboard behind its sign-in (`dashboard`), the channels pages
//! of both (`channels`), and the metrics themselves (`metrics`).

pub mod api;
pub mod channels;
pub mod dashboard;
pub mod metrics;

use axum::Router;
use axum::routing::get;

use crate::daemon::state::State;

/// The API and the dashboard, each behind its own check.
pub fn router(state: State) -> Router<State> {
    let api_more = Router::new().route("/api/channels", get(channels::api));
    let pages_more = Router::new()
        .route("/channels", get(channels::overview))
        .route("/channels/{name}", get(channels::one));
    api::router(state.clone(), api_more).merge(dashboard::router(state, pages_more))
}
