//! A store made of a configuration store and an event store that is only part of one, for the
//! contract tests of backends that implement some event traits so far (the ClickHouse event
//! store): the agents come from `config`, the events go to `events`.

use std::sync::Arc;

use agentsight_core::keys::Role;
use agentsight_core::time::Micros;
use agentsight_core::tracking::{
    ConversationPatch, ConversationRef, ConversationUpsert, NewAction, NewButton, NewFeedback, NewMessage,
};

use agentsight_core::dataplane::{ActionDef, FeedbackChange, NewVote};

use crate::{
    ActionFilter, ActionLogItem, ActionRow, DataPlane, ExportCursor, ExportPage, ExportReader,
    FeedbackFilter, FeedbackItem, MessageDetail,
};
use agentsight_core::metrics::query::MetricsQuery;
use agentsight_core::metrics::series::{Interval, SeriesMetric};

use crate::{
    ActionLogRow, AgentRef, AgentRow, AgentStore, AttachmentRow, AttachmentsInsert, ButtonRow, ChangeFeed,
    ChangeListener, ConversationFilter, ConversationRow, EngineStatus, EnvironmentRow, FeedbackRow, KeyRow,
    LiveResponse, MessageRow, MetricsReader, OverviewResponse, PageRequest, Principal, StoreResult,
    TimeseriesResponse, TrackingReader, TrackingWriter, Transcript, Upserted, UsersResponse,
};
use crate::{
    IngestReceipt, Restated, SpanFilter, SpanReader, SpanRow, SpanWriter, TokenUsageRow, UsageFilter,
    UsageGroupBy, UsageGroupRow,
};

/// Agents from `config`, events in `events`.
#[derive(Clone)]
pub struct Composed<C, E> {
    /// The configuration store (agents).
    pub config: C,
    /// The event store under test.
    pub events: E,
}

impl<C: AgentStore, E: Send + Sync> AgentStore for Composed<C, E> {
    async fn authenticate(&self, key_hash: [u8; 32]) -> StoreResult<Option<Principal>> {
        self.config.authenticate(key_hash).await
    }
    async fn environments(&self, agent_id: i64) -> StoreResult<Vec<EnvironmentRow>> {
        self.config.environments(agent_id).await
    }
    async fn create_agent(&self, name: String, now: Micros) -> StoreResult<AgentRow> {
        self.config.create_agent(name, now).await
    }
    async fn list_agents(&self) -> StoreResult<Vec<AgentRow>> {
        self.config.list_agents().await
    }
    async fn agent(&self, id: i64) -> StoreResult<Option<AgentRow>> {
        self.config.agent(id).await
    }
    async fn rename_agent(&self, id: i64, name: String) -> StoreResult<Option<AgentRow>> {
        self.config.rename_agent(id, name).await
    }
    async fn create_key(
        &self,
        agent_id: i64,
        role: Role,
        prefix: String,
        hash: [u8; 32],
        now: Micros,
    ) -> StoreResult<KeyRow> {
        self.config.create_key(agent_id, role, prefix, hash, now).await
    }
    async fn list_keys(&self) -> StoreResult<Vec<KeyRow>> {
        self.config.list_keys().await
    }
    async fn escalation_tools(&self, agent_id: i64) -> StoreResult<Option<Vec<String>>> {
        self.config.escalation_tools(agent_id).await
    }
    async fn set_escalation_tools(&self, agent_id: i64, tools: Option<Vec<String>>) -> StoreResult<bool> {
        self.config.set_escalation_tools(agent_id, tools).await
    }
    async fn create_environment(
        &self,
        agent_id: i64,
        slug: String,
        name: String,
        is_production: bool,
        now: Micros,
    ) -> StoreResult<EnvironmentRow> {
        self.config.create_environment(agent_id, slug, name, is_production, now).await
    }
    async fn revoke_key(&self, key_id: i64, now: Micros) -> StoreResult<bool> {
        self.config.revoke_key(key_id, now).await
    }
}

impl<C: Send + Sync, E: TrackingWriter> TrackingWriter for Composed<C, E> {
    async fn upsert_conversation(&self, c: ConversationUpsert) -> StoreResult<Upserted> {
        self.events.upsert_conversation(c).await
    }
    async fn insert_message(&self, m: NewMessage) -> StoreResult<MessageRow> {
        self.events.insert_message(m).await
    }
    async fn insert_action(&self, a: NewAction) -> StoreResult<ActionLogRow> {
        self.events.insert_action(a).await
    }
    async fn insert_button(&self, b: NewButton) -> StoreResult<ButtonRow> {
        self.events.insert_button(b).await
    }
    async fn insert_attachments(&self, a: AttachmentsInsert) -> StoreResult<Vec<AttachmentRow>> {
        self.events.insert_attachments(a).await
    }
    async fn insert_feedback(&self, f: NewFeedback) -> StoreResult<FeedbackRow> {
        self.events.insert_feedback(f).await
    }
    async fn patch_conversation(
        &self,
        agent_id: i64,
        pk: i64,
        patch: ConversationPatch,
        now: Micros,
    ) -> StoreResult<Option<ConversationRow>> {
        self.events.patch_conversation(agent_id, pk, patch, now).await
    }
}

impl<C: Send + Sync, E: TrackingReader> TrackingReader for Composed<C, E> {
    async fn conversation(&self, agent_id: i64, r: ConversationRef) -> StoreResult<Option<ConversationRow>> {
        self.events.conversation(agent_id, r).await
    }
    async fn list_conversations(
        &self,
        agent_id: i64,
        filter: ConversationFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<ConversationRow>)> {
        self.events.list_conversations(agent_id, filter, page).await
    }
    async fn transcript(&self, agent_id: i64, pk: i64) -> StoreResult<Option<Transcript>> {
        self.events.transcript(agent_id, pk).await
    }
    async fn attachment(&self, agent_id: i64, id: i64) -> StoreResult<Option<AttachmentRow>> {
        self.events.attachment(agent_id, id).await
    }
}

impl<C: Send + Sync, E: ChangeFeed> ChangeFeed for Composed<C, E> {
    fn listen(&self, listener: Arc<dyn ChangeListener>) {
        self.events.listen(listener)
    }
}

impl<C: Send + Sync, E: crate::StatsReader> crate::StatsReader for Composed<C, E> {
    fn store_stats(&self) -> crate::StoreStats {
        self.events.store_stats()
    }
}

impl<C: Send + Sync, E: DataPlane> DataPlane for Composed<C, E> {
    async fn insert_vote(&self, v: NewVote) -> StoreResult<(FeedbackItem, bool)> {
        self.events.insert_vote(v).await
    }
    async fn list_feedback(
        &self,
        agent_id: i64,
        filter: FeedbackFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<FeedbackItem>)> {
        self.events.list_feedback(agent_id, filter, page).await
    }
    async fn feedback(&self, agent_id: i64, id: i64) -> StoreResult<Option<FeedbackItem>> {
        self.events.feedback(agent_id, id).await
    }
    async fn update_feedback(
        &self,
        agent_id: i64,
        id: i64,
        change: FeedbackChange,
    ) -> StoreResult<Option<FeedbackItem>> {
        self.events.update_feedback(agent_id, id, change).await
    }
    async fn delete_feedback(&self, agent_id: i64, id: i64) -> StoreResult<bool> {
        self.events.delete_feedback(agent_id, id).await
    }
    async fn create_action(&self, agent_id: i64, def: ActionDef, now: Micros) -> StoreResult<ActionRow> {
        self.events.create_action(agent_id, def, now).await
    }
    async fn list_actions(
        &self,
        agent_id: i64,
        filter: ActionFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<ActionRow>)> {
        self.events.list_actions(agent_id, filter, page).await
    }
    async fn action(&self, agent_id: i64, id: i64) -> StoreResult<Option<ActionRow>> {
        self.events.action(agent_id, id).await
    }
    async fn update_action(
        &self,
        agent_id: i64,
        id: i64,
        def: ActionDef,
        now: Micros,
    ) -> StoreResult<Option<ActionRow>> {
        self.events.update_action(agent_id, id, def, now).await
    }
    async fn action_logs(
        &self,
        agent_id: i64,
        id: i64,
        limit: i64,
    ) -> StoreResult<Option<Vec<ActionLogItem>>> {
        self.events.action_logs(agent_id, id, limit).await
    }
    async fn message(&self, agent_id: i64, id: i64) -> StoreResult<Option<MessageDetail>> {
        self.events.message(agent_id, id).await
    }
    async fn set_message_metadata(
        &self,
        agent_id: i64,
        id: i64,
        metadata: String,
    ) -> StoreResult<Option<MessageDetail>> {
        self.events.set_message_metadata(agent_id, id, metadata).await
    }
    async fn metadata_keys(&self, agent_id: i64, messages: bool) -> StoreResult<Vec<String>> {
        self.events.metadata_keys(agent_id, messages).await
    }
    async fn metadata_values(&self, agent_id: i64, key: String, limit: i64) -> StoreResult<Vec<String>> {
        self.events.metadata_values(agent_id, key, limit).await
    }
}

impl<C: Send + Sync, E: ExportReader> ExportReader for Composed<C, E> {
    async fn export_conversations(
        &self,
        agent_id: i64,
        filter: ConversationFilter,
        after: Option<ExportCursor>,
        limit: i64,
    ) -> StoreResult<ExportPage> {
        self.events.export_conversations(agent_id, filter, after, limit).await
    }
    async fn export_entries(
        &self,
        agent_id: i64,
        conversation_pks: Vec<i64>,
    ) -> StoreResult<Vec<MessageRow>> {
        self.events.export_entries(agent_id, conversation_pks).await
    }
}

impl<C: Send + Sync, E: SpanWriter> SpanWriter for Composed<C, E> {
    async fn ingest_spans(
        &self,
        batch: agentsight_core::spans::SpanIngest,
        body: agentsight_core::archive::ArchivedBody,
    ) -> StoreResult<IngestReceipt> {
        self.events.ingest_spans(batch, body).await
    }
    async fn restate_costs(
        &self,
        agent_id: Option<i64>,
        pricing: agentsight_core::prices::Pricing,
        now: Micros,
    ) -> StoreResult<Restated> {
        self.events.restate_costs(agent_id, pricing, now).await
    }
}

impl<C: Send + Sync, E: SpanReader> SpanReader for Composed<C, E> {
    async fn list_spans(
        &self,
        agent_id: i64,
        filter: SpanFilter,
        page: PageRequest,
        payload: bool,
    ) -> StoreResult<(i64, Vec<SpanRow>)> {
        self.events.list_spans(agent_id, filter, page, payload).await
    }
    async fn span(&self, agent_id: i64, id: i64, payload: bool) -> StoreResult<Option<SpanRow>> {
        self.events.span(agent_id, id, payload).await
    }
    async fn trace(&self, agent_id: i64, trace_id: String, limit: i64) -> StoreResult<(Vec<SpanRow>, bool)> {
        self.events.trace(agent_id, trace_id, limit).await
    }
    async fn list_token_usage(
        &self,
        agent_id: i64,
        filter: UsageFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<TokenUsageRow>)> {
        self.events.list_token_usage(agent_id, filter, page).await
    }
    async fn llm_metrics(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
    ) -> StoreResult<agentsight_protocol::v01::LlmMetricsResponse> {
        self.events.llm_metrics(agent, q).await
    }
    async fn usage_summary(
        &self,
        agent_id: i64,
        filter: UsageFilter,
        group_by: UsageGroupBy,
    ) -> StoreResult<Vec<UsageGroupRow>> {
        self.events.usage_summary(agent_id, filter, group_by).await
    }
}

impl<C: Send + Sync, E: MetricsReader> MetricsReader for Composed<C, E> {
    async fn overview(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        escalation: Vec<String>,
    ) -> StoreResult<OverviewResponse> {
        self.events.overview(agent, q, escalation).await
    }
    async fn timeseries(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        metric: SeriesMetric,
        interval: Interval,
    ) -> StoreResult<TimeseriesResponse> {
        self.events.timeseries(agent, q, metric, interval).await
    }
    async fn users(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        interval: Interval,
    ) -> StoreResult<UsersResponse> {
        self.events.users(agent, q, interval).await
    }
    async fn live(&self, agent: AgentRef, now: Micros) -> StoreResult<LiveResponse> {
        self.events.live(agent, now).await
    }
    async fn engine_status(&self) -> EngineStatus {
        self.events.engine_status().await
    }
    async fn failure_facts(
        &self,
        agent_id: i64,
        q: MetricsQuery,
        escalation: Vec<String>,
    ) -> StoreResult<agentsight_core::metrics::failures::FailureFacts> {
        self.events.failure_facts(agent_id, q, escalation).await
    }
}

impl<C: Send + Sync, E: crate::Erasure> crate::Erasure for Composed<C, E> {
    async fn conversations_to_erase(
        &self,
        agent_id: i64,
        which: crate::EraseSelector,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<i64>> {
        self.events.conversations_to_erase(agent_id, which, after, limit).await
    }
    async fn erase_conversations(&self, agent_id: i64, pks: Vec<i64>) -> StoreResult<crate::Erased> {
        self.events.erase_conversations(agent_id, pks).await
    }
}
