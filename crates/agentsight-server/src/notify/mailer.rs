//! Sending one e-mail through the stored SMTP settings (lettre, tokio, rustls): STARTTLS
//! (`starttls`, required: a server that does not offer it fails the send), implicit TLS
//! (`tls`) or plain (`none`), with AUTH when a user name is set. The server's certificate is
//! checked against the system's CA store plus `--notify-ca-file`, unless
//! `--notify-insecure-tls`.

use std::time::Duration;

use agentsight_store::SmtpSettings;
use base64::Engine;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{DeliveryError, Email, TlsTrust};

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn send(smtp: &SmtpSettings, trust: &TlsTrust, email: &Email) -> Result<(), DeliveryError> {
    let message = build(&smtp.from, email)?;
    let transport = transport(smtp, trust)?;
    let fail = |e: &dyn std::fmt::Display| {
        DeliveryError::Transport(format!("SMTP {}:{}: {e}", smtp.host, smtp.port))
    };
    // lettre's timeout covers each read and write; this bounds the whole conversation.
    match tokio::time::timeout(SMTP_TIMEOUT + SMTP_TIMEOUT, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(fail(&chain(&e))),
        Err(_) => Err(fail(&format!("no answer within {} s", (SMTP_TIMEOUT + SMTP_TIMEOUT).as_secs()))),
    }
}

fn bad(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Message(e.to_string())
}

pub(super) fn build(from: &str, email: &Email) -> Result<Message, DeliveryError> {
    let from: Mailbox = from.parse().map_err(|e| bad(format!("from address: {e}")))?;
    let to: Mailbox = email.to.parse().map_err(|e| bad(format!("to address: {e}")))?;
    // Without one of its own, a random id in the sender's domain (lettre's would name this host).
    let id = match &email.message_id {
        Some(id) => format!("<{id}>"),
        None => format!("<{:032x}@{}>", rand::random::<u128>(), from.email.domain()),
    };
    let builder = Message::builder().from(from).to(to).subject(email.subject.clone()).message_id(Some(id));
    let part = |a: &super::MailAttachment| -> Result<(Vec<u8>, ContentType), DeliveryError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&a.base64)
            .map_err(|e| bad(format!("attachment {}: {e}", a.filename)))?;
        let ct = ContentType::parse(&a.content_type)
            .map_err(|e| bad(format!("attachment {}: {e}", a.filename)))?;
        Ok((bytes, ct))
    };
    let body = match &email.html {
        Some(html) if !email.inline.is_empty() => {
            // The HTML with the images it refers to as cid:, after its plain-text alternative.
            let mut related = MultiPart::related().singlepart(SinglePart::html(html.clone()));
            for p in &email.inline {
                let (bytes, ct) = part(p)?;
                related = related.singlepart(Attachment::new_inline(p.filename.clone()).body(bytes, ct));
            }
            MultiPart::alternative().singlepart(SinglePart::plain(email.text.clone())).multipart(related)
        }
        Some(html) => MultiPart::alternative_plain_html(email.text.clone(), html.clone()),
        None => MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone())),
    };
    let body = if email.attachments.is_empty() {
        body
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in &email.attachments {
            let (bytes, ct) = part(a)?;
            mixed = mixed.singlepart(Attachment::new(a.filename.clone()).body(bytes, ct));
        }
        mixed
    };
    builder.multipart(body).map_err(bad)
}

fn transport(
    smtp: &SmtpSettings,
    trust: &TlsTrust,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, DeliveryError> {
    let tls = || -> Result<TlsParameters, DeliveryError> {
        let mut p = TlsParameters::builder(smtp.host.clone());
        if let Some(pem) = &trust.ca_pem {
            p = p.add_root_certificate(
                Certificate::from_pem(pem).map_err(|e| DeliveryError::Transport(format!("CA file: {e}")))?,
            );
        }
        p.dangerous_accept_invalid_certs(trust.insecure)
            .build_rustls()
            .map_err(|e| DeliveryError::Transport(format!("TLS setup: {}", chain(&e))))
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .timeout(Some(SMTP_TIMEOUT));
    b = match smtp.security.as_str() {
        "starttls" => b.tls(Tls::Required(tls()?)),
        "tls" => b.tls(Tls::Wrapper(tls()?)),
        _ => b.tls(Tls::None),
    };
    if let Some(user) = &smtp.username {
        b = b.credentials(Credentials::new(user.clone(), smtp.password.clone().unwrap_or_default()));
    }
    Ok(b.build())
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
