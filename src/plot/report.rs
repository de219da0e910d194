//! `report.html`: one self-contained page per run (summary table and every figure), readable
//! offline and by mail: images are embedded as base64 `data:` URIs and the style sheet is
//! inline, so the page loads nothing from anywhere.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};
use crate::output::write_atomic;

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
";

/// Writes the page `path` (atomically): `title` as heading, `summary` as a two-column table of
/// (key, value) rows in the given order, then each PNG of `figures` embedded with its caption
/// (in the given order). Text is HTML-escaped.
///
/// # Errors
/// [`Error::Io`] if a figure cannot be read or the page cannot be written; [`Error::Format`]
/// if a figure is not a PNG file.
///
/// ```
/// use meanfield::plot::write_report;
///
/// # let directory = std::env::temp_dir().join(format!("meanfield-report-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&directory)?;
/// let summary = vec![("m".to_owned(), "1000".to_owned())];
/// write_report(&directory.join("report.html"), "Run", &summary, &[])?;
/// let page = std::fs::read_to_string(directory.join("report.html"))?;
/// assert!(page.contains("<td>1000</td>"));
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_report(
    path: &Path,
    title: &str,
    summary: &[(String, String)],
    figures: &[(String, PathBuf)],
) -> Result<()> {
    let mut page = String::new();
    // `write!` to a String cannot fail.
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n",
        title = escape(title),
    );
    if !summary.is_empty() {
        page.push_str("<table>\n");
        for (key, value) in summary {
            let _ = writeln!(
                page,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(key),
                escape(value)
            );
        }
        page.push_str("</table>\n");
    }
    for (caption, png) in figures {
        let bytes = std::fs::read(png).map_err(|e| Error::io(png, e))?;
        if !bytes.starts_with(&PNG_SIGNATURE) {
            return Err(Error::format(png, "not a PNG image (bad signature)"));
        }
        let caption = escape(caption);
        let _ = write!(
            page,
            "<figure>\n<img alt=\"{caption}\" src=\"data:image/png;base64,{}\">\n\
             <figcaption>{caption}</figcaption>\n</figure>\n",
            STANDARD.encode(&bytes),
        );
    }
    page.push_str("</body>\n</html>\n");
    write_atomic(path, page.as_bytes())
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
