//! Scheduled client reports in the notify round: the node holding the lease sends what is due
//! (`agentsight_report::send_due_reports`: one send per schedule and period, taken in the
//! store). Each recipient's mail is handed to the [`Notifier`]: recorded in the sends log
//! under the dedupe key `report:<Message-ID>:<address>` before its first attempt, then retried
//! with backoff like any send. A send taken up again after a stop hands over only the mails not
//! recorded before, so a report arrives once.

use agentsight_core::time::now_micros;
use agentsight_report::{RunOptions, SendOutcome, send_due_reports};
use agentsight_store::prelude::*;
use agentsight_store::{StoreError, StoreResult};

use super::{Email, Notifier};
use crate::app::{Shared, Store};

/// The domain of a sender address (`Name <user@domain>` or `user@domain`), for the reports'
/// `Message-ID`s.
pub fn sender_domain(from: &str) -> String {
    from.parse::<lettre::message::Mailbox>().map(|m| m.email.domain().to_string()).unwrap_or_default()
}

/// Sends the reports due now. Without SMTP settings nothing is taken: the reports stay owed
/// and the latest one due goes out once SMTP is set up.
pub async fn send_due<S: Store>(st: &Shared<S>, notifier: &Notifier) -> StoreResult<Vec<SendOutcome>> {
    let Some(smtp) = st.config.smtp_settings().await? else { return Ok(Vec::new()) };
    let opts = RunOptions {
        public_url: notifier.public_url().map(str::to_string),
        message_id_domain: sender_domain(&smtp.from),
        lease: notifier.stale_micros(),
    };
    let config = &st.config;
    send_due_reports(&st.config, &st.events, &opts, now_micros(), |mail, to| async move {
        for addr in to {
            let key = format!("report:{}:{addr}", mail.message_id);
            let email = Email::from_report(&mail, addr);
            notifier.send_email(config, email, "report", None, None, Some(key)).await?;
        }
        Ok::<(), StoreError>(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_domain_is_the_senders() {
        assert_eq!(sender_domain("AgentSight <alerts@stats.example.com>"), "stats.example.com");
        assert_eq!(sender_domain("reports@example.org"), "example.org");
        assert_eq!(sender_domain("not an address"), "");
    }
}
