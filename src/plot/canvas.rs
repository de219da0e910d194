//! Drawing surfaces shared by every figure: the text styles, and the writers that render one
//! picture to PNG and SVG (or many to an animated GIF), each file written atomically (drawn to a
//! scratch name, then renamed into place, so no half-written file is ever visible).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::plot::font::{FONT_FAMILY, register_embedded_font};

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

/// Renders `picture` to `<stem>.svg` and `<stem>.png`, each written atomically.
pub(crate) fn render_png_and_svg(picture: &impl Picture, stem: &Path) -> Result<()> {
    register_embedded_font()?;
    let size = picture.size();

    let svg_path = with_suffix(stem, "svg");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        picture
            .draw(&root)
            .and_then(|()| root.present())
            .map_err(|e| drawing_error(&svg_path, &e))?;
    }
    write_atomic(&svg_path, svg.as_bytes())?;

    // The PNG encoder of plotters (the `image` crate) is reachable only through a file path, so
    // the PNG is drawn to a scratch file, then copied into place atomically.
    let png_path = with_suffix(stem, "png");
    let scratch = with_suffix(&hidden(&png_path), "render.png");
    let drawn = {
        let root = BitMapBackend::new(&scratch, size).into_drawing_area();
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
