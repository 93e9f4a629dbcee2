//! The stats page: one self-contained HTML file (inline CSS and SVG; no script, no fonts, no
//! fetches — its Content-Security-Policy forbids them) drawn from a [`Summary`].
//!
//! Every name on the page (addresses, hosts, mailboxes) comes from mail an attacker wrote, so
//! every one goes through [`escape`].

use std::fmt::Write;

use super::summary::{DayCounts, Ranking, Summary};

/// The chart's drawing size in SVG units (it scales to the page width).
const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 300.0;
/// The plot area inside it: room for the y labels on the left and the dates below.
const LEFT: f64 = 56.0;
const RIGHT: f64 = WIDTH - 12.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = HEIGHT - 34.0;

/// Colours: backscatter red, restored amber, genuine green; grid and text greys.
const RED: &str = "#e03131";
const AMBER: &str = "#f59f00";
const GREEN: &str = "#2f9e44";

/// What a ranking shows for a name nobody could tell (an IMAP move, a message deleted since).
const UNKNOWN: &str = "<span class=\"unknown\">unknown</span>";

const STYLE: &str = "
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #212529;
  font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 20px 24px 32px; }
h1 { font-size: 26px; margin: 0; letter-spacing: -0.01em; }
h1 span { color: #e03131; }
h2 { font-size: 16px; margin: 0 0 10px; color: #343a40; }
.sub { color: #6c757d; margin: 2px 0 18px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; margin-bottom: 16px; }
.card, .panel { background: #fff; border: 1px solid #dee2e6; border-radius: 10px; }
.card { padding: 14px 16px; }
.card .num { font-size: 30px; font-weight: 650; line-height: 1.1; }
.card .label { color: #6c757d; font-size: 13px; margin-top: 4px; }
.panel { padding: 16px 18px; margin-bottom: 16px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.grid2 .panel { margin-bottom: 0; }
.grid2 + .grid2 { margin-top: 16px; }
svg { display: block; width: 100%; height: auto; }
svg text { font: 12px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; fill: #495057; }
svg .axis { stroke: #adb5bd; } svg .grid { stroke: #e9ecef; }
svg text.peak { font-weight: 650; fill: #212529; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin-top: 8px; font-size: 13px; color: #495057; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
td { padding: 4px 0; vertical-align: middle; }
td.name { word-break: break-all; padding-right: 10px; width: 48%; }
td.count { text-align: right; font-variant-numeric: tabular-nums; padding-right: 10px; width: 12%; }
td.bar div { height: 10px; border-radius: 3px; background: #ff8787; min-width: 2px; }
tr.others td { color: #6c757d; }
.unknown { color: #868e96; font-style: italic; }
.note { color: #6c757d; font-size: 13px; margin: 8px 0 0; }
.empty { color: #6c757d; padding: 30px 0; text-align: center; }
footer { color: #868e96; font-size: 12px; margin-top: 20px; }
";

/// The whole page.
pub fn render(s: &Summary) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Nothing may load or run: a page about hostile mail shows hostile strings.
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<title>backscatter — stats</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<main>\n");
    let range = match (&s.since, s.days.first(), s.days.last()) {
        (Some(since), _, _) => format!("since {}", escape(since)),
        (None, Some(first), Some(last)) => format!("{} to {}", first.day, last.day),
        _ => "no moves yet".to_owned(),
    };
    let _ = writeln!(
        out,
        "<h1><span>backscatter</span> stats</h1>\n<p class=\"sub\">Forged bounces and auto-replies moved out of \
         the mailboxes · {range} · made {}</p>",
        escape(&s.generated)
    );
    cards(&mut out, s);
    out.push_str("<section class=\"panel\">\n<h2>Backscatter per day, by kind</h2>\n");
    if s.days.is_empty() {
        out.push_str("<p class=\"empty\">No moves in the journal yet.</p>\n");
    } else {
        chart(&mut out, s);
        let totals = s.kinds.iter().enumerate().map(|(i, k)| (k, s.days.iter().map(|d| d.counts[i]).sum::<u64>()));
        legend(&mut out, totals.map(|(k, n)| (kind_colour(k), format!("{} {}", escape(k), thousands(n)))));
    }
    out.push_str("</section>\n");
    genuine(&mut out, s);
    out.push_str("<div class=\"grid2\">\n");
    ranking(&mut out, "Top reporting MTAs", &s.reporting_mtas, UNKNOWN);
    ranking(&mut out, "Most targeted addresses", &s.targeted, UNKNOWN);
    out.push_str("</div>\n<div class=\"grid2\">\n");
    ranking(&mut out, "Reasons", &s.reasons, "<span class=\"unknown\">none (not a failure report)</span>");
    ranking(&mut out, "Mailboxes", &s.mailboxes, UNKNOWN);
    out.push_str("</div>\n");
    out.push_str(
        "<footer>Made by <code>backscatter stats --html</code> from the journal. Undo a move with \
         <code>backscatter restore ID</code>.</footer>\n</main>\n</body>\n</html>\n",
    );
    out
}

fn cards(out: &mut String, s: &Summary) {
    let peak = s.peak().map_or(("–".to_owned(), "busiest day".to_owned()), |p| {
        (thousands(p.total()), format!("busiest day, {}", p.day))
    });
    let genuine = s.genuine.map_or_else(|| UNKNOWN.to_owned(), thousands);
    out.push_str("<section class=\"cards\">\n");
    for (num, label) in [
        (thousands(s.backscatter), "moved as backscatter".to_owned()),
        (peak.0, peak.1),
        (thousands(s.restored), "put back by restore".to_owned()),
        (genuine, "genuine bounces kept".to_owned()),
    ] {
        let _ =
            writeln!(out, "<div class=\"card\"><div class=\"num\">{num}</div><div class=\"label\">{label}</div></div>");
    }
    out.push_str("</section>\n");
}

/// Stacked bars, one per day, the commonest kind at the bottom; a `<title>` on each day gives a
/// hover tooltip without script.
fn chart(out: &mut String, s: &Summary) {
    let peak = s.peak().map_or(0, DayCounts::total);
    let (tick, top) = scale(peak);
    let y = |v: f64| BOTTOM - (BOTTOM - TOP) * v / top as f64;
    let n = s.days.len() as f64;
    let step = (RIGHT - LEFT) / n;
    let bar = if step >= 4.0 { step * 0.78 } else { step };
    let _ = writeln!(
        out,
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"Backscatter moved per day, by kind\">"
    );
    let mut v = 0;
    while v <= top {
        let yy = y(v as f64);
        let class = if v == 0 { "axis" } else { "grid" };
        let _ = writeln!(
            out,
            "<line class=\"{class}\" x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 8.0,
            yy + 4.0,
            thousands(v)
        );
        v += tick;
    }
    let label_every = (s.days.len() / 10).max(1);
    for (i, day) in s.days.iter().enumerate() {
        let x = LEFT + step * i as f64 + (step - bar) / 2.0;
        let parts: Vec<String> = s
            .kinds
            .iter()
            .zip(&day.counts)
            .filter(|(_, c)| **c > 0)
            .map(|(k, c)| format!("{} {}", escape(k), thousands(*c)))
            .collect();
        let _ = write!(out, "<g><title>{}: {}", day.day, thousands(day.total()));
        if !parts.is_empty() {
            let _ = write!(out, " ({})", parts.join(", "));
        }
        out.push_str("</title>");
        let mut base = 0u64;
        for (kind, &count) in s.kinds.iter().zip(&day.counts) {
            if count == 0 {
                continue;
            }
            let (y0, y1) = (y((base + count) as f64), y(base as f64));
            let _ = write!(
                out,
                "<rect x=\"{x:.2}\" y=\"{y0:.2}\" width=\"{bar:.2}\" height=\"{:.2}\" fill=\"{}\"/>",
                (y1 - y0).max(0.5),
                kind_colour(kind)
            );
            base += count;
        }
        out.push_str("</g>\n");
        if i % label_every == 0 {
            let (year, m, d) = day.day.ymd();
            let text = if i == 0 { format!("{year}-{m:02}-{d:02}") } else { format!("{m:02}-{d:02}") };
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{text}</text>",
                (x + bar / 2.0).max(LEFT + 30.0),
                BOTTOM + 18.0
            );
        }
    }
    if let Some(p) = s.peak() {
        let i = s.days.iter().position(|d| d.day == p.day).unwrap_or(0);
        let x = LEFT + step * (i as f64 + 0.5);
        let anchor = if x > RIGHT - 80.0 {
            "end"
        } else if x < LEFT + 80.0 {
            "start"
        } else {
            "middle"
        };
        let _ = writeln!(
            out,
            "<text class=\"peak\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{} on {}</text>",
            y(p.total() as f64) - 6.0,
            thousands(p.total()),
            p.day
        );
    }
    out.push_str("</svg>\n");
}

/// One bar split into moved-and-left, moved-then-restored and genuine, with a legend.
fn genuine(out: &mut String, s: &Summary) {
    out.push_str("<section class=\"panel\">\n<h2>Genuine vs backscatter</h2>\n");
    let kept_away = s.backscatter.saturating_sub(s.restored);
    let segments = [
        (kept_away, RED, "backscatter, moved"),
        (s.restored, AMBER, "moved, then put back"),
        (s.genuine.unwrap_or(0), GREEN, "genuine, kept"),
    ];
    let total: u64 = segments.iter().map(|(n, _, _)| n).sum();
    if total > 0 {
        let _ =
            writeln!(out, "<svg viewBox=\"0 0 {WIDTH} 34\" role=\"img\" aria-label=\"Genuine against backscatter\">");
        let mut x = 0.0;
        for (n, colour, label) in segments {
            if n == 0 {
                continue;
            }
            let w = WIDTH * n as f64 / total as f64;
            let _ = writeln!(
                out,
                "<rect x=\"{x:.2}\" y=\"2\" width=\"{w:.2}\" height=\"30\" rx=\"3\" fill=\"{colour}\"><title>{label}: {}</title></rect>",
                thousands(n)
            );
            x += w;
        }
        out.push_str("</svg>\n");
    }
    let shown = |n: u64, known: bool| if known { thousands(n) } else { UNKNOWN.to_owned() };
    let known = [true, true, s.genuine.is_some()];
    legend(
        out,
        segments.iter().zip(known).map(|((n, colour, label), k)| (*colour, format!("{label}: {}", shown(*n, k)))),
    );
    if s.genuine.is_none() {
        out.push_str(
            "<p class=\"note\">The journal records moves only, so genuine bounces are not counted here. Moves \
             put back by <code>restore</code> are the ones someone judged genuine after all.</p>\n",
        );
    }
    out.push_str("</section>\n");
}

/// A ranked table with a bar per row; `none` is the HTML shown for a row without a name.
fn ranking(out: &mut String, title: &str, r: &Ranking, none: &str) {
    let _ = writeln!(out, "<section class=\"panel\">\n<h2>{}</h2>", escape(title));
    if r.rows.is_empty() {
        out.push_str("<p class=\"empty\">Nothing yet.</p>\n</section>\n");
        return;
    }
    let max = r.rows.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    out.push_str("<table>\n");
    for (name, n) in &r.rows {
        let name = name.as_deref().map_or_else(|| none.to_owned(), escape);
        let pct = 100.0 * *n as f64 / max as f64;
        let _ = writeln!(
            out,
            "<tr><td class=\"name\">{name}</td><td class=\"count\">{}</td><td class=\"bar\"><div style=\"width:{pct:.1}%\"></div></td></tr>",
            thousands(*n)
        );
    }
    if r.others > 0 {
        let _ = writeln!(
            out,
            "<tr class=\"others\"><td class=\"name\">{} {}</td><td class=\"count\">{}</td><td></td></tr>",
            thousands(r.other_names as u64),
            if r.other_names == 1 { "other" } else { "others" },
            thousands(r.others)
        );
    }
    out.push_str("</table>\n</section>\n");
}

fn legend(out: &mut String, items: impl Iterator<Item = (&'static str, String)>) {
    out.push_str("<div class=\"legend\">");
    for (colour, label) in items {
        let _ = write!(out, "<span><i style=\"background:{colour}\"></i>{label}</span>");
    }
    out.push_str("</div>\n");
}

/// A kind's colour: bounces warm, replies cool, the rest grey; stable across pages.
fn kind_colour(kind: &str) -> &'static str {
    match kind {
        "ndr" => RED,
        "delay" => "#fd7e14",
        "delivered" => "#fcc419",
        "autoreply" => "#1c7ed6",
        "auto-notice" => "#74c0fc",
        "challenge" => "#7048e8",
        "virus-notice" => "#c2255c",
        "mdn" => "#0ca678",
        "feedback" => "#495057",
        "forwarded-bounce" => "#e64980",
        _ => "#adb5bd",
    }
}

/// The y axis: a tick of 1, 2 or 5 × 10ⁿ giving about four gridlines, and the top of the axis
/// (a whole number of ticks at or above `peak`).
fn scale(peak: u64) -> (u64, u64) {
    let rough = (peak.max(1) as f64 / 4.0).max(1.0);
    let magnitude = 10f64.powf(rough.log10().floor());
    let tick = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|t| *t >= rough).unwrap_or(10.0 * magnitude);
    let tick = (tick as u64).max(1);
    (tick, peak.max(1).div_ceil(tick) * tick)
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text safe inside HTML and SVG elements and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::summary::{Move, Origin};
    use super::*;
    use crate::day::Day;

    #[test]
    fn scale_ticks() {
        assert_eq!(scale(0), (1, 1));
        assert_eq!(scale(7), (2, 8));
        assert_eq!(scale(1234), (500, 1500));
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn hostile_names_are_escaped() {
        let evil = "<script>alert(1)</script>\"@x";
        let moves = vec![Move {
            day: Day(20000),
            kind: "ndr".into(),
            reason: None,
            mailbox: "/m".into(),
            restored: false,
            origin: Origin { reporting_mta: Some(evil.into()), targeted: Some(evil.into()) },
        }];
        let page = render(&Summary::of(moves, "2026-12-03T00:00:00Z".into(), None));
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;@x"));
        assert!(page.contains("genuine bounces kept") && page.contains("<svg"));
    }

    #[test]
    fn empty_journal_still_makes_a_page() {
        let page = render(&Summary::of(Vec::new(), "now".into(), None));
        assert!(page.contains("No moves in the journal yet."));
        assert!(page.ends_with("</html>\n"));
    }
}
