//! A server-rendered inline SVG chart: bars for one series (net sales per day) and a line
//! for another (orders per day), each scaled to its own maximum. A point whose period is
//! not over (today) is drawn `partial`: a paler bar, and the line dashed into it, so that a
//! day that has only begun does not read as a collapse. No script, no inline style (the
//! CSP forbids both): presentation comes from the stylesheet's classes.

use std::fmt::Write;

pub struct Point {
    pub label: String,
    pub bar: f64,
    pub line: f64,
    /// Its period is not over yet.
    pub partial: bool,
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
    let mut line = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let x = PAD_L + step * i as f64;
        let h = scale(p.bar, max_bar);
        let _ = write!(
            s,
            "<rect class=\"bar{partial}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\"><title>{l}</title></rect>",
            partial = if p.partial { " partial" } else { "" },
            y = H - PAD_B - h,
            w = (step * 0.8).max(1.0),
            l = escape(&p.label)
        );
        line.push((x + step * 0.4, H - PAD_B - scale(p.line, max_line)));
    }
    // The line up to the first point not over, then dashed from the point before it.
    let over = points
        .iter()
        .position(|p| p.partial)
        .unwrap_or(points.len());
    let dashed = if over < line.len() {
        &line[over.saturating_sub(1)..]
    } else {
        &[]
    };
    for (class, part) in [("line", &line[..over]), ("line partial", dashed)] {
        if part.is_empty() {
            continue;
        }
        let mut d = String::new();
        for (i, (cx, cy)) in part.iter().enumerate() {
            let _ = write!(d, "{}{cx:.1},{cy:.1}", if i == 0 { "M" } else { " L" });
        }
        let _ = write!(s, "<path class=\"{class}\" d=\"{d}\"/>");
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
                partial: false,
            })
            .collect();
        let svg = bars_and_line("Sales & orders", &points);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("Sales &amp; orders"));
        assert!(!svg.contains("<d1>"));
        assert!(!svg.contains("style="));
        assert!(!svg.contains("partial"), "every day is over");
    }

    #[test]
    fn a_day_not_over_is_a_pale_bar_and_the_line_dashes_into_it() {
        let points: Vec<Point> = (0..4)
            .map(|i| Point {
                label: format!("d{i}"),
                bar: 10.0,
                line: 5.0,
                partial: i == 3,
            })
            .collect();
        let svg = bars_and_line("t", &points);
        assert_eq!(svg.matches("class=\"bar partial\"").count(), 1);
        assert_eq!(svg.matches("class=\"bar\"").count(), 3);
        let path = |class: &str| {
            let at = svg
                .find(&format!("<path class=\"{class}\" d=\""))
                .expect(class);
            let d = &svg[at..];
            d[..d.find("\"/>").unwrap()].matches(',').count()
        };
        assert_eq!(path("line"), 3, "the three days that are over");
        assert_eq!(path("line partial"), 2, "from the last day over into today");
    }
}
