//! A server-rendered inline SVG chart: bars for one series (net sales per day) and a line
//! for another (orders per day), each scaled to its own maximum. No script, no inline
//! style (the CSP forbids both): presentation comes from the stylesheet's classes.

use std::fmt::Write;

pub struct Point {
    pub label: String,
    pub bar: f64,
    pub line: f64,
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const PAD_L: f64 = 8.0;
const PAD_B: f64 = 22.0;
const PAD_T: f64 = 10.0;

/// The chart as SVG markup; `title` is its accessible name.
pub fn bars_and_line(title: &str, points: &[Point]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = escape(title)
    );
    let n = points.len().max(1) as f64;
    let plot_h = H - PAD_B - PAD_T;
    let step = (W - 2.0 * PAD_L) / n;
    let max_bar = points.iter().map(|p| p.bar).fold(0.0, f64::max);
    let max_line = points.iter().map(|p| p.line).fold(0.0, f64::max);
    let scale = |v: f64, max: f64| if max > 0.0 { v / max * plot_h } else { 0.0 };
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{PAD_L}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\"/>",
        y = H - PAD_B,
        x2 = W - PAD_L
    );
    let mut path = String::new();
    for (i, p) in points.iter().enumerate() {
        let x = PAD_L + step * i as f64;
        let h = scale(p.bar, max_bar);
        let _ = write!(
            s,
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\"><title>{l}</title></rect>",
            y = H - PAD_B - h,
            w = (step * 0.8).max(1.0),
            l = escape(&p.label)
        );
        let cx = x + step * 0.4;
        let cy = H - PAD_B - scale(p.line, max_line);
        let _ = write!(path, "{}{cx:.1},{cy:.1}", if i == 0 { "M" } else { " L" });
    }
    if !path.is_empty() {
        let _ = write!(s, "<path class=\"line\" d=\"{path}\"/>");
    }
    // Labels: first, middle and last point; the last ends at its bar, so a name stays
    // inside the chart.
    let last = points.len().saturating_sub(1);
    for i in [0, last / 2, last] {
        if let Some(p) = points.get(i) {
            let x = PAD_L + step * i as f64;
            let (x, anchor) = match i {
                0 => (x, "start"),
                i if i == last => (x + step * 0.8, "end"),
                _ => (x + step * 0.4, "middle"),
            };
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"{anchor}\">{}</text>",
                escape(&p.label),
                y = H - 6.0
            );
        }
        if last == 0 {
            break;
        }
    }
    s.push_str("</svg>");
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_a_bar_per_day_and_escapes_its_labels() {
        let points: Vec<Point> = (0..3)
            .map(|i| Point {
                label: format!("<d{i}>"),
                bar: i as f64,
                line: 1.0,
            })
            .collect();
        let svg = bars_and_line("Sales & orders", &points);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("Sales &amp; orders"));
        assert!(!svg.contains("<d1>"));
        assert!(!svg.contains("style="));
    }
}
