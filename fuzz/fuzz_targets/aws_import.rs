//! Any text in place of any one file of an AWS export (the GWLB fixture of
//! `tests/fixtures/aws-export-gwlb`, seed 001 as a real account exports it): the import either
//! errs (naming the file) or writes a configuration; loading and validating what it wrote never
//! panics either.
#![no_main]
use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn export() -> &'static BTreeMap<String, String> {
    static E: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    E.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/aws-export-gwlb");
        std::fs::read_dir(dir)
            .expect("the fixture exists")
            .map(|f| {
                let f = f.unwrap().path();
                let name = f.file_stem().unwrap().to_string_lossy().to_string();
                (name, std::fs::read_to_string(&f).unwrap())
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut files = export().clone();
    let name = files
        .keys()
        .nth(usize::from(which) % files.len())
        .unwrap()
        .clone();
    files.insert(name, text.to_string());
    if let Ok(imported) = control::import::aws::import_from(&files, None) {
        if let Ok(loaded) = control::load_str(
            "imported.toml",
            imported.toml,
            std::path::Path::new("/nonexistent"),
        ) {
            let _ = control::validate(&loaded);
        }
    }
});
