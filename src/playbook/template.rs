//! Jinja templating for playbooks (minijinja, strict undefined).
//!
//! A string that is exactly one `{{ expression }}` renders to the
//! expression's *value* (a list stays a list, a number a number); any other
//! string containing `{{`/`{%` renders to text. The loader uses
//! [`references`] to check that templates only name params, earlier steps and
//! the loop variable.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, RwLock};

use minijinja::{Environment, Expression, Template, UndefinedBehavior};
use serde_json::Value;

/// The environment every playbook template renders in: one for the
/// process, so what is compiled in it can be kept (see [`Compiled`]).
pub fn env() -> &'static Environment<'static> {
    static ENV: LazyLock<Environment<'static>> = LazyLock::new(new_env);
    &ENV
}

fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(false);
    // `"10m" | seconds` → 600, so a duration parameter can be compared with an age.
    env.add_filter("seconds", |d: String| -> Result<u64, minijinja::Error> {
        humantime::parse_duration(d.trim())
            .map(|d| d.as_secs())
            .map_err(|e| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("'{d}' is not a duration ({e}); write e.g. 30s, 5m, 1h"),
                )
            })
    });
    // Inside a ``` block, cluster text (a log line) that is itself a fence
    // line would close the block and turn the rest into Markdown: defuse it.
    env.add_filter("in_code_block", |v: String| -> String { in_code_block(&v) });
    // `{{ user.name | segment }}`: one URL path segment, percent-encoded,
    // so a name cannot add segments or climb out of its place (`..`).
    env.add_filter("segment", |v: String| -> Result<String, minijinja::Error> {
        crate::urlpath::segment(&v)
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e))
    });
    env
}

/// `text` safe to put between ``` fence lines on every platform: a line
/// that would open or close a fence (``` or ~~~ after up to three spaces)
/// gets a zero-width space in front, so it shows as written and the block
/// stays one block.
pub fn in_code_block(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let t = line.trim_start_matches(' ');
        if line.len() - t.len() <= 3 && (t.starts_with("```") || t.starts_with("~~~")) {
            out.push('\u{200B}');
        }
        out.push_str(line);
    }
    out
}

/// Templates and expressions compiled once per source text and kept.
/// A pack's templates are a fixed set (its playbook files), and compiling
/// them again on every render was a twentieth of a run's CPU. The sources
/// are kept for the life of the process (a compiled template borrows its
/// text); past [`COMPILED_UP_TO`] sources (a pack reloaded very often) a
/// new one is compiled on each use instead, so memory stays bounded.
#[derive(Default)]
struct Compiled {
    templates: HashMap<&'static str, Template<'static, 'static>>,
    expressions: HashMap<&'static str, Arc<Expression<'static, 'static>>>,
}

/// How many sources [`Compiled`] keeps, of each sort.
const COMPILED_UP_TO: usize = 4096;

fn compiled() -> &'static RwLock<Compiled> {
    static COMPILED: LazyLock<RwLock<Compiled>> = LazyLock::new(Default::default);
    &COMPILED
}

/// `source` kept for the life of the process.
fn keep(source: &str) -> &'static str {
    Box::leak(source.to_owned().into_boxed_str())
}

/// Render the template `source` in [`env`], compiled once.
fn render_kept(source: &str, ctx: &minijinja::Value) -> Result<String, minijinja::Error> {
    let kept = compiled()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .templates
        .get(source)
        .cloned();
    let t = match kept {
        Some(t) => t,
        None => {
            let mut c = compiled().write().unwrap_or_else(|p| p.into_inner());
            if c.templates.len() >= COMPILED_UP_TO {
                drop(c);
                return env().render_str(source, ctx);
            }
            let text = keep(source);
            let t = env().template_from_str(text)?;
            c.templates.insert(text, t.clone());
            t
        }
    };
    t.render(ctx)
}

/// Evaluate the expression `source` in [`env`], compiled once.
fn eval_kept(source: &str, ctx: &minijinja::Value) -> Result<minijinja::Value, minijinja::Error> {
    let kept = compiled()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .expressions
        .get(source)
        .cloned();
    let e = match kept {
        Some(e) => e,
        None => {
            let mut c = compiled().write().unwrap_or_else(|p| p.into_inner());
            if c.expressions.len() >= COMPILED_UP_TO {
                drop(c);
                return env().compile_expression(source)?.eval(ctx);
            }
            let text = keep(source);
            let e = Arc::new(env().compile_expression(text)?);
            c.expressions.insert(text, e.clone());
            e
        }
    };
    e.eval(ctx)
}

/// Whether a string holds template syntax at all.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// The inner expression when `s` is exactly one `{{ expression }}`.
pub fn pure_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

/// A `when`/`foreach` field: `{{ x }}` or a bare expression.
pub fn expression_source(s: &str) -> &str {
    pure_expression(s).unwrap_or(s.trim())
}

fn describe(e: &minijinja::Error) -> String {
    let mut msg = e.to_string();
    if let Some(detail) = e.detail() {
        if !msg.contains(detail) {
            msg = format!("{msg}: {detail}");
        }
    }
    msg
}

/// Check syntax; `Ok(names)` are the dotted variable paths it reads
/// (`hub.cluster`, `steps.find.items`).
pub fn references(s: &str, expression: bool) -> Result<BTreeSet<String>, String> {
    let env = env();
    if expression {
        let e = env
            .compile_expression(expression_source(s))
            .map_err(|e| describe(&e))?;
        Ok(e.undeclared_variables(true).into_iter().collect())
    } else if let Some(inner) = pure_expression(s) {
        let e = env.compile_expression(inner).map_err(|e| describe(&e))?;
        Ok(e.undeclared_variables(true).into_iter().collect())
    } else if is_template(s) {
        let t = env.template_from_str(s).map_err(|e| describe(&e))?;
        Ok(t.undeclared_variables(true).into_iter().collect())
    } else {
        Ok(BTreeSet::new())
    }
}

/// Strict undefined for expressions too: minijinja's expression evaluation
/// hands back `undefined` for an unknown top-level name instead of failing.
fn defined(v: minijinja::Value, source: &str) -> Result<minijinja::Value, String> {
    if v.is_undefined() {
        Err(format!("undefined value in `{}`", source.trim()))
    } else {
        Ok(v)
    }
}

/// Evaluate an expression field to a JSON value.
pub fn eval(s: &str, ctx: &minijinja::Value) -> Result<Value, String> {
    let v = eval_kept(expression_source(s), ctx).map_err(|e| describe(&e))?;
    let v = defined(v, s)?;
    serde_json::to_value(&v).map_err(|e| e.to_string())
}

/// Evaluate a `when` field to a truth value.
pub fn truthy(s: &str, ctx: &minijinja::Value) -> Result<bool, String> {
    let v = eval_kept(expression_source(s), ctx).map_err(|e| describe(&e))?;
    defined(v, s).map(|v| v.is_true())
}

/// Render one string (value-preserving for a pure expression).
pub fn render_str(s: &str, ctx: &minijinja::Value) -> Result<Value, String> {
    if let Some(inner) = pure_expression(s) {
        let v = eval_kept(inner, ctx).map_err(|e| describe(&e))?;
        let v = defined(v, s)?;
        return serde_json::to_value(&v).map_err(|e| e.to_string());
    }
    if !is_template(s) {
        return Ok(Value::String(s.to_string()));
    }
    render_kept(s, ctx)
        .map(Value::String)
        .map_err(|e| describe(&e))
}

/// Render text (the `result` and `lock` templates).
pub fn render_text(s: &str, ctx: &minijinja::Value) -> Result<String, String> {
    render_kept(s, ctx).map_err(|e| describe(&e))
}

/// Render every string inside `v`; `on_error` may substitute a value for a
/// string that fails (the planner shows `<from step find>` there).
pub fn render_value(
    v: &Value,
    ctx: &minijinja::Value,
    on_error: &mut dyn FnMut(&str, String) -> Result<Value, String>,
) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => match render_str(s, ctx) {
            Ok(v) => v,
            Err(e) => on_error(s, e)?,
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render_value(i, ctx, on_error))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, i)| Ok((k.clone(), render_value(i, ctx, on_error)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// The template context as a minijinja value.
pub fn context(v: &Value) -> minijinja::Value {
    minijinja::Value::from_serialize(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fence_line_inside_a_code_block_cannot_close_it() {
        assert_eq!(
            super::in_code_block("ok\n```\n  ~~~x\n    ```indented"),
            "ok\n\u{200B}```\n\u{200B}  ~~~x\n    ```indented"
        );
        let out = super::render_text(
            "```\n{{ lines | join('\\n') | in_code_block }}\n```",
            &minijinja::Value::from_serialize(
                serde_json::json!({"lines": ["a", "```", "@here <b>"]}),
            ),
        )
        .unwrap();
        assert_eq!(out.matches("\n```").count(), 1, "{out}");
    }

    #[test]
    fn a_segment_is_percent_encoded_and_dot_segments_are_refused() {
        assert_eq!(
            crate::urlpath::segment("jo.doe@uni.org").unwrap(),
            "jo.doe%40uni.org"
        );
        assert_eq!(
            crate::urlpath::segment("a/b?c#d e").unwrap(),
            "a%2Fb%3Fc%23d%20e"
        );
        assert_eq!(crate::urlpath::segment("İ").unwrap(), "%C4%B0");
        for bad in ["", ".", ".."] {
            assert!(crate::urlpath::segment(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_url_template_may_interpolate_only_urls_and_segments() {
        assert!(
            crate::urlpath::unencoded_in_url("{{ hub.url }}/users/{{ user.name | segment }}")
                .is_empty()
        );
        assert_eq!(
            crate::urlpath::unencoded_in_url(
                "{{ base_url }}/users/{{ user.name }}/{{ x | lower }}"
            ),
            ["user.name", "x | lower"]
        );
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn a_pure_expression_keeps_its_type() {
        let ctx = context(&json!({"hubs": [{"name": "a"}], "n": 3}));
        assert_eq!(
            render_str("{{ hubs }}", &ctx).unwrap(),
            json!([{"name": "a"}])
        );
        assert_eq!(render_str(" {{ n }} ", &ctx).unwrap(), json!(3));
        assert_eq!(render_str("n={{ n }}", &ctx).unwrap(), json!("n=3"));
    }

    #[test]
    fn undefined_names_are_errors_not_empty_strings() {
        let ctx = context(&json!({"hub": {"name": "a"}}));
        assert!(render_str("x {{ hub.cluster }}", &ctx).is_err());
        assert!(render_str("{{ nope }}", &ctx).is_err());
    }

    #[test]
    fn references_report_dotted_paths() {
        let refs = references("{{ steps.find.items[0].name }} {{ hub.cluster }}", false).unwrap();
        assert!(refs.iter().any(|r| r.starts_with("steps.find")), "{refs:?}");
        assert!(refs.iter().any(|r| r.starts_with("hub")), "{refs:?}");
    }
}
