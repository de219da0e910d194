//! `meanfield figure SPEC.toml`: one figure for a paper from any number of run directories
//! (docs/figures.md). A SPEC is a grid of `[[panel]]`s; each panel draws a column of the runs'
//! series.csv (or measures.csv) against another, on log or linear axes, one curve per run
//! (paths or globs, labelled from the run's scenario: `"m = {model.m}"`), with reference runs
//! (a `meanfield limit` run, drawn black) and power-law guides (grey). Output: PNG, SVG and PDF
//! at column or page width (`plot::compose`).
//!
//! A run keeps its colour in every panel of the figure (colours follow the labels in the order
//! they first appear). Every mistake is an error naming the SPEC, the key and what is allowed:
//! an unknown key, a glob that matches nothing, a path that is not a run directory, a column
//! the table lacks.

use std::path::{Path, PathBuf};

use plotters::style::RGBColor;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::output::Table;
use crate::plot::chart::clamp_into;
use crate::plot::compose::{Grid, PIXELS_PER_POINT, POINTS_PER_INCH, render_composed};
use crate::plot::figure::{CurveStyle, panel_figure};
use crate::plot::model::{Figure, Layer};
use crate::plot::style::{GUIDE_GREY, PALETTE, REFERENCE, dash_of, guide_dash};
use crate::plot::{Curve, LineFigure, Scale};
use plotters::style::Color;

/// Printed width of a figure at `width = "column"`: 3.4 in, one column of a two-column
/// paper (ICML, PRL).
pub const COLUMN_INCHES: f64 = 3.4;
/// Printed width at `width = "page"`: 7.0 in, the text width of a two-column paper.
pub const PAGE_INCHES: f64 = 7.0;

/// The SPEC file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    /// "column", "page" or inches.
    #[serde(default)]
    width: Option<toml::Value>,
    /// Printed height in inches (default: 3/4 of a panel's width per row, at least 1.6 in).
    #[serde(default)]
    height: Option<f64>,
    /// Panels per row.
    #[serde(default = "one")]
    columns: usize,
    /// Whether the panels are lettered (a), (b), ... (default: when there are several).
    #[serde(default)]
    letters: Option<bool>,
    /// "below" (one legend for all panels, under them) or "inside" (each panel its own);
    /// default below with several columns, inside otherwise.
    #[serde(default)]
    legend: Option<String>,
    /// The panels, in reading order.
    #[serde(default)]
    panel: Vec<PanelSpec>,
    /// Runs of scenarios that the figure needs, made on demand (`@name` in a panel's runs).
    #[serde(default)]
    run: Vec<RunSpec>,
}

/// One `[[run]]`: a scenario with `--set`-style overrides, run into `<out>/runs/<name>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunSpec {
    name: String,
    /// The scenario file, relative to the SPEC's directory.
    scenario: String,
    /// `key=value` overrides, as `meanfield run --set` takes them.
    #[serde(default)]
    set: Vec<String>,
    /// "run" (the particles: `meanfield run`, the default), "limit" (the exact mean-field
    /// limit: `meanfield limit`) or "sweep" (`meanfield sweep`: its widths and seeds).
    #[serde(default)]
    command: Option<String>,
    /// command "sweep": `--widths` (default: the scenario's `[sweep]`).
    #[serde(default)]
    widths: Option<Vec<usize>>,
    /// command "sweep": `--seeds`.
    #[serde(default)]
    seeds: Option<usize>,
    /// command "sweep": `--reference`.
    #[serde(default)]
    reference: Option<String>,
}

/// What a `[[run]]` makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunCommand {
    /// `meanfield run`: the particles.
    Run,
    /// `meanfield limit`: the exact mean-field limit.
    Limit,
    /// `meanfield sweep`: a ladder of widths and seeds (a sweep directory).
    Sweep {
        /// `--widths` (none: the scenario's).
        widths: Option<Vec<usize>>,
        /// `--seeds` (none: the scenario's).
        seeds: Option<usize>,
        /// `--reference` (none: the scenario's).
        reference: Option<String>,
    },
}

/// A run that a SPEC asks for: `meanfield figure` runs it into `<out>/runs/<name>` unless a
/// finished run of the same resolved scenario is there (then it is reused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRequest {
    /// The run directory's name under `<out>/runs/`.
    pub name: String,
    /// The scenario file (resolved against the SPEC's directory).
    pub scenario: PathBuf,
    /// `--set`-style overrides.
    pub overrides: Vec<String>,
    /// What is made: a run, a limit or a sweep.
    pub command: RunCommand,
}

/// The `[[run]]`s of `spec`, checked (names are plain directory names, each once).
///
/// # Errors
/// [`Error::Config`] naming the SPEC and the key for an unreadable SPEC, a bad name or a
/// scenario file that does not exist; [`Error::Io`] if the SPEC cannot be read.
pub fn requested_runs(spec: &Path) -> Result<Vec<RunRequest>> {
    let (file, context) = read_spec(spec)?;
    let mut requests: Vec<RunRequest> = Vec::new();
    for (i, run) in file.run.iter().enumerate() {
        let plain = !run.name.is_empty()
            && run
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            && run.name != "."
            && run.name != "..";
        if !plain || requests.iter().any(|r| r.name == run.name) {
            return Err(context.error(
                &format!("run[{i}].name"),
                &run.name,
                "a directory name of letters, digits, '_', '-' and '.', each name once",
            ));
        }
        let scenario = context.base.join(&run.scenario);
        if !scenario.is_file() {
            return Err(context.error(
                &format!("run[{i}].scenario"),
                scenario.display(),
                "a scenario file (relative to the SPEC)",
            ));
        }
        let command = match run.command.as_deref() {
            None | Some("run") => RunCommand::Run,
            Some("limit") => RunCommand::Limit,
            Some("sweep") => RunCommand::Sweep {
                widths: run.widths.clone(),
                seeds: run.seeds,
                reference: run.reference.clone(),
            },
            Some(other) => {
                return Err(context.error(
                    &format!("run[{i}].command"),
                    other,
                    "\"run\" (the particles), \"limit\" (the exact limit) or \"sweep\" (widths \
                     and seeds)",
                ));
            }
        };
        let sweep_key = [
            ("widths", run.widths.is_some()),
            ("seeds", run.seeds.is_some()),
            ("reference", run.reference.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given);
        if let (Some((key, _)), false) = (sweep_key, matches!(command, RunCommand::Sweep { .. })) {
            return Err(context.error(
                &format!("run[{i}].{key}"),
                "given",
                "only with command = \"sweep\"",
            ));
        }
        requests.push(RunRequest {
            name: run.name.clone(),
            scenario,
            overrides: run.set.clone(),
            command,
        });
    }
    Ok(requests)
}

/// The SPEC file parsed, with its context.
fn read_spec(spec: &Path) -> Result<(SpecFile, Context)> {
    let text = std::fs::read_to_string(spec).map_err(|e| Error::io(spec, e))?;
    let file: SpecFile = toml::from_str(&text).map_err(|e| Error::Config {
        file: spec.display().to_string(),
        key: e.span().map_or_else(String::new, |s| {
            format!("line {}", text[..s.start].matches('\n').count() + 1)
        }),
        found: e.message().to_owned(),
        allowed: "the keys of docs/figures.md".into(),
    })?;
    let context = Context {
        spec: spec.to_path_buf(),
        base: spec.parent().map_or_else(PathBuf::new, Path::to_path_buf),
        runs: PathBuf::new(),
    };
    Ok((file, context))
}

fn one() -> usize {
    1
}

fn log() -> String {
    "log".into()
}

fn series() -> String {
    "series".into()
}

fn mean() -> String {
    "mean".into()
}

/// One `[[panel]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PanelSpec {
    #[serde(default)]
    title: String,
    /// The column drawn horizontally (`time`, `step`, ...).
    x: String,
    /// The column drawn vertically (`risk`, `exact_w2_to_init`, ...).
    y: String,
    #[serde(default = "log")]
    x_scale: String,
    #[serde(default = "log")]
    y_scale: String,
    #[serde(default)]
    x_label: Option<String>,
    #[serde(default)]
    y_label: Option<String>,
    /// `series` (series.csv) or `measures` (measures.csv).
    #[serde(default = "series")]
    table: String,
    /// Run directories: paths or globs, relative to the SPEC's directory.
    #[serde(default)]
    runs: Vec<String>,
    /// The legend of each run, with `{section.key}` taken from its scenario.toml (and `{dir}`,
    /// the directory's name); default `{dir}`.
    #[serde(default)]
    label: Option<String>,
    /// Sweep directories (`meanfield sweep --out`): seed means from sweep_stats.csv, one
    /// curve per width (x = "time") or per time of `times` (x = "m"), with bands.
    #[serde(default)]
    sweeps: Vec<String>,
    /// The statistic of sweep_stats.csv drawn for sweeps: "mean" (band +- 2 se),
    /// "deviation_mean" (the bias, band +- 2 deviation_se; its absolute value on a log axis),
    /// "deviation_cv_mean" (the control-variate bias, band +- 2 deviation_cv_se), "sd",
    /// "deviation_sd".
    #[serde(default = "mean")]
    statistic: String,
    /// With x = "m": the logged times drawn, one curve each.
    #[serde(default)]
    times: Vec<f64>,
    /// With a `vary` sweep: the value of each varied key to draw (`{ "model.alpha" = 0.5 }`).
    #[serde(default)]
    select: toml::Table,
    /// The legend of a sweep's curve, with `{m}`, `{time}` and the varied keys; default
    /// `m = {m}` (x = "time") or `t = {time}` (x = "m").
    #[serde(default)]
    sweep_label: Option<String>,
    /// Reference runs (a limit run), drawn black.
    #[serde(default)]
    reference: Vec<ReferenceSpec>,
    /// Power-law guides, drawn grey.
    #[serde(default)]
    guide: Vec<GuideSpec>,
}

/// A reference run of a panel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceSpec {
    /// The run directory (relative to the SPEC's directory).
    run: String,
    /// Its legend.
    label: String,
}

/// A power-law guide y = y0 (x / x0)^slope over the x range of the panel's runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuideSpec {
    slope: f64,
    /// (x0, y0).
    through: [f64; 2],
    #[serde(default)]
    label: Option<String>,
}

/// A band around a curve: (x, low, high) per point.
type Band = Vec<(f64, f64, f64)>;

/// One panel as drawn: its line figure, the role of each curve, and each curve's band.
struct Panel {
    figure: LineFigure,
    roles: Vec<Role>,
    bands: Vec<Option<Band>>,
}

/// A CSV file of text fields (sweep_stats.csv: a text column, quoted headers).
struct TextTable {
    columns: Vec<String>,
    /// How many leading columns are varied keys (before `observable`).
    keys: usize,
    rows: Vec<Vec<String>>,
}

impl TextTable {
    fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut lines = text.lines();
        let columns: Vec<String> = lines
            .next()
            .unwrap_or_default()
            .split(',')
            .map(|c| c.trim_matches('"').to_owned())
            .collect();
        let keys = columns.iter().position(|c| c == "observable").unwrap_or(0);
        let rows = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.split(',')
                    .map(|f| f.trim_matches('"').to_owned())
                    .collect()
            })
            .collect();
        Ok(Self {
            columns,
            keys,
            rows,
        })
    }

    fn get<'a>(&self, row: &'a [String], column: &str) -> Option<&'a str> {
        let index = self.columns.iter().position(|c| c == column)?;
        row.get(index).map(String::as_str)
    }

    fn number(&self, row: &[String], column: &str) -> Option<f64> {
        self.get(row, column)?.parse().ok()
    }
}

/// `template` with each `{field}` replaced by `value(field)`, and whether every `{` was
/// closed (an unclosed one and what follows it are kept as written).
fn fill_fields(
    template: &str,
    mut value: impl FnMut(&str) -> Result<String>,
) -> Result<(String, bool)> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return Ok((out, false));
        };
        out.push_str(&value(&rest[open + 1..open + close])?);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok((out, true))
}

/// What a curve is, for its colour.
enum Role {
    /// A run, coloured by its label.
    Run,
    /// A reference run: black.
    Reference,
    /// A guide: grey.
    Guide,
}

/// Reads `spec` (a SPEC file) and writes `<stem>.png`, `.svg` and `.pdf`; a panel's run
/// `@name` (or glob `@mf_*`) is `runs/<name>` of `stem`'s directory, where `meanfield
/// figure` puts the SPEC's `[[run]]`s.
///
/// # Errors
/// [`Error::Config`] naming the SPEC and the key for a mistake in it (unknown key, bad value,
/// a glob that matches nothing, a run directory without the table, an unknown column);
/// [`Error::Io`] if a file cannot be read or written.
pub fn render_spec(spec: &Path, stem: &Path) -> Result<()> {
    let (file, mut context) = read_spec(spec)?;
    context.runs = stem
        .parent()
        .map_or_else(PathBuf::new, Path::to_path_buf)
        .join("runs");
    if file.panel.is_empty() {
        return Err(context.error("panel", "no [[panel]]", "at least one [[panel]]"));
    }
    let width_points = context.width_points(file.width.as_ref())?;
    let columns = file.columns.clamp(1, file.panel.len());
    let cell_points = width_points / columns as f64;
    let rows = file.panel.len().div_ceil(columns);
    // 3:4 panels, at least 1.6 in high (two panels at column width would be 1.3 in).
    let cell_height_points = file.height.map_or_else(
        || (0.75 * cell_points).max(1.6 * POINTS_PER_INCH),
        |h| h * POINTS_PER_INCH / rows as f64,
    );
    let size = (pixels(cell_points), pixels(cell_height_points));
    let panels: Vec<Panel> = file
        .panel
        .iter()
        .enumerate()
        .map(|(i, panel)| context.panel(i, panel))
        .collect::<Result<_>>()?;
    let below = match file.legend.as_deref() {
        None => columns > 1,
        Some("below") => true,
        Some("inside") => false,
        Some(other) => return Err(context.error("legend", other, "\"below\" or \"inside\"")),
    };
    let (styles, legend) = styles_by_label(&panels);
    let figures = panels
        .iter()
        .zip(&styles)
        .map(|(panel, styles)| {
            let legend_from = if below { usize::MAX } else { 1 };
            let mut drawn = panel_figure(&panel.figure, styles, legend_from, size);
            add_bands(&mut drawn, &panel.bands, styles);
            drawn
        })
        .collect();
    let grid = Grid {
        panels: figures,
        columns,
        letters: file.letters.unwrap_or(file.panel.len() > 1),
        legend: if below { legend } else { Vec::new() },
    };
    render_composed(&grid, stem, width_points)
}

/// Design pixels of a length in points.
fn pixels(points: f64) -> u32 {
    // A figure is at most a few thousand pixels: the cast cannot truncate.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "small, positive"
    )]
    let px = (points * PIXELS_PER_POINT).round().max(1.0) as u32;
    px
}

/// The style of each curve of a panel.
type PanelStyles = Vec<Option<CurveStyle>>;

/// Each curve's colour and dash, by its label: the same label, the same style in every panel
/// (runs: the palette without black and the dashes of `dash_of`, in the order labels first
/// appear; references black, the first solid; guides grey dots), and the legend entries
/// of the whole figure in that order.
fn styles_by_label(panels: &[Panel]) -> (Vec<PanelStyles>, Vec<(String, CurveStyle)>) {
    let palette: Vec<RGBColor> = PALETTE
        .iter()
        .copied()
        .filter(|c| *c != REFERENCE)
        .collect();
    let mut legend: Vec<(String, CurveStyle)> = Vec::new();
    let (mut runs, mut others, mut guides) = (0usize, 0usize, 0usize);
    let styles = panels
        .iter()
        .map(|panel| {
            panel
                .figure
                .curves
                .iter()
                .zip(&panel.roles)
                .map(|(curve, role)| {
                    if let Some((_, style)) = legend.iter().find(|(l, _)| *l == curve.label) {
                        return Some(*style);
                    }
                    let style = match role {
                        Role::Run => {
                            runs += 1;
                            (palette[(runs - 1) % palette.len()], dash_of(runs - 1))
                        }
                        Role::Reference => {
                            others += 1;
                            (REFERENCE, dash_of(others - 1))
                        }
                        Role::Guide => {
                            guides += 1;
                            (GUIDE_GREY, Some(guide_dash(guides - 1)))
                        }
                    };
                    legend.push((curve.label.clone(), style));
                    Some(style)
                })
                .collect()
        })
        .collect();
    (styles, legend)
}

/// The bands of a panel's curves, drawn first (below the lines) in a light tint of each
/// curve's colour, clamped to the vertical axis.
fn add_bands(figure: &mut Figure, bands: &[Option<Band>], styles: &[Option<CurveStyle>]) {
    let range = figure.frame.y.range.clone();
    let mut layers = Vec::new();
    for (band, style) in bands.iter().zip(styles) {
        let (Some(band), Some((colour, _))) = (band, style) else {
            continue;
        };
        let points: Vec<(f64, f64, f64)> = band
            .iter()
            .copied()
            .filter(|(x, lo, hi)| x.is_finite() && !lo.is_nan() && !hi.is_nan())
            .collect();
        if points.len() < 2 {
            continue;
        }
        let upper = points.iter().map(|&(x, _, hi)| (x, clamp_into(&range, hi)));
        let lower = points
            .iter()
            .rev()
            .map(|&(x, lo, _)| (x, clamp_into(&range, lo)));
        layers.push(Layer::Area {
            vertices: upper.chain(lower).collect(),
            style: colour.mix(0.2).filled(),
        });
    }
    layers.append(&mut figure.layers);
    figure.layers = layers;
}

/// Where the SPEC is, for its errors and relative paths.
struct Context {
    spec: PathBuf,
    /// The SPEC's directory: paths are relative to it.
    base: PathBuf,
    /// Where the `[[run]]`s are (`@name`).
    runs: PathBuf,
}

impl Context {
    fn error(&self, key: &str, found: impl ToString, allowed: &str) -> Error {
        Error::Config {
            file: self.spec.display().to_string(),
            key: key.to_owned(),
            found: found.to_string(),
            allowed: allowed.to_owned(),
        }
    }

    /// The printed width in points of `width`.
    fn width_points(&self, width: Option<&toml::Value>) -> Result<f64> {
        let allowed = "\"column\" (3.4 in), \"page\" (7.0 in) or a width in inches (1 to 20)";
        let inches = match width {
            None => COLUMN_INCHES,
            Some(toml::Value::String(s)) if s == "column" => COLUMN_INCHES,
            Some(toml::Value::String(s)) if s == "page" => PAGE_INCHES,
            Some(toml::Value::Float(x)) if (1.0..=20.0).contains(x) => *x,
            Some(toml::Value::Integer(n)) if (1..=20).contains(n) => *n as f64,
            Some(other) => return Err(self.error("width", other, allowed)),
        };
        Ok(inches * POINTS_PER_INCH)
    }

    /// Panel `i` as a line figure (runs, references, guides) and the role of each curve.
    fn panel(&self, i: usize, panel: &PanelSpec) -> Result<Panel> {
        let key = |k: &str| format!("panel[{i}].{k}");
        let scale = |k: &str, value: &str| match value {
            "log" => Ok(Scale::Log),
            "linear" => Ok(Scale::Linear),
            other => Err(self.error(&key(k), other, "\"log\" or \"linear\"")),
        };
        let (x_scale, y_scale) = (
            scale("x_scale", &panel.x_scale)?,
            scale("y_scale", &panel.y_scale)?,
        );
        let table = match panel.table.as_str() {
            "series" => "series.csv",
            "measures" => "measures.csv",
            other => return Err(self.error(&key("table"), other, "\"series\" or \"measures\"")),
        };
        if panel.runs.is_empty() && panel.reference.is_empty() && panel.sweeps.is_empty() {
            return Err(self.error(
                &key("runs"),
                "no runs",
                "at least one run directory, sweep directory or glob",
            ));
        }
        let mut curves = Vec::new();
        let mut roles = Vec::new();
        let mut bands = Vec::new();
        let template = panel.label.as_deref().unwrap_or("{dir}");
        // References first: drawn below the runs, which stay visible on top of them.
        for (j, reference) in panel.reference.iter().enumerate() {
            let dir = match reference.run.strip_prefix('@') {
                Some(name) => self.runs.join(name),
                None => self.base.join(&reference.run),
            };
            let k = format!("{}[{j}].run", key("reference"));
            curves.push(self.curve(&k, &dir, table, panel, reference.label.clone())?);
            roles.push(Role::Reference);
            bands.push(None);
        }
        for (j, pattern) in panel.runs.iter().enumerate() {
            for dir in self.expand(&format!("{}[{j}]", key("runs")), pattern)? {
                let label = self.label(&key("label"), template, &dir)?;
                curves.push(self.curve(&key("runs"), &dir, table, panel, label)?);
                roles.push(Role::Run);
                bands.push(None);
            }
        }
        for (j, pattern) in panel.sweeps.iter().enumerate() {
            let k = format!("{}[{j}]", key("sweeps"));
            for dir in self.expand(&k, pattern)? {
                for (curve, band) in self.sweep_curves(&k, i, &dir, panel)? {
                    curves.push(curve);
                    roles.push(Role::Run);
                    bands.push(band);
                }
            }
        }
        let x_range = positive_range(&curves, x_scale);
        for guide in &panel.guide {
            if let Some(range) = &x_range {
                curves.push(guide_curve(guide, range, x_scale));
                roles.push(Role::Guide);
                bands.push(None);
            }
        }
        let figure = LineFigure {
            title: panel.title.clone(),
            x_label: panel
                .x_label
                .clone()
                .unwrap_or_else(|| axis_label(&panel.x)),
            y_label: panel
                .y_label
                .clone()
                .unwrap_or_else(|| axis_label(&panel.y)),
            x_scale,
            y_scale,
            curves,
        };
        Ok(Panel {
            figure,
            roles,
            bands,
        })
    }

    /// The curves of one sweep directory: the statistic of `panel.y` from sweep_stats.csv per
    /// width (x = "time") or per time of `panel.times` (x = "m"), with its band.
    fn sweep_curves(
        &self,
        key: &str,
        i: usize,
        dir: &Path,
        panel: &PanelSpec,
    ) -> Result<Vec<(Curve, Option<Band>)>> {
        let path = dir.join("sweep_stats.csv");
        let stats = TextTable::read(&path).map_err(|_| {
            self.error(
                key,
                format!("{} (no sweep_stats.csv)", dir.display()),
                "a sweep directory (meanfield sweep --out)",
            )
        })?;
        let panel_key = |k: &str| format!("panel[{i}].{k}");
        let (value, error) = match panel.statistic.as_str() {
            "mean" => ("mean", Some("se")),
            "deviation_mean" => ("deviation_mean", Some("deviation_se")),
            "deviation_cv_mean" => ("deviation_cv_mean", Some("deviation_cv_se")),
            "sd" => ("sd", None),
            "deviation_sd" => ("deviation_sd", None),
            other => {
                return Err(self.error(
                    &panel_key("statistic"),
                    other,
                    "mean, deviation_mean, deviation_cv_mean, sd or deviation_sd",
                ));
            }
        };
        let by_width = match panel.x.as_str() {
            "time" => true,
            "m" => false,
            other => {
                return Err(self.error(
                    &panel_key("x"),
                    format!("{other} (with sweeps)"),
                    "\"time\" (one curve per width) or \"m\" (one curve per time of `times`)",
                ));
            }
        };
        if !by_width && panel.times.is_empty() {
            return Err(self.error(
                &panel_key("times"),
                "[] (x = \"m\")",
                "the logged times to draw, e.g. times = [1.0, 5.0]",
            ));
        }
        for (k, _) in &panel.select {
            if !stats.columns.contains(k) {
                return Err(self.error(
                    &panel_key("select"),
                    k,
                    &format!(
                        "a varied key of the sweep: {}",
                        stats.columns[..stats.keys].join(", ")
                    ),
                ));
            }
        }
        let rows: Vec<&Vec<String>> = stats
            .rows
            .iter()
            .filter(|row| stats.get(row, "observable") == Some(panel.y.as_str()))
            .filter(|row| {
                panel.select.iter().all(|(k, v)| {
                    let want = match v {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    stats
                        .number(row, k)
                        .zip(want.parse::<f64>().ok())
                        .map_or_else(
                            || stats.get(row, k) == Some(want.as_str()),
                            |(a, b)| (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                        )
                })
            })
            .collect();
        if rows.is_empty() {
            let observables: std::collections::BTreeSet<&str> = stats
                .rows
                .iter()
                .filter_map(|r| stats.get(r, "observable"))
                .collect();
            return Err(self.error(
                &panel_key("y"),
                format!("{} (no rows in {})", panel.y, path.display()),
                &format!(
                    "an observable of the sweep: {}",
                    observables.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let absolute = value.starts_with("deviation") && panel.y_scale == "log";
        let template = panel
            .sweep_label
            .clone()
            .unwrap_or_else(|| if by_width { "m = {m}" } else { "t = {time}" }.into());
        // Group the rows by width (x = time) or by time (x = m), in the file's order.
        let group_of = |row: &Vec<String>| {
            let k = if by_width { "m" } else { "time" };
            stats.get(row, k).unwrap_or_default().to_owned()
        };
        let mut groups: Vec<(String, Vec<&Vec<String>>)> = Vec::new();
        for row in rows {
            let g = group_of(row);
            if !by_width
                && !panel.times.iter().any(|t| {
                    stats
                        .number(row, "time")
                        .is_some_and(|x| (x - t).abs() <= 1e-9 * t.abs().max(1.0))
                })
            {
                continue;
            }
            match groups.iter_mut().find(|(name, _)| *name == g) {
                Some((_, members)) => members.push(row),
                None => groups.push((g, vec![row])),
            }
        }
        let x_column = if by_width { "time" } else { "m" };
        groups
            .into_iter()
            .map(|(_, members)| {
                let number = |row: &Vec<String>, c: &str| stats.number(row, c).unwrap_or(f64::NAN);
                let fold = |y: f64| if absolute { y.abs() } else { y };
                let x: Vec<f64> = members.iter().map(|r| number(r, x_column)).collect();
                let y: Vec<f64> = members.iter().map(|r| fold(number(r, value))).collect();
                let band = error.map(|e| {
                    members
                        .iter()
                        .map(|r| {
                            let (centre, half) = (fold(number(r, value)), 2.0 * number(r, e));
                            (number(r, x_column), centre - half, centre + half)
                        })
                        .collect()
                });
                // A field the row lacks stays as written.
                let (label, _) = fill_fields(&template, |field| {
                    Ok(members
                        .first()
                        .and_then(|r| stats.get(r, field))
                        .map_or_else(|| format!("{{{field}}}"), str::to_owned))
                })?;
                Ok((Curve { label, x, y }, band))
            })
            .collect()
    }

    /// The run directories of `pattern` (a path or a glob, relative to the SPEC), sorted.
    fn expand(&self, key: &str, pattern: &str) -> Result<Vec<PathBuf>> {
        let full = match pattern.strip_prefix('@') {
            Some(name) => self.runs.join(name),
            None => self.base.join(pattern),
        };
        let text = full.to_string_lossy().into_owned();
        let paths = glob::glob(&text)
            .map_err(|e| self.error(key, pattern, &format!("a path or glob ({e})")))?;
        let mut dirs: Vec<PathBuf> = paths.filter_map(std::result::Result::ok).collect();
        dirs.sort();
        if dirs.is_empty() {
            let what = if text.contains(['*', '?', '[']) {
                "a glob that matches at least one run directory"
            } else {
                "an existing run directory"
            };
            return Err(self.error(key, format!("{pattern} (matches nothing)"), what));
        }
        Ok(dirs)
    }

    /// `template` with `{section.key}` from the scenario.toml of `dir` and `{dir}`.
    fn label(&self, key: &str, template: &str, dir: &Path) -> Result<String> {
        let scenario: toml::Table = std::fs::read_to_string(dir.join("scenario.toml"))
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or_default();
        let (label, closed) =
            fill_fields(template, |field| self.field(key, field, &scenario, dir))?;
        if !closed {
            return Err(self.error(key, template, "text with {section.key} fields"));
        }
        Ok(label)
    }

    fn field(&self, key: &str, field: &str, scenario: &toml::Table, dir: &Path) -> Result<String> {
        if field == "dir" {
            return Ok(dir
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()));
        }
        let mut value: Option<&toml::Value> = None;
        for (depth, part) in field.split('.').enumerate() {
            value = if depth == 0 {
                scenario.get(part)
            } else {
                value.and_then(|v| v.get(part))
            };
        }
        match value {
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(v) => Ok(v.to_string()),
            None => Err(self.error(
                key,
                format!(
                    "{{{field}}} (not in {})",
                    dir.join("scenario.toml").display()
                ),
                "{dir} or a dotted key of the run's scenario.toml, such as {model.m}",
            )),
        }
    }

    /// The curve (x, y) of one run.
    fn curve(
        &self,
        key: &str,
        dir: &Path,
        table: &str,
        panel: &PanelSpec,
        label: String,
    ) -> Result<Curve> {
        let path = dir.join(table);
        if !path.is_file() {
            return Err(self.error(
                key,
                format!("{} (no {table})", dir.display()),
                "a run directory (meanfield run or limit --out)",
            ));
        }
        let data = Table::read_csv(&path)?;
        let column = |name: &str, axis: &str| {
            data.column(name).ok_or_else(|| {
                self.error(
                    &key.replace("runs", axis).replace("reference", axis),
                    format!("{name} (not a column of {})", path.display()),
                    &format!("a column of {table}: {}", data.columns.join(", ")),
                )
            })
        };
        Ok(Curve {
            label,
            x: column(&panel.x, "x")?,
            y: column(&panel.y, "y")?,
        })
    }
}

/// The range of x over the curves' points that the axis can show.
fn positive_range(curves: &[Curve], scale: Scale) -> Option<(f64, f64)> {
    let xs = curves
        .iter()
        .flat_map(|c| c.x.iter().copied())
        .filter(|x| x.is_finite() && (scale == Scale::Linear || *x > 0.0));
    xs.fold(None, |range, x| match range {
        None => Some((x, x)),
        Some((lo, hi)) => Some((f64::min(lo, x), f64::max(hi, x))),
    })
}

/// The guide y0 (x / x0)^slope at 64 points over `range`.
fn guide_curve(guide: &GuideSpec, range: &(f64, f64), scale: Scale) -> Curve {
    let [x0, y0] = guide.through;
    let (lo, hi) = *range;
    let x: Vec<f64> = (0..64)
        .map(|k| {
            let s = f64::from(k) / 63.0;
            match scale {
                Scale::Log => lo * (hi / lo).powf(s),
                Scale::Linear => lo + (hi - lo) * s,
            }
        })
        .collect();
    Curve {
        label: guide
            .label
            .clone()
            .unwrap_or_else(|| format!("slope {}", guide.slope)),
        y: x.iter().map(|x| y0 * (x / x0).powf(guide.slope)).collect(),
        x,
    }
}

/// The axis label of a column: its symbol and unit where the column is known.
fn axis_label(column: &str) -> String {
    match column {
        "time" => "time t".into(),
        "step" => "step k".into(),
        "risk" => "risk R".into(),
        "test_risk" => "test risk".into(),
        "population_risk" => "population risk R".into(),
        "objective" => "objective E".into(),
        "dissipation" => "dissipation D".into(),
        "movement_mean" => "mean |theta_j(t) - theta_j(0)|".into(),
        "exact_w2_to_init" => "W2(rho_t, rho_0)".into(),
        "sliced_w2_to_init" => "sliced W2(rho_t, rho_0)".into(),
        other => other.replace('_', " "),
    }
}
