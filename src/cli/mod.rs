//! The `tollgate` command-line tool (feature `cli`): `validate`, `keygen`, `keys`, `test`, `schema`.
//! Config as code: CI checks configs and policy cases without Envoy, through the filter's own
//! code (`config::check`, and `policy` over the in-memory host).

mod keygen;
mod keys_file;
mod load;
mod test_cmd;
mod validate;

pub use load::{load_document, load_documents, parse_document, parse_documents, tollgate_configs, Source};
pub use test_cmd::policy_test;

use std::io::Write;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the config has errors, or a policy case failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad arguments or an unreadable file.
pub const EXIT_USAGE: u8 = 2;

const USAGE: &str = "\
usage: tollgate <command> [args]

commands:
  validate CONFIG...       check tollgate configs (JSON or YAML; also the tollgate config embedded
                           in an Envoy bootstrap or an Istio WasmPlugin); print every error with
                           its JSON path; exit 1 on errors
  keygen [--id ID] [--tenant TENANT]
                           a new virtual key (shown once) and its config entry (digest only)
  keygen --digest-of KEY   the digest of an existing key (rotation)
  keys check FILE...       check key files for `auth.key_source` (JSON lines) as the filter loads
                           them: print each refused line's number and reason; exit 1 if any
  keys export CONFIG       print CONFIG's inline `keys` as a key file (one entry per line)
  test CONFIG CASES        run declarative policy cases against CONFIG; exit 1 if any fails
  json CONFIG              print CONFIG (JSON or YAML) as one line of JSON, the form Envoy's
                           `configuration` StringValue holds; exit 1 if it has errors
  schema                   print the config's JSON Schema
";

/// Runs the tool on `args` (without the program name); returns the process exit code.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let Some((cmd, rest)) = args.split_first() else {
        let _ = write!(err, "{USAGE}");
        return EXIT_USAGE;
    };
    let result = match cmd.as_str() {
        "validate" => validate::run(rest, out),
        "keygen" => keygen::run(rest, out, err),
        "keys" => keys_file::run(rest, out),
        "test" => test_cmd::run(rest, out),
        "json" => validate::json(rest, out, err),
        "schema" if rest.is_empty() => write!(out, "{}", crate::config::schema_json()).map(|_| EXIT_OK).map_err(|e| e.to_string()),
        "-h" | "--help" | "help" => write!(out, "{USAGE}").map(|_| EXIT_OK).map_err(|e| e.to_string()),
        other => Err(format!("unknown command `{other}`")),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = write!(err, "tollgate: {e}\n\n{USAGE}");
            EXIT_USAGE
        }
    }
}
