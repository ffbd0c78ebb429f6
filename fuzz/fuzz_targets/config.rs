//! Any text as a configuration: load, validate and compile never panic, and compile accepts
//! exactly what validation accepts.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(loaded) = control::load_str(
        "fuzz.toml",
        text.to_string(),
        std::path::Path::new("/nonexistent"),
    ) {
        let report = control::validate(&loaded);
        assert_eq!(report.has_errors(), control::compile(&loaded).is_err());
    }
});
