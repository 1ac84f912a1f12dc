//! Quick mode and figures: the part of the benches' support that needs nothing but
//! `serde_json`, so that the benches of other workspace crates (`connectors-ref/`) share it.

#![allow(dead_code)]

use std::io::Write;

use serde_json::json;

/// Whether the bench runs in quick mode (`BENCH_QUICK` set to anything but `0` or empty).
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `full` normally, `small` in quick mode.
pub fn size<T>(full: T, small: T) -> T {
    if quick() { small } else { full }
}

/// The first argument that is not a flag (`cargo bench --bench x -- name`), the benches'
/// filter.
pub fn filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

/// Whether the part called `name` runs under the filter.
pub fn selected(name: &str) -> bool {
    filter().is_none_or(|f| name.contains(&f))
}

/// What a figure is held to.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// No target: the figure is reported for comparison only.
    None,
    /// The value must not exceed this.
    AtMost(f64),
    /// The value must reach this.
    AtLeast(f64),
}

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Stable identifier, e.g. `serve.first_answer`.
    pub id: String,
    /// What was measured, for people.
    pub what: String,
    /// The value, in `unit`.
    pub value: f64,
    /// `ms`, `MB`, `msg/s`, `×`…
    pub unit: &'static str,
    /// The comparison measured in the same run (empty when there is none).
    pub comparison: String,
    /// The target.
    pub target: Target,
    /// A correctness figure (errors, objects lost): judged in quick mode too.
    pub correctness: bool,
}

impl Figure {
    /// A figure without comparison or target.
    pub fn new(id: impl Into<String>, what: impl Into<String>, value: f64, unit: &'static str) -> Figure {
        Figure {
            id: id.into(),
            what: what.into(),
            value,
            unit,
            comparison: String::new(),
            target: Target::None,
            correctness: false,
        }
    }

    /// With the comparison measured in the same run.
    pub fn compared(mut self, comparison: impl Into<String>) -> Figure {
        self.comparison = comparison.into();
        self
    }

    /// A count that must be zero (errors, objects lost): judged in quick mode too.
    pub fn must_be_zero(mut self) -> Figure {
        self.target = Target::AtMost(0.0);
        self.correctness = true;
        self
    }

    /// Held to at most `v`.
    pub fn at_most(mut self, v: f64) -> Figure {
        self.target = Target::AtMost(v);
        self
    }

    /// Held to at least `v`.
    pub fn at_least(mut self, v: f64) -> Figure {
        self.target = Target::AtLeast(v);
        self
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::None => String::new(),
            Target::AtMost(v) => format!("≤ {} {}", bound(v), self.unit).trim_end().to_string(),
            Target::AtLeast(v) => format!("≥ {} {}", bound(v), self.unit).trim_end().to_string(),
        }
    }

    fn verdict(&self) -> &'static str {
        let met = match self.target {
            Target::None => return "",
            Target::AtMost(v) => self.value <= v,
            Target::AtLeast(v) => self.value >= v,
        };
        match (quick() && !self.correctness, met) {
            (true, _) => "quick",
            (false, true) => "PASS",
            (false, false) => "FAIL",
        }
    }

    /// Prints the figure and records it for `BENCHMARKS.md`.
    pub fn report(self) {
        let target = self.target_text();
        let verdict = self.verdict();
        let mut line = format!("{}: {} {}", self.what, number(self.value), self.unit).trim_end().to_string();
        if !self.comparison.is_empty() {
            line.push_str(&format!("; {}", self.comparison));
        }
        if !target.is_empty() {
            line.push_str(&format!(" (target {target}: {verdict})"));
        }
        println!("{line}");
        let Some(path) = std::env::var_os("BENCH_FIGURES").filter(|p| !p.is_empty()) else { return };
        let record = json!({
            "bench": env!("CARGO_CRATE_NAME"),
            "id": self.id, "figure": self.what, "value": self.value, "display": number(self.value), "unit": self.unit,
            "comparison": self.comparison, "target": target, "verdict": verdict, "quick": quick(),
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("BENCH_FIGURES={}: {e}", path.to_string_lossy()));
        writeln!(file, "{record}").expect("the figures file is writable");
    }
}

/// A number as the table shows it: three significant digits, thousands separated.
pub fn number(v: f64) -> String {
    let a = v.abs();
    let decimals = if a >= 100.0 || a == 0.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    let text = format!("{v:.decimals$}");
    let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A target as written: whole numbers without decimals.
fn bound(v: f64) -> String {
    if v.fract() == 0.0 { number(v).split('.').next().unwrap_or_default().to_string() } else { number(v) }
}

/// The value at fraction `p` (0..=1) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Samples sorted ascending.
pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// `VmRSS` / `VmHWM` (or another `/proc/<pid>/status` field) in bytes.
pub fn proc_status(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Bytes as MB (10^6 bytes, as every figure here).
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
