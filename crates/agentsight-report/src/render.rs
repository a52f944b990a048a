//! The report as a mail: HTML with inline CSS only (mail programs drop `<style>` and
//! scripts), in the agent's white-label (name, accent colour, logo), and the same content as
//! plain text. Every figure is the API's: each KPI cell carries its exact value in
//! `data-kpi`/`data-value` (and `data-previous`), the text part prints the counts exactly.

use agentsight_core::reports::{Cadence, Kpi, MailPart, OutgoingMail, format_count, format_duration, kpis};
use agentsight_protocol::metrics::OverviewResponse;

use crate::chart;
use crate::gather::{ReportData, ReportError};

/// Rows of each top list (countries, sources, tools).
pub const TOP_ROWS: usize = 5;
/// The accent colour when the agent has none (the dashboard's).
pub const DEFAULT_ACCENT: &str = "#1f77b4";
/// Content-ID of the daily chart.
pub const CHART_CID: &str = "daily-chart";
/// Content-ID of the logo.
pub const LOGO_CID: &str = "logo";

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Black or white text on `bg` (`#rrggbb`), by relative luminance, as the dashboard chooses.
fn text_on(bg: &str) -> &'static str {
    let ch = |i: usize| u8::from_str_radix(bg.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0) as f64 / 255.0;
    let lin = |c: f64| if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) };
    let l = 0.2126 * lin(ch(1)) + 0.7152 * lin(ch(3)) + 0.0722 * lin(ch(5));
    if l > 0.179 { "#111111" } else { "#ffffff" }
}

fn verdict_colour(v: &str) -> &'static str {
    match v {
        "good" => "#0072b2",
        "bad" => "#d55e00",
        _ => "#6b7280",
    }
}

/// The top rows of one breakdown: (label, count) with `unknown` for the null group.
pub struct TopList {
    /// Heading.
    pub title: &'static str,
    /// Id (`countries`, `sources`, `tools`).
    pub id: &'static str,
    /// What the count counts.
    pub unit: &'static str,
    /// Rows.
    pub rows: Vec<(String, u64)>,
}

/// The three top lists of a report: countries and sources by conversations, tools by calls.
pub fn top_lists(o: &OverviewResponse) -> Vec<TopList> {
    let name = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    vec![
        TopList {
            title: "Top countries",
            id: "countries",
            unit: "conversations",
            rows: o.countries.iter().take(TOP_ROWS).map(|r| (name(&r.country), r.conversations)).collect(),
        },
        TopList {
            title: "Top sources",
            id: "sources",
            unit: "conversations",
            rows: o.sources.iter().take(TOP_ROWS).map(|r| (name(&r.source), r.conversations)).collect(),
        },
        TopList {
            title: "Top tools",
            id: "tools",
            unit: "calls",
            rows: o.tools.iter().take(TOP_ROWS).map(|r| (r.name.clone(), r.calls)).collect(),
        },
    ]
}

fn value_attr(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "null".into())
}

fn kpi_cell(k: &Kpi) -> String {
    let colour = verdict_colour(k.change.verdict);
    format!(
        r#"<td class="kpi" data-kpi="{id}" data-value="{v}" data-previous="{p}" style="width:50%;padding:12px 14px;border:1px solid #e5e7eb;vertical-align:top;">
<div style="font-size:12px;color:#6b7280;">{label}</div>
<div style="font-size:24px;font-weight:bold;color:#111827;margin-top:2px;">{shown}</div>
<div style="font-size:12px;color:{colour};margin-top:2px;">{change} <span style="color:#6b7280;">(before: {prev})</span></div>
</td>"#,
        id = k.id,
        v = value_attr(k.value),
        p = value_attr(k.previous),
        label = esc(k.label),
        shown = esc(&k.shown),
        change = esc(&k.change.text),
        prev = esc(&k.previous_shown),
    )
}

fn top_table(t: &TopList, accent: &str) -> String {
    let max = t.rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let mut s = format!(
        r#"<h3 style="font-size:14px;margin:20px 0 6px;color:#111827;">{}</h3><table data-top="{}" role="presentation" cellpadding="0" cellspacing="0" style="width:100%;border-collapse:collapse;font-size:13px;">"#,
        esc(t.title),
        t.id
    );
    if t.rows.is_empty() {
        s += r#"<tr><td style="color:#6b7280;padding:4px 0;">None in this period.</td></tr>"#;
    }
    for (label, n) in &t.rows {
        let pct = (*n as f64 / max as f64 * 100.0).round().max(1.0);
        s += &format!(
            r#"<tr data-name="{l}" data-count="{n}"><td style="padding:4px 8px 4px 0;width:35%;color:#111827;">{l}</td><td style="padding:4px 0;width:45%;"><div style="background:{accent};height:10px;width:{pct}%;border-radius:2px;"></div></td><td style="padding:4px 0 4px 8px;text-align:right;white-space:nowrap;color:#111827;">{c} {u}</td></tr>"#,
            l = esc(label),
            c = format_count(*n),
            u = t.unit,
        );
    }
    s + "</table>"
}

fn cadence_word(c: Cadence) -> &'static str {
    match c {
        Cadence::Weekly(_) => "Weekly",
        Cadence::Monthly(_) => "Monthly",
    }
}

/// The report as a mail: subject, HTML (images as `cid:`), text, the chart (and the logo) as
/// inline PNG images; `message_id` names the send (see [`OutgoingMail::message_id`]).
pub fn render(d: &ReportData, message_id: &str) -> Result<OutgoingMail, ReportError> {
    let accent = d.branding.accent_color.as_deref().unwrap_or(DEFAULT_ACCENT);
    let on_accent = text_on(accent);
    let name = d.display_name();
    let o = &d.overview;
    let prev = d.previous().unwrap_or(o);
    let cards = kpis(o, prev);
    let lists = top_lists(o);
    let compared = &prev.range;
    let subject = format!("{} report: {} · {}", cadence_word(d.cadence), name, d.period.label());
    let mut inline = vec![MailPart {
        id: CHART_CID.into(),
        filename: format!("activity-{}.png", d.period.key),
        mime_type: "image/png".into(),
        bytes: chart::daily_png(&o.daily, accent).map_err(ReportError::Chart)?,
    }];
    let logo = d.logo.as_ref().and_then(|l| match l.mime_type.as_str() {
        "image/png" | "image/jpeg" => Some((l.mime_type.clone(), l.bytes.clone())),
        "image/svg+xml" => chart::logo_png(&l.bytes, 32.0).ok().map(|b| ("image/png".to_string(), b)),
        // WebP is shown by too few mail programs; the name stands alone.
        _ => None,
    });
    let logo_html = match logo {
        Some((mime, bytes)) => {
            let ext = if mime == "image/jpeg" { "jpg" } else { "png" };
            inline.push(MailPart {
                id: LOGO_CID.into(),
                filename: format!("logo.{ext}"),
                mime_type: mime,
                bytes,
            });
            format!(
                r#"<img src="cid:{LOGO_CID}" alt="" height="32" style="height:32px;vertical-align:middle;margin-right:10px;border:0;">"#
            )
        }
        None => String::new(),
    };

    let mut html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;font-family:Helvetica,Arial,sans-serif;color:#111827;">
<table role="presentation" cellpadding="0" cellspacing="0" style="width:100%;background:#f3f4f6;"><tr><td align="center" style="padding:24px 12px;">
<table role="presentation" cellpadding="0" cellspacing="0" style="width:100%;max-width:600px;background:#ffffff;border-radius:6px;overflow:hidden;">
<tr><td style="background:{accent};color:{on_accent};padding:16px 20px;font-size:18px;font-weight:bold;">{logo_html}<span data-brand>{name}</span></td></tr>
<tr><td style="padding:20px;">
<h1 style="font-size:20px;margin:0 0 4px;">{cadence} report · {label}</h1>
<p data-range="{from}..{to}" data-tz="{tz}" style="margin:0 0 16px;color:#6b7280;font-size:13px;">{from} to {to} ({tz}), compared with {pfrom} to {pto}.</p>
<table role="presentation" cellpadding="0" cellspacing="0" style="width:100%;border-collapse:collapse;">"#,
        title = esc(&subject),
        name = esc(name),
        cadence = cadence_word(d.cadence),
        label = esc(&d.period.label()),
        from = d.period.from,
        to = d.period.to,
        tz = esc(d.tz.name()),
        pfrom = esc(&compared.from),
        pto = esc(&compared.to),
    );
    for pair in cards.chunks(2) {
        html += "<tr>";
        for k in pair {
            html += &kpi_cell(k);
        }
        html += "</tr>";
    }
    html += &format!(
        r#"</table>
<h3 style="font-size:14px;margin:20px 0 6px;color:#111827;">Messages and conversations per day</h3>
<img src="cid:{CHART_CID}" width="{w}" alt="Messages and conversations per day" style="width:100%;max-width:{w}px;height:auto;border:0;display:block;">"#,
        w = chart::WIDTH
    );
    for t in &lists {
        html += &top_table(t, accent);
    }
    if let Some(url) = &d.dashboard_url {
        html += &format!(
            r#"<p style="margin:24px 0 8px;"><a data-dashboard href="{u}" style="display:inline-block;background:{accent};color:{on_accent};text-decoration:none;padding:10px 18px;border-radius:4px;font-weight:bold;">Open the live dashboard</a></p>"#,
            u = esc(url)
        );
    }
    html += &format!(
        r#"</td></tr><tr><td style="padding:12px 20px;border-top:1px solid #e5e7eb;font-size:11px;color:#6b7280;">Counts are of the local days in {tz}. Changes compare with the same number of days just before.</td></tr>
</table></td></tr></table></body></html>"#,
        tz = esc(d.tz.name())
    );

    // The plain-text alternative: the same content, the counts exact.
    let mut text = format!(
        "{name}\n{cadence} report · {label}\n{from} to {to} ({tz}), compared with {pfrom} to {pto}.\n\n",
        cadence = cadence_word(d.cadence),
        label = d.period.label(),
        from = d.period.from,
        to = d.period.to,
        tz = d.tz.name(),
        pfrom = compared.from,
        pto = compared.to,
    );
    for k in &cards {
        text += &format!("{}: {} ({}; before: {})\n", k.label, k.shown, k.change.text, k.previous_shown);
    }
    text += &format!(
        "\nBot responses: {} (avg {})\n",
        format_count(o.bot_responses),
        format_duration(o.avg_bot_response_time_ms)
    );
    for t in &lists {
        text += &format!("\n{}\n", t.title);
        if t.rows.is_empty() {
            text += "  None in this period.\n";
        }
        for (label, n) in &t.rows {
            text += &format!("  {label}: {} {}\n", format_count(*n), t.unit);
        }
    }
    text += "\nPer day (messages / conversations)\n";
    for r in &o.daily {
        text += &format!("  {}: {} / {}\n", r.date, format_count(r.messages), format_count(r.conversations));
    }
    if let Some(url) = &d.dashboard_url {
        text += &format!("\nThe live dashboard: {url}\n");
    }
    Ok(OutgoingMail {
        subject,
        html,
        text,
        inline,
        attachments: Vec::new(),
        message_id: message_id.to_string(),
    })
}

/// The HTML with every `cid:` image replaced by a `data:` URL, for a browser (the settings
/// page's preview, a screenshot).
pub fn html_with_data_urls(m: &OutgoingMail) -> String {
    use base64::Engine;
    let mut html = m.html.clone();
    for p in &m.inline {
        let data = base64::engine::general_purpose::STANDARD.encode(&p.bytes);
        html = html.replace(&format!("cid:{}", p.id), &format!("data:{};base64,{data}", p.mime_type));
    }
    html
}
