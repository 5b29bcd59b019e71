//! A playbook's `chart:`: the named `prometheus.range` step's output (the
//! template shape, `items: [{labels, values: [{time, value}]}]`) turned
//! into lines and drawn, once the run got as far as its result.
//!
//! A chart is an extra next to the text answer, so one that cannot be drawn
//! (the step failed or was skipped, no series, a bad title) is logged and
//! left out rather than failing a run that did its work.

use serde_json::Value;

use super::model::{ChartSpec, Playbook};
use super::template;
use crate::chart::{self, Labels, Line};
use crate::chat::Chart;

/// The run's charts: none, or the one its `chart:` asks for.
pub(super) async fn draw(pb: &Playbook, ctx: &minijinja::Value, steps: &Value) -> Vec<Chart> {
    let Some(spec) = &pb.chart else {
        return Vec::new();
    };
    let title = match template::render_text(&spec.title, ctx) {
        Ok(t) => t.trim().to_string(),
        Err(e) => {
            tracing::warn!(playbook = %pb.name, error = %e, "the chart title template failed; no chart");
            return Vec::new();
        }
    };
    let Some(lines) = lines(&steps[&spec.step]) else {
        tracing::info!(playbook = %pb.name, step = %spec.step, "the chart's step has no series (failed or skipped); no chart");
        return Vec::new();
    };
    let y = spec.y.clone();
    let drawn_title = title.clone();
    // Drawing is CPU work of some milliseconds: off the async workers.
    let png = tokio::task::spawn_blocking(move || {
        chart::render(
            &Labels {
                title: &drawn_title,
                y: &y,
            },
            &lines,
        )
    })
    .await;
    match png {
        Ok(Ok(png)) => vec![Chart {
            file_name: file_name(pb, spec),
            title,
            png: png.into(),
        }],
        Ok(Err(e)) => {
            tracing::info!(playbook = %pb.name, step = %spec.step, error = %e, "no chart");
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(playbook = %pb.name, error = %e, "drawing the chart panicked; no chart");
            Vec::new()
        }
    }
}

fn file_name(pb: &Playbook, spec: &ChartSpec) -> String {
    format!("{}-{}.png", pb.name, spec.step.replace('_', "-"))
}

/// The lines of a range step's output; `None` when it has no series (a
/// failed or skipped step has no `items`).
fn lines(step: &Value) -> Option<Vec<Line>> {
    let items = step["items"].as_array().filter(|i| !i.is_empty())?;
    Some(
        items
            .iter()
            .map(|s| Line {
                label: legend(&s["labels"]),
                points: s["values"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .map(|p| {
                                let time = p["time"].as_f64().unwrap_or(f64::NAN);
                                // A null value (NaN or ±Inf in Prometheus) is a gap.
                                (time, p["value"].as_f64().unwrap_or(f64::NAN))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
    )
}

/// `pool=user, zone=a`: the series' labels; `value` for a series without.
fn legend(labels: &Value) -> String {
    let text = labels
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    if text.is_empty() {
        "value".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_range_output_becomes_one_line_per_series_with_nulls_as_gaps() {
        let out = json!({"type": "matrix", "count": 2, "items": [
            {"labels": {"pool": "user"}, "values": [{"time": 1.0, "value": 0.5}, {"time": 2.0, "value": null}]},
            {"labels": {}, "values": [{"time": 1.0, "value": 2.0}]},
        ]});
        let l = lines(&out).unwrap();
        assert_eq!(l[0].label, "pool=user");
        assert_eq!(l[0].points[0], (1.0, 0.5));
        assert!(l[0].points[1].1.is_nan());
        assert_eq!(l[1].label, "value");
    }

    #[test]
    fn a_failed_or_skipped_step_has_no_lines() {
        assert!(lines(&json!({"failed": true, "error": "no Prometheus"})).is_none());
        assert!(lines(&Value::Null).is_none());
        assert!(lines(&json!({"type": "matrix", "count": 0, "items": []})).is_none());
    }
}
