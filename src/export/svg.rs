//! The funnel plot as SVG: one point per unit against its denominator, the 95%
//! and 99.8% control limits, the overall proportion, outliers labelled.

use crate::domain::stats::{Flag, FunnelPoint, Z95, Z998, limits};
use std::fmt::Write;

const W: f64 = 960.0;
const H: f64 = 640.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 80.0;
const BOTTOM: f64 = 90.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A readable axis maximum and tick step above `max`.
fn nice(max: f64) -> (f64, f64) {
    let max = if max <= 0.0 { 1.0 } else { max };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

pub fn funnel_svg(title: &str, p0: Option<f64>, points: &[FunnelPoint]) -> String {
    let plotted: Vec<&FunnelPoint> = points.iter().filter(|p| p.proportion.is_some()).collect();
    let max_n = plotted
        .iter()
        .filter_map(|p| p.finalised_total)
        .max()
        .unwrap_or(1) as f64
        * 1.05;
    let max_p = plotted
        .iter()
        .filter_map(|p| p.proportion)
        .fold(p0.unwrap_or(0.0) * 1.6, f64::max)
        .min(1.0)
        * 1.1;
    let (x_max, x_step) = nice(max_n);
    let (y_max, y_step) = nice(max_p.max(0.01));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |n: f64| LEFT + n / x_max * pw;
    let y = |p: f64| TOP + ph - (p.clamp(0.0, y_max) / y_max) * ph;

    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{H}" fill="white"/>
<text x="{}" y="30" text-anchor="middle" font-size="16" font-weight="bold">{}</text>
"##,
        W / 2.0,
        esc(title)
    );
    // Axes, ticks and grid.
    let _ = write!(
        s,
        r##"<g stroke="#999" stroke-width="1"><line x1="{LEFT}" y1="{}" x2="{}" y2="{}"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}"/></g>"##,
        TOP + ph,
        LEFT + pw,
        TOP + ph,
        TOP + ph
    );
    let mut t = 0.0;
    while t <= x_max + 1e-9 {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#eee"/><text x="{0:.1}" y="{3:.1}" text-anchor="middle">{4}</text>"##,
            x(t),
            TOP,
            TOP + ph,
            TOP + ph + 18.0,
            t.round()
        );
        t += x_step;
    }
    let mut t = 0.0;
    while t <= y_max + 1e-9 {
        let _ = write!(
            s,
            r##"<line x1="{1:.1}" y1="{0:.1}" x2="{2:.1}" y2="{0:.1}" stroke="#eee"/><text x="{3:.1}" y="{4:.1}" text-anchor="end">{5:.0}%</text>"##,
            y(t),
            LEFT,
            LEFT + pw,
            LEFT - 8.0,
            y(t) + 4.0,
            t * 100.0
        );
        t += y_step;
    }
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle">Crimes finalised (denominator)</text>"##,
        LEFT + pw / 2.0,
        H - 40.0
    );
    let _ = write!(
        s,
        r##"<text transform="translate(24 {}) rotate(-90)" text-anchor="middle">Closures under outcomes 15/16 per crime finalised</text>"##,
        TOP + ph / 2.0
    );
    // Limits and the overall proportion.
    if let Some(p0) = p0 {
        for (z, dash, label) in [(Z95, "6 4", "95% limits"), (Z998, "", "99.8% limits")] {
            for upper in [true, false] {
                let mut d = String::new();
                for i in 0..=200 {
                    let n = (x_max * (i as f64 / 200.0)).max(x_max / 400.0);
                    let (lo, hi) = limits(p0, n, z);
                    let _ = write!(
                        d,
                        "{}{:.1},{:.1} ",
                        if i == 0 { "M" } else { "L" },
                        x(n),
                        y(if upper { hi } else { lo })
                    );
                }
                let _ = write!(
                    s,
                    r##"<path d="{d}" fill="none" stroke="#555" stroke-width="1.2" stroke-dasharray="{dash}"><title>{label}</title></path>"##
                );
            }
        }
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#1f5fa8" stroke-width="1.5"/><text x="{2:.1}" y="{3:.1}" fill="#1f5fa8" text-anchor="end">overall {4:.1}%</text>"##,
            y(p0),
            LEFT + pw,
            LEFT + pw - 4.0,
            y(p0) - 6.0,
            p0 * 100.0
        );
    }
    // Points, outliers labelled.
    for p in &plotted {
        let (n, prop) = (
            p.finalised_total.unwrap_or(0) as f64,
            p.proportion.unwrap_or(0.0),
        );
        let colour = match p.flag {
            Flag::HighAlarm | Flag::LowAlarm => "#c0392b",
            Flag::HighAlert | Flag::LowAlert => "#e67e22",
            _ => "#333",
        };
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4.5" fill="{colour}"><title>{}: {} of {} ({:.1}%), {}</title></circle>"##,
            x(n),
            y(prop),
            esc(&p.unit),
            p.closures,
            n,
            prop * 100.0,
            p.flag.as_str()
        );
        if !matches!(p.flag, Flag::Within) {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" fill="{colour}">{}</text>"##,
                x(n) + 7.0,
                y(prop) - 6.0,
                esc(&p.unit)
            );
        }
    }
    // Legend, and units that could not be plotted.
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="{}" fill="#555">Dashed: 95% limits (alert). Solid: 99.8% limits (alarm). Orange: alert. Red: alarm.</text>"##,
        H - 18.0
    );
    let missing: Vec<&str> = points
        .iter()
        .filter(|p| p.proportion.is_none())
        .map(|p| p.unit.as_str())
        .collect();
    if !missing.is_empty() {
        let _ = write!(
            s,
            r##"<text x="{}" y="55" text-anchor="middle" fill="#555">Not plotted, no finalised total: {}</text>"##,
            W / 2.0,
            esc(&missing.join(", "))
        );
    }
    s.push_str("</svg>\n");
    s
}
