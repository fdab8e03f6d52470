//! `send: email` (SPEC 13): one message with the label attached, over SMTP
//! (STARTTLS when the server offers it) or SMTPS, with lettre on rustls.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Kept, Problem};

/// One label e-mail.
pub struct Mail<'a> {
    /// The sender.
    pub from: &'a str,
    /// The recipient.
    pub to: &'a str,
    /// `Shipping label <order name> <tracking number>`.
    pub subject: &'a str,
    /// A short text.
    pub text: &'a str,
    /// From the delivery's `Idempotency-Key` ([`super::message_id`]).
    pub message_id: &'a str,
    /// The label.
    pub label: &'a Kept,
}

/// Builds the message; `Err` when it can never be built (a bad address).
pub fn message(m: &Mail) -> Result<Message, String> {
    let from = m
        .from
        .parse()
        .map_err(|e| format!("`email.from` `{}`: {e}", m.from))?;
    let to =
        m.to.parse()
            .map_err(|e| format!("`email.to` `{}`: {e}", m.to))?;
    let content_type = ContentType::parse(&m.label.content_type)
        .map_err(|e| format!("content type `{}`: {e}", m.label.content_type))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject)
        .message_id(Some(m.message_id.to_string()))
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(m.text.to_string()))
                .singlepart(
                    Attachment::new(m.label.filename.clone())
                        .body(m.label.bytes.clone(), content_type),
                ),
        )
        .map_err(|e| format!("cannot build the e-mail: {e}"))
}

/// The SMTP server's answer when it accepted the message, e.g. `250 queued`.
pub type Accepted = String;

/// Sends through `smtp_url` (`smtp://[user:password@]host[:port]` or
/// `smtps://`). Accepted is delivered; a 5xx is rejected; a 4xx, a timeout
/// or a connection error is tried again.
pub async fn send(smtp_url: &str, timeout: Duration, msg: Message) -> Result<Accepted, Problem> {
    let transport = transport(smtp_url, timeout).map_err(Problem::Reject)?;
    match transport.send(msg).await {
        Ok(r) => {
            let lines: Vec<&str> = r.message().collect();
            Ok(format!("{} {}", r.code(), lines.join(" "))
                .trim()
                .to_string())
        }
        Err(e) if e.is_permanent() => Err(Problem::Reject(format!(
            "the SMTP server refused the label: {e}"
        ))),
        Err(e) => Err(Problem::Retry(format!("sending the label by e-mail: {e}"))),
    }
}

/// The transport for an `smtp://` or `smtps://` URL.
fn transport(
    smtp_url: &str,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let url =
        reqwest::Url::parse(smtp_url).map_err(|e| format!("`email.smtp` is not a URL: {e}"))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("`email.smtp` has no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let tls = TlsParameters::new(host.clone()).map_err(|e| format!("TLS for {host}: {e}"))?;
    let (tls, port) = match url.scheme() {
        "smtps" => (Tls::Wrapper(tls), 465),
        "smtp" => (Tls::Opportunistic(tls), 25),
        other => {
            return Err(format!(
                "`email.smtp` must be smtp:// or smtps://, not {other}://"
            ));
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(url.port().unwrap_or(port))
        .tls(tls)
        .timeout(Some(timeout));
    if !url.username().is_empty() {
        b = b.credentials(Credentials::new(
            unescape(url.username()),
            unescape(url.password().unwrap_or("")),
        ));
    }
    Ok(b.build())
}

/// Percent-decoding of a URL's user or password.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::label::Format;

    #[test]
    fn credentials_are_percent_decoded() {
        assert_eq!(unescape("ops%40shop"), "ops@shop");
        assert_eq!(unescape("p%2Fw%"), "p/w%");
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn the_message_carries_subject_id_and_the_label() {
        let kept = Kept {
            format: Format::Pdf,
            content_type: "application/pdf".into(),
            filename: "label-1001.pdf".into(),
            bytes: b"%PDF-1.4 x".to_vec(),
        };
        let msg = message(&Mail {
            from: "ordersync@merchant.example",
            to: "labels@merchant.example",
            subject: "Shipping label #1001 1Z999",
            text: "attached",
            message_id: "<os-1.label@ordersync>",
            label: &kept,
        })
        .unwrap();
        let text = String::from_utf8(msg.formatted()).unwrap();
        assert!(
            text.contains("Subject: Shipping label #1001 1Z999\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Message-ID: <os-1.label@ordersync>\r\n"),
            "{text}"
        );
        assert!(text.contains("filename=\"label-1001.pdf\""), "{text}");
        assert!(text.contains("Content-Type: application/pdf"), "{text}");
        let bad = message(&Mail {
            from: "not an address",
            ..Mail {
                from: "",
                to: "labels@merchant.example",
                subject: "",
                text: "",
                message_id: "<x@y>",
                label: &kept,
            }
        });
        assert!(
            bad.unwrap_err()
                .starts_with("`email.from` `not an address`")
        );
    }

    #[test]
    fn only_smtp_and_smtps() {
        assert!(transport("smtp://127.0.0.1:2525", Duration::from_secs(1)).is_ok());
        assert!(transport("smtps://u:p@mail.example", Duration::from_secs(1)).is_ok());
        assert!(
            transport("http://mail.example", Duration::from_secs(1))
                .unwrap_err()
                .contains("must be smtp:// or smtps://")
        );
    }
}
