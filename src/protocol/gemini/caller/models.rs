//! `GET /v1beta/models` entries in Gemini's `Model` shape.

use serde_json::{json, Value};

/// Input tokens `inputTokenLimit` reports: the gateway does not know a
/// model's window, so it reports Gemini's common 1,048,576.
pub const INPUT_TOKEN_LIMIT: u64 = 1_048_576;

/// One model: `name` is `models/<gateway name>`, the generate, stream and
/// count methods; `outputTokenLimit` is the model's `default_max_tokens`.
pub fn entry(name: &str, output_limit: u64) -> Value {
    json!({
        "name": format!("models/{name}"),
        "baseModelId": name,
        "version": "001",
        "displayName": name,
        "description": format!("{name}, served by the gateway"),
        "inputTokenLimit": INPUT_TOKEN_LIMIT,
        "outputTokenLimit": output_limit,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_named_models_slash() {
        let e = entry("gem", 4096);
        assert_eq!(e["name"], "models/gem");
        assert_eq!(e["outputTokenLimit"], 4096);
        assert_eq!(e["supportedGenerationMethods"][0], "generateContent");
    }
}
