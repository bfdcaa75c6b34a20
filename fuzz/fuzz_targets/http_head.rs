//! The HTTP/1.1 request-head parser and chunked decoder on arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limit = data.first().map_or(0, |b| *b as usize * 4);
    let _ = glimpse_http::server::fuzz_request(data, limit);
});
