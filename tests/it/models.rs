//! `GET /v1/models`.

use crate::common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn lists_models_of_enabled_providers_with_their_provider_as_owner() {
    let gw = TestGateway::start(&openai_config(
        "http://127.0.0.1:9",
        r#"
[models.off-model]
provider = "off"
[providers.off]
type = "openai"
enabled = false
base_url = "http://127.0.0.1:9"
"#,
    ));
    let resp = client()
        .get(gw.url("/v1/models"))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"object": "list", "data": [
            {"id": "demo", "object": "model", "created": 0, "owned_by": "mock"},
            {"id": "gpt-4o", "object": "model", "created": 0, "owned_by": "openai"},
        ]})
    );
}
