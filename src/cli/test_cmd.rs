//! `tollgate test CONFIG CASES`: runs policy cases through the filter over the in-memory host.

use super::load::load_document;
use super::{EXIT_FAILED, EXIT_OK};
use crate::policy::{case_env, parse_cases, run_cases, Report};
use std::io::Write;
use std::rc::Rc;

/// Loads a config and a case file (JSON or YAML) and runs the cases. `Err` names what could not
/// be read or compiled, with JSON paths.
pub fn policy_test(config_path: &str, cases_path: &str, now_nanos: u64) -> Result<Report, String> {
    let cases_doc = load_document(cases_path)?;
    let file = parse_cases(cases_doc).map_err(|e| format!("{cases_path}: at `{}`: {}", e.field, e.message))?;
    let config_doc = load_document(config_path)?;
    let env = case_env(&file);
    let errors = crate::config::check(&config_doc, &env);
    if !errors.is_empty() {
        let list: String = errors.iter().map(|e| format!("\n  {}: {}", e.field, e.message)).collect();
        return Err(format!("{config_path}: {} error(s); run `tollgate validate`:{list}", errors.len()));
    }
    let config = crate::config::parse(config_doc.to_string().as_bytes(), &env).map_err(|e| format!("{config_path}: {e}"))?;
    if config.role == crate::config::Role::Upstream {
        return Err(format!("{config_path}: policy cases run the listener's filter; this config has `role: upstream`"));
    }
    run_cases(&Rc::new(config), &file, now_nanos).map_err(|e| format!("{cases_path}: at `{}`: {}", e.field, e.message))
}

pub fn run(args: &[String], out: &mut dyn Write) -> Result<u8, String> {
    let [config, cases] = args else { return Err("test takes CONFIG and CASES".into()) };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let report = match policy_test(config, cases, now) {
        Ok(r) => r,
        Err(e) => {
            out.write_all(format!("{e}\n").as_bytes()).map_err(|e| e.to_string())?;
            return Ok(EXIT_FAILED);
        }
    };
    out.write_all(report.render().as_bytes()).map_err(|e| e.to_string())?;
    Ok(if report.failed() == 0 && !report.results.is_empty() { EXIT_OK } else { EXIT_FAILED })
}
