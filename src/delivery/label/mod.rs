//! Shipping labels (SPEC 13): what a `label` event's label is, what it becomes
//! and how it is named, as pure functions. The I/O sits beside them:
//! [`fetch`] reads `url` labels, [`chromium`] prints HTML to PDF, [`email`]
//! mails a label. The daemon (`daemon::delivery::labels`) runs them at delivery time and
//! keeps what it sent with the delivery, so a retry sends the same bytes.

pub mod chromium;
pub mod email;
pub mod fetch;

use base64::Engine as _;

use crate::rules::{Convert, Page};
use crate::value::{Str, Value};

/// The largest label accepted (inline after decoding, or fetched).
pub const MAX_LABEL_BYTES: usize = 10 * 1024 * 1024;

/// What a label is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A PDF document.
    Pdf,
    /// An HTML page, printed to PDF on request.
    Html,
    /// Zebra printer language, for thermal printers.
    Zpl,
}

impl Format {
    /// As written in `order.label.format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Html => "html",
            Format::Zpl => "zpl",
        }
    }

    /// Reads `order.label.format` (any case).
    pub fn parse(s: &str) -> Option<Format> {
        [Format::Pdf, Format::Html, Format::Zpl]
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The format a fetched label's `Content-Type` names, if any.
    pub fn from_content_type(ct: &str) -> Option<Format> {
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match ct.as_str() {
            "application/pdf" => Some(Format::Pdf),
            "text/html" | "application/xhtml+xml" => Some(Format::Html),
            "application/zpl" | "application/x-zpl" | "text/zpl" | "x-application/zpl" => {
                Some(Format::Zpl)
            }
            _ => None,
        }
    }

    /// The MIME type the label is sent with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Html => "text/html; charset=utf-8",
            Format::Zpl => "application/zpl",
        }
    }
}

/// Where a label's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Inline, decoded from `order.label.data`.
    Data(Vec<u8>),
    /// To be fetched from `order.label.url`.
    Url(String),
}

/// A `label` event's `order.label`, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    /// `format`, when given (a fetched label may say it by its `Content-Type`).
    pub format: Option<Format>,
    /// Its bytes, or where to get them.
    pub source: Source,
}

/// Why a label was not sent: to be tried again, or never.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// It may work later (a renderer that timed out, a label server down).
    Retry(String),
    /// It can never work (invalid base64, an unknown format): `rejected`.
    Reject(String),
}

/// The label as it is sent, and kept with its delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// What it is after conversion.
    pub format: Format,
    /// Its MIME type.
    pub content_type: String,
    /// `label-<order name or id>.<ext>`.
    pub filename: String,
    /// The bytes, exactly as sent.
    pub bytes: Vec<u8>,
}

/// Reads `order.label`: `None` when the order has none; `Err` with why when
/// it can never be read.
pub fn read(order: &Value) -> Result<Option<Incoming>, String> {
    let label = match order.get("label") {
        None | Some(Value::Null) => return Ok(None),
        Some(l @ Value::Object(_)) => l,
        Some(other) => {
            return Err(format!(
                "`order.label` must be an object, not {}",
                other.type_name()
            ));
        }
    };
    let text = |key: &str| -> Result<Option<&str>, String> {
        match label.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Text(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!(
                "`order.label.{key}` must be text, not {}",
                other.type_name()
            )),
        }
    };
    let format = match text("format")? {
        None => None,
        Some(f) => Some(Format::parse(f).ok_or_else(|| {
            format!("unknown label format `{f}`: a label is `pdf`, `html` or `zpl`")
        })?),
    };
    let source = match (text("data")?, text("url")?) {
        (Some(data), _) => Source::Data(decode(data)?),
        (None, Some(url)) => Source::Url(url.to_string()),
        (None, None) => return Err("`order.label` has neither `data` nor `url`".to_string()),
    };
    if format.is_none() && matches!(source, Source::Data(_)) {
        return Err("`order.label.format` is missing: say `pdf`, `html` or `zpl`".to_string());
    }
    Ok(Some(Incoming { format, source }))
}

/// Decodes `order.label.data`: standard base64, line breaks allowed.
pub fn decode(data: &str) -> Result<Vec<u8>, String> {
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| format!("`order.label.data` is not valid base64: {e}"))?;
    if bytes.is_empty() {
        return Err("`order.label.data` is empty".to_string());
    }
    if bytes.len() > MAX_LABEL_BYTES {
        return Err(format!(
            "the label is {} bytes, more than the {MAX_LABEL_BYTES} allowed",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// True when this label is printed to PDF before it is sent.
pub fn converts(format: Format, convert: Convert) -> bool {
    format == Format::Html && convert == Convert::Pdf
}

/// What Chromium is given: the label with, first thing in its head, a
/// Content-Security-Policy that lets it load nothing but inline and `data:`
/// content (the renderer's network is closed as well; this also keeps it off
/// `file:` URLs, which no proxy flag covers), and `@page { size; margin: 0 }`
/// unless the label sets its own `@page`.
pub fn for_printing(html: &[u8], page: Page) -> Vec<u8> {
    let mut head = String::from(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         img-src data:; style-src 'unsafe-inline' data:; font-src data:; \
         script-src 'unsafe-inline'\">",
    );
    if !sets_page(html) {
        head.push_str(&format!(
            "<style>@page {{ size: {}; margin: 0 }}</style>",
            page.css_size()
        ));
    }
    let at = doctype_end(html);
    let mut out = Vec::with_capacity(html.len() + head.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&html[at..]);
    out
}

/// True if the label has its own `@page` rule.
pub fn sets_page(html: &[u8]) -> bool {
    html.windows(5).any(|w| w.eq_ignore_ascii_case(b"@page"))
}

/// Where the document proper starts: after a leading BOM, blanks and
/// `<!doctype ...>`, so what is put before it keeps the page in standards mode.
fn doctype_end(html: &[u8]) -> usize {
    let mut i = 0;
    if html.starts_with(&[0xEF, 0xBB, 0xBF]) {
        i = 3;
    }
    while i < html.len() && html[i].is_ascii_whitespace() {
        i += 1;
    }
    let rest = &html[i..];
    if rest.len() >= 9
        && rest[..9].eq_ignore_ascii_case(b"<!doctype")
        && let Some(end) = rest.iter().position(|&b| b == b'>')
    {
        return i + end + 1;
    }
    i
}

/// Sets every page of a PDF to exactly `(width, height)` points. Chromium
/// rounds a CSS page size to its own grid (A6 comes out 298.08 x 420 pt, not
/// 297.64 x 419.53), so the page boxes are written again, as an incremental
/// update appended to the file: the original bytes stay as they are and the
/// new page objects and cross-reference section follow them (PDF 1.7, 7.5.6).
/// `Err` when the PDF is not laid out as Chromium writes it (a classic
/// `xref` table and `trailer`, page objects without streams).
pub fn set_page_size(pdf: &[u8], (width, height): (f64, f64)) -> Result<Vec<u8>, String> {
    use regex::bytes::Regex;
    let object = Regex::new(r"(?s)(?:^|[\r\n])(\d+) 0 obj\s*(<<.*?>>)\s*endobj")
        .map_err(|e| e.to_string())?;
    let page = Regex::new(r"/Type\s*/Page[^s]").map_err(|e| e.to_string())?;
    let boxes =
        Regex::new(r"/(?:Media|Crop|Bleed|Trim|Art)Box\s*\[[^\]]*\]").map_err(|e| e.to_string())?;
    let trailer = Regex::new(r"(?s)trailer\s*<<(.*?)>>\s*startxref\s*(\d+)\s*%%EOF\s*$")
        .map_err(|e| e.to_string())?;
    let num = |re: &str, text: &[u8]| -> Option<String> {
        let re = Regex::new(re).ok()?;
        let c = re.captures(text)?;
        Some(String::from_utf8_lossy(&c[1]).into_owned())
    };
    let t = trailer
        .captures(pdf)
        .ok_or("the PDF has no classic trailer")?;
    let dict = t.get(1).map_or(&b""[..], |m| m.as_bytes());
    let prev = String::from_utf8_lossy(&t[2]).into_owned();
    let size = num(r"/Size\s+(\d+)", dict).ok_or("the trailer has no /Size")?;
    let root = num(r"/Root\s+(\d+ \d+ R)", dict).ok_or("the trailer has no /Root")?;
    let info = num(r"/Info\s+(\d+ \d+ R)", dict);
    let media = format!("/MediaBox [0 0 {width:.3} {height:.3}]");
    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut offsets = Vec::new();
    for c in object.captures_iter(pdf) {
        let body = &c[2];
        if !page.is_match(body) {
            continue;
        }
        let id = String::from_utf8_lossy(&c[1]).into_owned();
        let stripped = boxes.replace_all(body, &b""[..]);
        // The new box goes right after `<<`.
        let mut new_body = b"<<".to_vec();
        new_body.extend_from_slice(media.as_bytes());
        new_body.extend_from_slice(&stripped[2..]);
        offsets.push((id.clone(), out.len()));
        out.extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        out.extend_from_slice(&new_body);
        out.extend_from_slice(b"\nendobj\n");
    }
    if offsets.is_empty() {
        return Err("the PDF has no page objects".to_string());
    }
    let xref = out.len();
    out.extend_from_slice(b"xref\n");
    for (id, at) in &offsets {
        out.extend_from_slice(format!("{id} 1\n{at:010} 00000 n \n").as_bytes());
    }
    let info = info.map(|i| format!(" /Info {i}")).unwrap_or_default();
    out.extend_from_slice(
        format!(
            "trailer\n<</Size {size} /Root {root}{info} /Prev {prev}>>\nstartxref\n{xref}\n%%EOF\n"
        )
        .as_bytes(),
    );
    Ok(out)
}

/// What the order is called in file names and subjects: its `name` (`#1001`),
/// else its `id`.
pub fn order_name(order: &Value) -> String {
    for key in ["name", "id"] {
        match order.get(key) {
            Some(Value::Text(s)) if !s.trim().is_empty() => return s.trim().to_string(),
            Some(n @ Value::Number(_)) => return n.to_string(),
            _ => {}
        }
    }
    "order".to_string()
}

/// `label-<order name or id>.<pdf|html|zpl>`, keeping only letters, digits,
/// `-`, `_` and `.` of the name (`#1001` -> `label-1001.pdf`).
pub fn filename(order: &Value, format: Format) -> String {
    let name: String = order_name(order)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_matches(|c| c == '_' || c == '.');
    let name = if name.is_empty() { "order" } else { name };
    format!("label-{name}.{}", format.as_str())
}

/// The tracking number, from `order.label.tracking_number`, else the last
/// shipment's.
pub fn tracking_number(order: &Value) -> Option<String> {
    let from_label = order
        .get_path("label.tracking_number")
        .and_then(Value::as_str);
    let from_shipment = || {
        order
            .get("shipments")?
            .as_list()?
            .iter()
            .rev()
            .find_map(|s| s.get("tracking_number")?.as_str())
    };
    from_label
        .or_else(from_shipment)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// `Shipping label <order name> <tracking number>` (SPEC 13).
pub fn subject(order: &Value) -> String {
    match tracking_number(order) {
        Some(t) => format!("Shipping label {} {t}", order_name(order)),
        None => format!("Shipping label {}", order_name(order)),
    }
}

/// The e-mail's text body.
pub fn email_text(order: &Value, kept: &Kept) -> String {
    let tracking = tracking_number(order).unwrap_or_else(|| "(none given)".to_string());
    format!(
        "The shipping label for order {} is attached ({}).\r\nTracking number: {tracking}\r\n\r\nSent by ordersync.\r\n",
        order_name(order),
        kept.filename
    )
}

/// The e-mail's `Message-ID`, from the delivery's `Idempotency-Key`: every
/// resend of one delivery carries the same id, so a mailbox (or a person) can
/// tell a resend after an unclear answer from a new label.
pub fn message_id(idempotency_key: &str) -> String {
    format!("<{idempotency_key}.label@ordersync>")
}

/// The order as the envelope carries it: `label.data` is the sent label in
/// base64 and `label.format` what it is now (`embed`), or `label.data` is
/// left out (`multipart`, where the label is its own part).
pub fn envelope_order(order: &Value, kept: &Kept, embed: bool) -> Value {
    let Some(Value::Object(entries)) = order.get("label") else {
        return order.clone();
    };
    let mut label: Vec<(Str, Value)> = entries
        .iter()
        .filter(|(k, _)| k.as_str() != "data" && k.as_str() != "format")
        .cloned()
        .collect();
    label.insert(0, (Str::new("format"), Value::text(kept.format.as_str())));
    if embed {
        let data = base64::engine::general_purpose::STANDARD.encode(&kept.bytes);
        label.insert(1, (Str::new("data"), Value::text(&data)));
    }
    let mut out = order.clone();
    out.set_path(&["label"], Value::object(label));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(json: &str) -> Value {
        Value::from_json(json).unwrap()
    }

    fn kept(format: Format, bytes: &[u8]) -> Kept {
        Kept {
            format,
            content_type: format.content_type().to_string(),
            filename: format!("label-1001.{}", format.as_str()),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn reads_inline_and_url_labels_and_says_why_not() {
        let o = order(r#"{"label": {"format": "HTML", "data": "PGI+\nMTwvYj4="}}"#);
        assert_eq!(
            read(&o).unwrap(),
            Some(Incoming {
                format: Some(Format::Html),
                source: Source::Data(b"<b>1</b>".to_vec())
            })
        );
        let o = order(r#"{"label": {"url": "https://labels.example/1.pdf"}}"#);
        assert_eq!(
            read(&o).unwrap().unwrap().source,
            Source::Url("https://labels.example/1.pdf".into())
        );
        assert_eq!(read(&order(r#"{"id": "1"}"#)).unwrap(), None);
        let why = |j: &str| read(&order(j)).unwrap_err();
        assert!(
            why(r#"{"label": {"format": "pdf", "data": "not base64!"}}"#)
                .starts_with("`order.label.data` is not valid base64: "),
        );
        assert_eq!(
            why(r#"{"label": {"format": "gif", "data": "AAAA"}}"#),
            "unknown label format `gif`: a label is `pdf`, `html` or `zpl`"
        );
        assert_eq!(
            why(r#"{"label": {"format": "pdf"}}"#),
            "`order.label` has neither `data` nor `url`"
        );
        assert_eq!(
            why(r#"{"label": {"data": "AAAA"}}"#),
            "`order.label.format` is missing: say `pdf`, `html` or `zpl`"
        );
        assert_eq!(
            why(r#"{"label": "AAAA"}"#),
            "`order.label` must be an object, not text"
        );
    }

    #[test]
    fn only_html_is_converted_and_only_when_asked() {
        assert!(converts(Format::Html, Convert::Pdf));
        assert!(!converts(Format::Html, Convert::None));
        assert!(!converts(Format::Pdf, Convert::Pdf));
        assert!(!converts(Format::Zpl, Convert::Pdf));
    }

    #[test]
    fn the_page_size_is_injected_after_the_doctype_unless_the_label_has_its_own() {
        let out = String::from_utf8(for_printing(
            b"<!DOCTYPE html><html><body>x</body></html>",
            Page::In4x6,
        ))
        .unwrap();
        assert!(out.starts_with("<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\""));
        assert!(out.contains("<style>@page { size: 4in 6in; margin: 0 }</style><html>"));
        let own = b"<style>@PAGE { size: A4 }</style>x";
        let out = String::from_utf8(for_printing(own, Page::Letter)).unwrap();
        assert!(!out.contains("8.5in"));
        assert!(out.ends_with("<style>@PAGE { size: A4 }</style>x"));
        assert_eq!(Page::A6.css_size(), "105mm 148mm");
        assert_eq!(Page::Mm100x150.css_size(), "100mm 150mm");
    }

    #[test]
    fn page_boxes_are_rewritten_as_an_incremental_update() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type /Pages /Kids [3 0 R] /Count 1>>\nendobj\n3 0 obj\n<</Type /Page\n/Resources <</ProcSet [/PDF]>>\n/MediaBox [0 0 298.07999 420]\n/Parent 2 0 R>>\nendobj\nxref\n0 4\n0000000000 65535 f \ntrailer\n<</Size 4\n/Root 1 0 R>>\nstartxref\n123\n%%EOF\n";
        let out = set_page_size(pdf, Page::A6.points()).unwrap();
        assert!(out.starts_with(pdf), "the original bytes stay");
        let added = String::from_utf8(out[pdf.len()..].to_vec()).unwrap();
        let at = pdf.len();
        assert_eq!(
            added,
            format!(
                "3 0 obj\n<</MediaBox [0 0 297.638 419.528]/Type /Page\n/Resources <</ProcSet [/PDF]>>\n\n/Parent 2 0 R>>\nendobj\nxref\n3 1\n{at:010} 00000 n \ntrailer\n<</Size 4 /Root 1 0 R /Prev 123>>\nstartxref\n{}\n%%EOF\n",
                at + 108
            )
        );
        assert!(set_page_size(b"%PDF-1.7 no trailer", (1.0, 1.0)).is_err());
    }

    #[test]
    fn names_subject_and_message_id() {
        let o =
            order(r##"{"id": "5001", "name": "#1001", "label": {"tracking_number": "1Z999"}}"##);
        assert_eq!(filename(&o, Format::Pdf), "label-1001.pdf");
        assert_eq!(
            filename(&order(r#"{"id": 5001}"#), Format::Zpl),
            "label-5001.zpl"
        );
        assert_eq!(
            filename(&order(r#"{"name": "../../etc/x y"}"#), Format::Html),
            "label-etc_x_y.html"
        );
        assert_eq!(subject(&o), "Shipping label #1001 1Z999");
        let shipped = order(r##"{"name": "#7", "shipments": [{"tracking_number": "T1"}]}"##);
        assert_eq!(subject(&shipped), "Shipping label #7 T1");
        assert_eq!(message_id("os-abc"), "<os-abc.label@ordersync>");
    }

    #[test]
    fn the_envelope_embeds_the_sent_label_or_leaves_it_out() {
        let o = order(
            r#"{"id": "5001", "total_price": 104.5, "label": {"format": "html", "data": "PGI+", "tracking_number": "1Z"}}"#,
        );
        let k = kept(Format::Pdf, b"%PDF-1.4");
        let embedded = envelope_order(&o, &k, true).to_json();
        assert_eq!(
            embedded,
            r#"{"id":"5001","total_price":104.5,"label":{"format":"pdf","data":"JVBERi0xLjQ=","tracking_number":"1Z"}}"#
        );
        let left_out = envelope_order(&o, &k, false).to_json();
        assert_eq!(
            left_out,
            r#"{"id":"5001","total_price":104.5,"label":{"format":"pdf","tracking_number":"1Z"}}"#
        );
    }
}
