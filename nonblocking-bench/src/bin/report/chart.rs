//! The report's chart: one bar per row, its target as a tick.

use std::path::Path;

use plotters::prelude::*;

use crate::row::Row;

/// A horizontal bar per row: the ratio, with its target drawn as a tick.
pub fn chart(rows: &[Row], path: &Path) {
    let height = 60 + 34 * rows.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).expect("svg");
    let max = rows
        .iter()
        .map(|r| r.ratio.max(r.bound.line().unwrap_or(1.0)))
        .fold(1.5_f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "nonblocking ÷ bare tokio (lower is better; ticks: ≥ target)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(250)
        .build_cartesian_2d(0.0..max, (0..rows.len()).into_segmented())
        .expect("chart");
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len())
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => rows.get(*i).map(|r| r.name.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .draw()
        .expect("mesh");
    chart
        .draw_series(rows.iter().enumerate().map(|(i, row)| {
            let color = match row.met() {
                Some(true) => GREEN.mix(0.7),
                Some(false) => RED.mix(0.7),
                None => BLUE.mix(0.5),
            };
            Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (row.ratio, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            )
        }))
        .expect("bars");
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .filter_map(|(i, row)| Some((i, row.bound.line()?)))
                .map(|(i, line)| {
                    PathElement::new(
                        vec![
                            (line, SegmentValue::Exact(i)),
                            (line, SegmentValue::Exact(i + 1)),
                        ],
                        BLACK.stroke_width(2),
                    )
                }),
        )
        .expect("targets");
    root.present().expect("svg written");
}
