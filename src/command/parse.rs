//! Matching a command line against the grammar and typing its arguments.

use std::collections::BTreeMap;

use super::tokenize::{tokenize, Token};
use super::{ArgSpec, ArgType, CommandSpec, Grammar, Invocation, Names, ParseError, Value};
use crate::jupyterhub::directory::{qualified, HubDirectory, HubLookupError};
use crate::jupyterhub::username::Username;

/// Parse `text` (see [`Grammar::parse`]).
pub fn parse(g: &Grammar, text: &str, names: &dyn Names) -> Result<Invocation, ParseError> {
    let tokens = tokenize(text).map_err(ParseError::Syntax)?;
    if tokens.is_empty() {
        return Err(ParseError::Empty);
    }
    let lower: Vec<String> = tokens.iter().map(|t| t.text.to_lowercase()).collect();
    let spec = g
        .commands
        .iter()
        .filter(|c| {
            let words: Vec<&str> = c.name.split(' ').collect();
            words.len() <= lower.len()
                && words.iter().zip(&lower).all(|(w, t)| *w == t)
                && tokens[..words.len()].iter().all(|t| !t.quoted)
        })
        .max_by_key(|c| c.name.split(' ').count())
        .ok_or_else(|| ParseError::Unknown {
            text: text.trim().to_string(),
            suggestions: suggest(g, text),
        })?;
    let rest = &tokens[spec.name.split(' ').count()..];
    let args = bind(spec, rest, names).map_err(|message| usage_error(spec, message))?;
    let mut inv = Invocation {
        command: spec.name.clone(),
        args,
        text: String::new(),
    };
    inv.text = inv.to_text(spec);
    Ok(inv)
}

fn usage_error(spec: &CommandSpec, message: String) -> ParseError {
    ParseError::Usage {
        command: spec.name.clone(),
        message,
        usage: spec.usage.clone(),
        examples: spec.examples.clone(),
    }
}

/// Assign words to the command's slots and type them.
fn bind(
    spec: &CommandSpec,
    rest: &[Token],
    names: &dyn Names,
) -> Result<BTreeMap<String, Value>, String> {
    let options: Vec<&ArgSpec> = spec.args.iter().filter(|a| a.flag.is_some()).collect();
    let positionals: Vec<&ArgSpec> = spec.args.iter().filter(|a| a.flag.is_none()).collect();
    let is_known_flag = |t: &Token| {
        t.flag()
            .is_some_and(|f| options.iter().any(|o| o.flag.as_deref() == Some(f)))
    };
    let mut args: BTreeMap<String, Value> = BTreeMap::new();
    let mut pos = 0;
    let mut i = 0;
    while i < rest.len() {
        let t = &rest[i];
        if let Some(flag) = t.flag() {
            let Some(opt) = options.iter().find(|o| o.flag.as_deref() == Some(flag)) else {
                let known: Vec<String> = options
                    .iter()
                    .filter_map(|o| o.flag.as_ref().map(|f| format!("--{f}")))
                    .collect();
                let hint = known
                    .iter()
                    .map(|k| (strsim::jaro_winkler(&format!("--{flag}"), k), k))
                    .filter(|(s, _)| *s > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, k)| format!(" Did you mean `{k}`?"))
                    .unwrap_or_default();
                return Err(if known.is_empty() {
                    format!("`{}` takes no options, but got `--{flag}`.", spec.name)
                } else {
                    format!(
                        "unknown option `--{flag}`.{hint} Options: {}.",
                        known.join(", ")
                    )
                });
            };
            i += 1;
            if opt.switch {
                args.insert(opt.name.clone(), Value::Bool(true));
                continue;
            }
            let words: Vec<&Token> = if matches!(opt.ty, ArgType::Text { .. }) {
                let n = rest[i..].iter().take_while(|t| !is_known_flag(t)).count();
                let taken = rest[i..i + n].iter().collect();
                i += n;
                taken
            } else if i < rest.len() && !is_known_flag(&rest[i]) {
                i += 1;
                vec![&rest[i - 1]]
            } else {
                vec![]
            };
            if words.is_empty() {
                return Err(format!(
                    "`--{flag}` needs a value: `--{flag} <{}>`.",
                    opt.placeholder
                ));
            }
            let joined = words
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let v = convert(opt, &joined, names).map_err(|m| format!("`--{flag}`: {m}"))?;
            if opt.repeated {
                match args
                    .entry(opt.name.clone())
                    .or_insert_with(|| Value::List(vec![]))
                {
                    Value::List(items) => items.push(v),
                    _ => unreachable!("repeated options are lists"),
                }
            } else if args.insert(opt.name.clone(), v).is_some() {
                return Err(format!("`--{flag}` is given twice; give it once."));
            }
            continue;
        }
        let Some(slot) = positionals.get(pos) else {
            return Err(format!(
                "unexpected `{}`: `{}` takes {} argument(s).",
                t.text,
                spec.name,
                positionals.len()
            ));
        };
        if matches!(slot.ty, ArgType::Text { .. }) || slot.variadic {
            let n = rest[i..].iter().take_while(|t| !is_known_flag(t)).count();
            let taken = &rest[i..i + n];
            i += n;
            let v = if slot.variadic && !matches!(slot.ty, ArgType::Text { .. }) {
                Value::List(
                    taken
                        .iter()
                        .map(|t| convert(slot, &t.text, names))
                        .collect::<Result<_, _>>()
                        .map_err(|m| format!("<{}>: {m}", slot.placeholder))?,
                )
            } else {
                let joined = taken
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                convert(slot, &joined, names).map_err(|m| format!("<{}>: {m}", slot.placeholder))?
            };
            args.insert(slot.name.clone(), v);
        } else {
            let v = convert(slot, &t.text, names)
                .map_err(|m| format!("<{}>: {m}", slot.placeholder))?;
            args.insert(slot.name.clone(), v);
            i += 1;
        }
        pos += 1;
    }
    for a in &spec.args {
        if args.contains_key(&a.name) {
            continue;
        }
        if a.switch {
            args.insert(a.name.clone(), Value::Bool(false));
        } else if let Some(d) = &a.default {
            args.insert(a.name.clone(), d.clone());
        } else if a.required {
            let what = match &a.flag {
                Some(f) => format!("`--{f} <{}>`", a.placeholder),
                None => format!("<{}>", a.placeholder),
            };
            return Err(format!("missing {what}."));
        }
    }
    Ok(args)
}

fn near<'a>(word: &str, candidates: &'a [String]) -> Option<&'a String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(s, _)| *s > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `hub` or `cluster/hub`, each part a Kubernetes name.
fn is_hub_word(s: &str) -> bool {
    match s.split_once('/') {
        Some((cluster, hub)) => is_k8s_name(cluster) && is_k8s_name(hub),
        None => is_k8s_name(s),
    }
}

/// The hub `word` names in `dir`, as its canonical name; else the text for
/// the person: the qualified choices of an ambiguous name, or "did you
/// mean" (offering `cluster/hub` where a short name is shared) and the known hubs.
pub fn hub_in(dir: &HubDirectory, word: &str) -> Result<String, String> {
    if dir.all().is_empty() {
        return Ok(word.to_string());
    }
    match dir.resolve(word) {
        Ok(h) => Ok(h.name.clone()),
        Err(e @ HubLookupError::Ambiguous { .. }) => Err(format!("{e}.")),
        Err(HubLookupError::Unknown(_)) => {
            let names = dir.names();
            let short = word.rsplit_once('/').map_or(word, |(_, n)| n);
            let by_short: Vec<String> = names
                .iter()
                .filter_map(|n| n.rsplit_once('/').map(|(_, b)| b.to_string()))
                .collect();
            let hint = if let Some(n) = near(word, &names) {
                format!(" Did you mean `{n}`?")
            } else if let Some(b) = near(short, &by_short) {
                let choices: Vec<String> = dir
                    .all()
                    .iter()
                    .filter(|h| h.name.rsplit_once('/').is_some_and(|(_, x)| x == b))
                    .map(qualified)
                    .collect();
                format!(" Did you mean one of {}?", choices.join(", "))
            } else {
                String::new()
            };
            Err(format!(
                "unknown hub `{word}`.{hint} Known hubs: {}.",
                names.join(", ")
            ))
        }
    }
}

/// A Kubernetes DNS subdomain: dot-separated DNS labels (lower-case
/// letters, digits and `-`, alphanumeric at both ends, at most 63), at most
/// 253 in all. So `..`, `a..b`, `a/b` and `%2e` never reach an API path.
pub(crate) fn is_k8s_name(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// One DNS label (RFC 1123), as Kubernetes checks namespaces and labels.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Type one word (or the joined text) for `arg`.
pub fn convert(arg: &ArgSpec, word: &str, names: &dyn Names) -> Result<Value, String> {
    let known = |kind: &str, list: Vec<String>, word: &str| -> Result<(), String> {
        if list.is_empty() || list.iter().any(|n| n == word) {
            return Ok(());
        }
        let hint = near(word, &list)
            .map(|n| format!(" Did you mean `{n}`?"))
            .unwrap_or_default();
        Err(format!(
            "unknown {kind} `{word}`.{hint} Known {kind}s: {}.",
            list.join(", ")
        ))
    };
    match &arg.ty {
        ArgType::Str { pattern } => {
            if let Some(p) = pattern {
                if !p.is_match(word) {
                    return Err(format!(
                        "`{word}` does not have the expected form ({}).",
                        p.as_str().trim_start_matches("^(?:").trim_end_matches(")$")
                    ));
                }
            }
            Ok(Value::Str(word.to_string()))
        }
        ArgType::Int { min, max } => {
            let n: i64 = word
                .parse()
                .map_err(|_| format!("`{word}` is not a whole number."))?;
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(format!(
                    "{n} is out of range ({}..{}).",
                    min.map(|m| m.to_string()).unwrap_or_default(),
                    max.map(|m| m.to_string()).unwrap_or_default()
                ));
            }
            Ok(Value::Int(n))
        }
        ArgType::Bool => match word {
            "true" | "yes" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!("`{word}` is not true or false.")),
        },
        ArgType::Duration => humantime::parse_duration(word)
            .map(Value::Duration)
            .map_err(|_| format!("`{word}` is not a duration; write e.g. 90s, 15m, 2h or 1d.")),
        ArgType::Enum { values } => {
            if values.iter().any(|v| v == word) {
                Ok(Value::Enum(word.to_string()))
            } else {
                let hint = near(word, values)
                    .map(|n| format!(" Did you mean `{n}`?"))
                    .unwrap_or_default();
                Err(format!(
                    "`{word}` is not one of {}.{hint}",
                    values.join(", ")
                ))
            }
        }
        ArgType::Text { max_len } => {
            if word.trim().is_empty() {
                return Err("the text is empty.".into());
            }
            if let Some(m) = max_len {
                if word.chars().count() > *m {
                    return Err(format!(
                        "the text is {} characters; at most {m}.",
                        word.chars().count()
                    ));
                }
            }
            Ok(Value::Text(word.to_string()))
        }
        ArgType::Hub => {
            if !is_hub_word(word) {
                return Err(format!(
                    "`{word}` is not a hub name; write a hub such as staging, or cluster/hub such as aws-us/staging."
                ));
            }
            Ok(Value::Hub(names.resolve_hub(word)?))
        }
        ArgType::Cluster => {
            known("cluster", names.clusters(), word)?;
            if !is_k8s_name(word) {
                return Err(format!("`{word}` is not a cluster name."));
            }
            Ok(Value::Cluster(word.to_string()))
        }
        ArgType::Node => {
            if !is_k8s_name(word) {
                return Err(format!(
                    "`{word}` is not a Kubernetes node name (lower-case letters, digits, - and .)."
                ));
            }
            Ok(Value::Node(word.to_string()))
        }
        ArgType::User => Username::new(word)
            .map(Value::User)
            .map_err(|e| format!("`{word}` is not a JupyterHub username: {e}.")),
        ArgType::Name => {
            if !is_k8s_name(word) {
                return Err(format!(
                    "`{word}` is not a Kubernetes name (lower-case letters, digits, - and ., at most 253 characters)."
                ));
            }
            Ok(Value::Str(word.to_string()))
        }
    }
}

/// "Did you mean" for an unknown command: names close to the first words.
pub fn suggest(g: &Grammar, text: &str) -> Vec<String> {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    let mut scored: Vec<(f64, String)> = Vec::new();
    for c in &g.commands {
        let n = c.name.split(' ').count();
        if words.len() < n.min(1) {
            continue;
        }
        let typed = words.iter().take(n).cloned().collect::<Vec<_>>().join(" ");
        let mut score = strsim::jaro_winkler(&typed, &c.name);
        if words
            .first()
            .is_some_and(|w| c.name.split(' ').next() == Some(w.as_str()))
            && n > 1
        {
            score = score.max(0.8);
        }
        if score > 0.78 {
            scored.push((score, c.name.clone()));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    // A clear winner is suggested alone.
    let best = scored.first().map(|s| s.0).unwrap_or(0.0);
    let cut = if best > 0.9 { best - 0.02 } else { 0.0 };
    scored
        .into_iter()
        .filter(|(s, _)| *s >= cut)
        .map(|(_, n)| n)
        .take(5)
        .collect()
}
