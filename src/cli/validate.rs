//! `tollgate validate CONFIG...`: every error of every config, each with its JSON path.

use super::load::{load_documents, tollgate_configs};
use super::{EXIT_FAILED, EXIT_OK};
use serde_json::Value;
use std::io::Write;

/// Checks each file; `Err` only for bad arguments or unreadable files.
pub fn run(args: &[String], out: &mut dyn Write) -> Result<u8, String> {
    if args.is_empty() || args.iter().any(|a| a.starts_with('-')) {
        return Err("validate takes one or more config files".into());
    }
    let mut failed = false;
    for file in args {
        let docs = load_documents(file)?;
        let many = docs.len() > 1;
        let sources: Vec<_> = docs.iter().enumerate().flat_map(|(i, d)| tollgate_configs(&if many { format!("{file}[doc {i}]") } else { file.clone() }, d)).collect();
        if sources.is_empty() {
            failed = true;
            w(out, format!("{file}: no tollgate wasm filter configuration found\n"))?;
        }
        for s in sources {
            let errors: Vec<(String, String)> = match &s.doc {
                Err(e) => vec![(".".into(), e.clone())],
                Ok(doc) => crate::config::check(doc, &|_| None).into_iter().map(|e| (e.field, e.message)).collect(),
            };
            if errors.is_empty() {
                w(out, format!("{}: ok ({})\n", s.label, summary(s.doc.as_ref().ok())))?;
                continue;
            }
            failed = true;
            let n = errors.len();
            w(out, format!("{}: {n} error{}\n", s.label, if n == 1 { "" } else { "s" }))?;
            for (path, message) in errors {
                w(out, format!("  {path}: {message}\n"))?;
            }
        }
    }
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}

/// `tollgate json CONFIG`: the config as compact JSON, after checking it.
pub fn json(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, String> {
    let [file] = args else { return Err("json takes one config file".into()) };
    let doc = super::load::load_document(file)?;
    let errors = crate::config::check(&doc, &|_| None);
    if errors.is_empty() {
        w(out, format!("{doc}\n"))?;
        return Ok(EXIT_OK);
    }
    for e in errors {
        w(err, format!("{file}: {}: {}\n", e.field, e.message))?;
    }
    Ok(EXIT_FAILED)
}

fn w(out: &mut dyn Write, s: String) -> Result<(), String> {
    out.write_all(s.as_bytes()).map_err(|e| e.to_string())
}

fn summary(doc: Option<&Value>) -> String {
    let n = |k: &str| doc.and_then(|d| d.get(k)).and_then(Value::as_array).map_or(0, Vec::len);
    format!("{} providers, {} model routes, {} keys", n("providers"), n("models"), n("keys"))
}
