//! The report as a `lettre` message: `multipart/alternative` (text, then `multipart/related`
//! HTML with its inline images), attachments after, the `Message-ID` of the send.

use agentsight_core::reports::OutgoingMail;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

/// Builds the message from `from` to `to` (one message to all: the report is the same for
/// every recipient, and one SMTP transaction takes it or not).
pub fn message(m: &OutgoingMail, from: Mailbox, to: &[Mailbox]) -> Result<Message, lettre::error::Error> {
    let mut b = Message::builder()
        .from(from)
        .subject(m.subject.clone())
        .message_id(Some(format!("<{}>", m.message_id)));
    for t in to {
        b = b.to(t.clone());
    }
    let ct = |mime: &str| ContentType::parse(mime).unwrap_or(ContentType::TEXT_PLAIN);
    let mut related = MultiPart::related().singlepart(SinglePart::html(m.html.clone()));
    for p in &m.inline {
        related =
            related.singlepart(Attachment::new_inline(p.id.clone()).body(p.bytes.clone(), ct(&p.mime_type)));
    }
    let alternative =
        MultiPart::alternative().singlepart(SinglePart::plain(m.text.clone())).multipart(related);
    let body = if m.attachments.is_empty() {
        alternative
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for a in &m.attachments {
            mixed =
                mixed.singlepart(Attachment::new(a.filename.clone()).body(a.bytes.clone(), ct(&a.mime_type)));
        }
        mixed
    };
    b.multipart(body)
}
