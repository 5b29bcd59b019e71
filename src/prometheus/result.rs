//! What a query answered, as typed data, and the shape templates see.
//!
//! Prometheus sends sample values as strings (`"12"`, `"NaN"`, `"+Inf"`)
//! so they survive JSON; templates want numbers to compare and format, so
//! they are parsed here once. A value JSON cannot hold (NaN, ±Inf) becomes
//! `none`, which templates can test for.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// One sample: when (Unix seconds) and what.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub time: f64,
    pub value: f64,
}

/// One labelled series with its samples (one for an instant vector).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

/// The result types of the HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Vector(Vec<Series>),
    Matrix(Vec<Series>),
    Scalar(Sample),
    String(f64, String),
}

fn sample(v: &Value) -> Result<Sample, String> {
    let pair = v
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or_else(|| format!("a sample is not [time, \"value\"]: {v}"))?;
    let time = pair[0]
        .as_f64()
        .ok_or_else(|| format!("a sample's time is not a number: {}", pair[0]))?;
    let text = pair[1]
        .as_str()
        .ok_or_else(|| format!("a sample's value is not a string: {}", pair[1]))?;
    let value = match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        t => t
            .parse::<f64>()
            .map_err(|_| format!("a sample's value is not a number: {t}"))?,
    };
    Ok(Sample { time, value })
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v["metric"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

impl Answer {
    /// The `data` object of a successful answer.
    pub fn parse(data: &Value) -> Result<Answer, String> {
        let result = &data["result"];
        let items = || {
            result
                .as_array()
                .ok_or_else(|| "`result` is not a list".to_string())
        };
        match data["resultType"].as_str() {
            Some("vector") => items()?
                .iter()
                .map(|s| {
                    Ok(Series {
                        labels: labels(s),
                        samples: vec![sample(&s["value"])?],
                    })
                })
                .collect::<Result<_, String>>()
                .map(Answer::Vector),
            Some("matrix") => items()?
                .iter()
                .map(|s| {
                    let samples = s["values"]
                        .as_array()
                        .ok_or_else(|| "a series has no `values` list".to_string())?
                        .iter()
                        .map(sample)
                        .collect::<Result<_, String>>()?;
                    Ok(Series {
                        labels: labels(s),
                        samples,
                    })
                })
                .collect::<Result<_, String>>()
                .map(Answer::Matrix),
            Some("scalar") => sample(result).map(Answer::Scalar),
            Some("string") => {
                let time = result[0].as_f64().unwrap_or_default();
                Ok(Answer::String(
                    time,
                    result[1].as_str().unwrap_or_default().to_string(),
                ))
            }
            other => Err(format!("unknown resultType {other:?}")),
        }
    }

    /// The template-facing shape.
    ///
    /// - vector: `{type, count, items: [{labels, value, time}], value}`
    ///   where the top `value` is the first item's (handy for a query that
    ///   yields one number);
    /// - matrix: `{type, count, items: [{labels, values: [{time, value}],
    ///   last, min, max, avg}]}`;
    /// - scalar/string: `{type, value, time}`.
    pub fn to_template(&self) -> Value {
        match self {
            Answer::Vector(series) => {
                let items: Vec<Value> = series
                    .iter()
                    .map(|s| {
                        let first = s.samples.first();
                        json!({
                            "labels": s.labels,
                            "value": first.map(|x| num(x.value)).unwrap_or(Value::Null),
                            "time": first.map(|x| x.time),
                        })
                    })
                    .collect();
                let value = items.first().map(|i| i["value"].clone());
                json!({"type": "vector", "count": items.len(), "items": items, "value": value})
            }
            Answer::Matrix(series) => {
                let items: Vec<Value> = series.iter().map(series_json).collect();
                json!({"type": "matrix", "count": items.len(), "items": items})
            }
            Answer::Scalar(s) => json!({"type": "scalar", "value": num(s.value), "time": s.time}),
            Answer::String(t, v) => json!({"type": "string", "value": v, "time": t}),
        }
    }
}

/// A finite number, or null.
fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn series_json(s: &Series) -> Value {
    let finite: Vec<f64> = s
        .samples
        .iter()
        .map(|x| x.value)
        .filter(|v| v.is_finite())
        .collect();
    let (min, max) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let avg = if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    };
    json!({
        "labels": s.labels,
        "values": s.samples.iter().map(|x| json!({"time": x.time, "value": num(x.value)})).collect::<Vec<_>>(),
        "last": s.samples.last().map(|x| num(x.value)).unwrap_or(Value::Null),
        "min": num(min),
        "max": num(max),
        "avg": num(avg),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_becomes_labelled_numbers_with_nan_as_none() {
        let data = json!({"resultType": "vector", "result": [
            {"metric": {"period": "24h"}, "value": [1700000000.5, "42"]},
            {"metric": {"period": "7d"}, "value": [1700000000.5, "NaN"]},
        ]});
        let t = Answer::parse(&data).unwrap().to_template();
        assert_eq!(t["type"], "vector");
        assert_eq!(t["count"], 2);
        assert_eq!(t["value"], 42.0);
        assert_eq!(t["items"][0]["labels"]["period"], "24h");
        assert_eq!(t["items"][1]["value"], Value::Null);
    }

    #[test]
    fn a_matrix_keeps_every_sample_and_summarises_each_series() {
        let data = json!({"resultType": "matrix", "result": [
            {"metric": {"pool": "user"}, "values": [[1.0, "0.5"], [2.0, "1.5"], [3.0, "+Inf"]]},
        ]});
        let t = Answer::parse(&data).unwrap().to_template();
        let s = &t["items"][0];
        assert_eq!(s["values"].as_array().unwrap().len(), 3);
        assert_eq!(s["min"], 0.5);
        assert_eq!(s["max"], 1.5);
        assert_eq!(s["avg"], 1.0);
        assert_eq!(s["last"], Value::Null, "+Inf has no JSON number");
    }

    #[test]
    fn a_scalar_and_an_unknown_type_are_told_apart() {
        let t = Answer::parse(&json!({"resultType": "scalar", "result": [1.0, "3"]}))
            .unwrap()
            .to_template();
        assert_eq!(t["value"], 3.0);
        let e = Answer::parse(&json!({"resultType": "histogram", "result": []})).unwrap_err();
        assert!(e.contains("histogram"), "{e}");
    }
}
