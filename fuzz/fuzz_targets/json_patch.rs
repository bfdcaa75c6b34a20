//! PATCH bodies in both dialects: first byte picks the media type, the
//! rest is the request body.
#![no_main]
use glimpse_domain::patch::{MEDIA_TYPE_V20, MEDIA_TYPE_V21, parse_json_body, parse_patch};
use glimpse_domain::schema::{CustomProperties, image_schema};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let ct = if first & 1 == 0 { MEDIA_TYPE_V20 } else { MEDIA_TYPE_V21 };
    let Ok(schema) = image_schema(&["raw".into()], &["bare".into()], &CustomProperties::default())
    else {
        return;
    };
    if let Ok(v) = parse_json_body(body) {
        let _ = parse_patch(Some(ct), Some(&v), &schema);
    }
});
