//! The labelled redaction corpus (`tests/fixtures/redaction/corpus.jsonl`, see `generate.py`
//! there): precision and recall per built-in detector on planted values, and the false-positive
//! rate on near-miss prose; phone recall for formatted numbers and for numbers after a context
//! word. Prints the tables that docs/redaction.md quotes; asserts the goals.

use serde_json::Value;
use std::collections::BTreeMap;
use tollgate::redact::{Action, Builtin, Detector, OnError, Redactor, Rule};

#[derive(Default)]
struct Score {
    tp: u64,
    fp: u64,
    fn_: u64,
}

#[test]
fn corpus_precision_and_recall() {
    let rules = Builtin::ALL.into_iter().map(|b| Rule { detector: Detector::Builtin(b), action: Action::Mask }).collect();
    let r = Redactor::new(rules, true, usize::MAX, OnError::Refuse);
    let corpus = include_str!("fixtures/redaction/corpus.jsonl");
    let mut scores: BTreeMap<&str, Score> = Builtin::ALL.iter().map(|b| (b.name(), Score::default())).collect();
    // Phone recall by group: "formatted" (a numbering plan's format, or international) and
    // "context" (a bare number after a context word).
    let mut groups: BTreeMap<String, Score> = BTreeMap::new();
    let (mut near, mut near_flagged, mut planted) = (0u64, 0u64, 0u64);
    let mut misses = Vec::new();
    for line in corpus.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let labels = v["labels"].as_array().unwrap();
        let mut want: Vec<(String, String)> = labels.iter().map(|l| (l["detector"].as_str().unwrap().to_string(), l["value"].as_str().unwrap().to_string())).collect();
        let group_of: Vec<(String, String)> = labels.iter().filter_map(|l| Some((l["value"].as_str()?.to_string(), format!("{}/{}", l["detector"].as_str()?, l["group"].as_str()?)))).collect();
        let score_group = |groups: &mut BTreeMap<String, Score>, value: &str, hit: bool| {
            if let Some((_, g)) = group_of.iter().find(|(v, _)| v == value) {
                let s = groups.entry(g.clone()).or_default();
                if hit {
                    s.tp += 1;
                } else {
                    s.fn_ += 1;
                }
            }
        };
        let got: Vec<(String, String)> = r.matches(text).into_iter().map(|(s, i)| (r.rules[i].name().to_string(), text[s.start..s.end].to_string())).collect();
        if v["kind"] == "near_miss" {
            near += 1;
            if !got.is_empty() {
                near_flagged += 1;
                misses.push(format!("near-miss flagged {got:?} in {text:?}"));
            }
        } else {
            planted += 1;
        }
        for g in got {
            match want.iter().position(|w| *w == g) {
                Some(k) => {
                    score_group(&mut groups, &want[k].1, true);
                    want.remove(k);
                    scores.get_mut(g.0.as_str()).unwrap().tp += 1;
                }
                None => {
                    if let Some(s) = scores.get_mut(g.0.as_str()) {
                        s.fp += 1;
                    }
                    misses.push(format!("false positive {g:?} in {text:?}"));
                }
            }
        }
        for w in want {
            score_group(&mut groups, &w.1, false);
            scores.get_mut(w.0.as_str()).unwrap().fn_ += 1;
            misses.push(format!("missed {w:?} in {text:?}"));
        }
    }
    let pct = |a: u64, b: u64| if b == 0 { 100.0 } else { 100.0 * a as f64 / b as f64 };
    println!("\n| detector | planted | found | precision | recall |\n|---|---:|---:|---:|---:|");
    for (name, s) in &scores {
        println!("| `{name}` | {} | {} | {:.1}% | {:.1}% |", s.tp + s.fn_, s.tp + s.fp, pct(s.tp, s.tp + s.fp), pct(s.tp, s.tp + s.fn_));
    }
    println!("\n| phone numbers | planted | found | recall |\n|---|---:|---:|---:|");
    for (g, s) in &groups {
        println!("| {g} | {} | {} | {:.1}% |", s.tp + s.fn_, s.tp, pct(s.tp, s.tp + s.fn_));
    }
    let fp_rate = pct(near_flagged, near);
    println!("\n{planted} planted lines; near-miss prose: {near_flagged} of {near} lines flagged ({fp_rate:.2}%)");
    for m in misses.iter().take(if std::env::var_os("CORPUS_ALL").is_some() { usize::MAX } else { 30 }) {
        println!("{m}");
    }
    for (name, s) in &scores {
        assert!(pct(s.tp, s.tp + s.fn_) >= 99.0, "recall of {name} below 99%");
        assert!(pct(s.tp, s.tp + s.fp) >= 95.0, "precision of {name} below 95%");
    }
    for g in ["phone/formatted", "phone/context"] {
        let s = &groups[g];
        assert!(s.tp + s.fn_ > 300 && pct(s.tp, s.tp + s.fn_) >= 99.0, "recall of {g} below 99%");
    }
    assert!(fp_rate <= 0.5, "near-miss false-positive rate {fp_rate:.2}% > 0.5%");
}
