//! Shared helpers of the integration tests: scenarios from TOML text.
#![allow(dead_code, reason = "each test binary uses a subset")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use meanfield::scenario::Scenario;
use meanfield::scenario::Setup;
use meanfield::scenario::file::parse;

/// A validated scenario from TOML text (paths relative to the current directory).
pub fn scenario(text: &str) -> Scenario {
    let config = parse(text, "test.toml", &[]).unwrap();
    Scenario::from_config(config, Path::new("test.toml"), text, &[]).unwrap()
}

/// The simulation, particles and teacher of a scenario given as TOML text.
pub fn setup(text: &str) -> Setup {
    scenario(text).setup().unwrap()
}

/// Runs `steps` Euler/RK steps with `setup.simulation.step` and returns the final particles.
pub fn advance(setup: &mut Setup, steps: u64) -> nalgebra::DMatrix<f64> {
    let mut theta = setup.particles.matrix().clone();
    for k in 0..steps {
        setup.simulation.step(&mut theta, k).unwrap();
    }
    theta
}

/// A fresh, empty directory `group/name` under the target's temporary folder.
pub fn scratch_directory(group: &str, name: &str) -> std::path::PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// Names of the files in `directory`, sorted.
pub fn file_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Width and height of a PNG file, read from its IHDR chunk after checking the signature.
pub fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        bytes[..8],
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'],
        "{}",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

/// The meanfield binary of this build.
pub const BIN: &str = env!("CARGO_BIN_EXE_meanfield");

/// The binary with `CI=1` (no progress bar), run from `cwd`.
pub fn meanfield(cwd: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.env("CI", "1").current_dir(cwd);
    command
}

/// `meanfield run SCENARIO --out OUT --quiet EXTRA...`.
pub fn run<S: AsRef<OsStr>>(cwd: &Path, scenario: &Path, out: &Path, extra: &[S]) -> Output {
    meanfield(cwd)
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap()
}

/// The standard error of a finished command, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The standard output of a finished command, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The texts of an SVG document written by plotters, which puts each text on the line after
/// its `<text ...>` tag.
pub fn svg_texts_of(svg: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut lines = svg.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("<text") {
            texts.push(lines.next().unwrap_or_default().trim().to_owned());
        }
    }
    texts
}

/// The value of a tick label as the figures write it: a decimal (`0.5`, `−2`, with the minus
/// sign) or a power of ten (`10⁻³`, `2·10⁻⁵`); `None` for any other text.
pub fn tick_value(text: &str) -> Option<f64> {
    let text = text.replace('\u{2212}', "-");
    if let Ok(value) = text.parse::<f64>() {
        return Some(value);
    }
    let (mantissa, power) = match text.split_once('\u{b7}') {
        Some((m, p)) => (m.parse::<f64>().ok()?, p),
        None => (1.0, text.as_str()),
    };
    let exponent: String = power
        .strip_prefix("10")?
        .chars()
        .map(|c| match c {
            '⁻' => Some('-'),
            '⁰' => Some('0'),
            '¹' => Some('1'),
            '²' => Some('2'),
            '³' => Some('3'),
            '⁴' => Some('4'),
            '⁵' => Some('5'),
            '⁶' => Some('6'),
            '⁷' => Some('7'),
            '⁸' => Some('8'),
            '⁹' => Some('9'),
            _ => None,
        })
        .collect::<Option<String>>()?;
    Some(mantissa * 10_f64.powi(exponent.parse().ok()?))
}

/// The texts of the SVG file at `path` ([`svg_texts_of`]).
pub fn svg_texts(path: &Path) -> Vec<String> {
    svg_texts_of(&std::fs::read_to_string(path).unwrap())
}

/// sqrt(E f(r g)^2) for f = sigma, sigma', sigma'' (g ~ N(0, 1)) by the trapezoid rule (spacing
/// 1e-3 on [-12, 12], far finer than the integrands need), independent of the kernel code: the
/// Cauchy-Schwarz scales of the smooth kernels' error bounds.
pub fn gaussian_scales(activation: meanfield::math::Activation, r: f64) -> [f64; 3] {
    let h = 1e-3;
    let mut sums = [0.0; 3];
    for k in -12_000i32..=12_000 {
        let g = f64::from(k) * h;
        let w = (-0.5 * g * g).exp() * h / (2.0 * std::f64::consts::PI).sqrt();
        let z = r * g;
        sums[0] += w * activation.value(z).powi(2);
        sums[1] += w * activation.derivative(z).powi(2);
        sums[2] += w * activation.second_derivative(z).powi(2);
    }
    sums.map(f64::sqrt)
}

/// The legend of an SVG figure drawn by plotters: per legend text (in order), the colours of
/// the line samples drawn beside it (`#RRGGBB`, empty for a marker-only or bar-only entry). The
/// legend is the box plotters fills with 0.9 white; a sample is a horizontal two-point polyline
/// inside the box, left of the texts, within half a text line of a text's middle.
pub fn svg_legend(svg: &str) -> Vec<(String, Vec<String>)> {
    let attribute = |tag: &str, name: &str| -> Option<i64> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        tag[start..].split('"').next()?.parse().ok()
    };
    let lines: Vec<&str> = svg.lines().collect();
    let Some((x, y, width, height)) = lines.iter().find_map(|line| {
        (line.starts_with("<rect") && line.contains("opacity=\"0.9\" fill=\"#FFFFFF\"")).then(
            || {
                Some((
                    attribute(line, "x")?,
                    attribute(line, "y")?,
                    attribute(line, "width")?,
                    attribute(line, "height")?,
                ))
            },
        )?
    }) else {
        return Vec::new();
    };
    let inside = |px: i64, py: i64| (x..=x + width).contains(&px) && (y..=y + height).contains(&py);
    let mut texts = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if let (true, Some(tx), Some(ty)) = (
            line.starts_with("<text"),
            attribute(line, "x"),
            attribute(line, "y"),
        ) && inside(tx, ty)
        {
            let label = lines.get(index + 1).map_or("", |l| l.trim()).to_owned();
            texts.push((tx, ty, label));
        }
    }
    let text_left = texts.iter().map(|t| t.0).min().unwrap_or(x + width);
    let text_height = 29; // LEGEND_SIZE 36 / 1.24
    let mut samples = Vec::new();
    for line in lines.iter().filter(|l| l.starts_with("<polyline")) {
        let stroke = line
            .split("stroke=\"")
            .nth(1)
            .and_then(|s| s.split('"').next());
        let points: Vec<(i64, i64)> = line
            .split("points=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| {
                let (px, py) = p.split_once(',')?;
                Some((px.parse().ok()?, py.parse().ok()?))
            })
            .collect();
        if let (Some(stroke), [(x0, y0), (x1, y1)]) = (stroke, points.as_slice())
            && y0 == y1
            && inside(*x0, *y0)
            && *x1 <= text_left
        {
            samples.push((*y0, stroke.to_owned()));
        }
    }
    texts
        .into_iter()
        .map(|(_, ty, label)| {
            let middle = ty + text_height / 2;
            let mut colours: Vec<String> = samples
                .iter()
                .filter(|(sy, _)| (sy - middle).abs() <= text_height / 2)
                .map(|(_, c)| c.clone())
                .collect();
            colours.sort();
            colours.dedup();
            (label, colours)
        })
        .collect()
}

/// The series a legend label names: its text before the first `:` or ` (` (`α = 1` of
/// `α = 1 (mean field), m = 1024: R(200) = …` and of `α = 1: slope …`; `relu, j = 3` of
/// `relu, j = 3 (control)`).
pub fn legend_series(label: &str) -> &str {
    let end = [":", " ("]
        .iter()
        .filter_map(|s| label.find(s))
        .min()
        .unwrap_or(label.len());
    label[..end].trim()
}

/// The series drawn in different colours in different figures (SVG texts `figures`, with their
/// names): for each series named in two figures' legends, the colours of its samples in the one
/// and the other share none. Empty when every series keeps its colour across the figures.
pub fn colour_clashes(figures: &[(String, String)]) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut by_series: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for (name, svg) in figures {
        let mut in_figure: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (label, colours) in svg_legend(svg) {
            in_figure
                .entry(legend_series(&label).to_owned())
                .or_default()
                .extend(colours);
        }
        for (series, colours) in in_figure.into_iter().filter(|(_, c)| !c.is_empty()) {
            by_series
                .entry(series)
                .or_default()
                .push((name.clone(), colours));
        }
    }
    let mut clashes = Vec::new();
    for (series, seen) in &by_series {
        for (i, (first, a)) in seen.iter().enumerate() {
            for (second, b) in &seen[i + 1..] {
                if !a.iter().any(|c| b.contains(c)) {
                    clashes.push(format!("{series}: {a:?} in {first}, {b:?} in {second}"));
                }
            }
        }
    }
    clashes
}
