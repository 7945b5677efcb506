//! The demo's SVG chart: int8 test accuracy and firmware instructions against the share of
//! weights removed, one colour per method. Plain SVG text, no dependency.

use std::fmt::Write;

/// One point of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Method name ("base", "l1", "l0", ...): picks the colour.
    pub method: String,
    /// Short label printed beside the point.
    pub label: String,
    /// % of weights removed (x).
    pub weights_removed_pct: f64,
    /// int8 test accuracy in % (left panel).
    pub accuracy_pct: f64,
    /// Instructions per inference (right panel).
    pub instructions: f64,
}

const W: f64 = 460.0;
const H: f64 = 360.0;
const PAD_L: f64 = 62.0;
const PAD_R: f64 = 18.0;
const PAD_T: f64 = 40.0;
const PAD_B: f64 = 50.0;

fn colour(method: &str) -> &'static str {
    match method {
        "base" => "#222222",
        "l1" => "#1f77b4",
        "l0" => "#ff7f0e",
        "first-k" => "#2ca02c",
        "apoz" => "#9467bd",
        "l1-norm" => "#8c564b",
        _ => "#d62728",
    }
}

/// A "nice" axis range and tick step covering `lo..hi`.
fn axis(lo: f64, hi: f64) -> (f64, f64, f64) {
    let span = (hi - lo).max(1e-9);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

fn panel(svg: &mut String, x0: f64, title: &str, y_label: &str, pts: &[(f64, f64, &Point)]) {
    let (xmin, xmax, xstep) = axis(0.0, pts.iter().map(|p| p.0).fold(10.0, f64::max));
    let ylo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let yhi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (ymin, ymax, ystep) = axis(
        ylo - (yhi - ylo).max(1.0) * 0.1,
        yhi + (yhi - ylo).max(1.0) * 0.1,
    );
    let px = |x: f64| x0 + PAD_L + (x - xmin) / (xmax - xmin) * (W - PAD_L - PAD_R);
    let py = |y: f64| PAD_T + (ymax - y) / (ymax - ymin) * (H - PAD_T - PAD_B);
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="22" font-size="15" text-anchor="middle" font-weight="bold">{title}</text>"#,
        x0 + W / 2.0
    );
    let mut x = xmin;
    while x <= xmax + 1e-9 {
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#ddd"/><text x="{0:.1}" y="{3:.1}" font-size="11" text-anchor="middle">{x}</text>"##,
            px(x),
            PAD_T,
            H - PAD_B,
            H - PAD_B + 15.0
        );
        x += xstep;
    }
    let mut y = ymin;
    while y <= ymax + 1e-9 {
        let _ = writeln!(
            svg,
            r##"<line x1="{1:.1}" y1="{0:.1}" x2="{2:.1}" y2="{0:.1}" stroke="#ddd"/><text x="{3:.1}" y="{4:.1}" font-size="11" text-anchor="end">{5}</text>"##,
            py(y),
            x0 + PAD_L,
            x0 + W - PAD_R,
            x0 + PAD_L - 5.0,
            py(y) + 4.0,
            fmt_tick(y, ystep)
        );
        y += ystep;
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{:.1}" y="{PAD_T}" width="{:.1}" height="{:.1}" fill="none" stroke="#444"/>"##,
        x0 + PAD_L,
        W - PAD_L - PAD_R,
        H - PAD_T - PAD_B
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">% of weights removed</text>"#,
        x0 + PAD_L + (W - PAD_L - PAD_R) / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="{0:.1}" y="{1:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 {0:.1} {1:.1})">{y_label}</text>"#,
        x0 + 16.0,
        PAD_T + (H - PAD_T - PAD_B) / 2.0
    );
    for &(x, y, p) in pts {
        let _ = writeln!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="{}"><title>{}</title></circle><text x="{:.1}" y="{:.1}" font-size="10">{}</text>"#,
            px(x),
            py(y),
            colour(&p.method),
            escape(&p.label),
            px(x) + 7.0,
            py(y) - 6.0,
            escape(&p.label)
        );
    }
}

fn fmt_tick(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The whole chart as an SVG document.
pub fn svg(points: &[Point]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{:.0}" font-family="sans-serif">"#,
        2.0 * W,
        H
    );
    s.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    s.push('\n');
    let acc: Vec<_> = points
        .iter()
        .map(|p| (p.weights_removed_pct, p.accuracy_pct, p))
        .collect();
    let ins: Vec<_> = points
        .iter()
        .map(|p| (p.weights_removed_pct, p.instructions / 1e6, p))
        .collect();
    panel(
        &mut s,
        0.0,
        "int8 test accuracy (host, 10k images)",
        "accuracy %",
        &acc,
    );
    panel(
        &mut s,
        W,
        "Cortex-M4 instructions per inference",
        "million instructions",
        &ins,
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_covers_range_with_round_steps() {
        assert_eq!(axis(0.0, 73.0), (0.0, 80.0, 20.0));
        let (lo, hi, step) = axis(61.3, 75.8);
        assert!(lo <= 61.3 && hi >= 75.8 && step == 5.0, "{lo} {hi} {step}");
    }

    #[test]
    fn svg_has_one_circle_per_point_and_escapes_labels() {
        let p = |m: &str, l: &str, x, a, i| Point {
            method: m.into(),
            label: l.into(),
            weights_removed_pct: x,
            accuracy_pct: a,
            instructions: i,
        };
        let s = svg(&[
            p("base", "base", 0.0, 75.0, 12e6),
            p("l1", "l1 <50%", 55.0, 74.0, 6e6),
        ]);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<circle").count(), 4);
        assert!(s.contains("l1 &lt;50%") && !s.contains("l1 <50%"));
    }
}
