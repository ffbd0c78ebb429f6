//! Loading, validating and compiling never panic, whatever the text: every prefix of every
//! example, and random edits of them.

use std::path::{Path, PathBuf};

use control::{compile, load_str, validate};
use proptest::prelude::*;

fn examples() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut v: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect();
    v.sort();
    assert!(v.len() >= 3);
    v
}

fn exercise(text: &str, base: &Path) {
    if let Ok(loaded) = load_str("fuzz.toml", text.to_string(), base) {
        let report = validate(&loaded);
        let compiled = compile(&loaded);
        assert_eq!(
            report.has_errors(),
            compiled.is_err(),
            "compile accepts exactly what validate accepts"
        );
        for d in &report.diagnostics {
            assert!(d.location.line >= 1 && d.location.column >= 1);
        }
    }
}

#[test]
fn every_prefix_of_every_example() {
    for (path, text) in examples() {
        let base = path.parent().unwrap();
        // Cut at every line end and at every 7th byte (all of them would be slow in debug).
        let cuts: Vec<usize> = text
            .match_indices('\n')
            .map(|(i, _)| i)
            .chain((0..text.len()).step_by(7))
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        for cut in cuts {
            exercise(&text[..cut], base);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_line_edits(which in 0usize..3, edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, "[ -~]{0,12}"), 1..6)) {
        let ex = examples();
        let (path, text) = &ex[which % ex.len()];
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        for (idx, op, s) in edits {
            if lines.is_empty() { break; }
            let i = idx.index(lines.len());
            match op {
                0 => { lines.remove(i); }
                1 => lines[i] = s,
                2 => { let l = lines[i].clone(); lines.insert(i, l); }
                _ => { let mid = lines[i].len() / 2; if lines[i].is_char_boundary(mid) { lines[i].insert_str(mid, &s); } }
            }
        }
        exercise(&lines.join("\n"), path.parent().unwrap());
    }
}
