//! Wire types of the dashboard API (`docs/dashboard-api.md`): sign-in, settings, share links,
//! the live feed.

use serde::{Deserialize, Deserializer, Serialize};

/// Reads a present field as `Some(value)` (`Some(None)` for `null`); with `#[serde(default)]`
/// an absent field stays `None`, so "keep", "clear" and "set" differ.
fn double<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /api/auth/login/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginPayload {
    /// E-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /api/auth/setup/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupPayload {
    /// The one-time token of the setup link.
    pub token: String,
    /// E-mail of the first admin.
    pub email: String,
    /// Their password.
    pub password: String,
}

/// `POST /api/auth/password/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPayload {
    /// The password now.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

/// A dashboard user.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserResponse {
    /// Id.
    pub id: i64,
    /// E-mail.
    pub email: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// Assigned agents (what a viewer sees).
    pub agents: Vec<i64>,
    /// Creation time.
    pub created_at: String,
}

/// The answer of login, setup and `GET /api/auth/me/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SessionResponse))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeResponse {
    /// The user.
    pub user: UserResponse,
    /// The header value `X-CSRF-Token` of mutating requests.
    pub csrf_token: String,
}

/// `GET /api/auth/state/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthStateResponse {
    /// True while no admin exists.
    pub needs_setup: bool,
}

/// An agent's white-label settings.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BrandingResponse {
    /// Shown instead of the agent's name.
    pub display_name: Option<String>,
    /// `#rrggbb`.
    pub accent_color: Option<String>,
    /// Where the logo is, if there is one.
    pub logo_url: Option<String>,
}

/// An agent as the dashboard sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentResponse {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: String,
    /// Environment slugs.
    pub environments: Vec<String>,
    /// Action names counted as human escalation.
    pub escalation_tools: Vec<String>,
    /// True when that is the default list.
    pub escalation_tools_default: bool,
    /// White-label settings.
    pub branding: BrandingResponse,
    /// Days a conversation is kept after its last event; `null`: kept for ever.
    pub retention_days: Option<u32>,
}

/// `POST /api/dash/agents/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAgentPayload {
    /// Unique name.
    pub name: String,
}

/// `branding` of `PATCH /api/dash/agents/{id}/`: each key optional, `null` clears it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingPayload {
    /// Display name.
    #[serde(default, deserialize_with = "double")]
    pub display_name: Option<Option<String>>,
    /// Accent colour.
    #[serde(default, deserialize_with = "double")]
    pub accent_color: Option<Option<String>>,
    /// Logo as a `data:` URL.
    #[serde(default, deserialize_with = "double")]
    pub logo: Option<Option<String>>,
}

/// `PATCH /api/dash/agents/{id}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchAgentPayload {
    /// New name.
    pub name: Option<String>,
    /// Escalation tool names; `null` restores the default list.
    #[serde(default, deserialize_with = "double")]
    pub escalation_tools: Option<Option<Vec<String>>>,
    /// Branding changes.
    pub branding: Option<BrandingPayload>,
    /// Retention in days (1 to 36,500); `null` keeps conversations for ever.
    #[serde(default, deserialize_with = "double")]
    pub retention_days: Option<Option<i64>>,
}

/// What a removal removed: the answer of `DELETE /api/customers/{customer_id}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErasedResponse {
    /// Conversations removed.
    pub conversations: u64,
    /// Messages removed.
    pub messages: u64,
    /// Attachment files removed.
    pub attachments: u64,
}

/// One record of the audit log of removals (`GET /api/dash/erasures/`): no personal data.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErasureResponse {
    /// Id.
    pub id: i64,
    /// When.
    pub at: String,
    /// The agent.
    pub agent: i64,
    /// `retention` or `erase`.
    pub kind: String,
    /// Who: `user:<id>`, `key:<id>`, `cli` or `retention`.
    pub actor: String,
    /// Conversations removed.
    pub conversations: u64,
    /// Messages removed.
    pub messages: u64,
}

/// An API key without its secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyResponse {
    /// Id.
    pub id: i64,
    /// Non-secret prefix.
    pub prefix: String,
    /// `write` or `read`.
    pub role: String,
    /// Creation time.
    pub created_at: String,
    /// Revocation time.
    pub revoked_at: Option<String>,
    /// The secret: only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `POST /api/dash/agents/{id}/keys/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyPayload {
    /// `write` (default) or `read`.
    pub role: Option<String>,
}

/// `POST /api/dash/users/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserPayload {
    /// E-mail.
    pub email: String,
    /// Initial password.
    pub password: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// Assigned agents.
    #[serde(default)]
    pub agents: Vec<i64>,
}

/// `PATCH /api/dash/users/{id}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchUserPayload {
    /// New role.
    pub role: Option<String>,
    /// New assigned agents.
    pub agents: Option<Vec<i64>>,
    /// New password.
    pub password: Option<String>,
}

/// A share link.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareResponse {
    /// Id.
    pub id: i64,
    /// The agent it shows.
    pub agent_id: i64,
    /// Label.
    pub label: Option<String>,
    /// Non-secret prefix of the token.
    pub token_prefix: String,
    /// Creation time.
    pub created_at: String,
    /// Expiry.
    pub expires_at: Option<String>,
    /// Revocation time.
    pub revoked_at: Option<String>,
    /// The token: only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `/share/<token>`: only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `POST /api/dash/agents/{id}/reports/` (every field) and `PATCH /api/dash/reports/{id}/`
/// (the fields it changes): a scheduled client report (`docs/reports.md`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSchedulePayload {
    /// `weekly` (default) or `monthly`.
    pub cadence: Option<String>,
    /// Weekly: `monday` … `sunday` (default `monday`).
    pub weekday: Option<String>,
    /// Monthly: 1–31, the month's last day when it is shorter (default 1).
    pub day_of_month: Option<i64>,
    /// The local hour of the send, 0–23 (default 8).
    pub hour: Option<i64>,
    /// IANA time zone of the hour and of the reported days (default `UTC`).
    pub time_zone: Option<String>,
    /// 1 to 20 e-mail addresses (required on create).
    pub recipients: Option<Vec<String>>,
    /// On or off (default on).
    pub enabled: Option<bool>,
}

/// A report schedule.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportScheduleResponse {
    /// Id.
    pub id: i64,
    /// The agent it reports on.
    pub agent_id: i64,
    /// `weekly` or `monthly`.
    pub cadence: String,
    /// Weekly: the weekday (`monday` … `sunday`).
    pub weekday: Option<String>,
    /// Monthly: the day of the month.
    pub day_of_month: Option<u32>,
    /// Local hour of the send.
    pub hour: u32,
    /// IANA time zone.
    pub time_zone: String,
    /// Addresses.
    pub recipients: Vec<String>,
    /// On or off.
    pub enabled: bool,
    /// The share link the mails link to.
    pub share_id: Option<i64>,
    /// `/share/<token>` while that link works (revoked or expired: `null`, and the mails
    /// carry no link).
    pub share_url: Option<String>,
    /// The next scheduled send (ISO 8601, UTC), whether or not it is on.
    pub next_send_at: String,
    /// The period that send reports (`2026-W49`, `2026-11`).
    pub next_period: String,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// One recorded send of a schedule (`GET /api/dash/reports/{id}/sends/`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportSendResponse {
    /// The period's key (`2026-W49`, `2026-11`).
    pub period: String,
    /// The reported days, as the mail names them.
    pub period_label: String,
    /// `sending`, `sent` or `failed`.
    pub state: String,
    /// When the mailer accepted it.
    pub sent_at: Option<String>,
    /// When the last attempt was taken (sending or failed).
    pub attempted_at: Option<String>,
    /// Attempts so far (sending or failed).
    pub attempts: Option<u32>,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// `POST /api/dash/reports/{id}/test/`: where the test goes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportTestPayload {
    /// One address; without it, the schedule's recipients.
    #[serde(default)]
    pub to: Option<String>,
}

/// `POST /api/dash/reports/{id}/preview/`: the report of one period as the mail would show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportPreviewResponse {
    /// The period's key.
    pub period: String,
    /// Its first day.
    pub from: String,
    /// Its last day.
    pub to: String,
    /// The zone of its days.
    pub time_zone: String,
    /// The mail's subject.
    pub subject: String,
    /// The HTML body with its images inline as `data:` URIs (for an `iframe` `srcdoc`).
    pub html: String,
    /// The plain-text alternative.
    pub text: String,
}

/// `POST /api/dash/agents/{id}/shares/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSharePayload {
    /// Label.
    pub label: Option<String>,
    /// Expiry (ISO 8601), or none.
    pub expires_at: Option<String>,
}

/// The agent a share link shows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SharedAgent {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Environment slugs (for the environment control).
    pub environments: Vec<String>,
}

/// `GET /api/share/info/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareInfoResponse {
    /// The agent.
    pub agent: SharedAgent,
    /// Its branding (`logo_url` carries the share token).
    pub branding: BrandingResponse,
    /// When the link stops working.
    pub expires_at: Option<String>,
}

/// The data of an `update` event of the live feed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LiveUpdate {
    /// The agent.
    pub agent_id: i64,
    /// When the server sent it.
    pub at: String,
    /// Committed writes since the previous update.
    pub writes: u64,
    /// Tracked messages among them.
    pub messages: u64,
    /// Conversation upserts among them.
    pub conversations: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_null_and_set_fields_differ() {
        let p: PatchAgentPayload = serde_json::from_str(r#"{"escalation_tools": null}"#).unwrap();
        assert_eq!(p.escalation_tools, Some(None));
        let p: PatchAgentPayload = serde_json::from_str(r#"{"branding": {"logo": null}}"#).unwrap();
        let b = p.branding.unwrap();
        assert_eq!((b.logo, b.display_name), (Some(None), None));
        assert!(serde_json::from_str::<PatchAgentPayload>(r#"{"nme": "x"}"#).is_err());
    }
}
