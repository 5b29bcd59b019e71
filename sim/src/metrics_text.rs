//! The Prometheus text exposition format (version 0.0.4), as JupyterHub's
//! Python client and kube-state-metrics serve it: `# HELP`, `# TYPE`, then
//! one `name{labels} value` line per series; histograms as cumulative
//! `_bucket{le}` lines with `_sum` and `_count`.

use std::fmt::Write as _;

/// The `Content-Type` Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A histogram's counts per upper bound (not yet cumulative), sum and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

/// One metric family being written.
pub struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
}

/// Starts a family: its help and type lines.
pub fn family<'a>(out: &'a mut String, name: &'a str, kind: &str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    Family { out, name }
}

fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn number(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

impl Family<'_> {
    /// A gauge or counter sample.
    pub fn sample(&mut self, pairs: &[(&str, &str)], v: f64) {
        let _ = writeln!(self.out, "{}{} {}", self.name, labels(pairs), number(v));
    }

    /// A histogram's series.
    pub fn histogram(&mut self, pairs: &[(&str, &str)], h: &Histogram) {
        let mut cumulative = 0;
        for (b, c) in h.bounds.iter().zip(&h.counts) {
            cumulative += c;
            let le = number(*b);
            let mut with_le = pairs.to_vec();
            with_le.push(("le", &le));
            let _ = writeln!(
                self.out,
                "{}_bucket{} {cumulative}.0",
                self.name,
                labels(&with_le)
            );
        }
        let mut with_le = pairs.to_vec();
        with_le.push(("le", "+Inf"));
        let _ = writeln!(
            self.out,
            "{}_bucket{} {}.0",
            self.name,
            labels(&with_le),
            h.count
        );
        let _ = writeln!(
            self.out,
            "{}_sum{} {}",
            self.name,
            labels(pairs),
            number(h.sum)
        );
        let _ = writeln!(
            self.out,
            "{}_count{} {}.0",
            self.name,
            labels(pairs),
            h.count
        );
    }
}

/// A Kubernetes quantity (`500m`, `2`, `1Gi`, `512M`) as a plain number
/// (cores for CPU, bytes for memory), as kube-state-metrics reports it.
pub fn quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0_f64.powi(4),
        _ => return None,
    };
    Some(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_written_cumulative_with_inf_sum_and_count() {
        static B: [f64; 2] = [1.0, 5.0];
        let mut h = Histogram::new(&B);
        for v in [0.5, 2.0, 3.0, 9.0] {
            h.observe(v);
        }
        let mut out = String::new();
        family(&mut out, "x_seconds", "histogram", "X.").histogram(&[("a", "b")], &h);
        assert!(
            out.contains("x_seconds_bucket{a=\"b\",le=\"1.0\"} 1.0\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{a=\"b\",le=\"5.0\"} 3.0\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{a=\"b\",le=\"+Inf\"} 4.0\n"),
            "{out}"
        );
        assert!(out.contains("x_seconds_sum{a=\"b\"} 14.5\n"), "{out}");
        assert!(out.contains("x_seconds_count{a=\"b\"} 4.0\n"), "{out}");
    }

    #[test]
    fn quantities_become_cores_and_bytes() {
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("4"), Some(4.0));
        assert_eq!(quantity("1Gi"), Some(1073741824.0));
        assert_eq!(quantity("bogus"), None);
    }
}
