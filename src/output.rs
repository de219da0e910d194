//! Files of a run directory: CSV tables, pretty JSON and float64 `.npy` arrays.
//!
//! Every file is written atomically ([`write_atomic`]: a temporary file in the same directory,
//! `sync_all`, then a rename), so a reader never sees a half-written file, even if the run is
//! killed mid-write. Floats survive a write/read round trip bit for bit (NaN as a NaN).
//!
//! `.npy` follows the NumPy format specification (versions 1.0 to 3.0): the magic
//! `\x93NUMPY`, a version, a little-endian header length, a Python dict literal with `descr`,
//! `fortran_order` and `shape`, padded with spaces and a final `\n` so that the data starts at
//! a multiple of 64 bytes.
//!
//! [`run_directory`] lists what a run directory holds ([`RunEntry`]) and clears it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use nalgebra::DMatrix;

use crate::error::{Error, Result};

pub mod run_directory;

pub use run_directory::{
    RunEntry, clear_run_directory, is_run_entry, marginal_path, marginal_quantity, run_entries_in,
};

/// Writes `bytes` to `path` atomically.
///
/// The bytes go to a temporary file `.{name}.{pid}.{n}.tmp` in the same directory (so the
/// rename cannot cross file systems), which is flushed to disk (`sync_all`) and then renamed
/// over `path`. `path` therefore holds either its old content or all of `bytes`, never a part.
/// On failure the temporary file is removed. Concurrent writers of the same `path` (in one
/// process or several) each rename a complete file; the last rename wins.
///
/// # Errors
/// [`Error::Io`] naming the file that could not be written or renamed; [`Error::Invalid`] if
/// `path` has no file name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = temporary_path(path)?;
    let written = write_and_sync(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path).map_err(|e| Error::io(path, e)));
    if written.is_err() {
        // Best effort: the error that matters is the one already in `written`.
        let _ = std::fs::remove_file(&temporary);
        return written;
    }
    sync_parent_directory(path);
    Ok(())
}

/// `dir/.{name}.{pid}.{n}.tmp` for `dir/name`, n counting the calls of this process.
fn temporary_path(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        Error::invalid(
            "output path",
            path.display(),
            "a path ending in a file name",
        )
    })?;
    // Unique per process and call: writers of the same file (shards of one sweep writing
    // the same plan) each rename a whole file of their own; the last rename wins.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".{}.{call}.tmp", std::process::id()));
    Ok(path.with_file_name(temporary_name))
}

fn write_and_sync(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Makes the rename itself durable where the platform allows (directories can be opened and
/// synced on Unix). A failure here does not make the file content wrong, so it is ignored.
fn sync_parent_directory(path: &Path) {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if let Ok(directory) = File::open(parent) {
        let _ = directory.sync_all();
    }
}

/// Serialises `matrix` as a float64 `.npy` file (format 1.0, `'<f8'`, shape `(nrows, ncols)`,
/// `fortran_order: False`, i.e. row-major data), written atomically.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
///
/// ```
/// use meanfield::output::{read_npy, write_npy};
/// use nalgebra::DMatrix;
///
/// # let directory = std::env::temp_dir().join(format!("meanfield-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&directory)?;
/// let particles = DMatrix::from_row_slice(2, 3, &[0.5, -1.0, 2.0, 0.25, 3.0, -0.0]);
/// let path = directory.join("particles.npy");
/// write_npy(&path, &particles)?;
/// assert_eq!(read_npy(&path)?, particles);
/// # std::fs::remove_dir_all(&directory)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_npy(path: &Path, matrix: &DMatrix<f64>) -> Result<()> {
    write_atomic(path, &npy_bytes(matrix))
}

/// The bytes of the `.npy` file that [`write_npy`] writes, in memory (also used by
/// checkpoints).
#[must_use]
pub fn npy_bytes(matrix: &DMatrix<f64>) -> Vec<u8> {
    let shape = format!("({}, {})", matrix.nrows(), matrix.ncols());
    // nalgebra stores columns contiguously; the file is row-major (C order).
    let row_major =
        (0..matrix.nrows()).flat_map(|i| (0..matrix.ncols()).map(move |j| matrix[(i, j)]));
    npy_from_parts(&shape, matrix.len(), row_major)
}

/// Writes `values` as a 1-D float64 `.npy` file of shape `(n,)`, atomically.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn write_npy_vector(path: &Path, values: &[f64]) -> Result<()> {
    let shape = format!("({},)", values.len());
    write_atomic(
        path,
        &npy_from_parts(&shape, values.len(), values.iter().copied()),
    )
}

/// Magic string that opens every `.npy` file.
const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// The data of an `.npy` file starts at a multiple of this many bytes.
const NPY_ALIGNMENT: usize = 64;

/// A version 1.0 `.npy` file of little-endian float64 values in C order.
fn npy_from_parts(shape: &str, count: usize, values: impl Iterator<Item = f64>) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    // magic (6) + version (2) + header length (2) + header, which ends in '\n'.
    let unpadded = NPY_MAGIC.len() + 2 + 2 + header.len() + 1;
    let padding = (NPY_ALIGNMENT - unpadded % NPY_ALIGNMENT) % NPY_ALIGNMENT;
    header.extend(std::iter::repeat_n(' ', padding));
    header.push('\n');
    // Version 1.0 stores the header length in a u16. Shapes of two usizes are far below 64 KiB.
    let header_length = u16::try_from(header.len()).unwrap_or(u16::MAX);

    let mut bytes = Vec::with_capacity(NPY_MAGIC.len() + 4 + header.len() + 8 * count);
    bytes.extend_from_slice(NPY_MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&header_length.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for value in values {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes
}

/// Reads a `.npy` file into a matrix.
///
/// Accepts format versions 1.0, 2.0 and 3.0; dtypes `'<f8'` and `'>f8'` (float64) and `'<f4'`,
/// `'>f4'` (float32, converted exactly to f64); C or Fortran order; 1-D arrays (returned as an
/// `n x 1` matrix), 2-D arrays and 0-D scalars (returned as `1 x 1`).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the file if it is not an
/// `.npy` file, has another dtype (the message says which one and that float64 is expected),
/// more than two dimensions, or fewer (or more) data bytes than its shape needs.
pub fn read_npy(path: &Path) -> Result<DMatrix<f64>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_npy(&bytes).map_err(|message| Error::format(path, message))
}

/// Element types that [`read_npy`] accepts.
#[derive(Clone, Copy, Debug)]
enum NpyDtype {
    Float64 { little_endian: bool },
    Float32 { little_endian: bool },
}

impl NpyDtype {
    fn parse(descr: &str) -> Result<Self, String> {
        match descr {
            "<f8" => Ok(Self::Float64 {
                little_endian: true,
            }),
            ">f8" => Ok(Self::Float64 {
                little_endian: false,
            }),
            "<f4" => Ok(Self::Float32 {
                little_endian: true,
            }),
            ">f4" => Ok(Self::Float32 {
                little_endian: false,
            }),
            other => Err(format!(
                "dtype '{other}' is not supported: expected float64 ('<f8' or '>f8'; float32 '<f4' is converted)"
            )),
        }
    }

    fn size(self) -> usize {
        match self {
            Self::Float64 { .. } => 8,
            Self::Float32 { .. } => 4,
        }
    }

    fn decode(self, chunk: &[u8]) -> f64 {
        match self {
            Self::Float64 { little_endian } => {
                let mut raw = [0; 8];
                raw.copy_from_slice(chunk);
                if little_endian {
                    f64::from_le_bytes(raw)
                } else {
                    f64::from_be_bytes(raw)
                }
            }
            Self::Float32 { little_endian } => {
                let mut raw = [0; 4];
                raw.copy_from_slice(chunk);
                f64::from(if little_endian {
                    f32::from_le_bytes(raw)
                } else {
                    f32::from_be_bytes(raw)
                })
            }
        }
    }
}

/// The parsed header dict of an `.npy` file.
#[derive(Debug, Default)]
struct NpyHeader {
    descr: Option<String>,
    fortran_order: Option<bool>,
    shape: Option<Vec<usize>>,
}

fn parse_npy(bytes: &[u8]) -> Result<DMatrix<f64>, String> {
    if !bytes.starts_with(NPY_MAGIC) {
        return Err("not an .npy file (missing the magic string \\x93NUMPY)".to_owned());
    }
    let truncated_header = || "truncated .npy header".to_owned();
    let version = bytes.get(6..8).ok_or_else(truncated_header)?;
    let (length_size, header_is_utf8) = match (version[0], version[1]) {
        (1, 0) => (2, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        (major, minor) => {
            return Err(format!(
                "unsupported .npy format version {major}.{minor}: expected 1.0, 2.0 or 3.0"
            ));
        }
    };
    let length_bytes = bytes.get(8..8 + length_size).ok_or_else(truncated_header)?;
    let header_length = length_bytes
        .iter()
        .rev()
        .fold(0_usize, |length, &byte| (length << 8) | usize::from(byte));
    let data_start = 8 + length_size + header_length;
    let header_bytes = bytes
        .get(8 + length_size..data_start)
        .ok_or_else(truncated_header)?;
    let header_text = if header_is_utf8 {
        std::str::from_utf8(header_bytes).map_err(|_| "the .npy header is not UTF-8".to_owned())?
    } else {
        std::str::from_utf8(header_bytes)
            .ok()
            .filter(|text| text.is_ascii())
            .ok_or_else(|| "the .npy header is not ASCII".to_owned())?
    };
    let header = parse_header_dict(header_text)?;

    let descr = header
        .descr
        .ok_or_else(|| "the .npy header has no 'descr'".to_owned())?;
    let dtype = NpyDtype::parse(&descr)?;
    let fortran_order = header
        .fortran_order
        .ok_or_else(|| "the .npy header has no 'fortran_order'".to_owned())?;
    let shape = header
        .shape
        .ok_or_else(|| "the .npy header has no 'shape'".to_owned())?;
    let (nrows, ncols) = match shape.as_slice() {
        [] => (1, 1),
        [n] => (*n, 1),
        [nrows, ncols] => (*nrows, *ncols),
        _ => {
            return Err(format!(
                "array has {} dimensions (shape {shape:?}): expected 1 or 2",
                shape.len()
            ));
        }
    };
    let expected = nrows
        .checked_mul(ncols)
        .and_then(|count| count.checked_mul(dtype.size()))
        .ok_or_else(|| format!("shape {shape:?} is too large"))?;
    let data = &bytes[data_start..];
    if data.len() != expected {
        let problem = if data.len() < expected {
            "truncated data"
        } else {
            "trailing bytes after the data"
        };
        return Err(format!(
            "{problem}: shape {shape:?} of '{descr}' needs {expected} bytes after the header, found {}",
            data.len()
        ));
    }
    let values = data
        .chunks_exact(dtype.size())
        .map(|chunk| dtype.decode(chunk));
    Ok(if fortran_order {
        DMatrix::from_iterator(nrows, ncols, values)
    } else {
        DMatrix::from_row_iterator(nrows, ncols, values)
    })
}

/// Parses the Python dict literal of an `.npy` header, e.g.
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }`.
fn parse_header_dict(text: &str) -> Result<NpyHeader, String> {
    let mut parser = DictParser { rest: text.trim() };
    let mut header = NpyHeader::default();
    parser.expect('{')?;
    loop {
        if parser.eat('}') {
            break;
        }
        let key = parser.string()?;
        parser.expect(':')?;
        match key.as_str() {
            "descr" => header.descr = Some(parser.string()?),
            "fortran_order" => header.fortran_order = Some(parser.boolean()?),
            "shape" => header.shape = Some(parser.tuple()?),
            other => return Err(format!("unexpected key '{other}' in the .npy header")),
        }
        if !parser.eat(',') {
            parser.expect('}')?;
            break;
        }
    }
    Ok(header)
}

/// A cursor over the few Python literals that `.npy` headers use.
struct DictParser<'a> {
    rest: &'a str,
}

impl DictParser<'_> {
    fn malformed(&self) -> String {
        let context: String = self.rest.chars().take(20).collect();
        format!("malformed .npy header near {context:?}")
    }

    fn eat(&mut self, expected: char) -> bool {
        self.rest = self.rest.trim_start();
        match self.rest.strip_prefix(expected) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, expected: char) -> Result<(), String> {
        if self.eat(expected) {
            Ok(())
        } else {
            Err(self.malformed())
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.rest = self.rest.trim_start();
        let quote = match self.rest.chars().next() {
            Some(quote @ ('\'' | '"')) => quote,
            _ => return Err(self.malformed()),
        };
        let body = &self.rest[1..];
        let end = body.find(quote).ok_or_else(|| self.malformed())?;
        let value = body[..end].to_owned();
        self.rest = &body[end + 1..];
        Ok(value)
    }

    fn boolean(&mut self) -> Result<bool, String> {
        self.rest = self.rest.trim_start();
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(rest) = self.rest.strip_prefix(word) {
                self.rest = rest;
                return Ok(value);
            }
        }
        Err(self.malformed())
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect('(')?;
        let mut values = Vec::new();
        loop {
            if self.eat(')') {
                return Ok(values);
            }
            self.rest = self.rest.trim_start();
            let digits = self
                .rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(self.rest.len());
            let value = self.rest[..digits].parse().map_err(|_| self.malformed())?;
            values.push(value);
            self.rest = &self.rest[digits..];
            // Python 2 wrote long integers with an `L` suffix.
            self.rest = self.rest.strip_prefix('L').unwrap_or(self.rest);
            if !self.eat(',') {
                self.expect(')')?;
                return Ok(values);
            }
        }
    }
}

/// A table of float columns: `series.csv` and friends.
///
/// ```
/// use meanfield::output::Table;
///
/// let mut series = Table::new(vec!["time".into(), "risk".into()]);
/// series.push(vec![0.0, 0.5]);
/// series.push(vec![0.1, 1e-300]);
/// assert_eq!(series.to_csv(), "time,risk\n0,0.5\n0.1,1e-300\n");
/// assert_eq!(series.column("risk"), Some(vec![0.5, 1e-300]));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    /// An empty table with these columns.
    #[must_use]
    pub fn new(columns: Vec<String>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    /// Appends a row (it must have one value per column).
    pub fn push(&mut self, row: Vec<f64>) {
        debug_assert_eq!(
            row.len(),
            self.columns.len(),
            "a row needs one value per column"
        );
        self.rows.push(row);
    }

    /// The values of column `name` (NaN where a row is too short), or `None` if there is no
    /// such column.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let index = self.columns.iter().position(|column| column == name)?;
        Some(
            self.rows
                .iter()
                .map(|row| row.get(index).copied().unwrap_or(f64::NAN))
                .collect(),
        )
    }

    /// CSV text: a header line with the column names, then one line per row.
    ///
    /// Floats are written in Rust's shortest round-trip form: `{}` (e.g. `0.1`, `-0`, `NaN`,
    /// `inf`, `-inf`) for magnitudes in [1e-5, 1e16) and zero, `{:e}` (e.g. `1e-300`, `5e-324`)
    /// outside, where `{}` would spell out hundreds of zeros. Parsing gives back the same bits
    /// (any NaN reads back as a NaN). A column name containing `,` or `"` is quoted.
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut text = String::new();
        let header: Vec<String> = self
            .columns
            .iter()
            .map(|name| quote_csv_field(name))
            .collect();
        text.push_str(&header.join(","));
        text.push('\n');
        for row in &self.rows {
            for (index, value) in row.iter().enumerate() {
                if index > 0 {
                    text.push(',');
                }
                text.push_str(&format_float(*value));
            }
            text.push('\n');
        }
        text
    }

    /// Writes [`Table::to_csv`] to `path`, atomically.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_csv().as_bytes())
    }

    /// Reads a CSV file as written by [`Table::write_csv`]: a header line, then rows of floats
    /// (`NaN`, `nan`, `inf`, `-inf` included). Line ends may be `\n` or `\r\n`; blank lines at
    /// the end are ignored.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the file and line for
    /// an empty file, a value that is not a float, or a row whose length differs from the
    /// header's.
    pub fn read_csv(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|_| Error::format(path, "not UTF-8 text"))?;
        let mut lines = text.lines().enumerate();
        let header = lines
            .next()
            .filter(|(_, line)| !line.trim().is_empty())
            .ok_or_else(|| Error::format(path, "line 1: empty file, expected a header line"))?;
        let columns = parse_csv_header(header.1)
            .map_err(|message| Error::format(path, format!("line 1: {message}")))?;
        let body: Vec<(usize, &str)> = lines.collect();
        let last_nonblank = body.iter().rposition(|(_, line)| !line.trim().is_empty());
        let body = &body[..last_nonblank.map_or(0, |index| index + 1)];
        let mut table = Self::new(columns);
        for &(index, line) in body {
            let number = index + 1;
            let row = line
                .split(',')
                .enumerate()
                .map(|(column, field)| {
                    let field = field.trim();
                    field.parse::<f64>().map_err(|_| {
                        Error::format(
                            path,
                            format!(
                                "line {number}, column {}: {field:?} is not a float",
                                column + 1
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<f64>>>()?;
            if row.len() != table.columns.len() {
                return Err(Error::format(
                    path,
                    format!(
                        "line {number}: {} values, expected {} (one per column)",
                        row.len(),
                        table.columns.len()
                    ),
                ));
            }
            table.rows.push(row);
        }
        Ok(table)
    }
}

/// Shortest round-trip text of `value` (see [`Table::to_csv`]).
pub fn format_float(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || !magnitude.is_finite() || (1e-5..1e16).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// A CSV field, quoted (with doubled quotes) when it holds `,`, `"` or a line end.
pub fn quote_csv_field(field: &str) -> String {
    if field.contains([',', '"']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// Splits a CSV header line into names, undoing [`quote_csv_field`].
fn parse_csv_header(line: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut characters = line.chars().peekable();
    loop {
        let mut name = String::new();
        if characters.peek() == Some(&'"') {
            characters.next();
            loop {
                match characters.next() {
                    Some('"') if characters.peek() == Some(&'"') => {
                        characters.next();
                        name.push('"');
                    }
                    Some('"') => break,
                    Some(character) => name.push(character),
                    None => return Err("unterminated quoted column name".to_owned()),
                }
            }
            match characters.next() {
                None => {
                    names.push(name);
                    return Ok(names);
                }
                Some(',') => names.push(name),
                Some(other) => {
                    return Err(format!("unexpected {other:?} after a quoted column name"));
                }
            }
        } else {
            loop {
                match characters.next() {
                    None => {
                        names.push(name.trim().to_owned());
                        return Ok(names);
                    }
                    Some(',') => break,
                    Some(character) => name.push(character),
                }
            }
            names.push(name.trim().to_owned());
        }
    }
}

/// Reads the JSON file `path` into a `T` (the counterpart of [`write_json`]).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] if it is not JSON of type `T`.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::format(path, format!("not the JSON expected: {e}")))
}

/// Writes `value` as pretty-printed JSON (with a final newline) to `path`, atomically.
///
/// # Errors
/// [`Error::Format`] if `value` cannot be serialised (e.g. a map with non-string keys);
/// [`Error::Io`] if the file cannot be written.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::format(path, format!("cannot serialise to JSON: {e}")))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    #[test]
    fn npy_header_is_padded_to_a_multiple_of_64_for_many_shapes() {
        for (nrows, ncols) in [(0, 0), (1, 1), (2, 3), (1000, 7), (123_456_789, 98_765)] {
            let matrix_bytes =
                npy_from_parts(&format!("({nrows}, {ncols})"), 0, std::iter::empty());
            assert_eq!(matrix_bytes.len() % 64, 0, "shape ({nrows}, {ncols})");
            assert_eq!(matrix_bytes.last(), Some(&b'\n'));
        }
    }

    #[test]
    fn header_dict_parser_accepts_numpy_variants() {
        let header =
            parse_header_dict("{'descr': '>f8', 'fortran_order': True, 'shape': (4L,), }   ")
                .unwrap();
        assert_eq!(header.descr.as_deref(), Some(">f8"));
        assert_eq!(header.fortran_order, Some(true));
        assert_eq!(header.shape, Some(vec![4]));
        let header =
            parse_header_dict("{\"shape\":(),\"descr\":\"<f4\",\"fortran_order\":False}").unwrap();
        assert_eq!(header.shape, Some(vec![]));
    }

    #[test]
    fn header_dict_parser_rejects_garbage() {
        assert!(parse_header_dict("{'descr': <f8}").is_err());
        assert!(parse_header_dict("{'shape': (2, x)}").is_err());
        assert!(parse_header_dict("{'descr': '<f8'").is_err());
    }

    #[test]
    fn format_float_uses_exponent_only_for_extreme_magnitudes() {
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(-0.0), "-0");
        assert_eq!(format_float(1e-300), "1e-300");
        assert_eq!(format_float(5e-324), "5e-324");
        assert_eq!(format_float(1e20), "1e20");
        assert_eq!(format_float(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_float(f64::NAN), "NaN");
    }

    #[test]
    fn quoted_column_names_round_trip() {
        let names = ["a,b", "say \"hi\"", "plain"];
        let line: Vec<String> = names.iter().map(|name| quote_csv_field(name)).collect();
        assert_eq!(parse_csv_header(&line.join(",")).unwrap(), names);
    }
}
