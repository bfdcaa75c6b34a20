//! PasteDeploy's ConfigParser dialect on arbitrary text, then every
//! interpolated value: errors, never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(ini) = glimpse_runtime::paste::ini::IniFile::parse(text, "/fuzz/paste.ini") {
            let sections: Vec<String> = ini.sections().map(str::to_string).collect();
            for s in sections {
                for o in ini.options(&s) {
                    let _ = ini.get(&s, &o);
                }
            }
        }
    }
});
