//! The security dashboard's plots: counts over time buckets, one line per series, drawn as SVG on
//! the server with plotters' SVG back end (no script, no inline style: the back office's CSP
//! stays as it is and the markup is inlined into the page).

use plotters::prelude::*;

use crate::sales_chart::nice_ceiling;

/// One line of a plot: a name (shown in the legend) and a count per bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// The legend's text.
    pub name: String,
    /// One count per bucket, oldest first.
    pub values: Vec<i64>,
}

impl Series {
    /// All of its counts.
    pub fn total(&self) -> i64 {
        self.values.iter().sum()
    }
}

/// Width and height of a plot in pixels.
const SIZE: (u32, u32) = (720, 240);

/// Line colours, in the order series are given (readable on white, told apart in grey too).
const COLOURS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x5f, 0x8b),
    RGBColor(0xc0, 0x39, 0x2b),
    RGBColor(0x27, 0xae, 0x60),
    RGBColor(0x8e, 0x44, 0xad),
    RGBColor(0xd3, 0x54, 0x00),
    RGBColor(0x16, 0xa0, 0x85),
    RGBColor(0x7f, 0x8c, 0x8d),
    RGBColor(0x2c, 0x3e, 0x50),
];

/// The colour of the `i`th series.
fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// A line plot of `series` over buckets named by `labels` (oldest first), with a legend, as an
/// SVG document. `None` when there are no buckets or the drawing fails (the totals beside the
/// plot still show the figures). With no series, the axes alone are drawn.
pub fn lines_svg(labels: &[String], series: &[Series]) -> Option<String> {
    if labels.is_empty() {
        return None;
    }
    let last = i32::try_from(labels.len()).ok()?.checked_sub(1)?;
    let label = |i: &i32| {
        usize::try_from(*i)
            .ok()
            .and_then(|i| labels.get(i))
            .cloned()
            .unwrap_or_default()
    };
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let top = nice_ceiling(top + top / 10).max(2);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(48)
            .build_cartesian_2d(0i32..last.max(1), 0i64..top)
            .ok()?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(5)
            .x_label_formatter(&label)
            .y_label_formatter(&|v| v.to_string())
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .ok()?;
        for (i, s) in series.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(
                    (0i32..).zip(s.values.iter().copied()),
                    c.stroke_width(2),
                ))
                .ok()?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        if !series.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE)
                .border_style(RGBColor(200, 200, 200))
                .draw()
                .ok()?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_series_a_legend_and_no_script() {
        let labels: Vec<String> = (0..24).map(|h| format!("{h:02}時")).collect();
        let series = vec![
            Series {
                name: "サポート".into(),
                values: (0..24).map(|h| h % 3).collect(),
            },
            Series {
                name: "オーナー".into(),
                values: vec![0; 24],
            },
        ];
        let svg = lines_svg(&labels, &series).expect("drawn");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            svg.contains("サポート") && svg.contains("オーナー"),
            "legend"
        );
        let shown = labels.iter().filter(|l| svg.contains(l.as_str())).count();
        assert!(shown >= 4, "hour labels: {shown}");
        assert!(!svg.contains("<script") && !svg.contains("style="));
        assert!(lines_svg(&[], &series).is_none());
        let empty = lines_svg(&labels, &[]).expect("axes alone");
        // Two lines and their two legend marks more than the axes alone.
        assert_eq!(
            svg.matches("<polyline").count(),
            empty.matches("<polyline").count() + 4
        );
    }
}
