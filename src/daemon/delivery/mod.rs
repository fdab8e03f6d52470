//! Updates out: the delivery lanes and their attempts (`dispatch`), the lanes
//! claimed from a shared store (`claims`), and the
//! labels a delivery carries (`labels`).

pub mod claims;
pub mod dispatch;
pub mod labels;
