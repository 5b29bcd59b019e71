//! A verified interaction, read with serenity's model.

use serenity::model::application::Interaction;

/// Parse with serenity's model. serenity 0.12.5 insists on
/// `attachment_size_limit`, which Discord added in 2025 and older payloads
/// (and Discord's own documentation examples) lack; it is filled with
/// Discord's default upload limit so such payloads are not refused.
pub fn parse(body: &[u8]) -> Result<Interaction, serde_json::Error> {
    let mut v: serde_json::Value = serde_json::from_slice(body)?;
    if let Some(obj) = v.as_object_mut() {
        let kind = obj.get("type").and_then(|t| t.as_u64()).unwrap_or(0);
        if kind >= 2 && !obj.contains_key("attachment_size_limit") {
            obj.insert(
                "attachment_size_limit".into(),
                serde_json::json!(10 * 1024 * 1024),
            );
        }
    }
    serde_json::from_value(v)
}
