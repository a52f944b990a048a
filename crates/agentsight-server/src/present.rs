//! Rows → response wire types.

use std::collections::HashMap;

use agentsight_core::time::to_iso;
use agentsight_core::tracking::attachment_kind;
use agentsight_protocol as wire;
use agentsight_store::{
    ActionLogRow, AttachmentRow, ButtonRow, ConversationRow, FeedbackRow, MessageKind, Transcript,
};
use serde_json::Value;

fn json_or_empty(s: Option<&str>) -> Value {
    s.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_else(|| Value::Object(Default::default()))
}

pub(crate) fn conversation(c: &ConversationRow) -> wire::ConversationResponse {
    let geo = (c.country.is_some() || c.city.is_some()).then(|| wire::GeoLocationResponse {
        ip_address: c.customer_ip_address.clone(),
        country: c.country.clone(),
        region: c.region.clone(),
        city: c.city.clone(),
        latitude: c.latitude,
        longitude: c.longitude,
    });
    wire::ConversationResponse {
        id: c.id,
        conversation_id: c.conversation_id.clone(),
        name: c.name.clone(),
        customer_id: c.customer_id.clone(),
        customer_ip_address: c.customer_ip_address.clone(),
        device: c.device.clone(),
        source: c.source.clone(),
        language: c.language.clone(),
        environment: c.environment.clone(),
        metadata: json_or_empty(c.metadata.as_deref()),
        is_used: c.is_used,
        is_marked: c.is_marked,
        is_deleted: c.is_deleted,
        deleted_at: c.deleted_at.map(to_iso),
        started_at: to_iso(c.started_at),
        ended_at: c.ended_at.map(to_iso),
        created_at: to_iso(c.created_at),
        updated_at: to_iso(c.updated_at),
        message_count: c.message_count,
        geo_location: geo,
    }
}

pub(crate) fn attachment(a: &AttachmentRow) -> wire::AttachmentResponse {
    wire::AttachmentResponse {
        id: a.id,
        kind: attachment_kind(&a.mime_type).to_string(),
        filename: a.filename.clone(),
        mime_type: a.mime_type.clone(),
        size_bytes: a.size_bytes,
        file_url: format!("/api/attachments/{}/download/", a.id),
        message: a.message_id,
        conversation: a.conversation_pk,
        sender: a.sender.clone(),
        timestamp: to_iso(a.ts),
    }
}

pub(crate) fn action_log(a: &ActionLogRow) -> wire::ActionLogResponse {
    wire::ActionLogResponse {
        id: a.id,
        action_name: a.action_name.clone(),
        started_at: a.started_at.map(to_iso),
        ended_at: a.ended_at.map(to_iso),
        duration_ms: a.duration_ms,
        tools_used: json_or_empty(a.tools_used.as_deref()),
        response: a.response.clone(),
        error_message: a.error_msg.clone().unwrap_or_default(),
        metadata: json_or_empty(Some(&a.metadata)),
    }
}

pub(crate) fn button(b: &ButtonRow) -> wire::ButtonResponse {
    wire::ButtonResponse {
        id: b.id,
        button_event: b.button_event.clone(),
        label: b.label.clone(),
        value: b.value.clone(),
        metadata: json_or_empty(Some(&b.metadata)),
    }
}

pub(crate) fn feedback(f: &FeedbackRow) -> wire::FeedbackResponse {
    wire::FeedbackResponse {
        id: f.id,
        conversation: f.conversation_pk,
        conversation_id: f.conversation_id.clone(),
        sentiment: f.sentiment.clone(),
        source: f.source.clone(),
        comment: f.comment.clone(),
        metadata: json_or_empty(Some(&f.metadata)),
        created_at: to_iso(f.created_at),
    }
}

pub(crate) fn transcript(t: &Transcript) -> wire::ConversationDetailResponse {
    let actions: HashMap<i64, &ActionLogRow> = t.actions.iter().map(|a| (a.message_id, a)).collect();
    let buttons: HashMap<i64, &ButtonRow> = t.buttons.iter().map(|b| (b.message_id, b)).collect();
    let mut files: HashMap<i64, Vec<wire::AttachmentResponse>> = HashMap::new();
    for a in &t.attachments {
        if let Some(m) = a.message_id {
            files.entry(m).or_default().push(attachment(a));
        }
    }
    let messages = t
        .messages
        .iter()
        .map(|m| {
            let action = (m.kind == MessageKind::Action).then(|| actions.get(&m.id)).flatten();
            wire::MessageResponse {
                id: m.id,
                conversation: m.conversation_pk,
                timestamp: to_iso(m.ts),
                sender: m.sender.clone(),
                content: m.content.clone(),
                action_name: action.map(|a| a.action_name.clone()),
                metadata: json_or_empty(Some(&m.metadata)),
                attachments: files.remove(&m.id).unwrap_or_default(),
                action_logs: action.map(|a| vec![action_log(a)]).unwrap_or_default(),
                button: (m.kind == MessageKind::Button)
                    .then(|| buttons.get(&m.id).map(|b| button(b)))
                    .flatten(),
            }
        })
        .collect();
    wire::ConversationDetailResponse {
        conversation: conversation(&t.conversation),
        messages,
        feedbacks: t.feedbacks.iter().map(feedback).collect(),
    }
}

/// The attachments of a conversation grouped by message (standalone uploads by themselves).
pub(crate) fn attachment_groups(t: &Transcript) -> wire::ConversationAttachmentsResponse {
    let by_id: HashMap<i64, (&str, i64)> =
        t.messages.iter().map(|m| (m.id, (m.sender.as_str(), m.ts))).collect();
    let mut groups: Vec<wire::AttachmentGroupResponse> = Vec::new();
    for a in &t.attachments {
        let same = groups.last_mut().filter(|g| a.message_id.is_some() && g.message_id == a.message_id);
        match same {
            Some(g) => g.attachments.push(attachment(a)),
            None => {
                let (sender, ts) = a
                    .message_id
                    .and_then(|m| by_id.get(&m))
                    .map(|(s, ts)| (Some(s.to_string()), *ts))
                    .unwrap_or((a.sender.clone(), a.ts));
                groups.push(wire::AttachmentGroupResponse {
                    message_id: a.message_id,
                    sender,
                    timestamp: to_iso(ts),
                    attachments: vec![attachment(a)],
                });
            }
        }
    }
    wire::ConversationAttachmentsResponse {
        conversation_id: t.conversation.conversation_id.clone(),
        conversation: t.conversation.id,
        total_attachments: t.attachments.len(),
        messages: groups,
    }
}
