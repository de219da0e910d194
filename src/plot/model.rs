//! The one figure model of the charts on two axes: a [`Figure`] is data, a [`Frame`] (size,
//! title, two [`Axis`]: label, linear or log scale, range; the ticks follow from scale and range)
//! and [`Layer`]s (lines, dashed or not; bands; marks such as markers, dots and error-bar caps;
//! error bars; notes; legend entries) drawn in order, then the legend box. [`render`] draws any
//! figure to PNG and SVG.
//!
//! The charts ([`figure`](crate::plot::figure)'s line charts, [`sweep`](crate::plot::sweep)'s
//! width curves, [`scaling`](crate::plot::scaling)'s power laws, the gallery's charts) decide
//! what to draw (ranges, cut lines, legend corner) and build a figure; only this module calls
//! plotters for them. Each layer is one plotters `draw_series` call, so that a chart keeps
//! exactly the drawing calls (and so the bytes of its PNG and SVG) it had when it drew itself.

use std::ops::Range;
use std::path::Path;

use plotters::chart::SeriesAnno;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::{ComposedElement, DashedPathElement};
use plotters::prelude::*;
use plotters::style::text_anchor::Pos;

use crate::error::Result;
use crate::plot::axis::{
    LABELS_PER_AXIS, LinearLabels, light_lines_per_label, log_labels_as_powers, log_tick_label,
};
use crate::plot::canvas::{
    AXIS_LABEL_SIZE, BOLD_GRID, DrawResult, LIGHT_GRID, Picture, TICK_LABEL_SIZE, TITLE_SIZE,
    draw_title_lines, fit_title, font, render_png_and_svg, title_height,
};
use crate::plot::chart::LegendStyle;
use crate::plot::figure::Scale;
use crate::plot::typeset::typeset;

/// Size of the chart images in pixels (SVG user units).
pub(crate) const SIZE: (u32, u32) = (1200, 800);

/// A chart as data: its frame, its layers in drawing order, and its legend box.
pub(crate) struct Figure {
    /// Size, title and axes.
    pub(crate) frame: Frame,
    /// What is drawn inside the axes, first layer first (below the later ones).
    pub(crate) layers: Vec<Layer>,
    /// The box listing the legend entries of the layers, if one is drawn.
    pub(crate) legend: Option<Legend>,
}

/// Size, title and axes of a figure.
pub(crate) struct Frame {
    /// Size of the image in pixels ([`SIZE`] for every chart so far).
    pub(crate) size: (u32, u32),
    /// Title above the chart.
    pub(crate) title: String,
    /// How the title is set.
    pub(crate) title_style: TitleStyle,
    /// Horizontal axis.
    pub(crate) x: Axis,
    /// Vertical axis (its label drawn rotated).
    pub(crate) y: Axis,
}

impl Frame {
    /// A frame of [`SIZE`].
    pub(crate) fn new(title: &str, x: Axis, y: Axis) -> Self {
        Self {
            size: SIZE,
            title: title.to_owned(),
            title_style: TitleStyle::Fitted,
            x,
            y,
        }
    }
}

/// How the title of a frame is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TitleStyle {
    /// In a strip above the chart, shrunk or wrapped to fit the width, never cut at the edges.
    Fitted,
    /// As plotters' caption of the chart, at the title size (the panels of the gallery's
    /// `overparameterised` figure).
    Caption,
}

/// One axis: ticks are labelled at decades on a log axis, at round numbers on a linear one.
pub(crate) struct Axis {
    /// Text along the axis.
    pub(crate) label: String,
    /// Linear or logarithmic.
    pub(crate) scale: Scale,
    /// The values the axis spans.
    pub(crate) range: Range<f64>,
    /// Ticks set by hand; `None` for those of the scale.
    pub(crate) ticks: Option<TickSpec>,
}

impl Axis {
    /// An axis with the ticks of its scale.
    pub(crate) fn new(label: &str, scale: Scale, range: Range<f64>) -> Self {
        Self {
            label: label.to_owned(),
            scale,
            range,
            ticks: None,
        }
    }
}

/// Ticks set by hand.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TickSpec {
    /// Number of labels plotters is asked for.
    pub(crate) labels: usize,
    /// Light grid lines between labelled ones, at most.
    pub(crate) light_lines: usize,
    /// The text of the label at a value.
    pub(crate) format: fn(&f64) -> String,
}

/// One drawing step of a figure, in data coordinates (a plotters `draw_series` call).
pub(crate) enum Layer {
    /// A polyline, solid or dashed, which may carry a legend entry.
    Line(Line),
    /// Separate polylines (typically two-point segments: error bars) in one style, solid or
    /// dashed (dash, gap in pixels).
    Paths {
        paths: Vec<Vec<(f64, f64)>>,
        style: ShapeStyle,
        dash: Option<(u32, u32)>,
    },
    /// A filled polygon (a band).
    Area {
        vertices: Vec<(f64, f64)>,
        style: ShapeStyle,
    },
    /// The same mark at each point.
    Marks {
        points: Vec<(f64, f64)>,
        mark: Mark,
        style: ShapeStyle,
    },
    /// Text of the embedded font at a point (the note of an empty chart): its style is made
    /// when drawn, once the font is registered (a text style made before would hold a font
    /// that failed to load).
    Note {
        text: String,
        at: (f64, f64),
        size: u32,
        colour: RGBColor,
        anchor: Pos,
    },
    /// A legend entry with no data of its own: entries are listed in the order of the layers.
    Entry(LegendEntry),
}

/// A polyline layer.
pub(crate) struct Line {
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) style: ShapeStyle,
    /// (dash, gap) in pixels; `None` for a solid line.
    pub(crate) dash: Option<(u32, u32)>,
    /// The legend entry drawn for this line, if any.
    pub(crate) legend: Option<LegendEntry>,
}

impl Line {
    /// A line with no legend entry.
    pub(crate) fn new(
        points: Vec<(f64, f64)>,
        style: ShapeStyle,
        dash: Option<(u32, u32)>,
    ) -> Self {
        Self {
            points,
            style,
            dash,
            legend: None,
        }
    }
}

/// A mark drawn at a point, in pixels around it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Mark {
    /// A circle of this radius.
    Dot(i32),
    /// A polygon with these vertices (see [`marker`]).
    Shape(Vec<(i32, i32)>),
    /// A horizontal stroke this many pixels to each side (the cap of an error bar).
    Cap(i32),
    /// A disc of this radius with an outline.
    Disc { radius: i32, outline: ShapeStyle },
    /// A polygon with these vertices and an outline along them.
    Outlined {
        vertices: Vec<(i32, i32)>,
        outline: ShapeStyle,
    },
}

/// A legend entry: its text and the sample drawn left of it.
pub(crate) struct LegendEntry {
    pub(crate) label: String,
    pub(crate) sample: Sample,
}

/// The sample of a legend entry, starting at the left end of the sample area.
#[derive(Clone, Debug)]
pub(crate) enum Sample {
    /// A horizontal line from `from` to `to` pixels right of the entry's point, dashed (dash,
    /// gap) or solid.
    Line {
        from: i32,
        to: i32,
        style: ShapeStyle,
        dash: Option<(u32, u32)>,
    },
    /// The mark of a [`Layer::Marks`] at the entry's point.
    Mark { mark: Mark, style: ShapeStyle },
    /// A dashed line from 0 to `to` pixels right of the entry's point with a hollow circle of
    /// `radius` at its middle: the sample of a curve drawn with markers because it coincides
    /// with an earlier one.
    DashedWithCircle {
        to: i32,
        style: ShapeStyle,
        dash: (u32, u32),
        radius: i32,
    },
    /// A dot of `radius` on a line `half_length` pixels to each side of it.
    DotOnLine {
        half_length: i32,
        line: ShapeStyle,
        radius: i32,
        fill: ShapeStyle,
    },
    /// An error bar `half_height` pixels up and down with caps `half_cap` pixels to each side.
    ErrorBar {
        half_height: i32,
        half_cap: i32,
        style: ShapeStyle,
    },
    /// A band: a filled rectangle `half_height` pixels above and below a line, both `length`
    /// pixels long.
    Band {
        length: i32,
        half_height: i32,
        fill: ShapeStyle,
        line: ShapeStyle,
    },
    /// A marker centred on a line: the line reaches `reach` pixels (0 for none) and the marker
    /// (a [`marker`] polygon) sits `centre` pixels from the left.
    Marker {
        reach: i32,
        line: ShapeStyle,
        centre: i32,
        shape: Vec<(i32, i32)>,
        fill: ShapeStyle,
    },
}

/// The legend box of a figure.
pub(crate) struct Legend {
    /// Spacing of the box.
    pub(crate) style: LegendStyle,
    /// The corner of the plotting area it sits in.
    pub(crate) corner: SeriesLabelPosition,
}

/// The marker sets of the charts with markers: the first `count` of circle, square, triangle,
/// diamond and inverted triangle, repeated (the sweep's scaling figure uses all 5, the gallery's
/// point charts the first 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MarkerSet {
    pub(crate) count: usize,
}

/// Vertices of the marker of series `index` of `set` around (0, 0) in pixels.
pub(crate) fn marker(set: MarkerSet, index: usize) -> Vec<(i32, i32)> {
    let polygon = |corners: u32, radius: f64, turn: f64| -> Vec<(i32, i32)> {
        (0..corners)
            .map(|corner| {
                let angle = turn + std::f64::consts::TAU * f64::from(corner) / f64::from(corners);
                (
                    (radius * angle.cos()).round() as i32,
                    (-radius * angle.sin()).round() as i32,
                )
            })
            .collect()
    };
    use std::f64::consts::FRAC_PI_2;
    match index % set.count.max(1) {
        0 => polygon(24, 9.0, 0.0),
        1 => polygon(4, 11.0, FRAC_PI_2 / 2.0),
        2 => polygon(3, 12.0, FRAC_PI_2),
        3 => polygon(4, 12.0, 0.0),
        _ => polygon(3, 12.0, -FRAC_PI_2),
    }
}

/// Renders `figure` to `<stem>.png` and `<stem>.svg`, each written atomically.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the image that could not be drawn or written.
pub(crate) fn render(figure: &Figure, stem: &Path) -> Result<()> {
    render_png_and_svg(figure, stem)
}

/// Number of tick labels plotters is asked for on a linear horizontal axis (fewer than on a
/// vertical one: labels like `0.25` are wide).
const LINEAR_X_LABELS: usize = 7;
const LINEAR_Y_LABELS: usize = 8;

/// How one axis is ticked and labelled.
struct Ticks {
    labels: usize,
    light_lines: usize,
    format: TickFormat,
}

/// The text of the tick labels of an axis.
enum TickFormat {
    /// Round numbers of a linear axis.
    Linear(LinearLabels),
    /// Decades (and 2 and 5 times them) of a log axis, every one as a power of ten where
    /// `powers` ([`log_labels_as_powers`]).
    Log { powers: bool },
    /// Set by hand.
    Custom(fn(&f64) -> String),
}

impl Ticks {
    /// The ticks of `axis`, whose chart has the range `range`.
    fn new(axis: &Axis, range: &Range<f64>, linear_labels: usize) -> Self {
        if let Some(spec) = axis.ticks {
            return Self {
                labels: spec.labels,
                light_lines: spec.light_lines,
                format: TickFormat::Custom(spec.format),
            };
        }
        match axis.scale {
            Scale::Log => Self {
                labels: LABELS_PER_AXIS,
                light_lines: light_lines_per_label(range),
                format: TickFormat::Log {
                    powers: log_labels_as_powers(range),
                },
            },
            Scale::Linear => Self {
                labels: linear_labels,
                light_lines: 1,
                format: TickFormat::Linear(LinearLabels::new(range, linear_labels)),
            },
        }
    }

    fn label(&self, value: &f64) -> String {
        match &self.format {
            TickFormat::Linear(labels) => labels.label(value),
            TickFormat::Log { powers } => log_tick_label(*value, *powers),
            TickFormat::Custom(format) => format(value),
        }
    }
}

/// A chart on the coordinate systems `X` and `Y`.
type Chart<'a, Backend, X, Y> = ChartContext<
    'a,
    Backend,
    Cartesian2d<<X as AsRangedCoord>::CoordDescType, <Y as AsRangedCoord>::CoordDescType>,
>;

/// Builds a chart on `root` with its grid, tick labels and axis labels, on the coordinate
/// systems `x_spec` and `y_spec` of the scales of `frame`.
fn framed_chart<'a, Backend, X, Y>(
    root: &'a DrawingArea<Backend, Shift>,
    frame: &Frame,
    x_spec: X,
    y_spec: Y,
) -> std::result::Result<Chart<'a, Backend, X, Y>, DrawingAreaErrorKind<Backend::ErrorType>>
where
    Backend: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut builder = ChartBuilder::on(root);
    if frame.title_style == TitleStyle::Caption {
        builder.caption(&frame.title, font(TITLE_SIZE));
    }
    let mut chart = builder
        .margin(20)
        .margin_right(50)
        .x_label_area_size(90)
        .y_label_area_size(130)
        .build_cartesian_2d(x_spec, y_spec)?;
    let x_ticks = Ticks::new(&frame.x, &chart.x_range(), LINEAR_X_LABELS);
    let y_ticks = Ticks::new(&frame.y, &chart.y_range(), LINEAR_Y_LABELS);
    let x_formatter = |value: &f64| x_ticks.label(value);
    let y_formatter = |value: &f64| y_ticks.label(value);
    chart
        .configure_mesh()
        .x_max_light_lines(x_ticks.light_lines)
        .y_max_light_lines(y_ticks.light_lines)
        .x_desc(typeset(&frame.x.label))
        .y_desc(typeset(&frame.y.label))
        .axis_desc_style(font(AXIS_LABEL_SIZE))
        .label_style(font(TICK_LABEL_SIZE))
        .x_labels(x_ticks.labels)
        .y_labels(y_ticks.labels)
        .x_label_formatter(&x_formatter)
        .y_label_formatter(&y_formatter)
        .bold_line_style(BOLD_GRID)
        .light_line_style(LIGHT_GRID)
        .draw()?;
    Ok(chart)
}

impl Picture for Figure {
    fn size(&self) -> (u32, u32) {
        self.frame.size
    }

    fn draw<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        root.fill(&WHITE)?;
        self.draw_on(root)
    }
}

/// Figures side by side in one image, each in an area of its own size.
struct Row<'a>(&'a [Figure]);

impl Picture for Row<'_> {
    fn size(&self) -> (u32, u32) {
        let width = self.0.iter().map(|figure| figure.frame.size.0).sum();
        let height = self.0.iter().map(|figure| figure.frame.size.1).max();
        (width, height.unwrap_or(0))
    }

    fn draw<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        root.fill(&WHITE)?;
        let mut rest = root.clone();
        for figure in self.0 {
            let (area, right) = rest.split_horizontally(figure.frame.size.0);
            figure.draw_on(&area)?;
            rest = right;
        }
        Ok(())
    }
}

/// Renders `figures` side by side (panels) to `<stem>.png` and `<stem>.svg`, each written
/// atomically.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the image that could not be drawn or written.
pub(crate) fn render_row(figures: &[Figure], stem: &Path) -> Result<()> {
    render_png_and_svg(&Row(figures), stem)
}

impl Figure {
    /// Draws the title, the frame, the layers and the legend on `root`, already filled.
    pub(crate) fn draw_on<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        let frame = &self.frame;
        let body;
        let root = match frame.title_style {
            TitleStyle::Caption => root,
            TitleStyle::Fitted => {
                // The title is fitted to the width (shrunk, then wrapped), never cut at the
                // edges.
                let (lines, size) = fit_title(root, &frame.title, TITLE_SIZE, 20);
                let (strip, rest) = root.split_vertically(title_height(lines.len(), size));
                draw_title_lines(&strip, &lines, size)?;
                body = rest;
                &body
            }
        };
        let (x, y) = (frame.x.range.clone(), frame.y.range.clone());
        match (frame.x.scale, frame.y.scale) {
            (Scale::Log, Scale::Log) => self.draw_layers(&mut framed_chart(
                root,
                frame,
                x.log_scale(),
                y.log_scale(),
            )?),
            (Scale::Log, Scale::Linear) => {
                self.draw_layers(&mut framed_chart(root, frame, x.log_scale(), y)?)
            }
            (Scale::Linear, Scale::Log) => {
                self.draw_layers(&mut framed_chart(root, frame, x, y.log_scale())?)
            }
            (Scale::Linear, Scale::Linear) => {
                self.draw_layers(&mut framed_chart(root, frame, x, y)?)
            }
        }
    }
}

impl Figure {
    /// Draws the layers, then the legend box, on `chart`, whose frame is drawn.
    fn draw_layers<'a, Backend, X, Y>(
        &self,
        chart: &mut ChartContext<'a, Backend, Cartesian2d<X, Y>>,
    ) -> DrawResult<Backend>
    where
        Backend: DrawingBackend + 'a,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        for layer in &self.layers {
            draw_layer(chart, layer)?;
        }
        if let Some(legend) = &self.legend {
            legend.style.draw(chart, legend.corner.clone())?;
        }
        Ok(())
    }
}

/// Draws one layer with one plotters call.
fn draw_layer<'a, Backend, X, Y>(
    chart: &mut ChartContext<'a, Backend, Cartesian2d<X, Y>>,
    layer: &Layer,
) -> DrawResult<Backend>
where
    Backend: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    match layer {
        Layer::Line(line) => {
            let points = line.points.iter().copied();
            let annotation = match line.dash {
                None => chart.draw_series(LineSeries::new(points, line.style))?,
                Some((dash, gap)) => {
                    chart.draw_series(DashedLineSeries::new(points, dash, gap, line.style))?
                }
            };
            if let Some(entry) = &line.legend {
                attach_legend(annotation, entry);
            }
        }
        Layer::Paths {
            paths,
            style,
            dash: None,
        } => {
            chart.draw_series(
                paths
                    .iter()
                    .map(|path| PathElement::new(path.clone(), *style)),
            )?;
        }
        Layer::Paths {
            paths,
            style,
            dash: Some((dash, gap)),
        } => {
            chart.draw_series(
                paths
                    .iter()
                    .map(|path| DashedPathElement::new(path.clone(), *dash, *gap, *style)),
            )?;
        }
        Layer::Area { vertices, style } => {
            chart.draw_series(std::iter::once(Polygon::new(vertices.clone(), *style)))?;
        }
        Layer::Marks {
            points,
            mark,
            style,
        } => draw_marks(chart, points, mark, *style)?,
        Layer::Note {
            text,
            at,
            size,
            colour,
            anchor,
        } => {
            chart.plotting_area().draw(&Text::new(
                text.as_str(),
                *at,
                font(*size).color(colour).pos(*anchor),
            ))?;
        }
        Layer::Entry(entry) => {
            let annotation = chart.draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?;
            attach_legend(annotation, entry);
        }
    }
    Ok(())
}

/// Draws `mark` at each of `points`.
fn draw_marks<'a, Backend, X, Y>(
    chart: &mut ChartContext<'a, Backend, Cartesian2d<X, Y>>,
    points: &[(f64, f64)],
    mark: &Mark,
    style: ShapeStyle,
) -> DrawResult<Backend>
where
    Backend: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let points = points.iter().copied();
    match mark {
        Mark::Dot(radius) => {
            chart.draw_series(points.map(|point| Circle::new(point, *radius, style)))?;
        }
        Mark::Shape(vertices) => {
            chart.draw_series(
                points.map(|point| EmptyElement::at(point) + Polygon::new(vertices.clone(), style)),
            )?;
        }
        Mark::Cap(half) => {
            chart.draw_series(points.map(|point| {
                EmptyElement::at(point) + PathElement::new(vec![(-half, 0), (*half, 0)], style)
            }))?;
        }
        Mark::Disc { radius, outline } => {
            chart.draw_series(points.map(|point| disc(point, *radius, style, *outline)))?;
        }
        Mark::Outlined { vertices, outline } => {
            chart.draw_series(points.map(|point| outlined(point, vertices, style, *outline)))?;
        }
    }
    Ok(())
}

/// A point in pixels relative to a mark's anchor.
type Pixel = (i32, i32);

/// A circle in pixels relative to a mark's anchor.
type PixelCircle = Circle<Pixel, i32>;

/// A disc of `radius` at `at`, filled with `fill` and outlined with `outline`.
fn disc<Coord, Backend: DrawingBackend>(
    at: Coord,
    radius: i32,
    fill: ShapeStyle,
    outline: ShapeStyle,
) -> ComposedElement<Coord, Backend, PixelCircle, PixelCircle> {
    EmptyElement::at(at) + Circle::new((0, 0), radius, fill) + Circle::new((0, 0), radius, outline)
}

/// The polygon `vertices` (pixels around `at`) filled with `fill`, outlined with `outline`.
fn outlined<Coord, Backend: DrawingBackend>(
    at: Coord,
    vertices: &[(i32, i32)],
    fill: ShapeStyle,
    outline: ShapeStyle,
) -> ComposedElement<Coord, Backend, Polygon<Pixel>, PathElement<Pixel>> {
    let closed: Vec<(i32, i32)> = vertices.iter().chain(vertices.first()).copied().collect();
    EmptyElement::at(at) + Polygon::new(vertices.to_vec(), fill) + PathElement::new(closed, outline)
}

/// Gives the series of `annotation` the legend entry `entry` (each sample its own closure: a
/// boxed element would have to outlive the backend).
fn attach_legend<'a, Backend: DrawingBackend + 'a>(
    annotation: &mut SeriesAnno<'a, Backend>,
    entry: &LegendEntry,
) {
    annotation.label(typeset(&entry.label));
    match entry.sample.clone() {
        Sample::Line {
            from,
            to,
            style,
            dash: None,
        } => {
            annotation
                .legend(move |(x, y)| PathElement::new(vec![(x + from, y), (x + to, y)], style));
        }
        Sample::Line {
            from,
            to,
            style,
            dash: Some((dash, gap)),
        } => {
            annotation.legend(move |(x, y)| {
                DashedPathElement::new(vec![(x + from, y), (x + to, y)], dash, gap, style)
            });
        }
        Sample::Mark { mark, style } => attach_mark(annotation, mark, style),
        Sample::DashedWithCircle {
            to,
            style,
            dash: (dash, gap),
            radius,
        } => {
            annotation.legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + DashedPathElement::new(vec![(0, 0), (to, 0)], dash, gap, style)
                    + Circle::new((to / 2, 0), radius, style)
            });
        }
        Sample::DotOnLine {
            half_length,
            line,
            radius,
            fill,
        } => {
            annotation.legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(-half_length, 0), (half_length, 0)], line)
                    + Circle::new((0, 0), radius, fill)
            });
        }
        Sample::ErrorBar {
            half_height,
            half_cap,
            style,
        } => {
            annotation.legend(move |(x, y)| {
                let (top, bottom) = (-half_height, half_height);
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, top), (0, bottom)], style)
                    + PathElement::new(vec![(-half_cap, top), (half_cap, top)], style)
                    + PathElement::new(vec![(-half_cap, bottom), (half_cap, bottom)], style)
            });
        }
        Sample::Band {
            length,
            half_height,
            fill,
            line,
        } => {
            annotation.legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + Rectangle::new([(0, -half_height), (length, half_height)], fill)
                    + PathElement::new(vec![(0, 0), (length, 0)], line)
            });
        }
        Sample::Marker {
            reach,
            line,
            centre,
            shape,
            fill,
        } => {
            annotation.legend(move |(x, y)| {
                let shape: Vec<(i32, i32)> =
                    shape.iter().map(|&(dx, dy)| (dx + centre, dy)).collect();
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (reach, 0)], line)
                    + Polygon::new(shape, fill)
            });
        }
    }
}

/// Gives the series of `annotation` a legend sample that is `mark` drawn at the entry's point.
fn attach_mark<'a, Backend: DrawingBackend + 'a>(
    annotation: &mut SeriesAnno<'a, Backend>,
    mark: Mark,
    style: ShapeStyle,
) {
    match mark {
        Mark::Dot(radius) => {
            annotation.legend(move |at| Circle::new(at, radius, style));
        }
        Mark::Shape(vertices) => {
            annotation
                .legend(move |at| EmptyElement::at(at) + Polygon::new(vertices.clone(), style));
        }
        Mark::Cap(half) => {
            annotation.legend(move |at| {
                EmptyElement::at(at) + PathElement::new(vec![(-half, 0), (half, 0)], style)
            });
        }
        Mark::Disc { radius, outline } => {
            annotation.legend(move |at| disc(at, radius, style, outline));
        }
        Mark::Outlined { vertices, outline } => {
            annotation.legend(move |at| outlined(at, &vertices, style, outline));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_sets_repeat_after_their_count() {
        let four = MarkerSet { count: 4 };
        let five = MarkerSet { count: 5 };
        assert_eq!(marker(four, 4), marker(four, 0));
        assert_eq!(marker(five, 4).len(), 3);
        assert_ne!(marker(five, 4), marker(five, 0));
        assert_eq!(marker(five, 5), marker(five, 0));
        // The circle is a 24-gon of radius 9.
        assert_eq!(marker(four, 0).len(), 24);
        assert_eq!(marker(four, 0)[0], (9, 0));
    }
}
