//! The route table. Paths end in `/` exactly as the SDKs call them (no slash appending).

pub(crate) mod archive;
pub(crate) mod attachments;
mod auth;
pub(crate) mod conversations;
mod customers;
mod dash;
pub(crate) mod dataplane;
mod export;
mod health;
mod live;
mod metrics;
mod openapi;
mod otlp;
mod reference;
mod reports;
mod settings;
pub(crate) mod spans;
mod tracking;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, delete, get, patch, post, put};
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::{AppState, Store};
use crate::error::ApiError;

pub use openapi::document_json as openapi_document;

pub(crate) fn router<S: Store>(state: AppState<S>) -> Router {
    let upload_limit = state.settings.max_upload_body_bytes();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz::<S>))
        .route("/metrics", get(crate::telemetry::scrape::<S>))
        .route(
            "/api/conversations/",
            post(tracking::upsert_conversation::<S>).get(conversations::list_conversations::<S>),
        )
        .route("/api/conversations/lookup/", get(conversations::lookup_conversation::<S>))
        .route("/api/conversations/metadata-keys/", get(dataplane::metadata_keys::<S>))
        .route("/api/conversations/metadata-values/", get(dataplane::metadata_values::<S>))
        .route("/api/conversations/message-metadata-keys/", get(dataplane::message_metadata_keys::<S>))
        .route("/api/conversations/{pk}/", get(conversations::get_conversation::<S>))
        .route("/api/conversations/{pk}/attachments/", get(conversations::list_conversation_attachments::<S>))
        .route("/api/conversations/{pk}/rename/", patch(conversations::rename_conversation::<S>))
        .route("/api/conversations/{pk}/mark/", post(conversations::mark_conversation::<S>))
        .route("/api/conversations/{pk}/update/", patch(conversations::update_conversation::<S>))
        .route("/api/conversations/{pk}/delete/", delete(conversations::delete_conversation::<S>))
        .route("/api/customers/{customer_id}/", delete(customers::erase_customer::<S>))
        .route("/api/track/", post(tracking::track_message::<S>))
        .route("/api/track/{pk}/", get(dataplane::get_message::<S>).patch(dataplane::update_message::<S>))
        .route("/api/feedbacks/", post(dataplane::create_feedback::<S>).get(dataplane::list_feedback::<S>))
        .route(
            "/api/feedbacks/{id}/",
            get(dataplane::get_feedback::<S>)
                .patch(dataplane::update_feedback::<S>)
                .delete(dataplane::delete_feedback::<S>),
        )
        .route("/api/actions/", post(dataplane::create_action::<S>).get(dataplane::list_actions::<S>))
        .route("/api/actions/{id}/", get(dataplane::get_action::<S>).patch(dataplane::update_action::<S>))
        .route("/api/actions/{id}/logs/", get(dataplane::action_logs::<S>))
        .route("/api/tickets/", any(dataplane::tickets_forbidden::<S>))
        .route("/api/tickets/{*rest}", any(dataplane::tickets_forbidden_rest::<S>))
        .route("/api/action_logs/", post(tracking::track_action::<S>))
        .route("/api/buttons/", post(tracking::track_button::<S>))
        .route("/api/conversation-feedbacks/", post(tracking::create_feedback::<S>))
        .route(
            "/api/attachments/",
            post(attachments::upload_attachments::<S>).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/attachments/{id}/download/", get(attachments::download_attachment::<S>))
        .route("/api/me/", get(spans::get_me::<S>))
        .route("/api/ingest/", post(spans::ingest_spans::<S>))
        .route("/v1/traces", post(otlp::export_traces::<S>))
        .route("/api/spans/", get(archive::list_spans::<S>))
        .route("/api/spans/{id}/", get(archive::get_span::<S>))
        .route("/api/traces/{trace_id}/", get(archive::get_trace::<S>))
        .route("/api/token-usage/", get(archive::list_token_usage::<S>))
        .route("/api/token-usage/summary/", get(archive::usage_summary::<S>))
        .route("/api/metrics/overview/", get(metrics::get_overview::<S>))
        .route("/api/metrics/timeseries/", get(metrics::get_timeseries::<S>))
        .route("/api/metrics/users/", get(metrics::get_users::<S>))
        .route("/api/metrics/live/", get(metrics::get_live::<S>))
        .route("/api/metrics/status/", get(metrics::get_status::<S>))
        .route("/api/metrics/llm/", get(metrics::get_llm::<S>))
        .route("/api/metrics/failures/", get(metrics::get_failures::<S>))
        .route("/api/agent/settings/", get(metrics::get_settings::<S>).patch(metrics::update_settings::<S>))
        .route("/api/auth/state/", get(auth::get_state::<S>))
        .route("/api/auth/setup/", post(auth::setup::<S>))
        .route("/api/auth/login/", post(auth::login::<S>))
        .route("/api/auth/logout/", post(auth::logout::<S>))
        .route("/api/auth/me/", get(auth::me))
        .route("/api/auth/password/", post(auth::change_password::<S>))
        .route("/api/dash/agents/", get(dash::list_agents::<S>).post(dash::create_agent::<S>))
        .route("/api/dash/agents/{id}/", get(dash::get_agent::<S>).patch(dash::patch_agent::<S>))
        .route("/api/dash/agents/{id}/logo/", get(dash::get_logo::<S>))
        .route("/api/dash/agents/{id}/keys/", get(dash::list_keys::<S>).post(dash::create_key::<S>))
        .route("/api/dash/keys/{id}/", delete(dash::revoke_key::<S>))
        .route("/api/dash/agents/{id}/shares/", get(dash::list_shares::<S>).post(dash::create_share::<S>))
        .route("/api/dash/shares/{id}/", delete(dash::revoke_share::<S>))
        .route(
            "/api/dash/agents/{id}/reports/",
            get(reports::list_reports::<S>).post(reports::create_report::<S>),
        )
        .route(
            "/api/dash/reports/{id}/",
            patch(reports::update_report::<S>).delete(reports::delete_report::<S>),
        )
        .route("/api/dash/reports/{id}/sends/", get(reports::list_report_sends::<S>))
        .route("/api/dash/reports/{id}/preview/", post(reports::preview_report::<S>))
        .route("/api/dash/reports/{id}/test/", post(reports::test_report::<S>))
        .route("/api/dash/users/", get(dash::list_users::<S>).post(dash::create_user::<S>))
        .route("/api/dash/erasures/", get(dash::list_erasures::<S>))
        .route("/api/dash/users/{id}/", patch(dash::patch_user::<S>).delete(dash::delete_user::<S>))
        .route("/api/dash/live/", get(live::live_feed::<S>))
        .route("/api/dash/export/conversations.csv", get(export::export_conversations::<S>))
        .route("/api/dash/export/messages.csv", get(export::export_messages::<S>))
        .route("/api/share/info/", get(dash::share_info::<S>))
        .route("/api/settings/alerts/rules/", get(settings::list_rules::<S>).post(settings::create_rule::<S>))
        .route(
            "/api/settings/alerts/rules/{id}/",
            put(settings::update_rule::<S>).delete(settings::delete_rule::<S>),
        )
        .route("/api/settings/alerts/rules/{id}/test/", post(settings::test_rule::<S>))
        .route("/api/settings/alerts/history/", get(settings::history::<S>))
        .route(
            "/api/settings/notify/targets/",
            get(settings::list_targets::<S>).post(settings::create_target::<S>),
        )
        .route(
            "/api/settings/notify/targets/{id}/",
            patch(settings::patch_target::<S>).delete(settings::delete_target::<S>),
        )
        .route("/api/settings/notify/targets/{id}/test/", post(settings::test_target::<S>))
        .route(
            "/api/settings/notify/smtp/",
            get(settings::get_smtp::<S>).put(settings::put_smtp::<S>).delete(settings::delete_smtp::<S>),
        )
        .route("/api/settings/notify/smtp/test/", post(settings::test_smtp::<S>))
        .route("/api/settings/notify/sends/", get(settings::list_sends::<S>))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/reference/", get(openapi::reference))
        .fallback_service(crate::assets::router())
        .method_not_allowed_fallback(|| async {
            ApiError::BadRequest("Method not allowed on this path.".into())
        })
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            ApiError::internal("handler panicked").into_response()
        }))
        .with_state(state)
}

/// Parses a path id; anything but a positive integer is "not found".
pub(crate) fn parse_pk(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>().ok().filter(|v| *v > 0).ok_or(ApiError::NotFound)
}
