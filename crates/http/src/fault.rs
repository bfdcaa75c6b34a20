//! WebOb-compatible HTTP error bodies (being written).
