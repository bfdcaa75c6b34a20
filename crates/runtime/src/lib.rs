//! Service runtime (being written).
