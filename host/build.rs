//! Embeds the console's processor: the jco transpilation of
//! `target/switchboard.wasm` that `make build` writes to
//! `target/console-wasm/` before it builds this crate (or the directory
//! `SWITCHBOARD_CONSOLE_WASM` names). Its `.js` and `.wasm` files become
//! `GENERATED` in `$OUT_DIR/console_assets.rs`, which `src/serve/console.rs`
//! includes. When they are absent (a `cargo build` without `make build`),
//! the binary builds all the same, without them: the console works, and its
//! try pane says to run `make build`.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-env-changed=SWITCHBOARD_CONSOLE_WASM");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = std::env::var_os("SWITCHBOARD_CONSOLE_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/console-wasm"));
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| media(path).is_some())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let has_glue = files.iter().any(|path| path.ends_with("switchboard.js"));
    if !has_glue {
        println!(
            "cargo::warning=the console's try pane is not embedded: {} has no switchboard.js (run `make build`, which transpiles target/switchboard.wasm with jco)",
            dir.display()
        );
        files.clear();
    }
    let mut out = String::from(
        "/// The processor transpiled by jco for the page: (name, media type, bytes).\nconst GENERATED: &[Asset] = &[\n",
    );
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 name");
        let absolute = std::fs::canonicalize(path).expect("a file just listed");
        out.push_str(&format!(
            "    ({name:?}, {:?}, include_bytes!({:?})),\n",
            media(path).expect("filtered"),
            absolute.display().to_string()
        ));
    }
    out.push_str("];\n");
    let target =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("console_assets.rs");
    std::fs::write(target, out).expect("writing console_assets.rs");
}

/// The media type the page is served a generated file with.
fn media(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "js" => Some("text/javascript; charset=utf-8"),
        "wasm" => Some("application/wasm"),
        _ => None,
    }
}
