//! What one report shows, read through the store traits (so it is the same on SQLite and on
//! PostgreSQL + ClickHouse): the agent, its white-label, the overview of the period compared
//! with the previous one exactly as `GET /api/metrics/overview/?compare=previous` answers it,
//! and the agent's share link.

use agentsight_core::dashboard::{Logo, share_is_live};
use agentsight_core::metrics::DEFAULT_ESCALATION_TOOLS;
use agentsight_core::metrics::query::Compare;
use agentsight_core::reports::{Cadence, ReportPeriod};
use agentsight_core::time::Micros;
use agentsight_store::{
    AgentRef, Branding, ConfigStore, MetricsReader, OverviewResponse, StoreError, overview_compared,
};
use chrono_tz::Tz;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The agent does not exist.
    #[error("no agent {0}")]
    NoAgent(i64),
    /// The period cannot be compared (it would start before 1970).
    #[error("period: {0}")]
    Period(String),
    /// A chart could not be drawn.
    #[error("chart: {0}")]
    Chart(String),
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// The agent (id and name).
    pub agent: AgentRef,
    /// Its white-label.
    pub branding: Branding,
    /// Its logo.
    pub logo: Option<Logo>,
    /// Weekly or monthly (the wording).
    pub cadence: Cadence,
    /// The reported days.
    pub period: ReportPeriod,
    /// Their zone.
    pub tz: Tz,
    /// The overview of the period, with `previous` (the same number of days just before).
    pub overview: OverviewResponse,
    /// The share dashboard's address, when the schedule has a live share link and the server
    /// knows its public address.
    pub dashboard_url: Option<String>,
}

impl ReportData {
    /// The name the client knows the agent by: the white-label name, else the agent's.
    pub fn display_name(&self) -> &str {
        self.branding.display_name.as_deref().unwrap_or(&self.agent.name)
    }

    /// The compared overview (the previous period).
    pub fn previous(&self) -> Option<&OverviewResponse> {
        self.overview.previous.as_deref()
    }
}

/// The share link a report links to: (share id, token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    /// The share link's id (to check it still works).
    pub id: i64,
    /// Its token.
    pub token: String,
}

/// Reads a report's data: the agent, its branding and logo, the overview of `period` in `tz`
/// with `compare=previous` (the agent's escalation list applied, no filters: the numbers of
/// `GET /api/metrics/overview/?from&to&tz&compare=previous`), and the dashboard link
/// `<public_url>/share/<token>` when `share` is given, still live at `now`, and the public
/// address is known.
#[allow(clippy::too_many_arguments)]
pub async fn gather<C: ConfigStore, E: MetricsReader>(
    config: &C,
    events: &E,
    agent_id: i64,
    cadence: Cadence,
    period: ReportPeriod,
    tz: Tz,
    share: Option<&ShareLink>,
    public_url: Option<&str>,
    now: Micros,
) -> Result<ReportData, ReportError> {
    let agent = config.agent(agent_id).await?.ok_or(ReportError::NoAgent(agent_id))?;
    let branding = config.branding(agent_id).await?;
    let logo = if branding.logo_version.is_some() { config.logo(agent_id).await? } else { None };
    let escalation = match config.escalation_tools(agent_id).await? {
        Some(list) => list,
        None => DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect(),
    };
    let q = period.query(tz);
    let compared = q.compared(Compare::Previous).map_err(ReportError::Period)?;
    let agent_ref = AgentRef { id: agent.id, name: agent.name.clone() };
    let overview = overview_compared(events, agent_ref.clone(), q, Some(compared), escalation).await?;
    let mut dashboard_url = None;
    if let (Some(link), Some(base)) = (share, public_url) {
        let live = match config.share(link.id).await? {
            Some(s) => s.agent_id == agent_id && share_is_live(s.expires_at, s.revoked_at, now),
            None => false,
        };
        if live {
            dashboard_url = Some(format!("{}/share/{}", base.trim_end_matches('/'), link.token));
        }
    }
    Ok(ReportData { agent: agent_ref, branding, logo, cadence, period, tz, overview, dashboard_url })
}
