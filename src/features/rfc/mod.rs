//! RFCs with DACI roles: the `/rfc` command, the flow from comment window to decision, and the
//! decision log's export.

pub mod command;
pub mod export;
pub mod flow;
