//! Glimpse's background services: work a node does on its own schedule
//! rather than in answer to a request.
//!
//! Tour:
//! - [`heartbeat`]: the service record each node keeps in the database
//!   (host, binary, node URL) and refreshes every `report_interval`, which
//!   `glimpse manage service list` reads to tell which nodes are up
//!   (`service_down_time`).

pub mod heartbeat;
