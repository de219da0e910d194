//! The one style of every figure the project draws (runs, sweeps, the gallery, benchmarks and
//! the composed paper figures of `meanfield figure`):
//!
//! - series in the Okabe-Ito colour-blind-safe [`PALETTE`], in its fixed order, the first
//!   solid and the next ones each with its own dash ([`dash_of`]), so that curves that
//!   coincide stay visible and the figure reads in grey print; a series keeps its colour in
//!   every panel of a figure and in the paired figures of a gallery entry (the same label, the
//!   same index);
//! - the width curves of `meanfield sweep`'s own figures (an ordered family) in the
//!   sequential viridis map of `plot::colormap`, narrowest darkest; in a composed figure they
//!   are series like any other, coloured by label;
//! - references (an exact limit, a closed form) in black ([`REFERENCE`]), drawn first, under
//!   the series;
//! - power-law guides (m^-1/2, m^-1) in grey ([`GUIDE_GREY`]), dashed by their order
//!   ([`guide_dash`]);
//! - text in the embedded DejaVu Sans (`plot::font`) with the symbols of `plot::typeset`, and
//!   log axes labelled at decades ([`crate::plot::axis`]).

use plotters::style::RGBColor;

/// The Okabe-Ito colour-blind-safe palette, yellow last (it is faint on white).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(240, 228, 66),  // yellow
];

/// The colour of reference curves (an exact limit, a closed form): black, drawn first.
pub const REFERENCE: RGBColor = RGBColor(0, 0, 0);

/// The grey of the power-law guides.
pub const GUIDE_GREY: RGBColor = RGBColor(130, 130, 130);

/// Stroke width of a guide, in design pixels.
pub(crate) const GUIDE_WIDTH: u32 = 3;

/// The dash pattern (dash, gap in pixels) of the curve at `index` of a line chart, `None` for a
/// solid line: the first curve is solid, the next ones ever differently dashed, so that a curve
/// drawn exactly on top of an earlier one (the coupled distance under the exact W2) leaves the
/// earlier one visible in its gaps, in print without colour too.
#[must_use]
pub fn dash_of(index: usize) -> Option<(u32, u32)> {
    const DASHES: [Option<(u32, u32)>; 4] = [None, Some((26, 12)), Some((8, 10)), Some((40, 8))];
    DASHES[index % DASHES.len()]
}

/// The dash (dash, gap in pixels) of the guide at `index` among a figure's guides: long
/// dashes, then short ones, then medium (the last for any further guide).
#[must_use]
pub const fn guide_dash(index: usize) -> (u32, u32) {
    const DASHES: [u32; 3] = [20, 7, 12];
    let last = DASHES.len() - 1;
    (DASHES[if index < last { index } else { last }], 8)
}
