//! `tollgate keys check FILE...` and `tollgate keys export CONFIG`: key files for
//! `auth.key_source`, checked by the filter's own parser (`keys::source::Lines`), and written
//! from a config's inline `keys` (the migration from inline keys to a key source).

use super::load::{load_documents, tollgate_configs};
use super::{EXIT_FAILED, EXIT_OK};
use crate::keys::source::Lines;
use std::io::Write;

pub fn run(args: &[String], out: &mut dyn Write) -> Result<u8, String> {
    match args.split_first() {
        Some((cmd, files)) if cmd == "check" && !files.is_empty() => check(files, out),
        Some((cmd, [config])) if cmd == "export" => export(config, out),
        _ => Err("keys takes `check FILE...` or `export CONFIG`".into()),
    }
}

fn check(files: &[String], out: &mut dyn Write) -> Result<u8, String> {
    let mut failed = false;
    for file in files {
        let text = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        // Auth mode `keys` (digests required); a JWT-only file's lines are reported as such.
        let mut lines = Lines::new(1 << 16, true);
        let mut report = Vec::new();
        for line in text.split_inclusive(|b| *b == b'\n') {
            let before = lines.refused;
            lines.feed(line);
            if lines.refused > before {
                report.push(lines.last_refusal.clone().unwrap_or_default());
            }
        }
        let before = lines.refused;
        lines.finish();
        if lines.refused > before {
            report.push(lines.last_refusal.clone().unwrap_or_default());
        }
        failed |= !report.is_empty();
        let status = if report.is_empty() { "ok".to_string() } else { format!("{} lines refused", report.len()) };
        writeln!(out, "{file}: {status} ({} keys)", lines.keys).map_err(|e| e.to_string())?;
        for r in report {
            writeln!(out, "  {r}").map_err(|e| e.to_string())?;
        }
    }
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}

fn export(config: &str, out: &mut dyn Write) -> Result<u8, String> {
    let docs = load_documents(config)?;
    let sources: Vec<_> = docs.iter().flat_map(|d| tollgate_configs(config, d)).collect();
    let [source] = sources.as_slice() else { return Err(format!("{config}: expected one tollgate config, found {}", sources.len())) };
    let doc = source.doc.as_ref().map_err(|e| format!("{config}: {e}"))?;
    for k in doc.get("keys").and_then(|k| k.as_array()).into_iter().flatten() {
        writeln!(out, "{k}").map_err(|e| e.to_string())?;
    }
    Ok(EXIT_OK)
}
