//! Native redaction benchmark: scanning throughput (MB/s) of all built-in detectors on 64 KB and
//! 1 MB prompts, and the time redaction adds to a request body of 1 KB and 64 KB (parse, walk,
//! scan, re-serialize, versus parse and re-serialize alone). Run with `make bench-redact`.

use std::time::{Duration, Instant};
use tollgate::api::Endpoint;
use tollgate::redact::scan::Sieve;
use tollgate::redact::{apply, Findings};

/// Chat-like prose with a planted value every ~2 KB and plenty of digits in between.
fn prose(size: usize) -> String {
    let filler = [
        "The quarterly report (v2.4.1, build 10.0.19045.3803) shows revenue of $1,299,450.75 up 12.5% since 2024-03-15. ",
        "Order ORD-2024-118734 shipped at 10:30:45 with tracking 1Z999AA10123456784 and id 550e8400-e29b-41d4-a716-446655440000. ",
        "Please summarise the meeting notes, list the action items and propose next steps for the migration project. ",
        "Latency p99 was 412 ms on port 8443; the retry budget is 3 attempts with a 250 ms backoff and 20% jitter. ",
    ];
    let planted = ["jane.doe@example.com", "+1 (415) 555-0132", "4111 1111 1111 1111", "203.0.113.7", "DE89 3704 0044 0532 0130 00"];
    let mut s = String::with_capacity(size + 256);
    let mut i = 0;
    while s.len() < size {
        s.push_str(filler[i % filler.len()]);
        if i % 16 == 15 {
            s.push_str("Contact: ");
            s.push_str(planted[(i / 16) % planted.len()]);
            s.push_str(". ");
        }
        i += 1;
    }
    s.truncate(size);
    s
}

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let Ok(config) = tollgate::config::parse(br#"{"redaction": {"enabled": true}}"#, &|_| None) else { return };
    let Some(r) = config.redaction.as_ref() else { return };
    println!("Native redaction benchmark, all {} built-in detectors at their default actions (best of N runs).\n", r.rules.len());
    println!("| prompt | scan + rewrite | MB/s | replaced |\n|---|---:|---:|---:|");
    for size in [64 * 1024, 1024 * 1024] {
        let text = prose(size);
        let mut replaced = 0;
        let d = best_of(if size > 100_000 { 10 } else { 100 }, || {
            let mut f = Findings::default();
            std::hint::black_box(r.redact(&text, &mut f));
            replaced = f.replaced;
        });
        let mbs = size as f64 / 1e6 / d.as_secs_f64();
        println!("| {} KB | {:.2} ms | {mbs:.0} | {replaced} |", size / 1024, d.as_secs_f64() * 1e3);
    }
    let text = prose(1024 * 1024);
    let small = prose(1024);
    println!("\n| detector | MB/s on 1 MB | µs per 1 KB text |\n|---|---:|---:|");
    // The engine builds one sieve per text for all rules: its pass is a row of its own, and
    // each detector runs on a prebuilt one.
    let (big, little) = (Sieve::new(text.as_bytes()), Sieve::new(small.as_bytes()));
    let sieve = |t: &str| {
        std::hint::black_box(Sieve::new(t.as_bytes()));
    };
    row("(sieve, once per text)", &text, &small, |t| sieve(t));
    for b in tollgate::redact::Builtin::ALL {
        row(b.name(), &text, &small, |t| {
            let mut out = Vec::new();
            b.scan_sieved(t, if t.len() == text.len() { &big } else { &little }, &mut out);
            std::hint::black_box(out);
        });
    }
    println!("\n| chat body | parse + serialize | + redaction | added per request |\n|---|---:|---:|---:|");
    for size in [1024usize, 64 * 1024] {
        let body = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": prose(size.saturating_sub(120))}]}).to_string();
        let runs = if size > 10_000 { 200 } else { 5000 };
        let base = best_of(runs, || {
            let v: serde_json::Value = serde_json::from_slice(body.as_bytes()).unwrap_or_default();
            std::hint::black_box(v.to_string());
        });
        let red = best_of(runs, || {
            let mut v: serde_json::Value = serde_json::from_slice(body.as_bytes()).unwrap_or_default();
            let mut f = Findings::default();
            let _ = apply(Some(r), Endpoint::ChatCompletions, body.len(), &mut v, &mut f);
            std::hint::black_box(v.to_string());
        });
        println!("| {} KB | {:.1} µs | {:.1} µs | {:.1} µs |", size / 1024, base.as_secs_f64() * 1e6, red.as_secs_f64() * 1e6, red.saturating_sub(base).as_secs_f64() * 1e6);
    }
    corpus_rows(r);
}

/// The labelled corpus's multilingual half (phone numbers in 26 locales' formats, context words,
/// near-miss prose in seven languages), one line a text as a chat has them: the cost where the
/// phone detector's national groupings and context words do their work.
fn corpus_rows(r: &tollgate::redact::Redactor) {
    let corpus = include_str!("../tests/fixtures/redaction/corpus.jsonl");
    let texts: Vec<String> = corpus.lines().skip(2300).filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["text"].as_str().map(str::to_string)).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    println!("\nMultilingual corpus lines ({} texts, {} KB):\n\n| work | µs per KB |\n|---|---:|", texts.len(), bytes / 1024);
    let per_kb = |d: Duration| d.as_secs_f64() * 1e6 / (bytes as f64 / 1024.0);
    let d = best_of(10, || {
        for t in &texts {
            std::hint::black_box(r.changes(t, &mut Findings::default()));
        }
    });
    println!("| pre-scan (`changes`, all detectors) | {:.2} |", per_kb(d));
    for b in [tollgate::redact::Builtin::Phone, tollgate::redact::Builtin::CreditCard] {
        let d = best_of(10, || {
            let mut out = Vec::new();
            for t in &texts {
                out.clear();
                b.scan(t, &mut out);
                std::hint::black_box(&out);
            }
        });
        println!("| `{}` (with its sieve) | {:.2} |", b.name(), per_kb(d));
    }
}

/// One detector row: throughput on the 1 MB text, and µs per 1 KB text.
fn row(name: &str, text: &str, small: &str, f: impl Fn(&str)) {
    let d = best_of(5, || f(text));
    let s = best_of(20, || {
        for _ in 0..100 {
            f(std::hint::black_box(small));
        }
    });
    println!("| `{name}` | {:.0} | {:.2} |", text.len() as f64 / 1e6 / d.as_secs_f64(), s.as_secs_f64() * 1e6 / 100.0);
}
