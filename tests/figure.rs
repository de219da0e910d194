//! `meanfield figure SPEC` (issue 28, item 1): a two-panel figure from four run directories,
//! checked in its SVG (printed size in points, panel titles, letters and legends as text) and
//! its PDF (page size, the embedded font, the panel titles as text through the font's
//! ToUnicode map); and every mistake in a SPEC an exit-2 error naming the key.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{file_names, meanfield, png_size, scratch_directory, svg_texts};

/// A scratch directory with runs/mf_m10, mf_m20, lazy_m10, lazy_m20 (made once).
fn runs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch_directory("figure", "runs");
        std::fs::write(
            dir.join("base.toml"),
            "name = \"base\"\nseed = 1\n[model]\nd = 3\nm = 10\n[target]\nk = 2\n\
             [dynamics]\ndt = 0.05\nsteps = 60\n[record]\nfigures = false\nsnapshots = 0\n",
        )
        .unwrap();
        for (name, m, alpha) in [
            ("mf_m10", 10, "1.0"),
            ("mf_m20", 20, "1.0"),
            ("lazy_m10", 10, "0.5"),
            ("lazy_m20", 20, "0.5"),
        ] {
            let status = meanfield(&dir)
                .args(["run", "base.toml", "--quiet", "--out"])
                .arg(format!("runs/{name}"))
                .args(["--set", &format!("model.m={m}")])
                .args(["--set", &format!("model.alpha={alpha}")])
                .status()
                .unwrap();
            assert!(status.success(), "{name}");
        }
        dir
    })
}

const SPEC: &str = r#"
width = "column"
columns = 2

[[panel]]
title = "mean field"
x = "time"
y = "risk"
runs = ["runs/mf_m*"]
label = "m = {model.m}"
guide = [{ slope = -1.0, through = [1.0, 0.1], label = "slope -1" }]

[[panel]]
title = "lazy"
x = "time"
y = "risk"
runs = ["runs/lazy_m*"]
label = "m = {model.m}"
"#;

/// `meanfield figure NAME.toml --out out` in the runs' directory, with `spec` as the SPEC.
fn figure(name: &str, spec: &str) -> std::process::Output {
    std::fs::write(runs().join(format!("{name}.toml")), spec).unwrap();
    figure_in(runs(), name)
}

/// `meanfield figure NAME.toml --out out` in `dir`.
fn figure_in(dir: &Path, name: &str) -> std::process::Output {
    meanfield(dir)
        .args(["figure", &format!("{name}.toml"), "--out", "out"])
        .output()
        .unwrap()
}

#[test]
fn a_two_panel_figure_is_written_as_png_svg_and_pdf_at_column_width() {
    let output = figure("two", SPEC);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out = runs().join("out");
    for ext in ["png", "svg", "pdf"] {
        assert!(
            file_names(&out).contains(&format!("two.{ext}")),
            "two.{ext}"
        );
    }
    // The SVG prints 3.4 in = 244.8 pt wide; its text is the panels' titles, letters, legends.
    let svg = std::fs::read_to_string(out.join("two.svg")).unwrap();
    assert!(svg.starts_with("<svg width=\"244.80pt\""), "{}", &svg[..80]);
    let texts = svg_texts(&out.join("two.svg"));
    for text in [
        "mean field",
        "lazy",
        "(a)",
        "(b)",
        "m = 10",
        "m = 20",
        "slope \u{2212}1",
    ] {
        assert!(texts.iter().any(|t| t == text), "{text} not in {texts:?}");
    }
    // The PNG is the same drawing at the design size (3.58 px per point).
    let (w, _) = png_size(&out.join("two.png"));
    assert!((870..=885).contains(&w), "{w} px");
    // The PDF: the page 244.8 pt wide, DejaVu Sans embedded, the titles as text.
    let pdf = std::fs::read(out.join("two.pdf")).unwrap();
    let (width, height) = media_box(&pdf);
    assert!((width - 244.8).abs() < 0.01, "{width} pt");
    assert!(height > 100.0 && height < 200.0, "{height} pt");
    let raw = String::from_utf8_lossy(&pdf);
    assert!(raw.contains("/FontFile2") && raw.contains("DejaVuSans"));
    let text = pdf_text(&pdf);
    for title in ["mean field", "lazy", "(a)", "(b)", "m = 10", "time t"] {
        assert!(text.contains(title), "{title} not in the PDF's text {text}");
    }
}

#[test]
fn a_mistake_in_a_spec_is_an_exit_2_error_naming_the_key() {
    let cases: [(&str, String, &[&str]); 5] = [
        (
            "missing_run",
            SPEC.replace("runs/lazy_m*", "runs/none"),
            &["panel[1].runs[0]", "runs/none", "matches nothing"],
        ),
        (
            "empty_glob",
            SPEC.replace("runs/lazy_m*", "runs/nothing_*"),
            &[
                "panel[1].runs[0]",
                "a glob that matches at least one run directory",
            ],
        ),
        (
            "unknown_column",
            SPEC.replacen("y = \"risk\"", "y = \"riks\"", 1),
            &["panel[0].y", "riks", "risk"],
        ),
        (
            "unknown_key",
            SPEC.replace("columns = 2", "colums = 2"),
            &["colums"],
        ),
        (
            "unknown_label_key",
            SPEC.replace("{model.m}", "{model.width}"),
            &["panel[0].label", "model.width"],
        ),
    ];
    for (name, spec, words) in cases {
        let output = figure(name, &spec);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(&format!("{name}.toml")), "{name}: {stderr}");
        for word in words {
            assert!(stderr.contains(word), "{name}: {word} not in {stderr}");
        }
        assert!(!runs().join("out").join(format!("{name}.pdf")).exists());
    }
}

/// Width and height of the first /MediaBox.
fn media_box(pdf: &[u8]) -> (f64, f64) {
    let raw = String::from_utf8_lossy(pdf);
    let at = raw.find("/MediaBox [").unwrap() + "/MediaBox [".len();
    let numbers: Vec<f64> = raw[at..at + raw[at..].find(']').unwrap()]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (numbers[2] - numbers[0], numbers[3] - numbers[1])
}

/// The text of a PDF of svg2pdf: the glyph ids of every `Tj` in the (deflated) content
/// streams, in order, mapped to characters by the font's ToUnicode `bfchar` entries.
fn pdf_text(pdf: &[u8]) -> String {
    let streams = streams(pdf);
    let mut map: HashMap<u16, String> = HashMap::new();
    for stream in &streams {
        let text = String::from_utf8_lossy(stream);
        let mut rest = &text[..];
        while let Some(start) = rest.find("beginbfchar") {
            let end = start + rest[start..].find("endbfchar").unwrap();
            let hex: Vec<&str> = rest[start + "beginbfchar".len()..end]
                .split(['<', '>'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            for pair in hex.chunks_exact(2) {
                let glyph = u16::from_str_radix(pair[0], 16).unwrap();
                // A ligature maps to several UTF-16 units (fi: <00660069>).
                let units: Vec<u16> = (0..pair[1].len() / 4)
                    .map(|k| u16::from_str_radix(&pair[1][4 * k..4 * k + 4], 16).unwrap())
                    .collect();
                map.insert(glyph, String::from_utf16_lossy(&units));
            }
            rest = &rest[end..];
        }
    }
    let mut text = String::new();
    for stream in streams.iter().filter(|s| find(s, b") Tj").is_some()) {
        for glyphs in shown_strings(stream) {
            for pair in glyphs.chunks_exact(2) {
                let glyph = u16::from_be_bytes([pair[0], pair[1]]);
                text.push_str(map.get(&glyph).map_or("?", String::as_str));
            }
        }
    }
    text
}

/// Every stream of a PDF, deflated where it is compressed.
fn streams(pdf: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&pdf[at..], b"stream\n") {
        let start = at + found + b"stream\n".len();
        let Some(length) = find(&pdf[start..], b"endstream") else {
            break;
        };
        let body = &pdf[start..start + length];
        out.push(
            miniz_oxide::inflate::decompress_to_vec_zlib(body).unwrap_or_else(|_| body.to_vec()),
        );
        at = start + length + b"endstream".len();
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The bytes of each literal string `( ... ) Tj` of a content stream, unescaped.
fn shown_strings(content: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < content.len() {
        if content[i] != b'(' {
            i += 1;
            continue;
        }
        let mut bytes = Vec::new();
        i += 1;
        while i < content.len() && content[i] != b')' {
            if content[i] == b'\\' && i + 1 < content.len() {
                i += 1;
                if content[i].is_ascii_digit() {
                    let digits: Vec<u8> = content[i..]
                        .iter()
                        .take(3)
                        .take_while(|c| c.is_ascii_digit())
                        .copied()
                        .collect();
                    let value = u8::from_str_radix(std::str::from_utf8(&digits).unwrap(), 8);
                    bytes.push(value.unwrap());
                    i += digits.len();
                    continue;
                }
                bytes.push(match content[i] {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    other => other,
                });
            } else {
                bytes.push(content[i]);
            }
            i += 1;
        }
        i += 1;
        if content
            .get(i..)
            .is_some_and(|r| r.trim_ascii_start().starts_with(b"Tj"))
        {
            out.push(bytes);
        }
    }
    out
}

/// The SPECs of examples/figures run on a fresh directory (their widths of 4096 cut to 128),
/// run what they name, and draw what their comments claim: in the lazy scaling the mean
/// movement of a neuron falls like m^(-1/2) (a factor 4 from m = 16 to 256), in the mean-field
/// scaling it does not fall with m; a second invocation reuses the finished runs.
#[test]
fn the_example_specs_run_what_they_need_and_show_what_they_say() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/figures");
    let dir = scratch_directory("figure", "examples");
    for name in ["finite_m", "lazy_vs_meanfield"] {
        let text = std::fs::read_to_string(examples.join(format!("{name}.toml")))
            .unwrap()
            .replace(
                "../../scenarios/",
                &format!("{}/scenarios/", env!("CARGO_MANIFEST_DIR")),
            )
            .replace("model.m=4096", "model.m=128");
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
        for pass in 0..2 {
            let output = figure_in(&dir, name);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{name}: {stderr}");
            assert_eq!(
                pass == 1,
                !stderr.contains("running"),
                "{name} pass {pass}: {stderr}"
            );
            assert!(dir.join("out").join(format!("{name}.pdf")).exists());
        }
    }
    let movement = |run: &str| {
        let table =
            meanfield::output::Table::read_csv(&dir.join("out/runs").join(run).join("series.csv"))
                .unwrap();
        *table.column("movement_mean").unwrap().last().unwrap()
    };
    let lazy = movement("lazy_m16") / movement("lazy_m256");
    let mean_field = movement("mf_m16") / movement("mf_m256");
    assert!(
        (3.0..5.3).contains(&lazy),
        "lazy: movement ratio {lazy} (m^-1/2: 4)"
    );
    assert!(
        (0.7..1.5).contains(&mean_field),
        "mean field: movement ratio {mean_field}"
    );
    let texts = svg_texts(&dir.join("out/lazy_vs_meanfield.svg"));
    // Written `lazy, alpha = 1/2` in the SPEC, drawn with the symbol (plot::typeset).
    assert!(
        texts.iter().any(|t| t == "lazy, \u{3b1} = 1/2"),
        "{texts:?}"
    );
}

/// A sweep directory as a panel source, made on demand by a `[[run]]` of command "sweep" and
/// reused by the next call: one curve per width with its band (x = time), one curve per chosen
/// time against m (x = m); a bad statistic, axis, selection or sweep key is named.
#[test]
fn a_sweep_gives_seed_means_with_bands_per_width_or_per_time() {
    let dir = scratch_directory("figure", "sweep");
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/sweep/tiny.toml");
    std::fs::copy(&tiny, dir.join("tiny.toml")).unwrap();
    let spec = r#"
width = "page"
columns = 2
[[run]]
name = "sweep"
scenario = "tiny.toml"
command = "sweep"
widths = [8, 16, 32]
seeds = 3
reference = "none"
[[panel]]
title = "risk by width"
x = "time"
y = "risk"
sweeps = ["@sweep"]
[[panel]]
title = "movement against m"
x = "m"
y = "movement_mean"
x_scale = "log"
sweeps = ["@sweep"]
times = [1.0, 2.0]
"#;
    std::fs::write(dir.join("sw.toml"), spec).unwrap();
    let output = figure_in(&dir, "sw");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run_summary = dir.join("out/runs/sweep/runs");
    let first_run = std::fs::read_dir(&run_summary)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("summary.json");
    let written = std::fs::metadata(&first_run).unwrap().modified().unwrap();
    let svg = std::fs::read_to_string(dir.join("out/sw.svg")).unwrap();
    // Three widths and two times, each with its band of +- 2 SE.
    assert_eq!(svg.matches("<polygon").count(), 5, "bands");
    let texts = svg_texts(&dir.join("out/sw.svg"));
    for label in ["m = 8", "m = 16", "m = 32", "t = 1", "t = 2"] {
        assert!(texts.iter().any(|t| t == label), "{label} not in {texts:?}");
    }
    // Again: the finished runs of the sweep are reused, not run again.
    let output = figure_in(&dir, "sw");
    assert!(output.status.success());
    let again = std::fs::metadata(&first_run).unwrap().modified().unwrap();
    assert_eq!(written, again, "{} was run again", first_run.display());
    for (bad, words) in [
        (
            spec.replacen("y = \"risk\"", "y = \"risk\"\nstatistic = \"median\"", 1),
            &["panel[0].statistic", "median"][..],
        ),
        (
            spec.replace("times = [1.0, 2.0]", ""),
            &["panel[1].times"][..],
        ),
        (
            spec.replacen("x = \"time\"", "x = \"step\"", 1),
            &["panel[0].x", "step"][..],
        ),
        (
            spec.replacen(
                "y = \"risk\"",
                "y = \"risk\"\nselect = { \"model.alpha\" = 1.0 }",
                1,
            ),
            &["panel[0].select", "model.alpha"][..],
        ),
        (
            spec.replacen("y = \"risk\"", "y = \"rsik\"", 1),
            &["panel[0].y", "rsik", "movement_mean"][..],
        ),
        (
            spec.replacen("command = \"sweep\"\n", "", 1),
            &["run[0].widths", "command = \"sweep\""][..],
        ),
    ] {
        std::fs::write(dir.join("bad.toml"), &bad).unwrap();
        let output = figure_in(&dir, "bad");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        for word in words {
            assert!(stderr.contains(word), "{word} not in {stderr}");
        }
    }
}
