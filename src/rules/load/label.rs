//! Pass 4: a destination's `deliver.label` (SPEC 13): conversion, page and how it is sent.

use super::ctx::{Ctx, Doc};
use super::read::{fields, list_names, text};
use super::schema::{LABEL_EMAIL_KEYS, LABEL_KEYS};
use crate::rules::yaml::Node;
use crate::rules::{Convert, Label, LabelEmail, LabelSend, Page, Secret};
use crate::suggest::did_you_mean;
/// Reads `deliver.label` (SPEC 13).
pub(super) fn label(cx: &mut Ctx, doc: &Doc, n: &Node, speaks: Option<&str>) -> Label {
    let mut out = Label {
        configured: true,
        ..Label::default()
    };
    let Some(f) = fields(cx, doc, n, "`label`", &LABEL_KEYS) else {
        return out;
    };
    if let Some(kind) = speaks {
        cx.node(
            doc,
            n,
            "a channel with a connector delivers through it: `deliver` takes no `label`",
            Some(format!(
                "remove `label`: the {kind} connector does not carry labels"
            )),
        );
    }
    let choice = |cx: &mut Ctx, key: &str, names: &[&str]| -> Option<usize> {
        let v = f.get(key)?;
        let s = text(cx, doc, v, &format!("`{key}`"))?;
        match names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            Some(i) => Some(i),
            None => {
                let hint = did_you_mean(s, names.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("`{key}` is one of {}", list_names(names)));
                cx.node(doc, v, format!("unknown `{key}` `{s}`"), Some(hint));
                None
            }
        }
    };
    if let Some(i) = choice(cx, "convert", &["none", "pdf"]) {
        out.convert = [Convert::None, Convert::Pdf][i];
    }
    let pages: Vec<&str> = Page::ALL.iter().map(|p| p.as_str()).collect();
    if let Some(i) = choice(cx, "page", &pages) {
        out.page = Page::ALL[i];
    }
    let sends = [LabelSend::Envelope, LabelSend::Multipart, LabelSend::Email];
    let send_names: Vec<&str> = sends.iter().map(|s| s.as_str()).collect();
    if let Some(i) = choice(cx, "send", &send_names) {
        out.send = sends[i];
    }
    if out.convert == Convert::Pdf
        && let Some(c) = f.get("convert")
    {
        // Kept, not reported: only the caller knows whether this host has Chromium.
        let before = cx.errors.len();
        cx.node(
            doc,
            c,
            "`convert: pdf` needs Chromium, which is not on this host: HTML labels for this destination will be rejected",
            Some("install Debian's `chromium`, or give its path with `--chromium PATH`".to_string()),
        );
        out.needs_chromium = cx.errors.split_off(before).pop();
    }
    match (f.get("email"), out.send) {
        (Some(e), send) => {
            if send != LabelSend::Email {
                cx.node(
                    doc,
                    e,
                    "`email` is only for `send: email`",
                    Some("add `send: email`, or remove `email`".to_string()),
                );
            }
            out.email = email(cx, doc, e);
        }
        (None, LabelSend::Email) => cx.node(
            doc,
            n,
            "`send: email` needs `email: { to, from, smtp }`",
            None,
        ),
        (None, _) => {}
    }
    out
}

/// `email: { to, from, smtp }` for `send: email`.
fn email(cx: &mut Ctx, doc: &Doc, e: &Node) -> Option<LabelEmail> {
    let ef = fields(cx, doc, e, "`email`", &LABEL_EMAIL_KEYS)?;
    let mut part = |key: &str| -> String {
        match ef.get(key) {
            Some(v) => text(cx, doc, v, &format!("`{key}`"))
                .unwrap_or_default()
                .to_string(),
            None => {
                cx.node(doc, e, format!("`email` needs `{key}`"), None);
                String::new()
            }
        }
    };
    let (to, from, smtp) = (part("to"), part("from"), part("smtp"));
    for (key, addr) in [("to", &to), ("from", &from)] {
        if let Some(v) = ef.get(key)
            && !addr.is_empty()
            && addr.parse::<lettre::Address>().is_err()
        {
            cx.node(doc, v, format!("`{key}` is not an e-mail address"), None);
        }
    }
    if let Some(v) = ef.get("smtp")
        && !smtp.is_empty()
        && !(smtp.starts_with("smtp://") || smtp.starts_with("smtps://"))
    {
        cx.node(
            doc,
            v,
            "`smtp` must be an `smtp://` or `smtps://` URL",
            Some("e.g. `smtp://user:${SMTP_PASSWORD}@mail.example:587` (STARTTLS when offered) or `smtps://...:465`".to_string()),
        );
    }
    Some(LabelEmail {
        to,
        from,
        smtp: Secret(smtp),
    })
}
