//! Renders the Helm chart in `deploy/helm/opsbot` without Helm (which this
//! machine cannot install): Go templates through `gtmpl`, plus the few Helm
//! functions the chart is allowed to use (`include`, `toYaml`, `nindent`,
//! `indent`, `quote`, `default`, `required`), each written to behave as
//! Helm's does. A chart that needs more than this subset fails to render
//! here, which keeps the chart plain enough for both.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use gtmpl::{Context, Func, FuncError, Template, Value as G};
use serde_json::{json, Value};

/// `deploy/helm/opsbot`.
pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/opsbot")
}

/// One template file's rendering, as `helm template` prints it after `# Source:`.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// e.g. `opsbot/templates/deployment.yaml`.
    pub source: String,
    pub text: String,
}

/// The chart's `values.yaml`, as JSON.
pub fn default_values() -> Value {
    yaml_file(&chart_dir().join("values.yaml"))
}

/// Every non-empty template of the chart rendered for release `name` in
/// `namespace`, with `overrides` merged over `values.yaml` as `-f` does, in
/// Helm's install order (by kind), like `helm template`; the first
/// template's error (a `required` value missing, say) otherwise.
pub fn render(name: &str, namespace: &str, overrides: &Value) -> Result<Vec<Rendered>, String> {
    let dir = chart_dir();
    let chart = yaml_file(&dir.join("Chart.yaml"));
    let mut values = default_values();
    merge(&mut values, overrides);
    let root = json!({
        "Values": values,
        "Release": {"Name": name, "Namespace": namespace, "Service": "Helm",
                    "IsInstall": true, "IsUpgrade": false, "Revision": 1},
        "Chart": {"Name": chart["name"], "Version": chart["version"],
                  "AppVersion": chart["appVersion"], "Description": chart["description"]},
    });
    let templates = dir.join("templates");
    let mut helpers = String::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&templates)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        if f.file_name().unwrap().to_str().unwrap().starts_with('_') {
            helpers.push_str(&std::fs::read_to_string(f).unwrap());
        }
    }
    HELPERS.with(|h| *h.borrow_mut() = helpers.clone());
    let mut out = Vec::new();
    for f in &files {
        let file = f.file_name().unwrap().to_str().unwrap().to_string();
        if file.starts_with('_') || !file.ends_with(".yaml") {
            continue;
        }
        let body = std::fs::read_to_string(f).unwrap();
        let text = execute(&helpers, &body, to_gtmpl(&root))
            .map_err(|e| format!("templates/{file}: {e}"))?;
        if text.trim().is_empty() {
            continue;
        }
        out.push(Rendered {
            source: format!("{}/templates/{file}", chart["name"].as_str().unwrap()),
            text: format!("{}\n", text.trim_matches('\n').trim_end()),
        });
    }
    out.sort_by_key(|r| install_rank(&r.text));
    Ok(out)
}

/// The renderings joined as `helm template` prints them.
pub fn to_stream(rendered: &[Rendered]) -> String {
    rendered
        .iter()
        .map(|r| format!("---\n# Source: {}\n{}", r.source, r.text))
        .collect()
}

/// Every YAML document of `text` as JSON (empty ones dropped).
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(d).unwrap();
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let v: serde_yaml::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    serde_json::to_value(v).unwrap()
}

/// Maps merge key by key; anything else in `over` replaces (Helm's `-f`).
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Helm's install order for the kinds this chart makes (`releaseutil.InstallOrder`).
fn install_rank(text: &str) -> usize {
    const ORDER: &[&str] = &[
        "Namespace",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
    ];
    let kind = documents(text)
        .first()
        .and_then(|d| d["kind"].as_str().map(str::to_string))
        .unwrap_or_default();
    // Unknown kinds (the ServiceMonitor) go last, as Helm puts them.
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

thread_local! {
    /// The chart's `_*.tpl` text, for `include` (a gtmpl function is a plain
    /// `fn` and cannot capture the template it runs in).
    static HELPERS: RefCell<String> = const { RefCell::new(String::new()) };
}

const FUNCS: &[(&str, Func)] = &[
    ("include", include),
    ("toYaml", to_yaml),
    ("nindent", nindent),
    ("indent", indent),
    ("quote", quote),
    ("default", default),
    ("required", required),
];

fn execute(helpers: &str, body: &str, dot: G) -> Result<String, String> {
    let mut t = Template::default();
    t.add_funcs(FUNCS);
    t.parse(format!("{helpers}{body}"))
        .map_err(|e| e.to_string())?;
    t.render(&Context::from(dot)).map_err(|e| e.to_string())
}

fn fail(msg: String) -> FuncError {
    FuncError::Generic(msg)
}

/// Argument `i` as Go's `%v` prints it; nothing for nil.
fn string_arg(args: &[G], i: usize) -> String {
    match args.get(i) {
        Some(G::String(s)) => s.clone(),
        Some(G::NoValue) | Some(G::Nil) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn count_arg(args: &[G], func: &str) -> Result<usize, FuncError> {
    match args.first() {
        Some(G::Number(n)) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| fail(format!("{func}: a count, not {n}"))),
        other => Err(fail(format!("{func}: a count first, not {other:?}"))),
    }
}

/// `include "name" ctx`: the named template rendered with `ctx`, as a string.
fn include(args: &[G]) -> Result<G, FuncError> {
    let name = string_arg(args, 0);
    let dot = args.get(1).cloned().unwrap_or(G::Nil);
    let helpers = HELPERS.with(|h| h.borrow().clone());
    execute(&helpers, &format!("{{{{template \"{name}\" .}}}}"), dot)
        .map(G::String)
        .map_err(|e| fail(format!("include {name}: {e}")))
}

/// `toYaml v`: YAML with sorted keys and no trailing newline, as Helm's.
fn to_yaml(args: &[G]) -> Result<G, FuncError> {
    let v = from_gtmpl(args.first().unwrap_or(&G::Nil));
    let text = serde_yaml::to_string(&v).map_err(|e| fail(format!("toYaml: {e}")))?;
    Ok(G::String(text.trim_end_matches('\n').to_string()))
}

/// `indent n s`: every line of `s` after `n` spaces.
fn indent(args: &[G]) -> Result<G, FuncError> {
    let pad = " ".repeat(count_arg(args, "indent")?);
    let s = string_arg(args, 1);
    Ok(G::String(format!(
        "{pad}{}",
        s.replace('\n', &format!("\n{pad}"))
    )))
}

/// `nindent n s`: a newline, then `indent n s`.
fn nindent(args: &[G]) -> Result<G, FuncError> {
    match indent(args)? {
        G::String(s) => Ok(G::String(format!("\n{s}"))),
        _ => unreachable!("indent returns a string"),
    }
}

/// `quote s`: a double-quoted string (Go's `%q`; JSON's escapes agree for
/// what a chart holds).
fn quote(args: &[G]) -> Result<G, FuncError> {
    let quoted: Vec<String> = args
        .iter()
        .filter(|a| !matches!(a, G::NoValue | G::Nil))
        .map(|a| {
            let s = match a {
                G::String(s) => s.clone(),
                other => other.to_string(),
            };
            serde_json::to_string(&s).unwrap()
        })
        .collect();
    Ok(G::String(quoted.join(" ")))
}

/// Helm's (sprig's) emptiness: nil, false, 0, "" and empty collections.
fn empty(v: &G) -> bool {
    match v {
        G::NoValue | G::Nil => true,
        G::Bool(b) => !b,
        G::String(s) => s.is_empty(),
        G::Array(a) => a.is_empty(),
        G::Map(m) | G::Object(m) => m.is_empty(),
        G::Number(n) => n.as_f64() == Some(0.0),
        G::Function(_) => false,
    }
}

/// `default d v`: `v`, or `d` when `v` is empty.
fn default(args: &[G]) -> Result<G, FuncError> {
    let d = args.first().cloned().unwrap_or(G::Nil);
    match args.get(1) {
        Some(v) if !empty(v) => Ok(v.clone()),
        _ => Ok(d),
    }
}

/// `required msg v`: `v`, or the render fails with `msg` when it is nil or "".
fn required(args: &[G]) -> Result<G, FuncError> {
    let msg = string_arg(args, 0);
    match args.get(1) {
        None | Some(G::NoValue) | Some(G::Nil) => Err(fail(msg)),
        Some(G::String(s)) if s.is_empty() => Err(fail(msg)),
        Some(v) => Ok(v.clone()),
    }
}

fn to_gtmpl(v: &Value) -> G {
    match v {
        Value::Null => G::Nil,
        Value::Bool(b) => G::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => G::from(u),
            (None, Some(i)) => G::from(i),
            _ => G::from(n.as_f64().unwrap()),
        },
        Value::String(s) => G::String(s.clone()),
        Value::Array(a) => G::Array(a.iter().map(to_gtmpl).collect()),
        Value::Object(o) => G::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_gtmpl(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn from_gtmpl(v: &G) -> Value {
    match v {
        G::NoValue | G::Nil | G::Function(_) => Value::Null,
        G::Bool(b) => json!(b),
        G::String(s) => json!(s),
        G::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => json!(u),
            (None, Some(i)) => json!(i),
            _ => json!(n.as_f64()),
        },
        G::Array(a) => Value::Array(a.iter().map(from_gtmpl).collect()),
        G::Map(m) | G::Object(m) => {
            let sorted: BTreeMap<&String, Value> =
                m.iter().map(|(k, v)| (k, from_gtmpl(v))).collect();
            serde_json::to_value(sorted).unwrap()
        }
    }
}
