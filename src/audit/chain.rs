//! The hash chain: the one canonical serialisation of a record and its
//! SHA-256, shared by every backend and by `verify`.
//!
//! A record's hash covers `[seq, run, at, kind, actor, data, prev_hash]`
//! written as a compact JSON array, where `at` is RFC 3339 UTC with
//! microseconds and `data` is canonical JSON (object keys sorted, no
//! whitespace). The stored `data` column holds exactly that canonical text,
//! so `verify` can re-hash a row without trusting any parser.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the very first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The current time at the precision the chain keeps (microseconds), so a
/// record read back hashes exactly as it was written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// `at` as stored and hashed: `2026-11-23T06:33:52.123456Z`.
pub fn format_at(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Canonical JSON: object keys sorted at every depth, no whitespace.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(k));
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// The SHA-256 (hex) of one record's canonical form. `data` must already be
/// canonical text (see [`canonical_json`]).
pub fn hash(
    seq: i64,
    run: i64,
    at: &str,
    kind: &str,
    actor: &str,
    data: &str,
    prev_hash: &str,
) -> String {
    let text = format!(
        "[{seq},{run},{},{},{},{data},{}]",
        json_string(at),
        json_string(kind),
        json_string(actor),
        json_string(prev_hash)
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = json!({"b": 1, "a": {"d": [1, {"z": 0, "y": "x"}], "c": null}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":null,"d":[1,{"y":"x","z":0}]},"b":1}"#
        );
    }

    #[test]
    fn hash_changes_with_every_field() {
        let base = hash(1, 1, "t", "note", "a", "{}", GENESIS);
        assert_ne!(base, hash(2, 1, "t", "note", "a", "{}", GENESIS));
        assert_ne!(base, hash(1, 2, "t", "note", "a", "{}", GENESIS));
        assert_ne!(base, hash(1, 1, "u", "note", "a", "{}", GENESIS));
        assert_ne!(base, hash(1, 1, "t", "step", "a", "{}", GENESIS));
        assert_ne!(base, hash(1, 1, "t", "note", "b", "{}", GENESIS));
        assert_ne!(base, hash(1, 1, "t", "note", "a", "[]", GENESIS));
        assert_ne!(base, hash(1, 1, "t", "note", "a", "{}", &"1".repeat(64)));
        assert_eq!(base.len(), 64);
    }
}
