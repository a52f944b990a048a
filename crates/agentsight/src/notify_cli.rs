//! `agentsight alert …` and `agentsight notify …`: alert rules, notification targets, the SMTP
//! settings and the sends log, on the configuration store (as the settings page does).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::backend::with_config;
use crate::cli::{DataDir, find_agent, out, read_secret};
use agentsight_core::alerts::{validate_rule, validate_smtp, validate_target};
use agentsight_core::limits::MAX_NOTIFY_LISTED;
use agentsight_core::time::{now_micros, to_iso};
use agentsight_store::prelude::*;
use agentsight_store::{NewAlertRule, NewNotifyTarget, SmtpSettings};

fn invalid(what: &str, e: agentsight_core::ValidationErrors) -> anyhow::Error {
    let fields: Vec<String> = e.0.iter().map(|(f, m)| format!("{f}: {}", m.join(" "))).collect();
    anyhow::anyhow!("invalid {what}: {}", fields.join("; "))
}

/// Alert rules (evaluated by the server every --alert-interval).
#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// List the rules: id, agent, kind, threshold, window, enabled, state.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Create a rule: it fires when the agent's metric over the window is above the threshold.
    Create {
        /// The agent (id or name).
        #[arg(long)]
        agent: String,
        /// escalation_rate, avg_response_time, tool_error_rate, cost_per_day or volume_drop.
        #[arg(long)]
        kind: String,
        /// Rates 0–1, milliseconds (avg_response_time), USD per day (cost_per_day).
        #[arg(long)]
        threshold: f64,
        /// Hours: a multiple of 24 up to 744 (whole UTC days, today included); 1–24 for
        /// volume_drop (the last complete hours against the same hours a week before).
        #[arg(long, default_value_t = 24)]
        window_hours: i64,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Delete a rule and its history.
    Delete {
        /// Rule id.
        id: i64,
        #[command(flatten)]
        data: DataDir,
    },
    /// The firing episodes, newest first.
    History {
        /// Only this rule's.
        #[arg(long)]
        rule: Option<i64>,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Notification delivery: SMTP, targets, the sends log.
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// The SMTP server mail goes out through.
    #[command(subcommand)]
    Smtp(SmtpCommand),
    /// Webhooks and e-mail addresses that receive alerts.
    #[command(subcommand)]
    Target(TargetCommand),
    /// The newest sends: when, what, to whom, outcome.
    Sends {
        #[command(flatten)]
        data: DataDir,
    },
}

/// `agentsight notify smtp …`.
#[derive(Debug, Subcommand)]
pub enum SmtpCommand {
    /// Show the settings (never the password).
    Show {
        #[command(flatten)]
        data: DataDir,
    },
    /// Set the settings. With --username the password is read from standard input
    /// (--password-stdin) or prompted for; never echoed, printed or logged.
    Set {
        /// Host name (the name its certificate must show).
        #[arg(long)]
        host: String,
        /// Port (587 for STARTTLS, 465 for TLS).
        #[arg(long, default_value_t = 587)]
        port: i64,
        /// starttls, tls or none.
        #[arg(long, default_value = "starttls")]
        security: String,
        /// User name for AUTH.
        #[arg(long)]
        username: Option<String>,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// The From address.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Remove the settings.
    Clear {
        #[command(flatten)]
        data: DataDir,
    },
    /// Send a test mail now and print its outcome (recorded in the sends log).
    Test {
        /// Where the test mail goes.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        tls: TlsArgs,
        #[command(flatten)]
        data: DataDir,
    },
}

/// The TLS trust of a test send (as `serve` takes it).
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// A PEM file of CA certificates to trust besides the system's.
    #[arg(long, env = "AGENTSIGHT_NOTIFY_CA_FILE", value_name = "PEM")]
    notify_ca_file: Option<PathBuf>,
    /// Accept any certificate from the SMTP server (tests only).
    #[arg(long, env = "AGENTSIGHT_NOTIFY_INSECURE_TLS")]
    notify_insecure_tls: bool,
}

/// `agentsight notify target …`.
#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// List the targets (never a secret; a webhook's URL shows its host only).
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Add a webhook: a Slack-compatible JSON body, signed with the secret (read from standard
    /// input with --secret-stdin, else prompted for; 16 to 256 characters).
    AddWebhook {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// The http(s):// URL.
        #[arg(long)]
        url: String,
        /// Read the secret from standard input.
        #[arg(long)]
        secret_stdin: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Add an e-mail address.
    AddEmail {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// The address.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Remove a target.
    Remove {
        /// Target id.
        id: i64,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs `agentsight alert …`.
pub async fn alert_command(cmd: AlertCommand) -> anyhow::Result<()> {
    match cmd {
        AlertCommand::List { data } => with_config!(data.target()?, |store| {
            out("ID\tAGENT\tKIND\tTHRESHOLD\tWINDOW_HOURS\tENABLED\tSTATE")?;
            for r in store.alert_rules().await? {
                let firing =
                    store.alert_events(Some(r.id), 1).await?.first().is_some_and(|e| e.resolved_at.is_none());
                out(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.agent_id,
                    r.kind,
                    r.threshold,
                    r.window_hours,
                    r.enabled,
                    if firing { "firing" } else { "ok" }
                ))?;
            }
            Ok(())
        }),
        AlertCommand::Create { agent, kind, threshold, window_hours, disabled, data } => {
            let spec = validate_rule(&kind, threshold, window_hours).map_err(|e| invalid("rule", e))?;
            with_config!(data.target()?, |store| {
                let agent = find_agent(&store, &agent).await?;
                let r = store
                    .create_alert_rule(
                        NewAlertRule {
                            agent_id: agent.id,
                            kind: spec.kind.as_str().into(),
                            threshold: spec.threshold,
                            window_hours: spec.window_hours,
                            enabled: !disabled,
                        },
                        now_micros(),
                    )
                    .await?;
                out(&format!(
                    "Created alert rule {} ({} of agent '{}' above {}).",
                    r.id, r.kind, agent.name, r.threshold
                ))
            })
        }
        AlertCommand::Delete { id, data } => with_config!(data.target()?, |store| {
            if !store.delete_alert_rule(id).await? {
                bail!("no alert rule {id}");
            }
            out(&format!("Deleted alert rule {id}."))
        }),
        AlertCommand::History { rule, data } => with_config!(data.target()?, |store| {
            out("ID\tRULE\tAGENT\tKIND\tTHRESHOLD\tFIRED_AT\tFIRED_VALUE\tRESOLVED_AT\tRESOLVED_VALUE")?;
            for e in store.alert_events(rule, MAX_NOTIFY_LISTED).await? {
                out(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    e.id,
                    e.rule_id,
                    e.agent_id,
                    e.kind,
                    e.threshold,
                    to_iso(e.fired_at),
                    e.fired_value,
                    e.resolved_at.map(to_iso).unwrap_or_else(|| "-".into()),
                    e.resolved_value.map_or("-".into(), |v| v.to_string())
                ))?;
            }
            Ok(())
        }),
    }
}

/// Runs `agentsight notify …`.
pub async fn notify_command(cmd: NotifyCommand) -> anyhow::Result<()> {
    match cmd {
        NotifyCommand::Smtp(SmtpCommand::Show { data }) => with_config!(data.target()?, |store| {
            match store.smtp_settings().await? {
                None => out("SMTP is not set up."),
                Some(s) => out(&format!(
                    "host: {}\nport: {}\nsecurity: {}\nusername: {}\npassword: {}\nfrom: {}\nupdated: {}",
                    s.host,
                    s.port,
                    s.security,
                    s.username.as_deref().unwrap_or("-"),
                    if s.password.is_some() { "(set)" } else { "-" },
                    s.from,
                    to_iso(s.updated_at)
                )),
            }
        }),
        NotifyCommand::Smtp(SmtpCommand::Set {
            host,
            port,
            security,
            username,
            password_stdin,
            from,
            data,
        }) => {
            let password = match &username {
                Some(_) => Some(read_secret("SMTP password", password_stdin)?),
                None => None,
            };
            let port = validate_smtp(&host, port, &security, username.as_deref(), password.as_deref(), &from)
                .map_err(|e| invalid("SMTP settings", e))?;
            with_config!(data.target()?, |store| {
                store
                    .set_smtp_settings(Some(SmtpSettings {
                        host: host.clone(),
                        port,
                        security: security.clone(),
                        username: username.clone(),
                        password: password.clone(),
                        from: from.clone(),
                        updated_at: now_micros(),
                    }))
                    .await?;
                out(&format!("SMTP set: {host}:{port} ({security})."))
            })
        }
        NotifyCommand::Smtp(SmtpCommand::Clear { data }) => with_config!(data.target()?, |store| {
            store.set_smtp_settings(None).await?;
            out("SMTP cleared.")
        }),
        NotifyCommand::Smtp(SmtpCommand::Test { to, tls, data }) => {
            agentsight_core::alerts::email_address(&to).map_err(|m| anyhow::anyhow!("--to: {m}"))?;
            let mut settings = agentsight_server::Settings::new(PathBuf::new());
            settings.notify_ca_file = tls.notify_ca_file;
            settings.notify_insecure_tls = tls.notify_insecure_tls;
            let notifier = agentsight_server::notify::Notifier::new(&settings).map_err(anyhow::Error::msg)?;
            with_config!(data.target()?, |store| {
                if store.smtp_settings().await?.is_none() {
                    bail!("SMTP is not set up: agentsight notify smtp set …");
                }
                let email = agentsight_server::notify::Email::smtp_test(to.clone());
                let sent = notifier
                    .send_email(&store, email, "test", None, None, None)
                    .await?
                    .context("the send was not recorded")?;
                match sent.status {
                    agentsight_store::SendStatus::Sent => out(&format!("Sent a test mail to {to}.")),
                    _ => bail!(
                        "the test mail to {to} failed ({}): {}",
                        sent.status.as_str(),
                        sent.last_error.unwrap_or_default()
                    ),
                }
            })
        }
        NotifyCommand::Target(TargetCommand::List { data }) => with_config!(data.target()?, |store| {
            out("ID\tKIND\tNAME\tADDRESS\tENABLED")?;
            for t in store.notify_targets().await? {
                let address = if t.kind == "webhook" {
                    agentsight_server::notify::shown_url(&t.address)
                } else {
                    t.address.clone()
                };
                out(&format!("{}\t{}\t{}\t{}\t{}", t.id, t.kind, t.name, address, t.enabled))?;
            }
            Ok(())
        }),
        NotifyCommand::Target(TargetCommand::AddWebhook { name, url, secret_stdin, data }) => {
            let secret = read_secret("Signing secret", secret_stdin)?;
            validate_target("webhook", &name, &url, Some(&secret)).map_err(|e| invalid("webhook", e))?;
            with_config!(data.target()?, |store| {
                let t = store
                    .create_notify_target(
                        NewNotifyTarget {
                            kind: "webhook".into(),
                            name: name.trim().into(),
                            address: url.clone(),
                            secret: Some(secret.clone()),
                            enabled: true,
                        },
                        now_micros(),
                    )
                    .await?;
                out(&format!("Added webhook target {} '{}'.", t.id, t.name))
            })
        }
        NotifyCommand::Target(TargetCommand::AddEmail { name, email, data }) => {
            validate_target("email", &name, &email, None).map_err(|e| invalid("e-mail target", e))?;
            with_config!(data.target()?, |store| {
                let t = store
                    .create_notify_target(
                        NewNotifyTarget {
                            kind: "email".into(),
                            name: name.trim().into(),
                            address: email.clone(),
                            secret: None,
                            enabled: true,
                        },
                        now_micros(),
                    )
                    .await?;
                out(&format!("Added e-mail target {} '{}' <{}>.", t.id, t.name, t.address))
            })
        }
        NotifyCommand::Target(TargetCommand::Remove { id, data }) => with_config!(data.target()?, |store| {
            if !store.delete_notify_target(id).await? {
                bail!("no target {id}");
            }
            out(&format!("Removed target {id}."))
        }),
        NotifyCommand::Sends { data } => with_config!(data.target()?, |store| {
            out("ID\tCREATED\tCHANNEL\tSOURCE\tRECIPIENT\tSTATUS\tATTEMPTS\tSUBJECT\tLAST_ERROR")?;
            for s in store.sends(MAX_NOTIFY_LISTED).await? {
                out(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    s.id,
                    to_iso(s.created_at),
                    s.channel,
                    s.source,
                    s.recipient,
                    s.status.as_str(),
                    s.attempts,
                    s.subject,
                    s.last_error.unwrap_or_default()
                ))?;
            }
            Ok(())
        }),
    }
}
