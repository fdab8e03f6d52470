//! Shipping labels at delivery time (SPEC 13): the label a delivery sends is
//! read from the decided order, fetched if it is a `url`, printed to PDF if
//! the destination asks, and kept in the store before the first attempt;
//! every later attempt sends what was kept.

use std::sync::Arc;

use crate::delivery::label::{self, Format, Kept, Problem, Source};
use crate::rules::Deliver;
use crate::store::{self, Job, Reader, Writer};
use crate::value::Value;

/// What a label delivery needs from the dispatcher.
pub(crate) struct Env<'a> {
    pub client: &'a reqwest::Client,
    pub reader: &'a Reader,
    pub writer: &'a Writer,
    pub renderer: Option<&'a Arc<label::chromium::Renderer>>,
}

/// The label this delivery sends: the one kept for it, else made now and
/// kept. `Ok(None)` when the order carries no label.
pub(crate) async fn prepare(
    env: &Env<'_>,
    job: &Job,
    deliver: &Deliver,
    order: &Value,
) -> Result<Option<Kept>, Problem> {
    let id = job.delivery_id;
    let stored = env
        .reader
        .label(id)
        .await
        .map_err(|e| Problem::Retry(format!("could not read the kept label: {e}")))?;
    if let Some(l) = stored {
        let format = Format::parse(&l.format).unwrap_or(Format::Pdf);
        return Ok(Some(Kept {
            format,
            content_type: l.content_type,
            filename: l.filename,
            bytes: l.bytes,
        }));
    }
    let Some(incoming) = label::read(order).map_err(Problem::Reject)? else {
        return Ok(None);
    };
    let (bytes, format) = match incoming.source {
        Source::Data(bytes) => (bytes, incoming.format),
        Source::Url(url) => {
            let got = label::fetch::fetch(env.client, &url, deliver.timeout).await?;
            let format = incoming.format.or_else(|| {
                got.content_type
                    .as_deref()
                    .and_then(Format::from_content_type)
            });
            (got.bytes, format)
        }
    };
    let Some(format) = format else {
        return Err(Problem::Reject(
            "the fetched label's format is unknown: give `order.label.format`".to_string(),
        ));
    };
    let (bytes, format) = if label::converts(format, deliver.label.convert) {
        let Some(renderer) = env.renderer else {
            return Err(Problem::Reject(
                "label conversion needs Chromium".to_string(),
            ));
        };
        let page = deliver.label.page;
        let html = label::for_printing(&bytes, page);
        let mut pdf = renderer
            .render(&html)
            .await
            .map_err(|e| Problem::Retry(e.to_string()))?;
        // Exactly the asked size, unless the label chose its own page.
        if !label::sets_page(&bytes) {
            match label::set_page_size(&pdf, page.points()) {
                Ok(exact) => pdf = exact,
                Err(e) => tracing::warn!(
                    delivery = id, error = %e,
                    "the PDF's page size could not be made exact; sent as Chromium printed it"
                ),
            }
        }
        (pdf, Format::Pdf)
    } else {
        (bytes, format)
    };
    let kept = Kept {
        format,
        content_type: format.content_type().to_string(),
        filename: label::filename(order, format),
        bytes,
    };
    env.writer
        .keep_label(
            id,
            store::Label {
                format: format.as_str().to_string(),
                content_type: kept.content_type.clone(),
                filename: kept.filename.clone(),
                bytes: kept.bytes.clone(),
            },
        )
        .await
        .map_err(|e| Problem::Retry(format!("could not keep the label before sending it: {e}")))?;
    Ok(Some(kept))
}
