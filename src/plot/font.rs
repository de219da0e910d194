//! The embedded font: DejaVu Sans, registered once with plotters' `ab_glyph` backend under the
//! family [`FONT_FAMILY`], so that figures draw text without fontconfig or system fonts
//! (`notes/crates.md` section 2).

use std::sync::OnceLock;

use plotters::style::{FontStyle, register_font};

use crate::error::{Error, Result};

/// The family name every text style of a figure uses.
pub const FONT_FAMILY: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera licence), the only face the figures use.
pub(crate) static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the embedded font under [`FONT_FAMILY`]; later calls return the first result.
///
/// # Errors
/// [`Error::Format`] if the embedded font cannot be parsed (a broken build, not bad input).
pub fn register_embedded_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED
        .get_or_init(|| register_font(FONT_FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if registered {
        Ok(())
    } else {
        Err(Error::format(
            "assets/DejaVuSans.ttf",
            "the embedded font is not a valid TrueType font",
        ))
    }
}
