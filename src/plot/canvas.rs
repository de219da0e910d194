//! Drawing surfaces shared by every figure: the text styles, and the writers that render one
//! picture to PNG and SVG (or many to an animated GIF), each file written atomically (drawn to a
//! scratch name, then renamed into place, so no half-written file is ever visible).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::plot::font::{FONT_FAMILY, register_embedded_font};
use crate::plot::typeset::typeset;

// Font sizes as plotters counts them (it draws 1 / 1.24 of this many pixels) for figures about
// 1200 px wide: large, so that text stays legible when the figure is shrunk to a paper column.
pub(crate) const TITLE_SIZE: u32 = 46;
pub(crate) const AXIS_LABEL_SIZE: u32 = 40;
pub(crate) const TICK_LABEL_SIZE: u32 = 36;
pub(crate) const LEGEND_SIZE: u32 = 36;

/// Grid line colours: bold lines at labelled ticks, light lines between them.
pub(crate) const BOLD_GRID: RGBColor = RGBColor(200, 200, 200);
pub(crate) const LIGHT_GRID: RGBColor = RGBColor(238, 238, 238);

/// Grey of notes drawn on empty charts ("nothing to plot").
pub(crate) const NOTE_GREY: RGBColor = RGBColor(90, 90, 90);

/// What plotters returns from drawing on a backend `Backend`.
pub(crate) type DrawResult<Backend> =
    std::result::Result<(), DrawingAreaErrorKind<<Backend as DrawingBackend>::ErrorType>>;

/// A picture that can be drawn on any plotters backend (bitmap, SVG, GIF frame).
pub(crate) trait Picture {
    /// Size in pixels (SVG user units).
    fn size(&self) -> (u32, u32);

    /// Draws the whole picture on `root`, which has [`Picture::size`].
    fn draw<Backend: DrawingBackend>(
        &self,
        root: &DrawingArea<Backend, Shift>,
    ) -> DrawResult<Backend>;
}

/// The text style of the embedded font at `size`.
pub(crate) fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT_FAMILY, size).into_font())
}

/// Width in pixels of `text` at `size` on `area` (an over-estimate if the font cannot measure).
fn text_width<Backend: DrawingBackend>(
    area: &DrawingArea<Backend, Shift>,
    text: &str,
    size: u32,
) -> u32 {
    area.estimate_text_size(text, &font(size)).map_or_else(
        // About 0.6 of the size per character for DejaVu Sans, rounded up.
        |_| {
            u32::try_from(text.chars().count())
                .unwrap_or(u32::MAX)
                .saturating_mul(size)
        },
        |(width, _)| width,
    )
}

/// `text` broken greedily at spaces into lines no wider than `width` at `size` (a single word
/// wider than `width` gets a line of its own).
fn wrap<Backend: DrawingBackend>(
    area: &DrawingArea<Backend, Shift>,
    text: &str,
    size: u32,
    width: u32,
) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|word| !word.is_empty()) {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if line.is_empty() || text_width(area, &candidate, size) <= width {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// How a title fits a figure `width` pixels wide (less `margin` on each side): the largest size
/// from `largest` down to 3/4 of it (34 for the 46 of a 1200 px figure, still legible in a paper
/// column) at which it fits on one line; else the largest size at which it fits on two lines,
/// broken after the last ": " if both parts fit, else at spaces; else as many lines as it needs
/// at the smallest size. Returns the lines and the size, so that no title is ever cut at the
/// edges.
pub(crate) fn fit_title<Backend: DrawingBackend>(
    area: &DrawingArea<Backend, Shift>,
    title: &str,
    largest: u32,
    margin: u32,
) -> (Vec<String>, u32) {
    let title = &typeset(title);
    let (width, _) = area.dim_in_pixel();
    let width = width.saturating_sub(2 * margin);
    let smallest = (largest * 3 / 4).max(1);
    let sizes = || (smallest..=largest).rev().step_by(2);
    if let Some(size) = sizes().find(|&size| text_width(area, title, size) <= width) {
        return (vec![title.to_owned()], size);
    }
    // Best after the last ": " (name and point, then what is shown), if both parts fit.
    if let Some((head, tail)) = title.rsplit_once(": ") {
        let head = format!("{head}:");
        if let Some(size) = sizes().find(|&size| {
            text_width(area, &head, size) <= width && text_width(area, tail, size) <= width
        }) {
            return (vec![head, tail.to_owned()], size);
        }
    }
    for size in sizes() {
        let lines = wrap(area, title, size, width);
        if lines.len() <= 2 && lines.iter().all(|l| text_width(area, l, size) <= width) {
            return (lines, size);
        }
    }
    (wrap(area, title, smallest, width), smallest)
}

/// Height in pixels of a strip holding `lines` title lines at `size` (plotters draws a size-s
/// font about s / 1.24 pixels high), with a margin above and below.
pub(crate) fn title_height(lines: usize, size: u32) -> u32 {
    let line = (f64::from(size) * 1.05).round() as u32;
    u32::try_from(lines).unwrap_or(1).max(1) * line + 24
}

/// Draws the lines of a fitted title centred in `strip`, one under the other.
pub(crate) fn draw_title_lines<Backend: DrawingBackend>(
    strip: &DrawingArea<Backend, Shift>,
    lines: &[String],
    size: u32,
) -> DrawResult<Backend> {
    let (width, height) = strip.dim_in_pixel();
    let line = (f64::from(size) * 1.05).round() as i32;
    let count = i32::try_from(lines.len()).unwrap_or(1);
    let top = i32::try_from(height / 2).unwrap_or(0) - line * (count - 1) / 2;
    let style = font(size).pos(Pos::new(HPos::Center, VPos::Center));
    for (index, text) in lines.iter().enumerate() {
        let y = top + line * i32::try_from(index).unwrap_or(0);
        strip.draw_text(text, &style, (i32::try_from(width / 2).unwrap_or(0), y))?;
    }
    Ok(())
}

/// Renders `picture` to `<stem>.svg` and `<stem>.png`, each written atomically.
pub(crate) fn render_png_and_svg(picture: &impl Picture, stem: &Path) -> Result<()> {
    let svg_path = with_suffix(stem, "svg");
    write_atomic(&svg_path, svg_of(picture, &svg_path)?.as_bytes())?;
    render_png(picture, stem)
}

/// The SVG text of `picture` (`path` names it in errors).
pub(crate) fn svg_of(picture: &impl Picture, path: &Path) -> Result<String> {
    register_embedded_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, picture.size()).into_drawing_area();
        picture
            .draw(&root)
            .and_then(|()| root.present())
            .map_err(|e| drawing_error(path, &e))?;
    }
    Ok(svg)
}

/// Renders `picture` to `<stem>.png`, written atomically.
pub(crate) fn render_png(picture: &impl Picture, stem: &Path) -> Result<()> {
    register_embedded_font()?;
    // The PNG encoder of plotters (the `image` crate) is reachable only through a file path, so
    // the PNG is drawn to a scratch file, then copied into place atomically.
    let png_path = with_suffix(stem, "png");
    let scratch = with_suffix(&hidden(&png_path), "render.png");
    let drawn = {
        let root = BitMapBackend::new(&scratch, picture.size()).into_drawing_area();
        picture
            .draw(&root)
            .and_then(|()| root.present())
            .map_err(|e| drawing_error(&png_path, &e))
    };
    copy_scratch_into_place(drawn, &scratch, &png_path)
}

/// Renders `frames` as the frames of an animated GIF at `path` (looping forever, `delay_ms`
/// per frame), written atomically. An empty `frames` writes a GIF with no frame.
pub(crate) fn render_gif<P: Picture>(
    frames: impl IntoIterator<Item = P>,
    size: (u32, u32),
    delay_ms: u32,
    path: &Path,
) -> Result<()> {
    register_embedded_font()?;
    // The GIF encoder writes straight to a file and finishes it (the trailer byte) when the
    // backend is dropped, so it draws to a scratch file that is copied once complete.
    let scratch = with_suffix(&hidden(path), "render.gif");
    let drawn = (|| {
        let backend =
            BitMapBackend::gif(&scratch, size, delay_ms).map_err(|e| drawing_error(path, &e))?;
        let root = backend.into_drawing_area();
        for frame in frames {
            frame
                .draw(&root)
                .and_then(|()| root.present())
                .map_err(|e| drawing_error(path, &e))?;
        }
        Ok(())
    })();
    copy_scratch_into_place(drawn, &scratch, path)
}

/// After a drawing into `scratch` ended with `drawn`, copies it to `path` atomically and removes
/// the scratch file.
fn copy_scratch_into_place(drawn: Result<()>, scratch: &Path, path: &Path) -> Result<()> {
    let copied = drawn.and_then(|()| {
        let bytes = std::fs::read(scratch).map_err(|e| Error::io(scratch, e))?;
        write_atomic(path, &bytes)
    });
    // Best effort: the scratch file may not exist if drawing failed early.
    let _ = std::fs::remove_file(scratch);
    copied
}

/// `stem.suffix`, keeping any dot already in the stem (`risk.v2` -> `risk.v2.png`).
pub(crate) fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut path = stem.as_os_str().to_owned();
    path.push(".");
    path.push(suffix);
    PathBuf::from(path)
}

/// `dir/.name` for `dir/name`.
fn hidden(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    path.with_file_name(name)
}

fn drawing_error(path: &Path, error: &impl std::fmt::Display) -> Error {
    Error::io(
        path,
        std::io::Error::other(format!("cannot draw the figure: {error}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_keeps_dots_of_the_stem_and_scratch_files_are_hidden() {
        assert_eq!(
            with_suffix(Path::new("out/risk.v2"), "png"),
            Path::new("out/risk.v2.png")
        );
        assert_eq!(
            hidden(Path::new("out/cloud.gif")),
            Path::new("out/.cloud.gif")
        );
    }
}
