//! The Prometheus text exposition format, version 0.0.4: what `/metrics` answers.
//!
//! ```text
//! # HELP memcached_commands_total Total number of all requests broken down by command (get, set, etc.) and status.
//! # TYPE memcached_commands_total counter
//! memcached_commands_total{command="get",status="hit"} 12
//! # HELP ferrocache_command_duration_seconds ...
//! # TYPE ferrocache_command_duration_seconds histogram
//! ferrocache_command_duration_seconds_bucket{command="get",protocol="ascii",le="1e-06"} 3
//! ferrocache_command_duration_seconds_bucket{command="get",protocol="ascii",le="+Inf"} 5
//! ferrocache_command_duration_seconds_sum{command="get",protocol="ascii"} 0.000012
//! ferrocache_command_duration_seconds_count{command="get",protocol="ascii"} 5
//! ```
//!
//! Families come out sorted by name and the series of a family by their label values, as
//! the Go client (which memcached_exporter uses) sorts them; a family with no series is left
//! out, as it leaves one out.

use std::collections::BTreeMap;
use std::fmt::Write;

/// A family's `# TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A histogram's figures: `buckets` holds each bucket's upper bound and its own count (not
/// yet cumulative); what is over the last bound is `count` minus their total.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Histogram {
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Number(f64),
    Histogram(Histogram),
}

/// A series' labels (name, value), sorted by name.
type Labels = Vec<(String, String)>;

struct Family {
    help: String,
    kind: Kind,
    /// By label values (names are the same for every series of a family).
    series: BTreeMap<Vec<String>, (Labels, Value)>,
}

/// The metrics of one scrape, gathered in any order and written out sorted.
#[derive(Default)]
pub(crate) struct Exposition {
    families: BTreeMap<String, Family>,
}

impl Exposition {
    fn family(&mut self, name: &str, help: &str, kind: Kind) -> &mut Family {
        self.families
            .entry(name.to_string())
            .or_insert_with(|| Family {
                help: help.to_string(),
                kind,
                series: BTreeMap::new(),
            })
    }

    fn put(&mut self, name: &str, help: &str, kind: Kind, labels: &[(&str, &str)], v: Value) {
        let family = self.family(name, help, kind);
        // Labels sorted by name, and series by their values in that order, as the Go
        // client writes them.
        let mut labels: Labels = labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        labels.sort();
        let key = labels.iter().map(|(_, v)| v.clone()).collect();
        // A series given twice keeps its first value (the Go client refuses the scrape).
        family.series.entry(key).or_insert((labels, v));
    }

    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.put(name, help, Kind::Counter, labels, Value::Number(value));
    }

    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.put(name, help, Kind::Gauge, labels, Value::Number(value));
    }

    /// A sample of a counter or a gauge, by `kind`.
    pub fn number(
        &mut self,
        kind: Kind,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.put(name, help, kind, labels, Value::Number(value));
    }

    pub fn histogram(&mut self, name: &str, help: &str, labels: &[(&str, &str)], h: Histogram) {
        self.put(name, help, Kind::Histogram, labels, Value::Histogram(h));
    }

    /// The text, in the exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.families.len() * 256);
        for (name, family) in &self.families {
            if family.series.is_empty() {
                continue;
            }
            out.push_str("# HELP ");
            out.push_str(name);
            out.push(' ');
            escape_help(&mut out, &family.help);
            out.push('\n');
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.name());
            for (labels, value) in family.series.values() {
                match value {
                    Value::Number(v) => sample(&mut out, name, "", labels, None, *v),
                    Value::Histogram(h) => {
                        let mut cumulative = 0u64;
                        for (bound, n) in &h.buckets {
                            cumulative += n;
                            let le = format_value(*bound);
                            sample(
                                &mut out,
                                name,
                                "_bucket",
                                labels,
                                Some(&le),
                                cumulative as f64,
                            );
                        }
                        sample(
                            &mut out,
                            name,
                            "_bucket",
                            labels,
                            Some("+Inf"),
                            h.count as f64,
                        );
                        sample(&mut out, name, "_sum", labels, None, h.sum);
                        sample(&mut out, name, "_count", labels, None, h.count as f64);
                    }
                }
            }
        }
        out
    }
}

/// `name{a="x",le="..."} value`
fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(String, String)],
    le: Option<&str>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    let le = le.map(|v| ("le", v));
    let all = labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(le);
    let mut first = true;
    for (n, v) in all {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(n);
        out.push_str("=\"");
        escape_label(out, v);
        out.push('"');
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
    out.push_str(&format_value(value));
    out.push('\n');
}

/// A sample value as the format spells it: `+Inf`, `-Inf`, `NaN`, or the shortest decimal
/// that reads back as the same float (whole numbers without a fraction).
pub(crate) fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        v.to_string()
    }
}

/// HELP text: backslash and line feed are escaped.
fn escape_help(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A label value: backslash, double quote and line feed are escaped.
fn escape_label(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_with_help_type_and_sorted_series() {
        let mut e = Exposition::default();
        e.gauge("b_gauge", "A gauge.", &[], 1.5);
        e.counter("a_total", "Counts.", &[("op", "set")], 7.0);
        e.counter("a_total", "Counts.", &[("op", "get")], 3.0);
        assert_eq!(
            e.encode(),
            "# HELP a_total Counts.\n# TYPE a_total counter\n\
             a_total{op=\"get\"} 3\na_total{op=\"set\"} 7\n\
             # HELP b_gauge A gauge.\n# TYPE b_gauge gauge\nb_gauge 1.5\n"
        );
    }

    #[test]
    fn labels_are_sorted_by_name_and_series_by_their_values() {
        let mut e = Exposition::default();
        e.counter("c", "C.", &[("z", "1"), ("a", "b")], 1.0);
        e.counter("c", "C.", &[("z", "0"), ("a", "b")], 2.0);
        e.counter("c", "C.", &[("z", "9"), ("a", "a")], 3.0);
        assert_eq!(
            e.encode(),
            "# HELP c C.\n# TYPE c counter\nc{a=\"a\",z=\"9\"} 3\n\
             c{a=\"b\",z=\"0\"} 2\nc{a=\"b\",z=\"1\"} 1\n"
        );
    }

    #[test]
    fn help_and_label_values_are_escaped() {
        let mut e = Exposition::default();
        e.gauge(
            "x",
            "back\\slash \"quoted\"\nnext line",
            &[("v", "a\\b\"c\"\nd")],
            1.0,
        );
        assert_eq!(
            e.encode(),
            "# HELP x back\\\\slash \"quoted\"\\nnext line\n# TYPE x gauge\n\
             x{v=\"a\\\\b\\\"c\\\"\\nd\"} 1\n"
        );
    }

    #[test]
    fn histogram_has_cumulative_buckets_inf_sum_and_count() {
        let mut e = Exposition::default();
        e.histogram(
            "lat_seconds",
            "Latency.",
            &[("command", "get")],
            Histogram {
                buckets: vec![(0.000001, 2), (0.0025, 3), (1.0, 0)],
                sum: 0.25,
                count: 6,
            },
        );
        assert_eq!(
            e.encode(),
            "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n\
             lat_seconds_bucket{command=\"get\",le=\"0.000001\"} 2\n\
             lat_seconds_bucket{command=\"get\",le=\"0.0025\"} 5\n\
             lat_seconds_bucket{command=\"get\",le=\"1\"} 5\n\
             lat_seconds_bucket{command=\"get\",le=\"+Inf\"} 6\n\
             lat_seconds_sum{command=\"get\"} 0.25\n\
             lat_seconds_count{command=\"get\"} 6\n"
        );
    }

    #[test]
    fn special_values() {
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(18446744073709551615.0), "18446744073709552000");
        assert_eq!(format_value(0.123456), "0.123456");
    }

    #[test]
    fn a_series_given_twice_keeps_its_first_value_and_empty_families_are_left_out() {
        let mut e = Exposition::default();
        e.counter("c", "C.", &[("slab", "1")], 1.0);
        e.counter("c", "C.", &[("slab", "1")], 2.0);
        e.family("empty", "Nothing.", Kind::Gauge);
        assert_eq!(
            e.encode(),
            "# HELP c C.\n# TYPE c counter\nc{slab=\"1\"} 1\n"
        );
    }
}
