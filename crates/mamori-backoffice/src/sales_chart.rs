//! The dashboard's sales over the last days as an SVG plot (plotters' SVG back end: no script,
//! so the back office's CSP needs nothing new), with the same figures as a table beside it.

use chrono::NaiveDate;
use plotters::prelude::*;

/// One day's sales.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaySales {
    /// The day (JST).
    pub day: NaiveDate,
    /// Orders placed that day and not cancelled or refunded.
    pub orders: i64,
    /// Their total, tax included, in yen.
    pub total: i64,
}

/// Width and height of the plot in pixels.
const SIZE: (u32, u32) = (720, 260);

/// The plot of `days` (oldest first) as an SVG document; `None` when there is nothing to draw or
/// the drawing fails (the table still shows the figures).
pub fn sales_svg(days: &[DaySales]) -> Option<String> {
    if days.is_empty() {
        return None;
    }
    // Days are plotted by their index (0 = the oldest); the labels name the dates.
    let last = i32::try_from(days.len()).ok()?.checked_sub(1)?;
    let label = |i: &i32| {
        usize::try_from(*i)
            .ok()
            .and_then(|i| days.get(i))
            .map(|d| d.day.format("%m/%d").to_string())
            .unwrap_or_default()
    };
    let top = days.iter().map(|d| d.total).max().unwrap_or(0).max(1);
    // Headroom above the highest day, rounded to a readable step.
    let top = nice_ceiling(top + top / 10);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(72)
            .build_cartesian_2d(0i32..last.max(1), 0i64..top)
            .ok()?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&label)
            .y_label_formatter(&|v| crate::forms::yen(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .ok()?;
        let line = RGBColor(0x1f, 0x5f, 0x8b);
        chart
            .draw_series(LineSeries::new(points(days), &line))
            .ok()?;
        chart
            .draw_series(points(days).map(|p| Circle::new(p, 3, line.filled())))
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// `(index, total)` of each day.
fn points(days: &[DaySales]) -> impl Iterator<Item = (i32, i64)> + '_ {
    (0i32..).zip(days.iter().map(|d| d.total))
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v`.
pub(crate) fn nice_ceiling(v: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= v {
                return step.saturating_mul(m);
            }
        }
        if step > i64::MAX / 10 {
            return v;
        }
        step *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(13), 20);
        assert_eq!(nice_ceiling(4_400), 5_000);
        assert_eq!(nice_ceiling(50_001), 100_000);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn one_point_per_day_and_no_script() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let days: Vec<DaySales> = (1..=7)
            .map(|d| DaySales {
                day: day(d),
                orders: 1,
                total: i64::from(d) * 1_000,
            })
            .collect();
        let svg = sales_svg(&days).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 7);
        assert!(!svg.contains("<script"));
        // Inline style attributes would be refused by the back office's CSP.
        assert!(!svg.contains("style="), "{svg}");
        assert!(
            svg.contains("12/07") && svg.contains("円"),
            "dates and yen on the axes"
        );
        assert!(sales_svg(&[]).is_none());
    }
}
