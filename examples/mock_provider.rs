//! Standalone mock LLM provider (OpenAI, Anthropic, Gemini wire formats) for manual and
//! Envoy-level testing: `cargo run --example mock_provider -- --port 18080 [--host 127.0.0.1] [--name NAME]`.
//! Runs until killed. See `tests/support/mock_provider.rs` for routes and `x-mock-*` headers.

#[path = "../tests/support/mock_provider.rs"]
mod mock_provider;

use mock_provider::{Behavior, MockProvider};

fn main() {
    let mut host = String::from("127.0.0.1");
    let mut port: u16 = 18080;
    let mut behavior = Behavior::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| match args.next() {
            Some(v) => v,
            None => usage(&format!("{flag} needs a value")),
        };
        match arg.as_str() {
            "--host" => host = value("--host"),
            "--port" => {
                let v = value("--port");
                port = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("bad port {v:?}")));
            }
            "--name" => behavior.name = Some(value("--name")),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    let addr = format!("{host}:{port}");
    let server = match MockProvider::bind(&addr, behavior) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mock provider: cannot bind {addr}: {e}");
            std::process::exit(1);
        }
    };
    println!("mock provider listening on http://{}", server.addr());
    server.wait();
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("mock_provider: {problem}");
    }
    eprintln!("usage: mock_provider [--host 127.0.0.1] [--port 18080] [--name NAME]");
    std::process::exit(if problem.is_empty() { 0 } else { 2 });
}
