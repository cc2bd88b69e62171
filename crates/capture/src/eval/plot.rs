//! Hand-written SVG plots: DET curve and score histogram.

use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// DET curve: FNMR against FMR, both on log10 axes from 1e-4 to 1. Zero
/// rates are drawn on the lower edge.
pub(crate) fn det_svg(title: &str, points: &[(f64, f64)], marks: &[(f64, f64, &str)]) -> String {
    const LO: f64 = -4.0;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |v: f64| LEFT + (v.max(1e-4).log10() - LO) / -LO * pw;
    let sy = |v: f64| TOP + ph - (v.max(1e-4).log10() - LO) / -LO * ph;
    let mut s = header(title);
    for e in 0..=4 {
        let v = 10f64.powi(-e);
        let (x, y) = (sx(v), sy(v));
        let label = if e == 0 {
            "1".to_owned()
        } else {
            format!("1e-{e}")
        };
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" font-size="12" text-anchor="middle">{label}</text><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end">{label}</text>"##,
            TOP + ph,
            LEFT + pw,
            TOP + ph + 18.0,
            LEFT - 6.0,
            y + 4.0,
        );
    }
    axes_labels(
        &mut s,
        "FMR (false match rate)",
        "FNMR (false non-match rate)",
    );
    // Thin the curve to at most ~2000 vertices.
    let step = points.len().div_ceil(2000).max(1);
    let mut path = String::new();
    for (i, &(fmr, fnmr)) in points.iter().enumerate() {
        if i % step != 0 && i + 1 != points.len() {
            continue;
        }
        let _ = write!(path, "{:.1},{:.1} ", sx(fmr), sy(fnmr));
    }
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{path}"/>"##
    );
    for (i, &(fmr, fnmr, label)) in marks.iter().enumerate() {
        let dy = 6.0 + 14.0 * i as f64;
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#d62728"/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"##,
            sx(fmr),
            sy(fnmr),
            sx(fmr) + 6.0,
            sy(fnmr) - dy,
            escape(label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Overlaid normalised histograms of genuine (green) and impostor (red)
/// scores with the operating threshold as a vertical line.
pub(crate) fn histogram_svg(
    title: &str,
    x_label: &str,
    genuine: &[f64],
    impostor: &[f64],
    threshold: f64,
) -> String {
    const BINS: usize = 60;
    let all = genuine.iter().chain(impostor);
    let lo = all.clone().copied().fold(f64::INFINITY, f64::min);
    let hi = all.copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let width = (hi - lo) / BINS as f64;
    let hist = |v: &[f64]| {
        let mut h = vec![0.0f64; BINS];
        for &x in v {
            let b = (((x - lo) / width) as usize).min(BINS - 1);
            h[b] += 1.0;
        }
        let n = v.len().max(1) as f64;
        h.iter_mut().for_each(|c| *c /= n);
        h
    };
    let (hg, hi_) = (hist(genuine), hist(impostor));
    let ymax = hg.iter().chain(&hi_).copied().fold(1e-9, f64::max);
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |v: f64| LEFT + (v - lo) / (hi - lo) * pw;
    let sy = |v: f64| TOP + ph - v / ymax * ph;
    let mut s = header(title);
    axes_labels(&mut s, x_label, "share of pairs");
    for i in 0..=4 {
        let v = lo + (hi - lo) * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{v:.3}</text>"##,
            sx(v),
            TOP + ph + 18.0
        );
    }
    for (h, colour) in [(&hi_, "#d62728"), (&hg, "#2ca02c")] {
        for (b, &c) in h.iter().enumerate() {
            if c <= 0.0 {
                continue;
            }
            let x = sx(lo + b as f64 * width);
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}" fill-opacity="0.5"/>"##,
                sy(c),
                pw / BINS as f64,
                TOP + ph - sy(c)
            );
        }
    }
    let tx = sx(threshold.clamp(lo, hi));
    let _ = write!(
        s,
        r##"<line x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{:.1}" stroke="black" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" font-size="12">threshold {threshold:.4}</text>"##,
        TOP + ph,
        tx + 4.0,
        TOP + 14.0
    );
    let _ = write!(
        s,
        r##"<rect x="{:.1}" y="{:.1}" width="12" height="12" fill="#2ca02c" fill-opacity="0.5"/><text x="{:.1}" y="{:.1}" font-size="12">genuine ({})</text><rect x="{:.1}" y="{:.1}" width="12" height="12" fill="#d62728" fill-opacity="0.5"/><text x="{:.1}" y="{:.1}" font-size="12">impostor ({})</text>"##,
        LEFT + pw - 150.0,
        TOP + 24.0,
        LEFT + pw - 134.0,
        TOP + 34.0,
        genuine.len(),
        LEFT + pw - 150.0,
        TOP + 42.0,
        LEFT + pw - 134.0,
        TOP + 52.0,
        impostor.len()
    );
    s.push_str("</svg>\n");
    s
}

fn header(title: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="{:.1}" y="24" font-size="16" text-anchor="middle">{}</text><rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="black"/>"##,
        W / 2.0,
        escape(title),
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    s
}

fn axes_labels(s: &mut String, x: &str, y: &str) {
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle">{}</text><text x="16" y="{:.1}" font-size="13" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"##,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 16.0,
        escape(x),
        TOP + (H - TOP - BOTTOM) / 2.0,
        TOP + (H - TOP - BOTTOM) / 2.0,
        escape(y)
    );
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
