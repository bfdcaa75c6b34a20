//! `GET /v2/images` query strings, raw bytes as they arrive in QUERY_STRING.
#![no_main]
use glimpse_domain::py::parse_query_string;
use glimpse_domain::query::{ListLimits, parse_list_query};
use glimpse_domain::render::{first_link, next_link};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = parse_query_string(data) {
        let _ = parse_list_query(&pairs, ListLimits::default());
        let _ = first_link(&pairs);
        let _ = next_link(&pairs, "m");
    }
});
