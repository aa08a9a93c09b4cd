//! The `tollgate` command-line tool: validate configs, make keys, run policy cases, print the
//! config's JSON Schema. `cargo run --features cli --bin tollgate -- help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ExitCode::from(tollgate::cli::run(&args, &mut std::io::stdout(), &mut std::io::stderr()))
}
