//! Figures: particle clouds (one frame, small multiples, animated GIF), heat maps, line charts
//! with any axis scales and the HTML report render from synthetic data to files of the right
//! format and size, atomically, and degenerate inputs render without error.

#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use std::path::{Path, PathBuf};

use meanfield::plot::{
    CloudFigure, CloudFrame, Curve, HeatMap, LineFigure, Report, ReportFigure, ReportLink,
    ReportTable, Scale, render_cloud, render_cloud_gif, render_cloud_panels, render_heatmap,
    render_lines, significant, write_report,
};

mod common;

use common::{file_names, png_size, svg_texts};

/// A fresh, empty directory for test `name`.
fn scratch_directory(name: &str) -> PathBuf {
    common::scratch_directory("plots-tests", name)
}

/// Checks that `path` is an SVG document containing `text`.
fn assert_svg_contains(path: &Path, text: &str) {
    let svg = std::fs::read_to_string(path).unwrap();
    assert!(svg.contains("<svg"), "{}", path.display());
    assert!(svg.trim_end().ends_with("</svg>"), "{}", path.display());
    assert!(svg.contains(text), "{} lacks {text:?}", path.display());
}

/// Size and number of frames of a GIF file, from walking its blocks (header, logical screen,
/// colour tables, extensions, image descriptors, trailer).
fn gif_frames(path: &Path) -> ((u16, u16), usize) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"GIF89a");
    let size = (
        u16::from_le_bytes([bytes[6], bytes[7]]),
        u16::from_le_bytes([bytes[8], bytes[9]]),
    );
    let table_size = |flags: u8| {
        if flags & 0x80 != 0 {
            3 << ((flags & 0x07) + 1)
        } else {
            0
        }
    };
    let skip_sub_blocks = |mut at: usize| {
        while bytes[at] != 0 {
            at += 1 + usize::from(bytes[at]);
        }
        at + 1
    };
    let mut at = 13 + table_size(bytes[10]);
    let mut frames = 0;
    loop {
        match bytes[at] {
            0x21 => at = skip_sub_blocks(at + 2),
            0x2c => {
                frames += 1;
                at += 10 + table_size(bytes[at + 9]);
                at = skip_sub_blocks(at + 1);
            }
            0x3b => return (size, frames),
            other => panic!("unexpected GIF block 0x{other:02x} at byte {at}"),
        }
    }
}

/// A number in [0, 1) from an index, without a random generator.
fn hash_unit(index: usize, salt: u64) -> f64 {
    let mut state = (index as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt);
    state ^= state >> 31;
    state = state.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    state ^= state >> 29;
    (state >> 11) as f64 / (1u64 << 53) as f64
}

/// 200 particles spiralling from a disc of radius 3 towards 3 teacher points over 20 frames
/// (times 0.01 to 100, evenly in log-time), their output weights growing from near 0 to +-1.
fn spiral_cloud() -> CloudFigure {
    const PARTICLES: usize = 200;
    const FRAMES: usize = 20;
    let teacher: Vec<(f64, f64)> = (0..3)
        .map(|k| {
            let angle = 2.0 * std::f64::consts::PI * f64::from(k) / 3.0 + 0.3;
            (2.0 * angle.cos(), 2.0 * angle.sin())
        })
        .collect();
    let start: Vec<(f64, f64)> = (0..PARTICLES)
        .map(|j| {
            let radius = 3.0 * hash_unit(j, 1).sqrt();
            let angle = 2.0 * std::f64::consts::PI * hash_unit(j, 2);
            (radius * angle.cos(), radius * angle.sin())
        })
        .collect();
    let position = |j: usize, progress: f64| {
        let centre = teacher[j % 3];
        let (dx, dy) = (start[j].0 - centre.0, start[j].1 - centre.1);
        let (turn, shrink) = (2.5 * progress, (-2.5 * progress).exp());
        (
            centre.0 + shrink * (turn.cos() * dx - turn.sin() * dy),
            centre.1 + shrink * (turn.sin() * dx + turn.cos() * dy),
        )
    };
    let frames = (0..FRAMES)
        .map(|k| {
            let progress = k as f64 / (FRAMES - 1) as f64;
            let points: Vec<(f64, f64)> = (0..PARTICLES).map(|j| position(j, progress)).collect();
            let color: Vec<f64> = (0..PARTICLES)
                .map(|j| {
                    let sign = if j % 3 == 1 { -1.0 } else { 1.0 };
                    let initial = 0.2 * (hash_unit(j, 3) - 0.5);
                    initial + sign * progress * (0.3 + 0.7 * hash_unit(j, 4))
                })
                .collect();
            let size = points
                .iter()
                .zip(&color)
                .map(|(p, a)| a.abs() * p.0.hypot(p.1))
                .collect();
            CloudFrame {
                time: 0.01 * 10_f64.powf(4.0 * progress),
                x: points.iter().map(|p| p.0).collect(),
                y: points.iter().map(|p| p.1).collect(),
                color,
                size,
            }
        })
        .collect();
    let trajectories = (0..PARTICLES)
        .step_by(10)
        .map(|j| {
            (0..FRAMES)
                .map(|k| position(j, k as f64 / (FRAMES - 1) as f64))
                .collect()
        })
        .collect();
    CloudFigure {
        title: "Particles w_j".into(),
        x_label: "w . e1".into(),
        y_label: "w . e2".into(),
        color_label: "output weight a".into(),
        frames,
        teacher,
        projected_teacher: Vec::new(),
        trajectories,
    }
}

/// The density of a Gaussian whose mean drifts from -1 to 1 and whose width shrinks, at 60
/// times evenly spaced in log-time from 1e-2 to 1e3, on 40 bins over [-3, 3].
fn drifting_gaussian() -> HeatMap {
    let edges: Vec<f64> = (0..=40).map(|k| -3.0 + 6.0 * f64::from(k) / 40.0).collect();
    let times: Vec<f64> = (0..60)
        .map(|k| 0.01 * 10_f64.powf(5.0 * f64::from(k) / 59.0))
        .collect();
    let density = times
        .iter()
        .map(|time| {
            let progress = (time.log10() + 2.0) / 5.0;
            let (mean, width) = (-1.0 + 2.0 * progress, 0.8 - 0.5 * progress);
            edges
                .windows(2)
                .map(|bin| {
                    let z = (0.5 * (bin[0] + bin[1]) - mean) / width;
                    (-0.5 * z * z).exp() / (width * (2.0 * std::f64::consts::PI).sqrt())
                })
                .collect()
        })
        .collect();
    HeatMap {
        title: "Output weights over time".into(),
        value_label: "output weight a".into(),
        times,
        edges,
        density,
    }
}

/// Two curves against time on a log time axis and a linear value axis.
fn movement_lines() -> LineFigure {
    let time: Vec<f64> = (0..=200)
        .map(|k| 0.01 * 10_f64.powf(f64::from(k) / 50.0))
        .collect();
    LineFigure {
        title: "Movement of the particles".into(),
        x_label: "time t".into(),
        y_label: "mean |theta(t) - theta(0)|".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Linear,
        curves: vec![
            Curve {
                label: "m = 100".into(),
                x: time.clone(),
                y: time.iter().map(|t| 1.0 - (-t).exp()).collect(),
            },
            Curve {
                label: "m = 1000".into(),
                x: time.clone(),
                y: time
                    .iter()
                    .map(|t| 0.6 * (1.0 - (-0.5 * t).exp()))
                    .collect(),
            },
        ],
    }
}

#[test]
fn cloud_renders_png_and_svg_of_the_stated_size() {
    let directory = scratch_directory("cloud");
    let figure = spiral_cloud();
    render_cloud(&figure, &directory.join("cloud")).unwrap();
    assert_eq!(png_size(&directory.join("cloud.png")), (1200, 1000));
    // Written `w_j`, drawn with its subscript (plot::typeset).
    assert_svg_contains(&directory.join("cloud.svg"), "Particles w\u{2c7c}");
    assert_svg_contains(&directory.join("cloud.svg"), "output weight a");
    assert_eq!(file_names(&directory), ["cloud.png", "cloud.svg"]);
}

#[test]
fn cloud_panels_form_a_three_by_two_grid_with_one_colour_bar() {
    let directory = scratch_directory("panels");
    let figure = spiral_cloud();
    render_cloud_panels(&figure, 6, &directory.join("panels")).unwrap();
    assert_eq!(
        png_size(&directory.join("panels.png")),
        (3 * 600 + 240, 2 * 640 + 70)
    );
    let texts = svg_texts(&directory.join("panels.svg"));
    let titles: Vec<&str> = texts
        .iter()
        .map(String::as_str)
        .filter(|text| text.starts_with("t = "))
        .collect();
    assert_eq!(titles.len(), 6, "one title per panel: {titles:?}");
    assert_eq!((titles[0], titles[5]), ("t = 0.01", "t = 100"));
    render_cloud_panels(&figure, 4, &directory.join("four")).unwrap();
    assert_eq!(
        png_size(&directory.join("four.png")),
        (2 * 600 + 240, 2 * 640 + 70)
    );
    assert_eq!(
        file_names(&directory),
        ["four.png", "four.svg", "panels.png", "panels.svg"]
    );
}

#[test]
fn cloud_gif_has_one_frame_per_cloud_frame() {
    let directory = scratch_directory("gif");
    let figure = spiral_cloud();
    let path = directory.join("cloud.gif");
    render_cloud_gif(&figure, &path).unwrap();
    assert_eq!(gif_frames(&path), ((600, 600), figure.frames.len()));
    assert_eq!(file_names(&directory), ["cloud.gif"]);
}

#[test]
fn heatmap_renders_png_and_svg_of_the_stated_size() {
    let directory = scratch_directory("heatmap");
    render_heatmap(&drifting_gaussian(), &directory.join("weights")).unwrap();
    assert_eq!(png_size(&directory.join("weights.png")), (1200, 800));
    assert_svg_contains(&directory.join("weights.svg"), "Output weights over time");
    assert_svg_contains(&directory.join("weights.svg"), "density");
    assert_eq!(file_names(&directory), ["weights.png", "weights.svg"]);
}

#[test]
fn line_chart_on_lin_log_axes_has_a_legend_for_two_curves() {
    let directory = scratch_directory("lines");
    render_lines(&movement_lines(), &directory.join("movement")).unwrap();
    assert_eq!(png_size(&directory.join("movement.png")), (1200, 800));
    assert_svg_contains(&directory.join("movement.svg"), "Movement of the particles");
    assert_svg_contains(&directory.join("movement.svg"), "m = 1000");
    let mut linear = movement_lines();
    linear.x_scale = Scale::Linear;
    linear.y_scale = Scale::Log;
    linear.curves.truncate(1);
    render_lines(&linear, &directory.join("single")).unwrap();
    let texts = svg_texts(&directory.join("single.svg"));
    assert!(
        !texts.contains(&"m = 100".to_owned()),
        "one curve gets no legend"
    );
    let texts = svg_texts(&directory.join("movement.svg"));
    assert!(
        texts.contains(&"m = 100".to_owned()),
        "two curves get a legend"
    );
}

#[test]
fn report_embeds_every_figure_and_loads_nothing_from_outside() {
    let directory = scratch_directory("report");
    render_lines(&movement_lines(), &directory.join("movement")).unwrap();
    render_heatmap(&drifting_gaussian(), &directory.join("weights")).unwrap();
    let mut movement = ReportFigure::new("Movement <m>", directory.join("movement.png"));
    movement.links.push(ReportLink {
        href: "movement.svg".into(),
        description: "SVG".into(),
    });
    let figures = vec![
        movement,
        ReportFigure::new("Weights", directory.join("weights.png")),
    ];
    let report = Report {
        title: "Run quickstart".into(),
        lead: "A test & more".into(),
        tables: vec![
            ReportTable {
                heading: "Summary".into(),
                rows: vec![
                    ("m".to_owned(), "1000".to_owned()),
                    ("final risk".to_owned(), "1.2e-4 & falling".to_owned()),
                ],
            },
            ReportTable {
                heading: "Empty".into(),
                rows: Vec::new(),
            },
        ],
        figures,
        files: vec![ReportLink {
            href: "series.csv".into(),
            description: "one row per step".into(),
        }],
    };
    let path = directory.join("report.html");
    write_report(&path, &report).unwrap();
    let page = std::fs::read_to_string(&path).unwrap();
    assert_eq!(page.matches("data:image/png;base64,").count(), 2);
    assert!(page.contains("<h1>Run quickstart</h1>"));
    assert!(page.contains("<p class=\"lead\">A test &amp; more</p>"));
    assert!(page.contains("<td>1.2e-4 &amp; falling</td>"));
    assert!(page.contains("<figcaption>Movement &lt;m&gt;"));
    // An empty table is left out, heading and all.
    assert!(!page.contains("Empty"));
    // base64 payloads may spell "http" by chance: look only at the markup around them.
    let markup: String = page
        .split("data:image/png;base64,")
        .map(|piece| &piece[piece.find('"').unwrap_or(0)..])
        .collect();
    assert!(!markup.contains("http"), "the page refers to the network");
    assert!(!markup.contains("src=\"/"));
    // The only links are the relative ones given.
    assert_eq!(markup.matches("href=").count(), 2);
    assert!(markup.contains("<a href=\"movement.svg\">SVG</a>"));
    assert!(markup.contains("<a href=\"series.csv\">series.csv</a>: one row per step"));
}

#[test]
fn report_rejects_a_figure_that_is_not_a_png() {
    let directory = scratch_directory("report-bad");
    let fake = directory.join("fake.png");
    std::fs::write(&fake, b"not a png").unwrap();
    let report = |png: PathBuf| Report {
        title: "t".into(),
        figures: vec![ReportFigure::new("fake", png)],
        ..Report::default()
    };
    let path = directory.join("report.html");
    assert!(write_report(&path, &report(fake)).is_err());
    assert!(!path.exists());
    assert!(write_report(&path, &report(directory.join("missing.png"))).is_err());
}

/// A curve drawn on top of an earlier one (within 0.2 %) gets hollow circles, so that both
/// stay visible; curves apart get none.
#[test]
fn a_curve_on_top_of_an_earlier_one_is_marked_with_circles() {
    let directory = scratch_directory("coincident");
    let x: Vec<f64> = (1..=40).map(f64::from).collect();
    let curve = |label: &str, factor: f64| Curve {
        label: label.into(),
        x: x.clone(),
        y: x.iter().map(|t| factor / t).collect(),
    };
    let circles = |curves: Vec<Curve>, stem: &str| {
        let figure = LineFigure {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves,
        };
        render_lines(&figure, &directory.join(stem)).unwrap();
        std::fs::read_to_string(directory.join(format!("{stem}.svg")))
            .unwrap()
            .matches("<circle")
            .count()
    };
    // 24 markers on the later curve, one in its legend sample.
    assert_eq!(
        circles(
            vec![curve("coupled", 1.0), curve("exact", 1.0 + 1e-4)],
            "same"
        ),
        25
    );
    assert_eq!(
        circles(vec![curve("coupled", 1.0), curve("sliced", 0.5)], "apart"),
        0
    );
}

#[test]
fn significant_rounds_to_the_digits_asked_and_reads_like_a_number() {
    for (x, digits, text) in [
        (14_687.718_397_192_742, 3, "14700"),
        (14_687.718_397_192_742, 6, "14687.7"),
        (0.176_351_234, 6, "0.176351"),
        (2.235_771e-4, 6, "2.23577e-4"),
        (9.999_96, 4, "10"),
        (-0.001, 3, "-0.001"),
        (1.5e-12, 3, "1.5e-12"),
        (2.0e7, 3, "20000000"),
        (2.5e7, 1, "25000000"),
        (123_456.7, 3, "123000"),
        (1_234_567.8, 3, "1.23e6"),
        (0.0, 6, "0"),
        (f64::NAN, 6, "NaN"),
        (f64::NEG_INFINITY, 6, "-inf"),
    ] {
        assert_eq!(significant(x, digits), text, "{x} to {digits} digits");
    }
}

#[test]
fn degenerate_clouds_render_without_error() {
    let directory = scratch_directory("degenerate-cloud");
    let base = spiral_cloud();
    let mut cases: Vec<(&str, CloudFigure)> = Vec::new();
    let mut empty = base.clone();
    empty.frames.clear();
    empty.teacher.clear();
    empty.trajectories.clear();
    cases.push(("empty", empty));
    let mut single = base.clone();
    single.frames.truncate(1);
    single.trajectories = vec![vec![(0.0, 0.0)], vec![]];
    cases.push(("single", single));
    let mut flat = base.clone();
    for frame in &mut flat.frames {
        frame.color.iter_mut().for_each(|a| *a = 0.0);
        frame.size.iter_mut().for_each(|s| *s = 0.0);
        frame.time = 0.0;
    }
    cases.push(("flat", flat));
    let mut nan = base.clone();
    for frame in &mut nan.frames {
        frame.x[0] = f64::NAN;
        frame.color[1] = f64::NAN;
        frame.size[2] = f64::INFINITY;
        frame.y.truncate(100);
    }
    nan.teacher.push((f64::NAN, 1.0));
    nan.trajectories[0][3] = (f64::NAN, f64::NAN);
    cases.push(("nan", nan));
    let mut point = base;
    point.frames = vec![CloudFrame {
        time: -1.0,
        x: vec![1.0; 5],
        y: vec![1.0; 5],
        color: vec![2.0; 5],
        size: vec![1.0; 5],
    }];
    point.teacher = vec![(1.0, 1.0)];
    point.trajectories.clear();
    cases.push(("point", point));
    for (name, figure) in &cases {
        render_cloud(figure, &directory.join(name)).unwrap();
        assert_eq!(
            png_size(&directory.join(format!("{name}.png"))),
            (1200, 1000)
        );
        for panels in [0, 1, 4, 6, 100] {
            render_cloud_panels(figure, panels, &directory.join(format!("{name}-panels"))).unwrap();
        }
        let gif = directory.join(format!("{name}.gif"));
        render_cloud_gif(figure, &gif).unwrap();
        let frames = gif_frames(&gif).1;
        assert_eq!(frames, figure.frames.len().max(1), "{name}");
    }
}

#[test]
fn degenerate_heatmaps_and_line_charts_render_without_error() {
    let directory = scratch_directory("degenerate-other");
    let base = drifting_gaussian();
    let mut maps = Vec::new();
    maps.push(HeatMap {
        times: vec![],
        edges: vec![],
        density: vec![],
        ..base.clone()
    });
    maps.push(HeatMap {
        times: vec![0.0, -1.0],
        ..base.clone()
    });
    maps.push(HeatMap {
        times: vec![1.0],
        edges: vec![0.0, 1.0],
        density: vec![vec![0.0]],
        ..base.clone()
    });
    let mut nan = base;
    nan.density[3] = vec![f64::NAN; 40];
    nan.density[4].truncate(5);
    nan.times[5] = f64::NAN;
    nan.edges[7] = f64::INFINITY;
    maps.push(nan);
    for (index, map) in maps.iter().enumerate() {
        let stem = directory.join(format!("map{index}"));
        render_heatmap(map, &stem).unwrap();
        assert_eq!(
            png_size(&directory.join(format!("map{index}.png"))),
            (1200, 800)
        );
    }

    let mut lines = Vec::new();
    let mut empty = movement_lines();
    empty.curves.clear();
    lines.push(empty);
    let mut flat = movement_lines();
    flat.x_scale = Scale::Linear;
    for curve in &mut flat.curves {
        curve.y.iter_mut().for_each(|y| *y = 0.5);
        curve.y[7] = f64::NAN;
    }
    lines.push(flat);
    let mut nothing = movement_lines();
    nothing.y_scale = Scale::Log;
    for curve in &mut nothing.curves {
        curve.y.iter_mut().for_each(|y| *y = -1.0);
    }
    lines.push(nothing);
    for (index, figure) in lines.iter().enumerate() {
        render_lines(figure, &directory.join(format!("lines{index}"))).unwrap();
        assert_eq!(
            png_size(&directory.join(format!("lines{index}.png"))),
            (1200, 800)
        );
    }
    assert!(
        file_names(&directory)
            .iter()
            .all(|name| !name.starts_with('.')),
        "no scratch file is left behind"
    );
}

#[test]
fn a_missing_directory_is_an_error_and_leaves_nothing() {
    let directory = scratch_directory("missing");
    let stem = directory.join("absent").join("cloud");
    assert!(render_cloud(&spiral_cloud(), &stem).is_err());
    assert!(render_cloud_gif(&spiral_cloud(), &directory.join("absent/c.gif")).is_err());
    assert!(render_heatmap(&drifting_gaussian(), &stem).is_err());
    assert!(file_names(&directory).is_empty());
}
