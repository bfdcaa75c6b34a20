//! oslo.config's ini grammar on arbitrary text: errors, never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = glimpse_config::parse_ini_str("fuzz.conf", text);
    }
});
