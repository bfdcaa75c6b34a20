//! Glance Image API (being written).
