//! Charts drawn on the server: an SVG built here, rasterized to PNG by resvg with the bundled
//! DejaVu Sans (`fonts/`), so rendering needs no browser, no system font and no network.

use std::sync::{Arc, OnceLock};

use agentsight_protocol::metrics::DailyRow;
use chrono::{Datelike, NaiveDate};

/// The font every chart is drawn with (DejaVu Sans, Bitstream Vera license: `fonts/`).
pub const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// CSS pixels of a chart; the PNG has twice as many (sharp on high-density screens).
pub const WIDTH: u32 = 560;
/// Height in CSS pixels.
pub const HEIGHT: u32 = 220;
const SCALE: f32 = 2.0;

fn fontdb() -> Arc<resvg::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_font_data(FONT.to_vec());
        Arc::new(db)
    })
    .clone()
}

/// Rasterizes an SVG document to PNG at twice its size, on white.
pub fn svg_to_png(svg: &str) -> Result<Vec<u8>, String> {
    let opt =
        resvg::usvg::Options { font_family: "DejaVu Sans".into(), fontdb: fontdb(), ..Default::default() };
    let tree = resvg::usvg::Tree::from_str(svg, &opt).map_err(|e| e.to_string())?;
    let size = tree.size();
    let (w, h) = ((size.width() * SCALE).ceil() as u32, (size.height() * SCALE).ceil() as u32);
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).ok_or("empty chart")?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(SCALE, SCALE), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| e.to_string())
}

/// The largest value an axis reaches: `max` rounded up to 1, 2 or 5 × 10ⁿ, and its ticks.
fn nice_axis(max: u64) -> (u64, Vec<u64>) {
    let max = max.max(1);
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let s = step * m;
            if s * 4 >= max {
                let top = max.div_ceil(s) * s;
                return (top, (0..=top / s).map(|i| i * s).collect());
            }
        }
        step *= 10;
    }
}

/// The daily chart's SVG: messages and conversations per local day of the period, as grouped
/// bars (`accent` for messages, grey for conversations), with the value axis and day labels.
pub fn daily_svg(daily: &[DailyRow], accent: &str) -> String {
    let (w, h) = (WIDTH as f32, HEIGHT as f32);
    let (left, right, top, bottom) = (44.0, 12.0, 30.0, 28.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let max = daily.iter().map(|d| d.messages.max(d.conversations)).max().unwrap_or(0);
    let (axis_max, ticks) = nice_axis(max);
    let y = |v: u64| top + ph - (v as f32 / axis_max as f32) * ph;
    let n = daily.len().max(1) as f32;
    let slot = pw / n;
    let bar = (slot * 0.36).max(1.0);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans" font-size="10">"##
    );
    // Legend.
    s += &format!(
        r##"<rect x="{left}" y="8" width="10" height="10" fill="{accent}"/><text x="{}" y="17" fill="#333">Messages</text>"##,
        left + 14.0
    );
    s += &format!(
        r##"<rect x="{}" y="8" width="10" height="10" fill="#9aa3ad"/><text x="{}" y="17" fill="#333">Conversations</text>"##,
        left + 90.0,
        left + 104.0
    );
    for t in &ticks {
        let ty = y(*t);
        s += &format!(
            r##"<line x1="{left}" x2="{}" y1="{ty}" y2="{ty}" stroke="#e3e6ea" stroke-width="1"/><text x="{}" y="{}" text-anchor="end" fill="#555">{t}</text>"##,
            w - right,
            left - 6.0,
            ty + 3.5
        );
    }
    let every = if daily.len() <= 10 { 1 } else { 5 };
    for (i, d) in daily.iter().enumerate() {
        let x0 = left + slot * i as f32 + (slot - 2.0 * bar) / 2.0;
        for (k, (v, fill)) in [(d.messages, accent), (d.conversations, "#9aa3ad")].into_iter().enumerate() {
            let (yt, x) = (y(v), x0 + bar * k as f32);
            s += &format!(
                r##"<rect x="{x}" y="{yt}" width="{bar}" height="{}" fill="{fill}"/>"##,
                top + ph - yt
            );
        }
        let date = NaiveDate::parse_from_str(&d.date, "%Y-%m-%d").ok();
        let label = match date {
            Some(day) if daily.len() <= 10 => day.format("%a %-d").to_string(),
            Some(day) if day.day0() % every == 0 => day.format("%-d").to_string(),
            _ => String::new(),
        };
        if !label.is_empty() {
            s += &format!(
                r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">{label}</text>"##,
                left + slot * (i as f32 + 0.5),
                h - bottom + 16.0
            );
        }
    }
    s += &format!(
        r##"<line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="#888" stroke-width="1"/></svg>"##,
        w - right,
        top + ph,
        top + ph
    );
    s
}

/// The daily chart as PNG.
pub fn daily_png(daily: &[DailyRow], accent: &str) -> Result<Vec<u8>, String> {
    svg_to_png(&daily_svg(daily, accent))
}

/// An SVG logo as PNG (mail programs show PNG, few show SVG), `height` CSS pixels high.
pub fn logo_png(svg: &[u8], height: f32) -> Result<Vec<u8>, String> {
    let opt = resvg::usvg::Options { fontdb: fontdb(), ..Default::default() };
    let tree = resvg::usvg::Tree::from_data(svg, &opt).map_err(|e| e.to_string())?;
    let size = tree.size();
    let k = height * SCALE / size.height().max(1.0);
    let (w, h) = ((size.width() * k).ceil().max(1.0) as u32, (size.height() * k).ceil().max(1.0) as u32);
    if w > 4096 || h > 4096 {
        return Err("the logo is too wide".into());
    }
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).ok_or("empty logo")?;
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(k, k), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_axis(0), (1, vec![0, 1]));
        assert_eq!(nice_axis(7).0, 8);
        assert_eq!(nice_axis(130), (150, vec![0, 50, 100, 150]));
    }

    #[test]
    fn the_daily_chart_is_a_png_of_twice_its_size_with_text_drawn() {
        let daily: Vec<DailyRow> = (1..=7)
            .map(|d| DailyRow {
                date: format!("2026-11-{:02}", 29 + d - 29 + 23),
                messages: d * 10,
                conversations: d,
            })
            .collect();
        let png = daily_png(&daily, "#1f77b4").unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((w, h), (WIDTH * 2, HEIGHT * 2));
        // The text was drawn with the bundled font: the same chart without its labels differs.
        let bare = svg_to_png(&daily_svg(&daily, "#1f77b4").replace("Messages", "")).unwrap();
        assert_ne!(png, bare);
    }
}
