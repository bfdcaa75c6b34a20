//! oslo.config-compatible configuration (being written).
