//! Particle clouds: the particles theta_j = (a_j, w_j) of a run seen through a projection of
//! w_j on a plane, coloured by the output weight a_j and sized by |a_j| |w_j|, with the
//! projected teacher neurons and a few particle paths. One figure (the last frame), small
//! multiples (frames chosen evenly in log-time) and an animated GIF of all frames.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::Result;
use crate::plot::axis::{LinearLabels, linear_range};
use crate::plot::canvas::{
    AXIS_LABEL_SIZE, BOLD_GRID, DrawResult, LEGEND_SIZE, NOTE_GREY, Picture, TICK_LABEL_SIZE,
    TITLE_SIZE, draw_title_lines, fit_title, font, render_gif, render_png_and_svg, title_height,
};
use crate::plot::colormap::{ColourBarStyle, ColourScale, draw_colour_bar};
use crate::plot::typeset::typeset;

/// One frame of a 2-D particle cloud: projections (x, y) of w_j on a plane, colour value a_j,
/// size value |a_j| |w_j|.
///
/// Particle j is (`x[j]`, `y[j]`, `color[j]`, `size[j]`); values beyond the shortest vector are
/// ignored, and a particle with a non-finite value is not drawn.
#[derive(Clone, Debug)]
pub struct CloudFrame {
    /// Time t of the frame.
    pub time: f64,
    /// Horizontal coordinates (first projection of w_j).
    pub x: Vec<f64>,
    /// Vertical coordinates (second projection of w_j).
    pub y: Vec<f64>,
    /// Colour values (a_j), on a diverging map symmetric around 0.
    pub color: Vec<f64>,
    /// Size values (|a_j| |w_j|, >= 0); the marker area grows linearly with it.
    pub size: Vec<f64>,
}

/// A particle-cloud figure.
#[derive(Clone, Debug)]
pub struct CloudFigure {
    /// Title drawn above the chart (the time of the frame is appended).
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Label of the colour bar (e.g. `a`).
    pub color_label: String,
    /// Frames, in time order.
    pub frames: Vec<CloudFrame>,
    /// Teacher neurons in the plane, marked with black stars.
    pub teacher: Vec<(f64, f64)>,
    /// Teacher neurons outside the plane, marked at their projection with hollow stars (e.g.
    /// neurons 3..k on the plane of neurons 1 and 2): a projection near the origin means
    /// "orthogonal to the plane", not "a neuron at 0".
    pub projected_teacher: Vec<(f64, f64)>,
    /// A subsample of particle paths, point k at frame k, drawn as lines fading from light
    /// grey (start) to near black (end).
    pub trajectories: Vec<Vec<(f64, f64)>>,
}

/// Renders the last frame of `figure` with the trajectories to `<stem>.png` (1200 x 1000 px)
/// and `<stem>.svg`, each written atomically.
///
/// Particles are filled circles coloured by a blue-white-red map over [-c, c], c = the largest
/// |color| over all frames, shown on a labelled colour bar; the radius grows from 4 to 12 px
/// with sqrt(size / largest size). Teacher neurons are black stars. Both axes have the same
/// units per pixel and cover every frame, path and teacher neuron with a margin. With no frame
/// (or no finite particle) an empty frame with a note is drawn.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the image that could not be drawn or written.
///
/// ```
/// use meanfield::plot::{CloudFigure, CloudFrame, render_cloud};
///
/// # let directory = std::env::temp_dir().join(format!("meanfield-cloud-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&directory)?;
/// let frame = CloudFrame {
///     time: 1.0,
///     x: vec![0.0, 1.0, -0.5],
///     y: vec![1.0, 0.0, -0.5],
///     color: vec![0.5, -0.2, 0.1],
///     size: vec![0.5, 0.2, 0.1],
/// };
/// let figure = CloudFigure {
///     title: "Particles".into(),
///     x_label: "w . e1".into(),
///     y_label: "w . e2".into(),
///     color_label: "a".into(),
///     frames: vec![frame],
///     teacher: vec![(1.0, 1.0)],
///     projected_teacher: vec![],
///     trajectories: vec![],
/// };
/// render_cloud(&figure, &directory.join("cloud"))?; // cloud.png and cloud.svg
/// assert!(directory.join("cloud.png").exists());
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render_cloud(figure: &CloudFigure, stem: &Path) -> Result<()> {
    let cloud = Cloud::new(figure);
    let picture = SingleFrame {
        cloud: &cloud,
        frame: cloud.frames.len().checked_sub(1),
        geometry: Geometry::scaled(1.0),
        size: (1200, 1000),
    };
    render_png_and_svg(&picture, stem)
}

/// Renders `panels` frames of `figure` side by side to `<stem>.png` and `<stem>.svg`, each
/// written atomically: 2 x 2 panels for 4, 3 x 2 for 5 or 6 (any count from 1 to 12 works).
///
/// The frames are chosen evenly in log-time, always the first and the last (all frames when
/// there are fewer than `panels`). Every panel has the same axis ranges (equal units per pixel
/// on both axes) and colour scale, shown on one colour bar, and is titled `t = ...`.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the image that could not be drawn or written.
pub fn render_cloud_panels(figure: &CloudFigure, panels: usize, stem: &Path) -> Result<()> {
    let cloud = Cloud::new(figure);
    let times: Vec<f64> = figure.frames.iter().map(|frame| frame.time).collect();
    let mut chosen: Vec<Option<usize>> = log_spaced_frames(&times, panels.clamp(1, 12))
        .into_iter()
        .map(Some)
        .collect();
    if chosen.is_empty() {
        chosen.push(None);
    }
    let columns = match chosen.len() {
        count @ 1..=3 => count,
        4 => 2,
        _ => 3,
    };
    let rows = chosen.len().div_ceil(columns);
    let picture = Panels {
        cloud: &cloud,
        chosen,
        columns,
        rows,
    };
    render_png_and_svg(&picture, stem)
}

/// Renders every frame of `figure` to the animated GIF `path` (600 x 600 px, 150 ms per frame,
/// looping), written atomically. Each frame is laid out like [`render_cloud`] with the same
/// axes and colour scale for all frames, the time in its title and the paths drawn up to that
/// frame. With no frame, a single empty frame is written.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the file that could not be drawn or written.
pub fn render_cloud_gif(figure: &CloudFigure, path: &Path) -> Result<()> {
    const SIZE: (u32, u32) = (600, 600);
    const FRAME_DELAY_MS: u32 = 150;
    let cloud = Cloud::new(figure);
    let geometry = Geometry::scaled(0.5);
    let frames: Vec<Option<usize>> = if cloud.frames.is_empty() {
        vec![None]
    } else {
        (0..cloud.frames.len()).map(Some).collect()
    };
    let pictures = frames.into_iter().map(|frame| SingleFrame {
        cloud: &cloud,
        frame,
        geometry,
        size: SIZE,
    });
    render_gif(pictures, SIZE, FRAME_DELAY_MS, path)
}

/// Frames to show in `panels` panels: indices into `times`, increasing, always the first and
/// the last, the others nearest to times evenly spaced in log-time between the first positive
/// time and the last. Frames without a positive, finite time fill in evenly by index.
pub(crate) fn log_spaced_frames(times: &[f64], panels: usize) -> Vec<usize> {
    let count = times.len();
    if panels >= count {
        return (0..count).collect();
    }
    if panels <= 1 {
        return vec![count - 1];
    }
    let mut chosen = vec![0, count - 1];
    let log_time = |index: usize| {
        let time = times[index];
        (time > 0.0 && time.is_finite()).then(|| time.ln())
    };
    let first_positive = (0..count).find_map(log_time);
    if let (Some(low), Some(high)) = (first_positive, log_time(count - 1)) {
        for step in 1..panels - 1 {
            let target = low + (high - low) * step as f64 / (panels - 1) as f64;
            let nearest = (1..count - 1)
                .filter(|index| !chosen.contains(index))
                .filter_map(|index| log_time(index).map(|value| (index, (value - target).abs())))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((index, _)) = nearest {
                chosen.push(index);
            }
        }
    }
    // Without usable times, or when several targets shared a frame, fill in evenly by index.
    let mut step = 1;
    while chosen.len() < panels && step < panels {
        let index = step * (count - 1) / (panels - 1);
        if !chosen.contains(&index) {
            chosen.push(index);
        }
        step += 1;
    }
    for index in 0..count {
        if chosen.len() >= panels {
            break;
        }
        if !chosen.contains(&index) {
            chosen.push(index);
        }
    }
    chosen.sort_unstable();
    chosen
}

/// The time of a frame for a title: 3 significant digits, `0` for zero, `1.00e5` outside
/// [0.01, 1e4).
pub(crate) fn format_time(time: f64) -> String {
    let magnitude = time.abs();
    if magnitude == 0.0 || !time.is_finite() {
        return format!("{}", if time.is_nan() { time } else { time + 0.0 });
    }
    if !(1e-2..1e4).contains(&magnitude) {
        return format!("{time:.2e}");
    }
    let decimals = usize::try_from(2 - magnitude.log10().floor() as i64).unwrap_or(0);
    let text = format!("{time:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// One particle as drawn: position, colour value, size value.
#[derive(Clone, Copy, Debug)]
struct Particle {
    x: f64,
    y: f64,
    color: f64,
    size: f64,
}

/// The figure with non-finite values removed, and the scales shared by all frames.
struct Cloud<'a> {
    figure: &'a CloudFigure,
    /// Finite particles of each frame, largest first (small ones are drawn on top).
    frames: Vec<Vec<Particle>>,
    teacher: Vec<(f64, f64)>,
    projected_teacher: Vec<(f64, f64)>,
    /// Runs of consecutive finite points of each path, with the frame index of each point.
    paths: Vec<Vec<PathRun>>,
    /// Largest point index of the paths, so that the fading is the same in every frame.
    path_length: usize,
    colour: ColourScale,
    largest_size: f64,
    /// Extent of everything drawn, before the equal-aspect widening.
    extent: Option<(Range<f64>, Range<f64>)>,
}

impl<'a> Cloud<'a> {
    fn new(figure: &'a CloudFigure) -> Self {
        let mut frames: Vec<Vec<Particle>> = figure
            .frames
            .iter()
            .map(|frame| {
                frame
                    .x
                    .iter()
                    .zip(&frame.y)
                    .zip(frame.color.iter().zip(&frame.size))
                    .map(|((&x, &y), (&color, &size))| Particle {
                        x,
                        y,
                        color,
                        size: size.abs(),
                    })
                    .filter(|p| [p.x, p.y, p.color, p.size].iter().all(|v| v.is_finite()))
                    .collect()
            })
            .collect();
        for frame in &mut frames {
            frame.sort_by(|a, b| b.size.total_cmp(&a.size));
        }
        let finite = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
            points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        };
        let teacher = finite(&figure.teacher);
        let projected_teacher = finite(&figure.projected_teacher);
        let paths: Vec<Vec<PathRun>> = figure
            .trajectories
            .iter()
            .map(|path| finite_runs(path))
            .collect();
        let path_length = figure.trajectories.iter().map(Vec::len).max().unwrap_or(0);
        let colour = ColourScale::diverging(frames.iter().flatten().map(|p| &p.color));
        let largest_size = frames
            .iter()
            .flatten()
            .fold(0.0_f64, |largest, p| largest.max(p.size));

        let points = frames
            .iter()
            .flatten()
            .map(|p| (p.x, p.y))
            .chain(teacher.iter().copied())
            .chain(projected_teacher.iter().copied())
            .chain(paths.iter().flatten().flatten().map(|&(_, point)| point));
        let extent = points.fold(None, |extent: Option<(Range<f64>, Range<f64>)>, (x, y)| {
            Some(match extent {
                None => (x..x, y..y),
                Some((xs, ys)) => (
                    xs.start.min(x)..xs.end.max(x),
                    ys.start.min(y)..ys.end.max(y),
                ),
            })
        });
        Self {
            figure,
            frames,
            teacher,
            projected_teacher,
            paths,
            path_length,
            colour,
            largest_size,
            extent,
        }
    }

    /// Marker radius in pixels: from `geometry.radius.0` at size 0 to `.1` at the largest size,
    /// so that the area grows linearly with the size.
    fn radius(&self, size: f64, geometry: &Geometry) -> i32 {
        let (smallest, largest) = geometry.radius;
        let fraction = if self.largest_size > 0.0 {
            (size / self.largest_size).clamp(0.0, 1.0).sqrt()
        } else {
            0.0
        };
        (smallest + (largest - smallest) * fraction).round() as i32
    }

    /// Axis ranges covering the extent with a margin and the same units per pixel on both
    /// axes of a plotting area of `pixels`.
    fn ranges(&self, pixels: (u32, u32)) -> (Range<f64>, Range<f64>) {
        let (x, y) = match &self.extent {
            Some((x, y)) => (linear_range(x.start, x.end), linear_range(y.start, y.end)),
            None => (-1.0..1.0, -1.0..1.0),
        };
        let width = f64::from(pixels.0.max(1));
        let height = f64::from(pixels.1.max(1));
        let per_pixel = ((x.end - x.start) / width).max((y.end - y.start) / height);
        let widen = |range: Range<f64>, pixels: f64| {
            let centre = 0.5 * (range.start + range.end);
            let half = 0.5 * per_pixel * pixels;
            (centre - half)..(centre + half)
        };
        (widen(x, width), widen(y, height))
    }

    fn time(&self, frame: Option<usize>) -> Option<f64> {
        frame
            .and_then(|index| self.figure.frames.get(index))
            .map(|frame| frame.time)
    }
}

/// Consecutive finite points of a path, each with its index in the path.
type PathRun = Vec<(usize, (f64, f64))>;

/// Splits a path at its non-finite points, keeping the index of each point.
fn finite_runs(path: &[(f64, f64)]) -> Vec<PathRun> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for (index, &(x, y)) in path.iter().enumerate() {
        if x.is_finite() && y.is_finite() {
            current.push((index, (x, y)));
        } else if !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// Pixel sizes of a cloud chart, all proportional to one scale (1 for 1200 px wide figures).
#[derive(Clone, Copy, Debug)]
struct Geometry {
    scale: f64,
    margin: u32,
    x_label_area: u32,
    y_label_area: u32,
    /// Strip above a chart that holds its title.
    title_height: u32,
    title_size: u32,
    caption_height: u32,
    caption_size: u32,
    axis_label_size: u32,
    tick_size: u32,
    legend_size: u32,
    /// Right column: colour bar, its labels and the marker legend.
    column_width: u32,
    radius: (f64, f64),
    star_radius: f64,
    path_width: u32,
}

impl Geometry {
    fn scaled(scale: f64) -> Self {
        let pixels = |value: f64| (value * scale).round().max(1.0) as u32;
        let text = |size: u32| pixels(f64::from(size));
        Self {
            scale,
            margin: pixels(20.0),
            x_label_area: pixels(90.0),
            y_label_area: pixels(130.0),
            title_height: pixels(70.0),
            title_size: text(TITLE_SIZE),
            caption_height: pixels(56.0),
            caption_size: text(AXIS_LABEL_SIZE),
            axis_label_size: text(AXIS_LABEL_SIZE),
            tick_size: text(TICK_LABEL_SIZE),
            legend_size: text(LEGEND_SIZE),
            column_width: pixels(240.0),
            radius: (4.0, (12.0 * scale).max(8.0)),
            star_radius: 18.0 * scale.max(0.7),
            path_width: pixels(2.5).max(2),
        }
    }

    /// The plotting area of a chart drawn on an area of `size` (after its title strip).
    fn plotting_pixels(&self, size: (u32, u32)) -> (u32, u32) {
        (
            size.0.saturating_sub(2 * self.margin + self.y_label_area),
            size.1.saturating_sub(2 * self.margin + self.x_label_area),
        )
    }
}

/// Draws `title` at the top of `root`, fitted to its width (on a taller strip when it needs two
/// lines), and returns the area below it.
fn draw_title<Backend: DrawingBackend>(
    root: &DrawingArea<Backend, Shift>,
    title: &str,
    geometry: &Geometry,
) -> std::result::Result<
    DrawingArea<Backend, Shift>,
    DrawingAreaErrorKind<<Backend as DrawingBackend>::ErrorType>,
> {
    let (lines, size) = fit_title(root, title, geometry.title_size, 10);
    let height = geometry.title_height.max(title_height(lines.len(), size));
    let (strip, body) = root.split_vertically(height);
    draw_title_lines(&strip, &lines, size)?;
    Ok(body)
}

/// Draws `text` centred in `area` (a title strip), shrunk to fit its width and, if even the
/// smallest title size is too wide, broken onto lines (see `canvas::fit_title`).
fn draw_centred<Backend: DrawingBackend>(
    area: &DrawingArea<Backend, Shift>,
    text: &str,
    size: u32,
) -> DrawResult<Backend> {
    let (lines, fitted) = fit_title(area, text, size, 10);
    draw_title_lines(area, &lines, fitted)
}

/// A black five-pointed star with a white rim, `radius` pixels from centre to tip, as offsets
/// from its centre.
fn star(radius: f64) -> [Vec<(i32, i32)>; 2] {
    let points = |outer: f64| -> Vec<(i32, i32)> {
        (0..10)
            .map(|k| {
                let angle = std::f64::consts::PI * (f64::from(k) / 5.0 - 0.5);
                let length = if k % 2 == 0 { outer } else { 0.45 * outer };
                (
                    (length * angle.cos()).round() as i32,
                    (length * angle.sin()).round() as i32,
                )
            })
            .collect()
    };
    [points(radius + 3.0), points(radius)]
}

/// The outline of a star `body` as a closed path: drawn in black over a white star, a hollow
/// star marks a teacher neuron outside the plane, at its projection.
fn closed(body: &[(i32, i32)]) -> Vec<(i32, i32)> {
    let mut outline = body.to_vec();
    outline.extend(body.first().copied());
    outline
}

/// Grey of point `index` of a path of `length` points: light at the start, dark at the end.
fn path_grey(index: usize, length: usize) -> RGBColor {
    let fraction = if length > 1 {
        index as f64 / (length - 1) as f64
    } else {
        1.0
    };
    let level = (215.0 - 175.0 * fraction).round().clamp(0.0, 255.0) as u8;
    RGBColor(level, level, level)
}

/// What one cloud chart shows.
struct ChartSpec<'t> {
    frame: Option<usize>,
    /// Paths are drawn up to this point index; `None` draws no path.
    paths_up_to: Option<usize>,
    x_desc: bool,
    y_desc: bool,
    caption: Option<&'t str>,
}

impl Cloud<'_> {
    /// Draws one frame's chart on `area` with the given axis ranges.
    // Over 100 lines: the layers of one frame (paths, particles by colour and size, teachers,
    // the legend) in their drawing order, which fixes the bytes of every cloud figure; the
    // clouds are not on the figure model (plot::model) yet.
    fn draw_chart<Backend: DrawingBackend>(
        &self,
        area: &DrawingArea<Backend, Shift>,
        spec: &ChartSpec<'_>,
        ranges: &(Range<f64>, Range<f64>),
        geometry: &Geometry,
    ) -> DrawResult<Backend> {
        let area = match spec.caption {
            Some(caption) => {
                let (strip, rest) = area.split_vertically(geometry.caption_height);
                draw_centred(&strip, caption, geometry.caption_size)?;
                rest
            }
            None => area.clone(),
        };
        let (x_range, y_range) = ranges.clone();
        let mut chart = ChartBuilder::on(&area)
            .margin(geometry.margin)
            .x_label_area_size(geometry.x_label_area)
            .y_label_area_size(geometry.y_label_area)
            .build_cartesian_2d(x_range.clone(), y_range.clone())?;
        // Ticks at the same step on both axes, so that the grid is made of squares.
        const LABELS: usize = 8;
        let (x_pixels, y_pixels) = geometry.plotting_pixels(area.dim_in_pixel());
        let labels_along = |pixels: u32, other: u32| {
            (LABELS as f64 * f64::from(pixels) / f64::from(pixels.max(other).max(1))).round()
                as usize
        };
        let x_labels = LinearLabels::new(&x_range, labels_along(x_pixels, y_pixels).max(3));
        let y_labels = LinearLabels::new(&y_range, labels_along(y_pixels, x_pixels).max(3));
        let x_formatter = |value: &f64| x_labels.label(value);
        let y_formatter = |value: &f64| y_labels.label(value);
        let mut mesh = chart.configure_mesh();
        mesh.x_labels(labels_along(x_pixels, y_pixels).max(3))
            .y_labels(labels_along(y_pixels, x_pixels).max(3))
            .x_label_formatter(&x_formatter)
            .y_label_formatter(&y_formatter)
            .label_style(font(geometry.tick_size))
            .axis_desc_style(font(geometry.axis_label_size))
            .bold_line_style(BOLD_GRID)
            .max_light_lines(0);
        if spec.x_desc {
            mesh.x_desc(typeset(&self.figure.x_label));
        }
        if spec.y_desc {
            mesh.y_desc(typeset(&self.figure.y_label));
        }
        mesh.draw()?;

        if let Some(last) = spec.paths_up_to {
            let width = geometry.path_width;
            let length = self.path_length;
            let segments = self.paths.iter().flatten().flat_map(|run| {
                run.windows(2)
                    .filter(move |pair| pair[1].0 <= last)
                    .map(move |pair| {
                        PathElement::new(
                            vec![pair[0].1, pair[1].1],
                            path_grey(pair[1].0, length).stroke_width(width),
                        )
                    })
            });
            chart.draw_series(segments)?;
        }

        let particles = spec
            .frame
            .and_then(|index| self.frames.get(index))
            .map_or(&[][..], Vec::as_slice);
        let rim = RGBColor(70, 70, 70).stroke_width(1);
        chart.draw_series(particles.iter().map(|p| {
            let radius = self.radius(p.size, geometry);
            EmptyElement::at((p.x, p.y))
                + Circle::new((0, 0), radius, self.colour.colour(p.color).filled())
                + Circle::new((0, 0), radius, rim)
        }))?;

        let [halo, body] = star(geometry.star_radius);
        let outline = closed(&body);
        chart.draw_series(self.projected_teacher.iter().map(|&point| {
            EmptyElement::at(point)
                + Polygon::new(halo.clone(), WHITE.filled())
                + PathElement::new(outline.clone(), BLACK.stroke_width(3))
        }))?;
        chart.draw_series(self.teacher.iter().map(|&point| {
            EmptyElement::at(point)
                + Polygon::new(halo.clone(), WHITE.filled())
                + Polygon::new(body.clone(), BLACK.filled())
        }))?;

        if particles.is_empty() {
            let note = font(geometry.axis_label_size)
                .color(&NOTE_GREY)
                .pos(Pos::new(HPos::Center, VPos::Center));
            let centre = (
                0.5 * (x_range.start + x_range.end),
                0.5 * (y_range.start + y_range.end),
            );
            chart
                .plotting_area()
                .draw(&Text::new("no particles to plot", centre, note))?;
        }
        Ok(())
    }

    /// Draws the right column: the colour bar from `top` down to 70% of the plotting height,
    /// and below it the marker legend (teacher star, path).
    fn draw_column<Backend: DrawingBackend>(
        &self,
        column: &DrawingArea<Backend, Shift>,
        top: u32,
        bottom: u32,
        show_paths: bool,
        geometry: &Geometry,
    ) -> DrawResult<Backend> {
        let (_, height) = column.dim_in_pixel();
        let plot_height = height.saturating_sub(top + bottom);
        let bar_bottom = bottom + plot_height * 3 / 10;
        let style = ColourBarStyle {
            margin_top: top,
            margin_bottom: bar_bottom,
            bar_width: (40.0 * geometry.scale).round().max(12.0) as u32,
            label_area: (160.0 * geometry.scale).round() as u32,
            tick_size: geometry.tick_size,
            label_size: geometry.axis_label_size,
        };
        draw_colour_bar(column, &self.colour, &self.figure.color_label, &style)?;

        let text_style = font(geometry.legend_size).pos(Pos::new(HPos::Left, VPos::Center));
        let line_height = (geometry.legend_size as f64 * 1.1).round() as i32;
        let first_line = i32::try_from(height.saturating_sub(bar_bottom)).unwrap_or(0)
            + (line_height as f64 * 1.2) as i32;
        let marker_x = (geometry.star_radius + 4.0).round() as i32;
        let text_x = marker_x * 2 + 6;
        let mut line = first_line;
        if !self.teacher.is_empty() {
            let [halo, body] = star(geometry.star_radius);
            column.draw(
                &(EmptyElement::at((marker_x, line))
                    + Polygon::new(halo, WHITE.filled())
                    + Polygon::new(body, BLACK.filled())),
            )?;
            let label = if self.projected_teacher.is_empty() {
                "teacher"
            } else {
                "in plane"
            };
            column.draw_text(&typeset(label), &text_style, (text_x, line))?;
            line += line_height + line_height / 2;
        }
        if !self.projected_teacher.is_empty() {
            let [halo, body] = star(geometry.star_radius);
            column.draw(
                &(EmptyElement::at((marker_x, line))
                    + Polygon::new(halo, WHITE.filled())
                    + PathElement::new(closed(&body), BLACK.stroke_width(3))),
            )?;
            column.draw_text("projected", &text_style, (text_x, line))?;
            line += line_height + line_height / 2;
        }
        if show_paths && !self.paths.is_empty() {
            let half = marker_x - 2;
            let steps = 6;
            for step in 0..steps {
                let from = -half + 2 * half * step / steps;
                let to = -half + 2 * half * (step + 1) / steps;
                let grey = path_grey(usize::try_from(step).unwrap_or(0), 6);
                column.draw(&PathElement::new(
                    vec![(marker_x + from, line), (marker_x + to, line)],
                    grey.stroke_width(geometry.path_width + 1),
                ))?;
            }
            column.draw_text("paths", &text_style, (text_x, line))?;
        }
        Ok(())
    }
}

/// One frame with its title, chart and right column.
struct SingleFrame<'c, 'f> {
    cloud: &'c Cloud<'f>,
    frame: Option<usize>,
    geometry: Geometry,
    size: (u32, u32),
}

impl Picture for SingleFrame<'_, '_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        let geometry = &self.geometry;
        root.fill(&WHITE)?;
        let title = match self.cloud.time(self.frame) {
            Some(time) => format!("{}, t = {}", self.cloud.figure.title, format_time(time)),
            None => self.cloud.figure.title.clone(),
        };
        let body = draw_title(root, &title, geometry)?;
        let (width, _) = body.dim_in_pixel();
        let (chart_area, column) =
            body.split_horizontally(width.saturating_sub(geometry.column_width));
        let ranges = self
            .cloud
            .ranges(geometry.plotting_pixels(chart_area.dim_in_pixel()));
        let spec = ChartSpec {
            frame: self.frame,
            paths_up_to: Some(self.frame.unwrap_or(usize::MAX)),
            x_desc: true,
            y_desc: true,
            caption: None,
        };
        self.cloud
            .draw_chart(&chart_area, &spec, &ranges, geometry)?;
        self.cloud.draw_column(
            &column,
            geometry.margin,
            geometry.margin + geometry.x_label_area,
            true,
            geometry,
        )
    }
}

/// Small multiples: a grid of frames sharing axes and colour scale.
struct Panels<'c, 'f> {
    cloud: &'c Cloud<'f>,
    /// Frame of each panel (`None`: an empty panel when there is no frame).
    chosen: Vec<Option<usize>>,
    columns: usize,
    rows: usize,
}

/// Size of one panel in pixels, caption included.
const PANEL_SIZE: (u32, u32) = (600, 640);

impl Picture for Panels<'_, '_> {
    fn size(&self) -> (u32, u32) {
        let geometry = Geometry::scaled(1.0);
        let columns = u32::try_from(self.columns).unwrap_or(1);
        let rows = u32::try_from(self.rows).unwrap_or(1);
        (
            PANEL_SIZE.0 * columns + geometry.column_width,
            PANEL_SIZE.1 * rows + geometry.title_height,
        )
    }

    fn draw<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        let geometry = Geometry::scaled(1.0);
        root.fill(&WHITE)?;
        let body = draw_title(root, &self.cloud.figure.title, &geometry)?;
        let (width, _) = body.dim_in_pixel();
        let (grid, column) = body.split_horizontally(width.saturating_sub(geometry.column_width));
        let cells = grid.split_evenly((self.rows, self.columns));
        let chart_pixels = |cell: &DrawingArea<Backend, Shift>| {
            let (width, height) = cell.dim_in_pixel();
            geometry.plotting_pixels((width, height.saturating_sub(geometry.caption_height)))
        };
        let ranges = match cells.first() {
            Some(cell) => self.cloud.ranges(chart_pixels(cell)),
            None => self.cloud.ranges((1, 1)),
        };
        for (index, (cell, frame)) in cells.iter().zip(&self.chosen).enumerate() {
            let caption = match self.cloud.time(*frame) {
                Some(time) => format!("t = {}", format_time(time)),
                None => "no frame".to_owned(),
            };
            let spec = ChartSpec {
                frame: *frame,
                paths_up_to: None,
                x_desc: index / self.columns + 1 == self.rows
                    || index + self.columns >= self.chosen.len(),
                y_desc: index % self.columns == 0,
                caption: Some(&caption),
            };
            self.cloud.draw_chart(cell, &spec, &ranges, &geometry)?;
        }
        self.cloud.draw_column(
            &column,
            geometry.caption_height + geometry.margin,
            geometry.margin + geometry.x_label_area,
            false,
            &geometry,
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    #[test]
    fn log_spaced_frames_keep_first_and_last_and_spread_in_log_time() {
        let times: Vec<f64> = (0..=100).map(|k| 0.01 * 1.1_f64.powi(k)).collect();
        let chosen = log_spaced_frames(&times, 6);
        assert_eq!(chosen, [0, 20, 40, 60, 80, 100]);
    }

    #[test]
    fn log_spaced_frames_handle_zero_times_and_few_frames() {
        let times = [0.0, 0.1, 1.0, 10.0, 100.0, 1000.0, 1e4];
        // Targets 10^(-1 + 5k/3): 10^0.67 is nearest to 10, 10^2.33 to 100.
        assert_eq!(log_spaced_frames(&times, 4), [0, 3, 4, 6]);
        assert_eq!(log_spaced_frames(&times[..3], 6), [0, 1, 2]);
        assert_eq!(log_spaced_frames(&[0.0; 9], 5), [0, 2, 4, 6, 8]);
        assert_eq!(log_spaced_frames(&[f64::NAN; 3], 2), [0, 2]);
        assert_eq!(log_spaced_frames(&[1.0; 3], 1), [2]);
        assert!(log_spaced_frames(&[], 4).is_empty());
    }

    #[test]
    fn frame_times_read_with_three_significant_digits() {
        let texts: Vec<String> = [0.0, 1.0, 12.345, 0.031_62, 1000.0, 2.5e5, 1e-3, -0.0]
            .into_iter()
            .map(format_time)
            .collect();
        assert_eq!(
            texts,
            ["0", "1", "12.3", "0.0316", "1000", "2.50e5", "1.00e-3", "0"]
        );
    }

    #[test]
    fn equal_aspect_ranges_have_the_same_units_per_pixel_and_cover_the_data() {
        let figure = CloudFigure {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            color_label: String::new(),
            frames: vec![CloudFrame {
                time: 0.0,
                x: vec![0.0, 4.0, f64::NAN],
                y: vec![0.0, 1.0, 100.0],
                color: vec![1.0, -1.0, 0.0],
                size: vec![0.0, 1.0, 1.0],
            }],
            teacher: vec![(-1.0, 2.0)],
            projected_teacher: vec![],
            trajectories: vec![],
        };
        let cloud = Cloud::new(&figure);
        assert_eq!(cloud.frames[0].len(), 2, "the NaN particle is dropped");
        let (x, y) = cloud.ranges((800, 400));
        let per_pixel = ((x.end - x.start) / 800.0, (y.end - y.start) / 400.0);
        assert!((per_pixel.0 - per_pixel.1).abs() < 1e-12 * per_pixel.0);
        assert!(x.start < -1.0 && x.end > 4.0 && y.start < 0.0 && y.end > 2.0);
        let geometry = Geometry::scaled(1.0);
        assert_eq!(cloud.radius(0.0, &geometry), 4);
        assert_eq!(cloud.radius(1.0, &geometry), 12);
    }
}
