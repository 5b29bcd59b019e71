//! Reading a usage line (`logs <hub> <component> [--tail <n>] [--previous]`)
//! into the command's literal words and its argument slots.

/// One slot of a usage line, before types are attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Placeholder name (`n`), or the flag for switches.
    pub placeholder: String,
    pub flag: Option<String>,
    pub switch: bool,
    pub required: bool,
    pub variadic: bool,
}

/// The literal words and the slots; errors carry the character offset.
pub fn parse(usage: &str) -> Result<(Vec<String>, Vec<Slot>), (usize, String)> {
    let mut words = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    let mut items = split(usage)?;
    // An unbracketed `--flag <name>` is one item.
    let mut i = 0;
    while i + 1 < items.len() {
        if items[i].1.starts_with("--") && items[i + 1].1.starts_with('<') {
            let next = items.remove(i + 1).1;
            items[i].1 = format!("{} {next}", items[i].1);
        }
        i += 1;
    }
    for (offset, item) in items {
        let (optional, inner) = match item.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(inner) => (true, inner.trim().to_string()),
            None => (false, item.clone()),
        };
        let parts: Vec<&str> = inner.split_whitespace().collect();
        match parts.as_slice() {
            [flag, ph] if flag.starts_with("--") => {
                let flag = valid_name(&flag[2..]).map_err(|m| (offset, m))?;
                let ph = placeholder(ph).map_err(|m| (offset, m))?;
                slots.push(Slot { placeholder: ph.0, flag: Some(flag), switch: false, required: !optional, variadic: false });
            }
            [flag] if flag.starts_with("--") => {
                if !optional {
                    return Err((offset, format!("the switch {flag} must be optional: write [{flag}]")));
                }
                let flag = valid_name(&flag[2..]).map_err(|m| (offset, m))?;
                slots.push(Slot { placeholder: flag.clone(), flag: Some(flag), switch: true, required: false, variadic: false });
            }
            [ph] if ph.starts_with('<') => {
                let (name, variadic) = placeholder(ph).map_err(|m| (offset, m))?;
                if slots.iter().any(|s| s.flag.is_none() && s.variadic) {
                    return Err((offset, "nothing can follow a `<name>...` argument; put it last".into()));
                }
                if !optional && slots.iter().any(|s| s.flag.is_none() && !s.required) {
                    return Err((offset, format!("required <{name}> cannot follow an optional positional; reorder them")));
                }
                slots.push(Slot { placeholder: name, flag: None, switch: false, required: !optional, variadic });
            }
            [word] if !optional => {
                if !slots.is_empty() {
                    return Err((offset, format!("the literal word `{word}` must come before the arguments")));
                }
                words.push(valid_name(word).map_err(|m| (offset, m))?);
            }
            _ => return Err((offset, format!("cannot read `{item}`: expected a word, <name>, [<name>], --flag <name>, [--flag <name>] or [--flag]"))),
        }
    }
    if words.is_empty() {
        return Err((
            0,
            "a command starts with at least one literal word, e.g. `hub status <hub>`".into(),
        ));
    }
    Ok((words, slots))
}

/// Top-level items, keeping `[...]` groups whole, with their offsets.
fn split(usage: &str) -> Result<Vec<(usize, String)>, (usize, String)> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = None;
    let mut current = String::new();
    for (i, c) in usage.char_indices() {
        match c {
            '[' => {
                if depth > 0 {
                    return Err((i, "brackets cannot nest".into()));
                }
                depth += 1;
                start.get_or_insert(i);
                current.push(c);
            }
            ']' => {
                if depth == 0 {
                    return Err((i, "`]` without `[`".into()));
                }
                depth -= 1;
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if let Some(s) = start.take() {
                    out.push((s, std::mem::take(&mut current)));
                }
            }
            c => {
                start.get_or_insert(i);
                current.push(c);
            }
        }
    }
    if depth != 0 {
        return Err((usage.len(), "`[` is never closed".into()));
    }
    if let Some(s) = start {
        out.push((s, current));
    }
    Ok(out)
}

fn placeholder(p: &str) -> Result<(String, bool), String> {
    let (p, variadic) = match p.strip_suffix("...") {
        Some(p) => (p, true),
        None => (p, false),
    };
    let name = p
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .ok_or_else(|| format!("`{p}` is not a placeholder; write <name>"))?;
    Ok((valid_name(name)?, variadic))
}

fn valid_name(n: &str) -> Result<String, String> {
    let ok = !n.is_empty()
        && n.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(n.to_string())
    } else {
        Err(format!(
            "`{n}` is not a valid name: use lower-case letters, digits, - and _"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_slot() {
        let (words, slots) = parse("logs <hub> <component> [--tail <n>] [--previous]").unwrap();
        assert_eq!(words, vec!["logs"]);
        assert_eq!(slots.len(), 4);
        assert_eq!(slots[2].flag.as_deref(), Some("tail"));
        assert!(slots[3].switch);
        let (_, slots) = parse("help [<command>...]").unwrap();
        assert!(slots[0].variadic && !slots[0].required);
    }

    #[test]
    fn bad_usage_lines_say_where_and_why() {
        assert!(parse("<hub> status")
            .unwrap_err()
            .1
            .contains("must come before"));
        assert!(parse("<hub>")
            .unwrap_err()
            .1
            .contains("at least one literal"));
        assert!(parse("hub <hub> status")
            .unwrap_err()
            .1
            .contains("must come before"));
        assert!(parse("hub [--tail <n>")
            .unwrap_err()
            .1
            .contains("never closed"));
        assert!(parse("hub --force")
            .unwrap_err()
            .1
            .contains("must be optional"));
        assert!(parse("hub <Hub>")
            .unwrap_err()
            .1
            .contains("not a valid name"));
    }
}
