//! The experiment's SVG (plain text, no dependency): left, int8 test accuracy against % of
//! weights removed — the unpruned net as a band, one line per method with its seed spread,
//! scratch as points; right, instructions per inference on the Cortex-M.

use std::fmt::Write;

/// One (mean) point of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Pt {
    /// % of weights removed.
    pub x: f64,
    /// Mean accuracy, %.
    pub acc: f64,
    /// Lowest accuracy over seeds, %.
    pub lo: f64,
    /// Highest, %.
    pub hi: f64,
    /// Instructions per inference.
    pub instructions: f64,
}

/// One method's points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Method (`base` is drawn as a band).
    pub method: String,
    /// Points by x.
    pub points: Vec<Pt>,
}

const W: f64 = 480.0;
const H: f64 = 360.0;
const L: f64 = 60.0;
const R: f64 = 16.0;
const T: f64 = 36.0;
const B: f64 = 48.0;

fn colour(m: &str) -> &'static str {
    match m {
        "base" => "#888888",
        "l1" => "#1f77b4",
        "l0" => "#ff7f0e",
        "l1-rank" => "#17becf",
        "first-k" => "#2ca02c",
        "apoz" => "#9467bd",
        _ => "#d62728",
    }
}

fn range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(0.5);
    (lo - pad, hi + pad)
}

fn panel(
    svg: &mut String,
    x0: f64,
    title: &str,
    series: &[Series],
    y: &dyn Fn(&Pt) -> (f64, f64, f64),
) {
    let (ylo, yhi) = range(series.iter().flat_map(|s| s.points.iter()).flat_map(|p| {
        let (m, a, b) = y(p);
        [m, a, b]
    }));
    let xhi = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.x))
        .fold(50.0, f64::max)
        .ceil();
    let px = |x: f64| x0 + L + (x / xhi) * (W - L - R);
    let py = |v: f64| T + (1.0 - (v - ylo) / (yhi - ylo)) * (H - T - B);
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="20" font-size="13" text-anchor="middle">{title}</text>"##,
        x0 + W / 2.0
    );
    for k in 0..=5 {
        let xv = xhi * k as f64 / 5.0;
        let yv = ylo + (yhi - ylo) * k as f64 / 5.0;
        let _ = write!(
            svg,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#eee"/><text x="{0:.1}" y="{3:.1}" font-size="10" text-anchor="middle">{xv:.0}</text><line x1="{4:.1}" y1="{5:.1}" x2="{6:.1}" y2="{5:.1}" stroke="#eee"/><text x="{7:.1}" y="{8:.1}" font-size="10" text-anchor="end">{9}</text>"##,
            px(xv),
            T,
            H - B,
            H - B + 14.0,
            x0 + L,
            py(yv),
            x0 + W - R,
            x0 + L - 4.0,
            py(yv) + 3.0,
            if yhi > 1e4 {
                format!("{:.2}M", yv / 1e6)
            } else {
                format!("{yv:.1}")
            }
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">% of weights removed</text>"##,
        x0 + L + (W - L - R) / 2.0,
        H - 12.0
    );
    for s in series {
        let c = colour(&s.method);
        if s.method == "base" {
            for p in &s.points {
                let (m, lo, hi) = y(p);
                let (top, bot) = (py(hi.max(m) + 0.0), py(lo.min(m)));
                let _ = write!(
                    svg,
                    r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{c}" opacity="0.25"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{c}" stroke-dasharray="4 3"/>"##,
                    x0 + L,
                    top - 1.0,
                    W - L - R,
                    (bot - top) + 2.0,
                    x0 + L,
                    py(m),
                    x0 + W - R,
                    py(m)
                );
            }
            continue;
        }
        if s.method != "scratch" && s.points.len() > 1 {
            let pts: Vec<String> = s
                .points
                .iter()
                .map(|p| format!("{:.1},{:.1}", px(p.x), py(y(p).0)))
                .collect();
            let _ = write!(
                svg,
                r##"<polyline points="{}" fill="none" stroke="{c}" stroke-width="1.5"/>"##,
                pts.join(" ")
            );
        }
        for p in &s.points {
            let (m, lo, hi) = y(p);
            let _ = write!(
                svg,
                r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="{c}"/><circle cx="{0:.1}" cy="{3:.1}" r="3.5" fill="{c}"><title>{4} {5:.1}%: {6:.2}</title></circle>"##,
                px(p.x),
                py(lo),
                py(hi),
                py(m),
                s.method,
                p.x,
                m
            );
        }
    }
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="10">{}</text>"##,
            x0 + L + 6.0,
            T + 4.0 + 14.0 * i as f64,
            colour(&s.method),
            x0 + L + 20.0,
            T + 13.0 + 14.0 * i as f64,
            s.method
        );
    }
}

/// The two-panel chart.
pub fn svg(series: &[Series]) -> String {
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{H:.0}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>"##,
        2.0 * W
    );
    panel(&mut s, 0.0, "int8 test accuracy (%)", series, &|p| {
        (p.acc, p.lo, p.hi)
    });
    panel(
        &mut s,
        W,
        "instructions per inference (Cortex-M, QEMU)",
        series,
        &|p| (p.instructions, p.instructions, p.instructions),
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_circle_per_point_a_band_for_the_base_and_a_line_per_method() {
        let pt = |x: f64, acc: f64| Pt {
            x,
            acc,
            lo: acc - 1.0,
            hi: acc + 1.0,
            instructions: 1e6 * (1.0 - x / 100.0),
        };
        let series = vec![
            Series {
                method: "base".into(),
                points: vec![pt(0.0, 74.0)],
            },
            Series {
                method: "l1".into(),
                points: vec![pt(25.0, 73.0), pt(50.0, 72.0)],
            },
            Series {
                method: "scratch".into(),
                points: vec![pt(25.0, 70.0), pt(50.0, 68.0)],
            },
        ];
        let s = svg(&series);
        // Two panels × (2 l1 + 2 scratch) circles; the base is a band, not a circle.
        assert_eq!(s.matches("<circle").count(), 8);
        assert_eq!(s.matches("<polyline").count(), 2, "only l1 gets a line");
        assert_eq!(s.matches(r#"opacity="0.25""#).count(), 2);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
    }
}
