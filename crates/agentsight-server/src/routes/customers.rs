//! `DELETE /api/customers/{customer_id}/`: a customer's erase (GDPR art. 17). Every
//! conversation of that customer of the key's agent goes, with everything of theirs and their
//! attachment files; the audit log keeps who asked and how much went (not the customer's id).
//! Repeating it removes nothing more and answers zeros.

use agentsight_protocol::dashboard as wire;
use agentsight_store::{EraseSelector, ErasureKind};
use axum::Json;
use axum::extract::{Path, State};

use crate::app::{AppState, Store};
use crate::auth::{Via, WriteAccess};
use crate::error::ApiError;

/// Who asked, as the audit log names them: a key by id, a user by id.
pub(crate) fn actor(via: &Via) -> String {
    match via {
        Via::Key(k) => format!("key:{}", k.principal.key_id),
        Via::Session(s) => format!("user:{}", s.session.user.id),
        Via::Share(share, _) => format!("share:{}", share.id),
    }
}

/// `DELETE /api/customers/{customer_id}/` with a write key (or an admin's session and
/// `?agent=`): 200 with what was removed.
#[utoipa::path(
    delete,
    path = "/api/customers/{customer_id}/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [], "csrf" = [])),
    params(
        ("customer_id" = String, Path, description = "The customer id."),
        super::openapi::AgentQuery,
    ),
    responses((status = 200, description = "What was removed.", body = wire::ErasedResponse)),
)]
pub(crate) async fn erase_customer<S: Store>(
    State(st): State<AppState<S>>,
    access: WriteAccess,
    Path(customer_id): Path<String>,
) -> Result<Json<wire::ErasedResponse>, ApiError> {
    let customer = agentsight_core::tracking::customer_id_to_erase(&customer_id)?;
    let erased = crate::erasure::erase(
        &st.config,
        &st.events,
        Some(&*st.blobs),
        access.agent_id(),
        EraseSelector::Customer(customer),
        ErasureKind::Erase,
        actor(&access.via),
    )
    .await?;
    Ok(Json(wire::ErasedResponse {
        conversations: erased.conversations,
        messages: erased.messages,
        attachments: erased.attachment_keys.len() as u64,
    }))
}
