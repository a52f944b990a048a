//! The 0.0.x REST "tracking" plane (docs/sdk-protocol.md, Part A): request payloads and responses.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A reference to a conversation or message by integer primary key, as the SDK sends it.
///
/// 0.0.44 sends an integer, `null`, or on message-linked attachments a *string*: the pk as
/// text, or the literal `"None"` when it did not know the pk. `"None"`, `""` and `null` all mean
/// "absent"; anything else that is not a positive integer is kept as [`PkRef::Invalid`] so the
/// validator can name the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkRef {
    /// A primary key.
    Pk(i64),
    /// A value that is not a key (negative, zero, or a non-numeric string).
    Invalid(String),
}

/// The schema of a [`PkRef`] field as the server reads it: a positive integer, the same as text,
/// or `"None"`, `""`, `"null"` and `null` for "absent". A value of any other shape is answered
/// with a 400 naming the field; the schema lists what the SDKs send.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for PkRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Integer).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
            )))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("The pk as text, or `None`, `null` or empty for absent.")),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some("A primary key: an integer, the same as text, or absent (`null`, `\"None\"`)."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for PkRef {}

/// Deserializes an optional [`PkRef`] leniently (see the type's docs).
pub fn de_pk_ref<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PkRef>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) if i > 0 => Some(PkRef::Pk(i)),
            _ => Some(PkRef::Invalid(n.to_string())),
        },
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() || t == "None" || t == "null" {
                None
            } else {
                match t.parse::<i64>() {
                    Ok(i) if i > 0 => Some(PkRef::Pk(i)),
                    _ => Some(PkRef::Invalid(s)),
                }
            }
        }
        Some(other) => Some(PkRef::Invalid(other.to_string())),
    })
}

/// `POST /api/conversations/`: the conversation upsert (A2.1).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConversationPayload {
    /// Event time (ISO 8601); absent means "when received".
    pub timestamp: Option<String>,
    /// The client's conversation id.
    pub conversation_id: String,
    /// End customer id.
    pub customer_id: Option<String>,
    /// End customer IP address.
    pub customer_ip_address: Option<String>,
    /// `desktop` | `tablet` | `mobile`.
    pub device: Option<String>,
    /// Channel (free text).
    pub source: Option<String>,
    /// Language tag.
    pub language: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Environment slug.
    pub environment: Option<String>,
    /// Free JSON object.
    pub metadata: Option<Value>,
    /// `false` from `initialize_conversation`, `true` from `get_or_create_conversation`.
    pub is_used: Option<bool>,
}

/// `POST /api/track/`: one message (A2.2).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
pub struct TrackPayload {
    /// Event time.
    pub timestamp: Option<String>,
    /// Message text.
    pub content: String,
    /// `end_user` | `agent` | `system`.
    pub sender: String,
    /// The client's conversation id (used when `conversation` is absent).
    pub conversation_id: Option<String>,
    /// Message metadata (object).
    pub metadata: Option<Value>,
    /// Conversation pk from the upsert.
    #[serde(default, deserialize_with = "de_pk_ref")]
    pub conversation: Option<PkRef>,
}

/// `POST /api/action_logs/`: one action / tool call (A2.3).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
pub struct ActionPayload {
    /// Event time.
    pub timestamp: Option<String>,
    /// Tool or action name.
    pub action_name: String,
    /// The client's conversation id.
    pub conversation_id: Option<String>,
    /// Conversation pk.
    #[serde(default, deserialize_with = "de_pk_ref")]
    pub conversation: Option<PkRef>,
    /// Metadata (object); token counts for `token_usage`.
    pub metadata: Option<Value>,
    /// Start time (ISO string).
    pub started_at: Option<String>,
    /// End time (ISO string).
    pub ended_at: Option<String>,
    /// Duration in milliseconds.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub duration_ms: Option<serde_json::Number>,
    /// Tools used (object).
    pub tools_used: Option<Value>,
    /// Tool response (a string, or any JSON kept as its text).
    pub response: Option<Value>,
    /// Error message; non-empty means the call failed.
    pub error_msg: Option<String>,
}

/// `POST /api/buttons/` (A2.4).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
pub struct ButtonPayload {
    /// Event time.
    pub timestamp: Option<String>,
    /// Event kind, e.g. `feedback`.
    pub button_event: String,
    /// Button label.
    pub label: String,
    /// Button value.
    pub value: String,
    /// The client's conversation id.
    pub conversation_id: Option<String>,
    /// Conversation pk.
    #[serde(default, deserialize_with = "de_pk_ref")]
    pub conversation: Option<PkRef>,
    /// Metadata (object).
    pub metadata: Option<Value>,
}

/// One file of a base64 JSON attachment upload.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
pub struct AttachmentFilePayload {
    /// File name.
    pub filename: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
    /// Base64 content.
    pub data: String,
}

/// `POST /api/attachments/` as JSON (shapes a and b of A2.5).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
pub struct AttachmentsPayload {
    /// Event time.
    pub timestamp: Option<String>,
    /// The files.
    pub attachments: Vec<AttachmentFilePayload>,
    /// Metadata (object).
    pub metadata: Option<Value>,
    /// `base64` (absent on message-linked uploads).
    pub mode: Option<String>,
    /// `end_user` | `agent`.
    pub sender: Option<String>,
    /// The client's conversation id (the string `"None"` on agent-message uploads).
    pub conversation_id: Option<String>,
    /// Conversation pk (int, numeric string or `"None"`).
    #[serde(default, deserialize_with = "de_pk_ref")]
    pub conversation: Option<PkRef>,
    /// The message pk the files belong to.
    #[serde(default, deserialize_with = "de_pk_ref")]
    pub message: Option<PkRef>,
}

/// `POST /api/conversation-feedbacks/` (A2.10).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
pub struct FeedbackPayload {
    /// `positive` | `neutral` | `negative`.
    pub sentiment: String,
    /// The client's conversation id (when the SDK was given a string).
    pub conversation_id: Option<String>,
    /// Conversation pk (when the SDK was given an int).
    #[serde(default, deserialize_with = "de_pk_ref")]
    pub conversation: Option<PkRef>,
    /// Free comment (≤ 5000 characters).
    pub comment: Option<String>,
    /// Metadata (object).
    pub metadata: Option<Value>,
}

/// `PATCH /api/conversations/{pk}/rename/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
pub struct RenamePayload {
    /// New name.
    pub name: String,
}

/// `POST /api/conversations/{pk}/mark/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
pub struct MarkPayload {
    /// Marked or not.
    pub is_marked: bool,
}

/// `PATCH /api/conversations/{pk}/update/`: any subset of the fields.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePayload {
    /// New name.
    pub name: Option<String>,
    /// Marked flag.
    pub is_marked: Option<bool>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Device.
    pub device: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Metadata (replaces the stored object).
    pub metadata: Option<Value>,
}

/// Geolocation of a conversation's IP address.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GeoLocationResponse {
    /// The address.
    pub ip_address: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Region / state.
    pub region: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
}

/// A conversation as the read API returns it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConversationResponse {
    /// Integer primary key.
    pub id: i64,
    /// The client's id.
    pub conversation_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer IP address (null when the server does not store addresses).
    pub customer_ip_address: Option<String>,
    /// Device.
    pub device: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Environment slug.
    pub environment: Option<String>,
    /// Metadata object.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::HashMap<String, Value>))]
    pub metadata: Value,
    /// A real interaction (not only a widget view).
    pub is_used: bool,
    /// Marked by an operator.
    pub is_marked: bool,
    /// Soft-deleted.
    pub is_deleted: bool,
    /// When it was deleted.
    pub deleted_at: Option<String>,
    /// Event time of the first payload.
    pub started_at: String,
    /// Explicit end, else the latest message/action/button time.
    pub ended_at: Option<String>,
    /// Row creation (server time).
    pub created_at: String,
    /// Last change (server time).
    pub updated_at: String,
    /// Number of messages (actions and buttons excluded).
    pub message_count: i64,
    /// Geolocation, when the address resolved.
    pub geo_location: Option<GeoLocationResponse>,
}

/// An action log as shown in a transcript.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionLogResponse {
    /// Action log id.
    pub id: i64,
    /// Action name.
    pub action_name: String,
    /// Start time.
    pub started_at: Option<String>,
    /// End time.
    pub ended_at: Option<String>,
    /// Duration in ms.
    pub duration_ms: Option<i64>,
    /// Tools used.
    pub tools_used: Value,
    /// Response text.
    pub response: Option<String>,
    /// Error message (`""` when none).
    pub error_message: String,
    /// Metadata.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::HashMap<String, Value>))]
    pub metadata: Value,
}

/// A button press as shown in a transcript.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ButtonResponse {
    /// Button id.
    pub id: i64,
    /// Event kind.
    pub button_event: String,
    /// Label.
    pub label: String,
    /// Value.
    pub value: String,
    /// Metadata.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::HashMap<String, Value>))]
    pub metadata: Value,
}

/// An attachment descriptor.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttachmentResponse {
    /// Attachment id.
    pub id: i64,
    /// `image`, `audio`, `video`, `document` or `file`, from the MIME type.
    #[serde(rename = "type")]
    pub kind: String,
    /// File name.
    pub filename: String,
    /// MIME type as uploaded.
    pub mime_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Download path (same auth as the API).
    pub file_url: String,
    /// Message the file belongs to, if any.
    pub message: Option<i64>,
    /// Conversation pk.
    pub conversation: i64,
    /// Sender of the upload.
    pub sender: Option<String>,
    /// Upload time (event time).
    pub timestamp: String,
}

/// A message in a transcript (actions and buttons appear as synthetic messages).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageResponse {
    /// Message id.
    pub id: i64,
    /// Conversation pk.
    pub conversation: i64,
    /// Event time.
    pub timestamp: String,
    /// Sender.
    pub sender: String,
    /// Text (`"Action <name> performed"` for actions).
    pub content: String,
    /// Set on action entries.
    pub action_name: Option<String>,
    /// Metadata.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::HashMap<String, Value>))]
    pub metadata: Value,
    /// Files linked to this message.
    pub attachments: Vec<AttachmentResponse>,
    /// The action log of an action entry.
    pub action_logs: Vec<ActionLogResponse>,
    /// The button of a button entry.
    pub button: Option<ButtonResponse>,
}

/// A feedback record.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeedbackResponse {
    /// Feedback id.
    pub id: i64,
    /// Conversation pk.
    pub conversation: i64,
    /// The client's conversation id.
    pub conversation_id: String,
    /// Sentiment.
    pub sentiment: String,
    /// `customer` (API key) or `platform` (dashboard).
    pub source: String,
    /// Comment.
    pub comment: Option<String>,
    /// Metadata.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::HashMap<String, Value>))]
    pub metadata: Value,
    /// When it was recorded.
    pub created_at: String,
}

/// `GET /api/conversations/{pk}/`: a conversation with its transcript.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConversationDetailResponse {
    /// The conversation fields.
    #[serde(flatten)]
    pub conversation: ConversationResponse,
    /// Messages, actions and buttons by event time, then arrival.
    pub messages: Vec<MessageResponse>,
    /// Feedback records, oldest first.
    pub feedbacks: Vec<FeedbackResponse>,
}

/// A group of attachments in `GET /api/conversations/{pk}/attachments/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttachmentGroupResponse {
    /// Message id, null for standalone uploads.
    pub message_id: Option<i64>,
    /// Sender.
    pub sender: Option<String>,
    /// Event time of the message (or of the upload).
    pub timestamp: String,
    /// Files.
    pub attachments: Vec<AttachmentResponse>,
}

/// `GET /api/conversations/{pk}/attachments/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConversationAttachmentsResponse {
    /// The client's id.
    pub conversation_id: String,
    /// Conversation pk.
    pub conversation: i64,
    /// Number of files.
    pub total_attachments: usize,
    /// Groups, oldest first.
    pub messages: Vec<AttachmentGroupResponse>,
}

/// The paginated envelope (DRF's four keys plus the three the hosted backend adds).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Page<T> {
    /// Total rows.
    pub count: i64,
    /// Next page URL or null.
    pub next: Option<String>,
    /// Previous page URL or null.
    pub previous: Option<String>,
    /// This page's rows.
    pub results: Vec<T>,
    /// Page size used.
    pub page_size: i64,
    /// Number of pages.
    pub total_pages: i64,
    /// This page's number (1-based).
    pub current_page: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pk_ref_accepts_the_shapes_the_sdk_sends() {
        let p: TrackPayload =
            serde_json::from_str(r#"{"content":"x","sender":"agent","conversation":"42"}"#).unwrap();
        assert_eq!(p.conversation, Some(PkRef::Pk(42)));
        let p: TrackPayload =
            serde_json::from_str(r#"{"content":"x","sender":"agent","conversation":"None"}"#).unwrap();
        assert_eq!(p.conversation, None);
        let p: TrackPayload =
            serde_json::from_str(r#"{"content":"x","sender":"agent","conversation":0}"#).unwrap();
        assert_eq!(p.conversation, Some(PkRef::Invalid("0".into())));
        let p: TrackPayload = serde_json::from_str(r#"{"content":"x","sender":"agent"}"#).unwrap();
        assert_eq!(p.conversation, None);
    }
}
