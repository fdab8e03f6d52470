//! `url` labels (SPEC 13): fetched by ordersync before anything else, over
//! http(s) only, bounded in size and time.

use std::time::Duration;

use super::{MAX_LABEL_BYTES, Problem};

/// A fetched label: its bytes and the `Content-Type` it came with.
#[derive(Debug)]
pub struct Fetched {
    /// The body.
    pub bytes: Vec<u8>,
    /// The response's `Content-Type`, if any.
    pub content_type: Option<String>,
}

/// GETs a label. A scheme other than http(s), a 4xx (but 408 and 429) or a
/// body over [`MAX_LABEL_BYTES`] is rejected; a timeout, a connection error
/// or a 5xx is tried again later.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<Fetched, Problem> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Problem::Reject(format!("the label url `{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Problem::Reject(format!(
            "the label url `{url}` is not http or https"
        )));
    }
    let work = async {
        let mut resp = client
            .get(parsed.clone())
            .send()
            .await
            .map_err(|e| Problem::Retry(format!("fetching the label from {url}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            let why = format!("fetching the label: {url} answered {}", status.as_u16());
            let retry = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
            return Err(if retry {
                Problem::Retry(why)
            } else {
                Problem::Reject(why)
            });
        }
        let too_big = || {
            Problem::Reject(format!(
                "the label at {url} is larger than {MAX_LABEL_BYTES} bytes"
            ))
        };
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_LABEL_BYTES as u64)
        {
            return Err(too_big());
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| Problem::Retry(format!("reading the label from {url}: {e}")))?
        {
            if bytes.len() + chunk.len() > MAX_LABEL_BYTES {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            return Err(Problem::Reject(format!("the label at {url} is empty")));
        }
        Ok(Fetched {
            bytes,
            content_type,
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(Problem::Retry(format!(
            "fetching the label from {url} timed out after {timeout:?}"
        ))),
    }
}
