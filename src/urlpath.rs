//! Values going into URLs: one path segment each, percent-encoded, so a
//! name typed by a person can neither add segments nor climb out of its
//! place. Used by the `segment` template filter and the `http.get` check.

/// `value` as one URL path segment: every byte outside RFC 3986's
/// unreserved set percent-encoded; empty, `.` and `..` refused, since URL
/// parsers resolve them (encoded or not) to this or the parent segment.
pub fn segment(value: &str) -> Result<String, String> {
    if value.is_empty() || value == "." || value == ".." {
        return Err(format!(
            "'{value}' cannot be a URL path segment (it would name the segment above or none)"
        ));
    }
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// The `{{ … }}` interpolations of a URL template that are neither passed
/// through `segment` nor a URL themselves (a variable named `url` or
/// `*_url`, such as `hub.url`): each lets a value add path segments.
pub fn unencoded_in_url(template: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let expr = after[..end].trim();
        let last_filter = expr.rsplit('|').next().unwrap_or("").trim();
        let is_url_var = !expr.contains('|')
            && expr
                .rsplit('.')
                .next()
                .is_some_and(|n| n == "url" || n.ends_with("_url"));
        let encoded = expr.contains('|') && last_filter == "segment";
        if !(encoded || is_url_var) {
            bad.push(expr.to_string());
        }
        rest = &after[end + 2..];
    }
    bad
}
