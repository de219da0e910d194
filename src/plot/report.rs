//! `report.html`: one page per run that reads like a lab notebook: what was run (the scenario's
//! parameters, section by section), how it ended (the summary, rounded to meaningful digits),
//! every figure with a caption that says what it shows, and links to the files it came from.
//! The page loads nothing from anywhere: images are embedded as base64 `data:` URIs and the
//! style sheet is inline; its only links are relative ones to the files beside it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::plot::typeset::typeset;

/// The eight bytes every PNG file starts with.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

const STYLE: &str = "\
body { font-family: 'DejaVu Sans', Verdana, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; border-bottom: 2px solid #0072b2; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 1em 0 2em; }
th, td { text-align: left; padding: 0.3em 1em; border-bottom: 1px solid #ddd;
         vertical-align: top; }
th { font-weight: 600; color: #444; }
td { font-family: 'DejaVu Sans Mono', monospace; }
figure { margin: 0 0 2.5em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { margin-top: 0.4em; color: #444; }
h2 { font-size: 1.2em; margin-top: 1.6em; }
div.tables { display: flex; flex-wrap: wrap; align-items: flex-start; column-gap: 3em; }
div.tables h2 { font-size: 1.05em; }
div.tables table { margin: 0.5em 0 1em; }
p.lead { color: #444; }
ul.files { font-family: 'DejaVu Sans Mono', monospace; font-size: 0.9em; }
ul.files li { margin: 0.2em 0; }
";

/// One table of a report: a heading and (key, value) rows in order.
#[derive(Clone, Debug, Default)]
pub struct ReportTable {
    /// The heading above the table.
    pub heading: String,
    /// (key, value) rows, in order.
    pub rows: Vec<(String, String)>,
}

/// A link of a report to a file beside it.
#[derive(Clone, Debug)]
pub struct ReportLink {
    /// Path relative to the page (`series.csv`, `plots/risk.svg`).
    pub href: String,
    /// What the file holds.
    pub description: String,
}

/// A figure of a report: its PNG (embedded) and its caption; `links` (relative to the page)
/// name the same figure in other formats and the data it was drawn from.
#[derive(Clone, Debug)]
pub struct ReportFigure {
    /// What the figure shows, one or two sentences.
    pub caption: String,
    /// The PNG file, embedded in the page.
    pub png: PathBuf,
    /// Links under the caption (the SVG, the CSV it was drawn from).
    pub links: Vec<ReportLink>,
}

impl ReportFigure {
    /// A figure without links.
    pub fn new(caption: impl Into<String>, png: impl Into<PathBuf>) -> Self {
        Self {
            caption: caption.into(),
            png: png.into(),
            links: Vec::new(),
        }
    }
}

/// A page: a title, a lead paragraph, tables, figures, then a list of the data files.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The heading of the page (and its `<title>`).
    pub title: String,
    /// One paragraph under the title (left out when empty).
    pub lead: String,
    /// Tables, in order.
    pub tables: Vec<ReportTable>,
    /// Figures, in order.
    pub figures: Vec<ReportFigure>,
    /// The files of the run, listed last with their descriptions.
    pub files: Vec<ReportLink>,
}

/// Writes the page `path` (atomically): the title, the lead paragraph, each table under its
/// heading, each figure's PNG embedded with its caption and links, and the list of files. Text
/// is HTML-escaped; the only `href`s are the relative links given.
///
/// # Errors
/// [`Error::Io`] if a figure cannot be read or the page cannot be written; [`Error::Format`]
/// if a figure is not a PNG file.
///
/// ```
/// use meanfield::plot::{Report, ReportTable, write_report};
///
/// # let directory = std::env::temp_dir().join(format!("meanfield-report-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&directory)?;
/// let report = Report {
///     title: "Run".into(),
///     tables: vec![ReportTable {
///         heading: "Model".into(),
///         rows: vec![("m".to_owned(), "1000".to_owned())],
///     }],
///     ..Report::default()
/// };
/// write_report(&directory.join("report.html"), &report)?;
/// let page = std::fs::read_to_string(directory.join("report.html"))?;
/// assert!(page.contains("<td>1000</td>"));
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_report(path: &Path, report: &Report) -> Result<()> {
    let mut page = String::new();
    // `write!` to a String cannot fail.
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n",
        title = escape(&report.title),
    );
    if !report.lead.is_empty() {
        let _ = writeln!(page, "<p class=\"lead\">{}</p>", escape(&report.lead));
    }
    // The tables side by side where the page is wide enough.
    page.push_str("<div class=\"tables\">\n");
    for table in report.tables.iter().filter(|t| !t.rows.is_empty()) {
        let _ = writeln!(
            page,
            "<section>\n<h2>{}</h2>\n<table>",
            escape(&table.heading)
        );
        for (key, value) in &table.rows {
            let _ = writeln!(
                page,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(key),
                escape(value)
            );
        }
        page.push_str("</table>\n</section>\n");
    }
    page.push_str("</div>\n");
    if !report.figures.is_empty() {
        page.push_str("<h2>Figures</h2>\n");
    }
    for figure in &report.figures {
        write_figure(&mut page, figure)?;
    }
    if !report.files.is_empty() {
        page.push_str("<h2>Files</h2>\n<ul class=\"files\">\n");
        for link in &report.files {
            let _ = writeln!(
                page,
                "<li><a href=\"{href}\">{href}</a>: {}</li>",
                escape(&link.description),
                href = escape(&link.href),
            );
        }
        page.push_str("</ul>\n");
    }
    page.push_str("</body>\n</html>\n");
    write_atomic(path, page.as_bytes())
}

/// One `<figure>`: the PNG embedded, the caption, the links.
fn write_figure(page: &mut String, figure: &ReportFigure) -> Result<()> {
    let png = &figure.png;
    let bytes = std::fs::read(png).map_err(|e| Error::io(png, e))?;
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return Err(Error::format(png, "not a PNG image (bad signature)"));
    }
    let caption = escape(&typeset(&figure.caption));
    let _ = write!(
        page,
        "<figure>\n<img alt=\"{caption}\" src=\"data:image/png;base64,{}\">\n\
         <figcaption>{caption}",
        STANDARD.encode(&bytes),
    );
    for (i, link) in figure.links.iter().enumerate() {
        let _ = write!(
            page,
            "{} <a href=\"{}\">{}</a>",
            if i == 0 { "<br>" } else { " \u{b7}" },
            escape(&link.href),
            escape(&link.description),
        );
    }
    page.push_str("</figcaption>\n</figure>\n");
    Ok(())
}

/// `x` to `digits` significant digits, as a reader expects it: plain decimals for
/// 1e-3 <= |x| < 1e6 (trailing zeros dropped: 0.25, 1500), else scientific (1.235e-7); integers
/// below 1e15 in full; `NaN`, `inf` and `-inf` as such.
///
/// ```
/// use meanfield::plot::significant;
/// assert_eq!(significant(14687.718397192742, 4), "14690");
/// assert_eq!(significant(0.000_123_456_7, 3), "1.23e-4");
/// assert_eq!(significant(0.25, 6), "0.25");
/// assert_eq!(significant(40.0, 6), "40");
/// ```
pub fn significant(x: f64, digits: usize) -> String {
    let digits = digits.max(1);
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        // An integer, in full (steps, widths).
        return format!("{x:.0}");
    }
    // The decimal exponent after rounding (9.9996 to 4 digits is 10.00).
    let scientific = format!("{:.*e}", digits - 1, x);
    let exponent: i32 = scientific
        .rsplit_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    if (-3..6).contains(&exponent) {
        let decimals = i32::try_from(digits).unwrap_or(17) - 1 - exponent;
        let Ok(decimals) = usize::try_from(decimals) else {
            // Fewer digits than the integer part has: round to tens, hundreds, ...
            let scale = 10f64.powi(-decimals);
            return format!("{:.0}", (x / scale).round() * scale);
        };
        let fixed = format!("{x:.decimals$}");
        if fixed.contains('.') {
            fixed
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        } else {
            fixed
        }
    } else {
        let (mantissa, _) = scientific.split_once('e').unwrap_or((&scientific, ""));
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        format!("{mantissa}e{exponent}")
    }
}

/// `text` with the characters HTML gives a meaning to replaced by entities.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_markup_characters() {
        assert_eq!(
            escape("a < b & \"c\" > 'd'"),
            "a &lt; b &amp; &quot;c&quot; &gt; &#39;d&#39;"
        );
        assert_eq!(escape("rho_t, ||w||"), "rho_t, ||w||");
    }
}
