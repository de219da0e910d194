//! Composed figures for papers: panels ([`Figure`]s of the one figure model) on a grid, each
//! lettered (a), (b), ..., drawn once as SVG and written as PNG, SVG and PDF at a physical
//! size (`meanfield figure`, `plot::spec`).
//!
//! The figure model sets text in pixels (an axis label is 40 px, about 32 px of glyph height
//! in plotters' scale), so a composed figure is drawn at [`PIXELS_PER_POINT`] design pixels per
//! printed point: an axis label then prints at 9 pt and a tick label at 8 pt whatever the
//! width, and the SVG's root carries the printed size in points (its viewBox the design
//! pixels). The PDF is converted from that SVG by svg2pdf, with the embedded DejaVu Sans as the
//! only font (subset and embedded, text kept as text); the PNG is the bitmap of the same
//! drawing at the design size (about 260 dpi).

use std::path::Path;
use std::sync::Arc;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::plot::canvas::{
    DrawResult, LEGEND_SIZE, Picture, font, render_png, svg_of, with_suffix,
};
use crate::plot::chart::LINE_WIDTH;
use crate::plot::figure::CurveStyle;
use crate::plot::font::{DEJAVU_SANS, FONT_FAMILY};
use crate::plot::model::Figure;
use crate::plot::typeset::typeset;

/// Design pixels per printed point: plotters' axis-label glyphs (32.3 px for the model's 40)
/// print at 9 pt.
pub(crate) const PIXELS_PER_POINT: f64 = 32.258 / 9.0;

/// Points per inch.
pub(crate) const POINTS_PER_INCH: f64 = 72.0;

/// Font size of the panel letters, in the model's units (about 10 pt printed, bold).
const LETTER_SIZE: u32 = 46;

/// Panels on a grid, filled row by row, `columns` per row; each panel's frame size is its cell;
/// below them, optionally, one legend for all panels.
pub(crate) struct Grid {
    /// The panels, in reading order.
    pub(crate) panels: Vec<Figure>,
    /// Panels per row.
    pub(crate) columns: usize,
    /// Whether each panel gets its letter (a), (b), ... in its upper left corner.
    pub(crate) letters: bool,
    /// The entries of the shared legend below the panels (none: no strip).
    pub(crate) legend: Vec<(String, CurveStyle)>,
}

/// Height of a row of the shared legend, pixels.
const LEGEND_ROW: u32 = 52;
/// Length of a legend sample line, pixels.
const SAMPLE: i32 = 56;

impl Grid {
    /// The shared legend's entries laid out in rows no wider than `width`: for each row, the
    /// (entry, x offset) pairs and the row's width.
    fn legend_rows(&self, width: u32) -> Vec<(Vec<(usize, i32)>, i32)> {
        let width = i32::try_from(width).unwrap_or(i32::MAX);
        let mut rows: Vec<(Vec<(usize, i32)>, i32)> = Vec::new();
        let mut current: (Vec<(usize, i32)>, i32) = (Vec::new(), 0);
        for (index, (label, _)) in self.legend.iter().enumerate() {
            // About 17 px per character of the legend font, a sample, gaps.
            let chars = i32::try_from(typeset(label).chars().count()).unwrap_or(40);
            let entry = SAMPLE + 14 + 17 * chars + 44;
            if current.1 > 0 && current.1 + entry > width {
                rows.push(std::mem::take(&mut current));
            }
            current.0.push((index, current.1));
            current.1 += entry;
        }
        if !current.0.is_empty() {
            rows.push(current);
        }
        rows
    }

    /// Height of the shared legend's strip.
    fn legend_height(&self, width: u32) -> u32 {
        let rows = u32::try_from(self.legend_rows(width).len()).unwrap_or(0);
        if rows == 0 { 0 } else { rows * LEGEND_ROW + 16 }
    }

    /// Draws the shared legend in `strip`, each row centred.
    fn draw_legend<Backend: DrawingBackend>(
        &self,
        strip: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        let width = strip.dim_in_pixel().0;
        let style = font(LEGEND_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
        for (r, (entries, row_width)) in self.legend_rows(width).iter().enumerate() {
            let left = (i32::try_from(width).unwrap_or(0) - row_width).max(0) / 2;
            let y = i32::try_from(r).unwrap_or(0) * i32::try_from(LEGEND_ROW).unwrap_or(0)
                + i32::try_from(LEGEND_ROW / 2).unwrap_or(0)
                + 8;
            for &(index, offset) in entries {
                let (label, (colour, dash)) = &self.legend[index];
                let x = left + offset;
                let line = colour.stroke_width(LINE_WIDTH);
                let points = vec![(x, y), (x + SAMPLE, y)];
                match dash {
                    Some((on, off)) => {
                        strip.draw(&DashedPathElement::new(points, *on, *off, line))?;
                    }
                    None => strip.draw(&PathElement::new(points, line))?,
                }
                strip.draw(&Text::new(
                    typeset(label),
                    (x + SAMPLE + 14, y),
                    style.clone(),
                ))?;
            }
        }
        Ok(())
    }
}

impl Grid {
    /// The size of one cell (every panel has the same).
    fn cell(&self) -> (u32, u32) {
        self.panels.first().map_or((1, 1), |p| p.frame.size)
    }

    fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.columns.max(1))
    }
}

impl Picture for Grid {
    fn size(&self) -> (u32, u32) {
        let (w, h) = self.cell();
        let columns = self.columns.clamp(1, self.panels.len().max(1));
        let width = w * u32::try_from(columns).unwrap_or(1);
        (
            width,
            h * u32::try_from(self.rows()).unwrap_or(1) + self.legend_height(width),
        )
    }

    fn draw<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend> {
        root.fill(&WHITE)?;
        let (w, h) = self.cell();
        for (index, panel) in self.panels.iter().enumerate() {
            let (row, column) = (index / self.columns.max(1), index % self.columns.max(1));
            let left = i32::try_from(column).unwrap_or(0) * i32::try_from(w).unwrap_or(0);
            let top = i32::try_from(row).unwrap_or(0) * i32::try_from(h).unwrap_or(0);
            let area = root.clone().shrink((left, top), (w, h));
            panel.draw_on(&area)?;
            if self.letters {
                let letter = format!("({})", letter_of(index));
                let style =
                    TextStyle::from((FONT_FAMILY, LETTER_SIZE, FontStyle::Bold).into_font());
                area.draw(&Text::new(letter, (10, 8), style))?;
            }
        }
        if !self.legend.is_empty() {
            let top = h * u32::try_from(self.rows()).unwrap_or(0);
            let (_, strip) = root.split_vertically(top);
            self.draw_legend(&strip)?;
        }
        Ok(())
    }
}

/// The letter of panel `index`: a, b, ..., z, then aa, ab, ...
pub(crate) fn letter_of(index: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    if index < 26 {
        char::from(letters[index]).to_string()
    } else {
        format!("{}{}", letter_of(index / 26 - 1), letter_of(index % 26))
    }
}

/// Writes `grid` as `<stem>.png`, `<stem>.svg` and `<stem>.pdf` (each atomically), printed
/// `width_points` wide (the height in proportion).
///
/// # Errors
/// [`Error::Io`] if a file cannot be written; [`Error::Format`] if the SVG cannot be converted
/// (a bug, not bad input).
pub(crate) fn render_composed(grid: &Grid, stem: &Path, width_points: f64) -> Result<()> {
    let (w, h) = grid.size();
    let height_points = width_points * f64::from(h) / f64::from(w);
    let svg_path = with_suffix(stem, "svg");
    // The drawing in design pixels, its root given the printed size in points.
    let sized = svg_of(grid, &svg_path)?.replacen(
        &format!("<svg width=\"{w}\" height=\"{h}\""),
        &format!("<svg width=\"{width_points:.2}pt\" height=\"{height_points:.2}pt\""),
        1,
    );
    let pdf_path = with_suffix(stem, "pdf");
    let pdf = pdf_of(&sized, &pdf_path)?;
    write_atomic(&svg_path, sized.as_bytes())?;
    render_png(grid, stem)?;
    write_atomic(&pdf_path, &pdf)
}

/// The PDF of an SVG text, its fonts from the embedded DejaVu Sans only.
fn pdf_of(svg: &str, path: &Path) -> Result<Vec<u8>> {
    use svg2pdf::usvg;
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_font_data(DEJAVU_SANS.to_vec());
    fonts.set_sans_serif_family("DejaVu Sans");
    let options = usvg::Options {
        fontdb: Arc::new(fonts),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options)
        .map_err(|e| Error::format(path, format!("cannot read the drawn SVG: {e}")))?;
    // usvg reads points at 96 px per inch; 96 "dpi" here turns them back into points.
    let page = svg2pdf::PageOptions { dpi: 96.0 };
    svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), page)
        .map_err(|e| Error::format(path, format!("cannot convert the figure to PDF: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_letters_run_a_to_z_then_aa() {
        assert_eq!(letter_of(0), "a");
        assert_eq!(letter_of(25), "z");
        assert_eq!(letter_of(26), "aa");
        assert_eq!(letter_of(27), "ab");
    }
}
