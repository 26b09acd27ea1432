//! `plot`: draws latency percentiles against offered load as an SVG, from
//! the JSON lines of `fanout --rate ...` runs (the curve in BENCHMARKS.md).
//!
//! Hand-written SVG: a logarithmic latency axis (the curve spans
//! milliseconds to seconds), a linear load axis, one line per percentile,
//! the 50 ms target, and the saturation throughput of a window-mode run
//! as a vertical line when the input has one. A second series (`--compare`,
//! e.g. an experimental server build) is drawn dashed: its p50 and p99.

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use std::fmt::Write;
use std::path::PathBuf;

/// Options of `plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// JSON lines written by `fanout --json-out` (repeatable).
    #[arg(long, required = true)]
    pub input: Vec<PathBuf>,
    /// The SVG to write.
    #[arg(long, default_value = "bench/latency.svg")]
    pub output: PathBuf,
    /// Lines with this label make the chart (repeatable; default: all).
    /// Rate-mode lines are the points, window-mode lines the saturation.
    #[arg(long)]
    pub label: Vec<String>,
    /// The measured series' name in the legend.
    #[arg(long, default_value = "measured")]
    pub name: String,
    /// Lines with this label make a dashed comparison series (repeatable).
    #[arg(long)]
    pub compare: Vec<String>,
    /// The comparison series' name in the legend.
    #[arg(long, default_value = "compared")]
    pub compare_name: String,
    /// The chart's title.
    #[arg(long, default_value = "confab: one room of 1,000 members, one sender")]
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Latency {
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
}

/// The fields of a fanout JSON line the chart needs.
#[derive(Debug, Clone, Deserialize)]
struct Line {
    scenario: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    offered_deliveries_per_sec: Option<f64>,
    #[serde(default)]
    delivered_per_sec: f64,
    latency: Option<Latency>,
}

/// One point of the curve: offered deliveries/s and its latencies.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    offered: f64,
    /// p50, p90, p99, p99.9 in milliseconds.
    ms: [f64; 4],
}

/// A curve: its points by load, and the best saturation throughput.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    points: Vec<Point>,
    saturation: Option<f64>,
}

/// Runs `plot`.
pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let mut text = String::new();
    for input in &args.input {
        text += &std::fs::read_to_string(input)
            .with_context(|| format!("reading {}", input.display()))?;
        text.push('\n');
    }
    let main = series_of(&text, &args.label)?;
    if main.points.is_empty() {
        bail!("no fanout rate-mode lines with label(s) {:?}", args.label);
    }
    let compare = if args.compare.is_empty() {
        None
    } else {
        Some((series_of(&text, &args.compare)?, args.compare_name.as_str()))
    };
    let compare = compare.as_ref().map(|(series, name)| (series, *name));
    std::fs::write(&args.output, svg((&main, &args.name), compare, &args.title))
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!(
        "wrote {} ({} points)",
        args.output.display(),
        main.points.len()
    );
    Ok(())
}

/// The fanout lines whose label is one of `labels` (all if empty): the
/// rate-mode points sorted by load, and the best window-mode throughput.
fn series_of(text: &str, labels: &[String]) -> anyhow::Result<Series> {
    let mut series = Series::default();
    for (n, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line =
            serde_json::from_str(raw).with_context(|| format!("line {} is not JSON", n + 1))?;
        let wanted = labels.is_empty()
            || line
                .label
                .as_ref()
                .is_some_and(|l| labels.iter().any(|w| w == l));
        if line.scenario != "fanout" || !wanted {
            continue;
        }
        match (
            line.mode.as_str(),
            line.offered_deliveries_per_sec,
            line.latency,
        ) {
            ("rate", Some(offered), Some(l)) => series.points.push(Point {
                offered,
                ms: [l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms],
            }),
            ("window", _, _) => {
                let best = series.saturation.unwrap_or(0.0).max(line.delivered_per_sec);
                series.saturation = Some(best);
            }
            _ => {}
        }
    }
    series
        .points
        .sort_by(|a, b| a.offered.total_cmp(&b.offered));
    Ok(series)
}

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const SERIES: [(&str, &str); 4] = [
    ("p50", "#1b9e77"),
    ("p90", "#7570b3"),
    ("p99", "#d95f02"),
    ("p99.9", "#e7298a"),
];
/// The issue's target for p99 at half the saturation load.
const TARGET_MS: f64 = 50.0;

/// A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks.
fn nice_step(span: f64, ticks: f64) -> f64 {
    let raw = (span / ticks).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// `1234567` deliveries/s as `1,235k`.
fn kilo(v: f64) -> String {
    crate::report::thousands((v / 1000.0).round() as u64) + "k"
}

/// Draws the chart.
pub fn svg((main, name): (&Series, &str), compare: Option<(&Series, &str)>, title: &str) -> String {
    let points = &main.points;
    let extra: &[Point] = compare.map_or(&[], |(c, _)| &c.points);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_max_data = points
        .iter()
        .chain(extra)
        .map(|p| p.offered)
        .chain(main.saturation)
        .chain(compare.and_then(|(c, _)| c.saturation))
        .fold(1.0, f64::max);
    let x_step = nice_step(x_max_data, 6.0);
    let x_max = (x_max_data / x_step).ceil() * x_step;
    let all_ms = points
        .iter()
        .chain(extra)
        .flat_map(|p| p.ms)
        .chain([TARGET_MS]);
    let (lo, hi) = all_ms.fold((f64::MAX, f64::MIN), |(lo, hi), v| {
        (lo.min(v.max(0.001)), hi.max(v))
    });
    let y_lo = 10f64.powf(lo.log10().floor());
    let y_hi = 10f64.powf(hi.log10().ceil()).max(y_lo * 10.0);
    let x = |v: f64| LEFT + v / x_max * plot_w;
    let y = |ms: f64| {
        let t = (ms.max(y_lo).log10() - y_lo.log10()) / (y_hi.log10() - y_lo.log10());
        TOP + plot_h * (1.0 - t)
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="system-ui, sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" font-size="15" font-weight="600">{}</text>"#,
        LEFT,
        escape(title)
    );
    // Horizontal grid: every decade, labelled.
    let mut decade = y_lo;
    while decade <= y_hi * 1.0001 {
        let yy = y(decade);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 8.0,
            yy + 4.0,
            format_ms(decade)
        );
        decade *= 10.0;
    }
    // Vertical grid.
    let mut tick = 0.0;
    while tick <= x_max * 1.0001 {
        let xx = x(tick);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{TOP}" y2="{:.1}" stroke="#eee"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0,
            kilo(tick)
        );
        tick += x_step;
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#888"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">offered load (deliveries/s)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 14.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">send → receive latency (ms, log scale)</text>"#,
        TOP + plot_h / 2.0
    );
    // The target and the saturation point.
    let ty = y(TARGET_MS);
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}" stroke="#c00" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#c00">p99 target 50 ms</text>"##,
        LEFT + plot_w,
        LEFT + 6.0,
        ty - 5.0
    );
    let saturations = [(main.saturation, "saturation", "#555")]
        .into_iter()
        .chain(compare.map(|(c, name)| (c.saturation, name, "#999")));
    for (k, (sat, name, colour)) in saturations.enumerate() {
        let Some(sat) = sat else { continue };
        let sx = x(sat);
        let _ = writeln!(
            s,
            r##"<line x1="{sx:.1}" x2="{sx:.1}" y1="{TOP}" y2="{:.1}" stroke="{colour}" stroke-dasharray="2 3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{colour}">{} {}/s</text>"##,
            TOP + plot_h,
            sx - 4.0,
            TOP + 14.0 + 16.0 * k as f64,
            escape(if k == 0 { name } else { "saturation" }),
            kilo(sat)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-weight="600">{}</text>"#,
        LEFT + plot_w + 10.0,
        TOP + 24.0,
        escape(name)
    );
    // One line per percentile, with a dot per measured stage.
    for (i, (name, colour)) in SERIES.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.offered), y(p.ms[i])))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for p in points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{name} {:.2} ms at {} deliveries/s</title></circle>"#,
                x(p.offered),
                y(p.ms[i]),
                p.ms[i],
                kilo(p.offered)
            );
        }
        let ly = TOP + 40.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            LEFT + plot_w + 10.0,
            LEFT + plot_w + 34.0,
            LEFT + plot_w + 40.0,
            ly + 4.0
        );
    }
    if let Some((c, name)) = compare {
        // Dashed p50 and p99 of the comparison series.
        for (i, dash) in [(0, "2 3"), (2, "7 4")] {
            let (label, colour) = SERIES[i];
            let path: Vec<String> = c
                .points
                .iter()
                .map(|p| format!("{:.1},{:.1}", x(p.offered), y(p.ms[i])))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" stroke-dasharray="{dash}" points="{}"/>"#,
                path.join(" ")
            );
            let ly = TOP + 40.0 + 20.0 * (SERIES.len() + 1 + usize::from(i > 0)) as f64;
            let _ = writeln!(
                s,
                r#"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{:.1}">{label}</text>"#,
                LEFT + plot_w + 10.0,
                LEFT + plot_w + 34.0,
                LEFT + plot_w + 40.0,
                ly + 4.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-weight="600">{}</text>"#,
            LEFT + plot_w + 10.0,
            TOP + 40.0 + 20.0 * SERIES.len() as f64 + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn format_ms(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms} ms")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = r#"
{"scenario":"fanout","mode":"rate","offered_deliveries_per_sec":100000.0,"delivered_per_sec":99000.0,"latency":{"p50_ms":2.0,"p90_ms":3.0,"p99_ms":5.0,"p999_ms":9.0}}
{"scenario":"fanout","mode":"window","delivered_per_sec":250000.0,"latency":{"p50_ms":20.0,"p90_ms":30.0,"p99_ms":50.0,"p999_ms":90.0}}
{"scenario":"idle","connections":10}
{"scenario":"fanout","label":"a","mode":"rate","offered_deliveries_per_sec":50000.0,"delivered_per_sec":50000.0,"latency":{"p50_ms":1.0,"p90_ms":1.5,"p99_ms":2.0,"p999_ms":4.0}}
"#;

    #[test]
    fn reads_rate_points_sorted_and_the_saturation() {
        let all = series_of(LINES, &[]).unwrap();
        assert_eq!(all.points.len(), 2);
        assert_eq!(all.points[0].offered, 50000.0);
        assert_eq!(all.points[1].ms, [2.0, 3.0, 5.0, 9.0]);
        assert_eq!(all.saturation, Some(250000.0));
        let none = series_of(LINES, &["other".to_owned()]).unwrap();
        assert_eq!(none, Series::default());
        let labelled = series_of(LINES, &["a".to_owned()]).unwrap();
        assert_eq!(labelled.points.len(), 1);
        assert_eq!(labelled.saturation, None);
    }

    #[test]
    fn draws_one_line_per_percentile() {
        let main = series_of(LINES, &[]).unwrap();
        let chart = svg((&main, "m"), None, "a <test>");
        assert!(chart.starts_with("<svg"));
        assert!(chart.trim_end().ends_with("</svg>"));
        assert_eq!(chart.matches("<polyline").count(), 4);
        assert_eq!(chart.matches("<circle").count(), 8);
        assert!(chart.contains("a &lt;test&gt;"));
        assert!(chart.contains("saturation 250k/s"));
    }

    #[test]
    fn a_comparison_adds_dashed_p50_and_p99() {
        let main = series_of(LINES, &[]).unwrap();
        let other = series_of(LINES, &["a".to_owned()]).unwrap();
        let chart = svg((&main, "m"), Some((&other, "patched")), "t");
        assert_eq!(chart.matches("<polyline").count(), 6);
        assert!(chart.contains(">patched<"));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(300_000.0, 6.0), 50_000.0);
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(7.0, 7.0), 1.0);
    }
}
