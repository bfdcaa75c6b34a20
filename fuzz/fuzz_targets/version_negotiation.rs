//! Version negotiation on arbitrary paths and Accept headers.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (path, accept) = text.split_once('\n').unwrap_or((text, ""));
        let s = glimpse_api::versions::VersionSettings::default();
        let accept = (!accept.is_empty()).then_some(accept);
        let _ = glimpse_api::negotiation::decide(&s, path, accept);
    }
});
