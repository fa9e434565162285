//! The report: one self-contained HTML page (inline CSS and SVG, no script, nothing fetched)
//! with the team's figures and five charts drawn by `plotters`: response time per tier on the
//! recipients' own clocks, the SLA met rate by week, the ladder step answers came at, RFC cycle
//! times and standup participation by weekday. Each chart carries its numbers in a table
//! beneath it (for screen readers, and for anyone who wants the figures). Colours are the
//! Okabe–Ito palette, readable by people with colour-vision deficiencies; the page reflows on a
//! phone. Team figures only, never a per-person chart.

use chrono::{DateTime, Utc};
use plotters::prelude::*;

use super::Gathered;
use crate::domain::metrics::{End, TIERS, describe, percent, standup_by_weekday, tier_name};

/// Okabe–Ito: blue, orange, bluish green, vermillion, reddish purple.
const PALETTE: [RGBColor; 5] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
];

/// Response-time buckets a person reads, in hours: [0, 1), [1, 4), … [48, ∞).
const BUCKETS: [(&str, f64); 6] = [
    ("< 1 h", 1.0),
    ("1–4 h", 4.0),
    ("4–8 h", 8.0),
    ("8–24 h", 24.0),
    ("1–2 d", 48.0),
    ("> 2 d", f64::INFINITY),
];

/// RFC cycle-time buckets, in days.
const CYCLES: [(&str, f64); 5] = [
    ("< 1 d", 1.0),
    ("1–2 d", 2.0),
    ("2–5 d", 5.0),
    ("5–10 d", 10.0),
    ("> 10 d", f64::INFINITY),
];

/// One bar series: its name, and a value per label.
struct Series {
    name: String,
    values: Vec<f64>,
}

/// A chart's numbers: what the table under it shows, and what the bars draw.
struct Chart {
    id: &'static str,
    title: &'static str,
    /// What it shows, and what good looks like.
    note: String,
    labels: Vec<String>,
    series: Vec<Series>,
    /// "%" for rates (the axis runs to 100), "" for counts.
    unit: &'static str,
}

fn bucket(value: f64, buckets: &[(&str, f64)]) -> usize {
    buckets
        .iter()
        .position(|(_, upper)| value < *upper)
        .unwrap_or(buckets.len() - 1)
}

fn charts(g: &Gathered, from: DateTime<Utc>, to: DateTime<Utc>, weeks: u32) -> Vec<Chart> {
    let figures = g.figures(from, to);
    // Response times, by tier and bucket.
    let mut response: Vec<Series> = TIERS
        .iter()
        .map(|t| Series {
            name: tier_name(*t).to_owned(),
            values: vec![0.0; BUCKETS.len()],
        })
        .collect();
    for o in g
        .outcomes
        .iter()
        .filter(|o| from <= o.closed_at && o.closed_at < to)
    {
        if let Some(r) = o.response {
            let tier = TIERS.iter().position(|t| *t == o.tier).unwrap_or(1);
            response[tier].values[bucket(r.as_secs_f64() / 3600.0, &BUCKETS)] += 1.0;
        }
    }
    response.retain(|s| s.values.iter().any(|v| *v > 0.0));
    // SLA met, week by week.
    let week_labels: Vec<String> = (0..weeks)
        .rev()
        .map(|n| {
            let end = to - chrono::Duration::weeks(i64::from(n));
            format!("to {}", end.format("%-d %b"))
        })
        .collect();
    let met = g.weekly_met_rates(to, weeks);
    // Where answers came on the ladder, and how many expired.
    let mut step_labels: Vec<String> = (0..=g.steps.len())
        .map(|n| crate::domain::metrics::step_label(n, &g.steps))
        .collect();
    let mut steps: Vec<f64> = (0..=g.steps.len())
        .map(|n| figures.answered_at_step.get(n).copied().unwrap_or(0) as f64)
        .collect();
    step_labels.push("expired unanswered".to_owned());
    steps.push(
        g.outcomes
            .iter()
            .filter(|o| o.end == End::Expired && from <= o.closed_at && o.closed_at < to)
            .count() as f64,
    );
    // RFC cycle times.
    let mut cycles = vec![0.0; CYCLES.len()];
    for c in &figures.rfc_cycles {
        cycles[bucket(c.as_secs_f64() / 86_400.0, &CYCLES)] += 1.0;
    }
    // Standups by weekday.
    let standups: Vec<_> = g
        .standups
        .iter()
        .filter(|s| from.date_naive() <= s.date && s.date < to.date_naive())
        .cloned()
        .collect();
    let by_day = standup_by_weekday(&standups);
    let day_rates: Vec<f64> = by_day
        .iter()
        .map(|(expected, answered)| {
            crate::domain::metrics::rate(*answered, *expected).unwrap_or(0.0)
        })
        .collect();
    vec![
        Chart {
            id: "response",
            title: "Response time per tier",
            note: "Answers by how long they took on each recipient's own clock (their working days and hours). Most should come well within the tier's SLA.".into(),
            labels: BUCKETS.iter().map(|(l, _)| (*l).to_owned()).collect(),
            series: response,
            unit: "",
        },
        Chart {
            id: "met",
            title: "SLA met, week by week",
            note: "The share of requests answered within their SLA each week (answered late or expired counts as missed). Higher is better.".into(),
            labels: week_labels,
            series: vec![Series {
                name: "Within the SLA".into(),
                values: met.iter().map(|m| m.unwrap_or(0.0)).collect(),
            }],
            unit: "%",
        },
        Chart {
            id: "ladder",
            title: "Where answers came on the ladder",
            note: format!(
                "The norm: most answers before any nudge or after the first one or two steps; few calls, none expired. {} of answers came by the second step.",
                percent(figures.early_rate())
            ),
            labels: step_labels,
            series: vec![Series {
                name: "Requests".into(),
                values: steps,
            }],
            unit: "",
        },
        Chart {
            id: "rfc",
            title: "RFC cycle time",
            note: format!(
                "From opening to decision, for each RFC decided: {} decided, {} within their window.",
                figures.rfcs_decided, figures.rfcs_on_time
            ),
            labels: CYCLES.iter().map(|(l, _)| (*l).to_owned()).collect(),
            series: vec![Series {
                name: "RFCs".into(),
                values: cycles,
            }],
            unit: "",
        },
        Chart {
            id: "standup",
            title: "Standup participation by weekday",
            note: "The share of expected answers that came, by weekday (days without a standup show nothing).".into(),
            labels: crate::domain::metrics::WEEKDAYS
                .iter()
                .map(|d| d.to_string())
                .collect(),
            series: vec![Series {
                name: "Answered".into(),
                values: day_rates,
            }],
            unit: "%",
        },
    ]
}

/// The chart as an SVG drawn by plotters: grouped bars, one colour per series.
fn svg(chart: &Chart) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (640, 300)).into_drawing_area();
        let _ = root.fill(&WHITE);
        // Counts get whole-number ticks (at most ten), rates run to 100%.
        let top = if chart.unit == "%" {
            100.0
        } else {
            let max = chart
                .series
                .iter()
                .flat_map(|s| s.values.iter().copied())
                .fold(0.0, f64::max)
                .max(1.0);
            let step = (max / 8.0).ceil().max(1.0);
            ((max * 1.1 / step).ceil() * step).max(max + step)
        };
        let y_ticks = if chart.unit == "%" {
            11
        } else {
            let max = top as usize;
            let step = max.div_ceil(10).max(1);
            max / step + 1
        };
        let n = chart.labels.len().max(1);
        let labels = chart.labels.clone();
        let built = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0.0..n as f64, 0.0..top);
        let Ok(mut ctx) = built else {
            return String::new();
        };
        let _ = ctx
            .configure_mesh()
            .disable_x_mesh()
            // Key points every half unit: the halves are the bars' centres, labelled.
            .x_labels(2 * n + 1)
            .x_label_formatter(&|x| {
                if (x.fract() - 0.5).abs() < 1e-6 {
                    labels.get(x.floor() as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_labels(y_ticks)
            .y_label_formatter(&|y| format!("{y:.0}{}", chart.unit))
            .label_style(("sans-serif", 13).into_font().color(&RGBColor(40, 40, 40)))
            .draw();
        let groups = chart.series.len().max(1) as f64;
        let width = 0.8 / groups;
        for (k, series) in chart.series.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let bars = series.values.iter().enumerate().map(|(i, v)| {
                let x0 = i as f64 + 0.1 + width * k as f64;
                Rectangle::new([(x0, 0.0), (x0 + width * 0.95, *v)], colour.filled())
            });
            if let Ok(drawn) = ctx.draw_series(bars) {
                drawn.label(series.name.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
            }
        }
        if chart.series.len() > 1 {
            let _ = ctx
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(200, 200, 200))
                .label_font(("sans-serif", 13))
                .draw();
        }
        let _ = root.present();
    }
    out
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A describe line (Slack mrkdwn: `• *Normal*: …`) as plain text.
pub fn plain(line: &str) -> String {
    line.trim_start_matches('•')
        .replace('*', "")
        .trim()
        .to_owned()
}

fn number(v: f64, unit: &str) -> String {
    if unit == "%" {
        format!("{v:.0}%")
    } else {
        format!("{v:.0}")
    }
}

/// The page for `scope` (its name as people read it) over the `weeks` weeks ending at `to`.
pub fn render(
    g: &Gathered,
    scope: &str,
    to: DateTime<Utc>,
    weeks: u32,
    min_group: usize,
) -> String {
    let from = to - chrono::Duration::weeks(i64::from(weeks.max(1)));
    let figures = g.figures(from, to);
    let mut body = String::new();
    let headline: Vec<String> = if figures.is_empty() {
        vec!["Nothing to show yet: figures appear as requests are answered, RFCs decided and standups answered.".to_owned()]
    } else if g.too_few(min_group) {
        vec![format!(
            "Fewer than {min_group} people were counted, so the team's figures are not shown: they would be one person's own."
        )]
    } else {
        describe(&figures, &g.steps)
            .iter()
            .map(|l| plain(l))
            .collect()
    };
    body.push_str("<section class=\"headline\"><h2>The figures</h2><ul>");
    for line in &headline {
        body.push_str(&format!("<li>{}</li>", html_escape(line)));
    }
    body.push_str("</ul></section>");
    if !figures.is_empty() && !g.too_few(min_group) {
        for chart in charts(g, from, to, weeks.max(1)) {
            body.push_str(&figure(&chart));
        }
    }
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>asyncbot: how the team keeps its norms</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 860px; padding: 1rem; color: #1a1a1a; background: #fff; line-height: 1.45; }}
h1 {{ font-size: 1.5rem; margin: 0.5rem 0 0.25rem; }}
.meta {{ color: #4a4a4a; margin: 0 0 1rem; }}
figure {{ margin: 1.5rem 0; padding: 0.75rem; border: 1px solid #d0d0d0; border-radius: 8px; }}
figure h2, section h2 {{ font-size: 1.1rem; margin: 0 0 0.25rem; }}
.note {{ color: #3d3d3d; margin: 0 0 0.5rem; font-size: 0.95rem; }}
.chart svg {{ width: 100%; height: auto; display: block; }}
table {{ border-collapse: collapse; margin-top: 0.5rem; font-size: 0.9rem; width: 100%; display: block; overflow-x: auto; }}
th, td {{ border: 1px solid #d0d0d0; padding: 0.2rem 0.5rem; text-align: right; white-space: nowrap; }}
th:first-child, td:first-child {{ text-align: left; }}
ul {{ padding-left: 1.2rem; }}
</style>
</head>
<body>
<h1>How the team keeps its norms</h1>
<p class="meta">{scope} · {period} to {to} · generated by asyncbot. Team figures only: nobody is ranked or named.</p>
{body}
</body>
</html>
"#,
        scope = html_escape(scope),
        period = if weeks <= 1 {
            "the week".to_owned()
        } else {
            format!("the {weeks} weeks")
        },
        to = to.format("%a %-d %b %Y %H:%M UTC"),
    )
}

fn figure(chart: &Chart) -> String {
    let mut table = String::from("<table><thead><tr><th></th>");
    for label in &chart.labels {
        table.push_str(&format!("<th scope=\"col\">{}</th>", html_escape(label)));
    }
    table.push_str("</tr></thead><tbody>");
    for s in &chart.series {
        table.push_str(&format!(
            "<tr><th scope=\"row\">{}</th>",
            html_escape(&s.name)
        ));
        for v in &s.values {
            table.push_str(&format!("<td>{}</td>", number(*v, chart.unit)));
        }
        table.push_str("</tr>");
    }
    table.push_str("</tbody></table>");
    let summary: Vec<String> = chart
        .series
        .iter()
        .map(|s| {
            let values: Vec<String> = chart
                .labels
                .iter()
                .zip(&s.values)
                .map(|(l, v)| format!("{l}: {}", number(*v, chart.unit)))
                .collect();
            format!("{}: {}", s.name, values.join(", "))
        })
        .collect();
    format!(
        "<figure id=\"{id}\"><h2>{title}</h2><p class=\"note\">{note}</p><div class=\"chart\" role=\"img\" aria-label=\"{label}\">{svg}</div>{table}</figure>",
        id = chart.id,
        title = html_escape(chart.title),
        note = html_escape(&chart.note),
        label = html_escape(&format!("{}. {}", chart.title, summary.join("; "))),
        svg = svg(chart),
    )
}

/// How many weeks a report may cover: what the store keeps of closed requests.
pub const MAX_WEEKS: u32 = 52;

/// The report page of `channel` (or the workspace) over `weeks` weeks to `now`.
pub fn page(
    store: &crate::store::Store,
    settings: &crate::config::Settings,
    channel: Option<&str>,
    weeks: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, crate::store::StoreError> {
    use super::{Scope, gather};
    let scope = match channel {
        Some(c) => Scope::Channel(c.to_owned()),
        None => Scope::Workspace,
    };
    let label = match channel {
        Some(c) => format!("Channel {c}"),
        None => "The whole workspace".to_owned(),
    };
    let from = now - chrono::Duration::weeks(i64::from(weeks));
    let gathered = store.read(|rx| gather(rx, settings, &scope, from, now))?;
    Ok(render(
        &gathered,
        &label,
        now,
        weeks,
        settings.respect.metrics_min_group,
    ))
}
