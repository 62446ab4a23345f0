//! Azure OpenAI: OpenAI's body and stream (see `openai.rs`), but the model is a
//! deployment in the URL, the key goes in an `api-key` header and every call
//! names an API version. Pure functions only.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::{
    openai, vendor_for, ChatRequest, DiscoveredModel, Endpoint, HttpRequest, Kind, LlmError,
};

/// The GA data-plane version with `stream_options.include_usage`.
pub(crate) const API_VERSION: &str = "2024-10-21";

/// The last GA version that still lists deployments: later versions dropped
/// the endpoint (deployments moved to the management plane).
const DEPLOYMENTS_API_VERSION: &str = "2022-12-01";

/// A deployment name is one path segment; Azure allows letters, digits, `-`,
/// `_` and `.`, everything else is escaped so a typo cannot change the path.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// `https://RES.openai.azure.com`, tolerating a pasted trailing `/openai`.
fn resource(ep: &Endpoint) -> &str {
    let base = ep.base();
    base.strip_suffix("/openai").unwrap_or(base)
}

fn key_header(ep: &Endpoint) -> Vec<(&'static str, String)> {
    ep.key()
        .map(|k| vec![("api-key", k.trim().to_string())])
        .unwrap_or_default()
}

/// POST `{base}/openai/deployments/{model}/chat/completions?api-version=…`.
pub(crate) fn build_request(ep: &Endpoint, req: &ChatRequest, stream: bool) -> HttpRequest {
    let mut headers = key_header(ep);
    if stream {
        headers.extend(super::stream_headers());
    }
    HttpRequest {
        kind: Kind::Azure,
        url: format!(
            "{}/openai/deployments/{}/chat/completions?api-version={API_VERSION}",
            resource(ep),
            utf8_percent_encode(req.model.trim(), SEGMENT)
        ),
        headers,
        body: Some(openai::chat_body(req, stream, true)),
    }
}

/// GET `{base}/openai/deployments?api-version=2022-12-01`.
pub(crate) fn deployments_request(ep: &Endpoint) -> HttpRequest {
    HttpRequest {
        kind: Kind::Azure,
        url: format!(
            "{}/openai/deployments?api-version={DEPLOYMENTS_API_VERSION}",
            resource(ep)
        ),
        headers: key_header(ep),
        body: None,
    }
}

/// `{"data": [{"id": "my-gpt4o", "model": "gpt-4o", …}]}`: the id is the
/// deployment name (what chat requests use); the vendor comes from the model.
pub(crate) fn parse_deployments(body: &str) -> Result<Vec<DiscoveredModel>, LlmError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| LlmError::Malformed(format!("the deployment list is not JSON ({e})")))?;
    let data = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::Malformed("the deployment list has no `data` array".into()))?;
    Ok(data
        .iter()
        .filter_map(|d| {
            let id = d.get("id")?.as_str()?.to_string();
            let model = d.get("model").and_then(Value::as_str).unwrap_or(&id);
            Some(DiscoveredModel {
                vendor: vendor_for(model, None, Kind::Azure),
                name: id.clone(),
                id,
                context_window: None,
            })
        })
        .collect())
}

/// Whether a failed deployments listing means the connection itself is
/// broken (report it) rather than that this resource no longer offers the
/// listing (answer an empty list; the admin enters deployments by hand).
pub(crate) fn listing_failure_is_fatal(e: &LlmError) -> bool {
    matches!(
        e,
        LlmError::Connect(_)
            | LlmError::Timeout
            | LlmError::Cancelled
            | LlmError::Status {
                status: 401 | 403,
                ..
            }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ChatMessage, ChatRole};
    use serde_json::json;

    #[test]
    fn the_deployment_goes_in_the_path_and_the_key_in_api_key() {
        let ep = Endpoint::new(
            Kind::Azure,
            "https://res.openai.azure.com/openai/",
            Some("azkey".into()),
        );
        let req = ChatRequest {
            model: "gpt-4o prod".into(),
            messages: vec![ChatMessage::new(ChatRole::User, "hi")],
            max_tokens: Some(10),
        };
        let http = build_request(&ep, &req, true);
        assert_eq!(
            http.url,
            "https://res.openai.azure.com/openai/deployments/gpt-4o%20prod/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(http.header("api-key"), Some("azkey"));
        assert_eq!(http.header("authorization"), None);
        let body = http.body.unwrap();
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert_eq!(body["max_completion_tokens"], json!(10));
    }

    #[test]
    fn deployments_are_listed_with_their_model_vendor() {
        let ep = Endpoint::new(
            Kind::Azure,
            "https://res.openai.azure.com",
            Some("k".into()),
        );
        assert_eq!(
            deployments_request(&ep).url,
            "https://res.openai.azure.com/openai/deployments?api-version=2022-12-01"
        );
        let body = r#"{"object":"list","data":[{"id":"prod-4o","model":"gpt-4o","status":"succeeded"},{"id":"llama","model":"Meta-Llama-3-70B"}]}"#;
        let models = parse_deployments(body).unwrap();
        assert_eq!(models[0].id, "prod-4o");
        assert_eq!(models[0].name, "prod-4o");
        assert_eq!(models[0].vendor, "OpenAI");
        assert_eq!(models[1].vendor, "Meta");
    }

    #[test]
    fn only_an_unreachable_host_or_a_rejected_key_fails_the_listing() {
        let status = |status| LlmError::Status {
            status,
            message: String::new(),
        };
        assert!(listing_failure_is_fatal(&status(401)));
        assert!(listing_failure_is_fatal(&LlmError::Connect(
            "refused".into()
        )));
        assert!(!listing_failure_is_fatal(&status(404)));
        assert!(!listing_failure_is_fatal(&status(400)));
        assert!(!listing_failure_is_fatal(&LlmError::Malformed("x".into())));
    }
}
