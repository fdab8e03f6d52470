//! Updates out: the delivery lanes and their attempts (`dispatch`), and the
//! labels a delivery carries (`labels`).

pub mod dispatch;
pub mod labels;
