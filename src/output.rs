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
use std::path::Path;

use nalgebra::DMatrix;

use crate::error::{Error, Result};

pub mod difference;
pub mod limit_beside;
pub mod run_directory;

pub use run_directory::{
    RunEntry, clear_run_directory, clear_run_directory_except, is_run_entry, marginal_path,
    marginal_quantity, run_entries_in,
};

/// Writes `bytes` to `path` atomically.
///
/// The bytes go to a new temporary file `.{name}.XXXXXX.tmp` in the same directory (so the
/// rename cannot cross file systems; `tempfile` creates it exclusively, under a random tag),
/// which is flushed to disk (`sync_all`) and then renamed over `path` (`persist`). `path`
/// therefore holds either its old content or all of `bytes`, never a part. On failure, or a
/// panic, the temporary file is removed. Concurrent writers of the same `path` (in one process
/// or several) each rename a complete file; the last rename wins. The file gets the
/// permissions `File::create` would give it (0666 less the umask), not tempfile's private 0600:
/// results are meant to be read by others.
///
/// # Errors
/// [`Error::Io`] naming the file that could not be written or renamed; [`Error::Invalid`] if
/// `path` has no file name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().ok_or_else(|| {
        Error::invalid(
            "output path",
            path.display(),
            "a path ending in a file name",
        )
    })?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder
        .prefix(&prefix)
        .suffix(TEMPORARY_SUFFIX)
        .rand_bytes(TEMPORARY_TAG);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut file = builder
        .tempfile_in(directory)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    file.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_parent_directory(path);
    Ok(())
}

/// The temporary file of [`write_atomic`] is `.{name}.{tag}.tmp`, its tag this many random
/// ASCII letters and digits ([`run_directory::is_run_entry`] recognises one left by a killed
/// run).
pub const TEMPORARY_TAG: usize = 6;

/// The suffix of [`write_atomic`]'s temporary files.
pub const TEMPORARY_SUFFIX: &str = ".tmp";

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

/// The matrix of an `.npy` file's bytes. The header (magic, version, the Python dict literal)
/// is parsed by the `npyz` crate; the checks of the dtype, the dimensions and the data length,
/// and the decoding, are this module's, so that every message names what was found.
fn parse_npy(bytes: &[u8]) -> Result<DMatrix<f64>, String> {
    if !bytes.starts_with(NPY_MAGIC) {
        return Err("not an .npy file (missing the magic string \\x93NUMPY)".to_owned());
    }
    let mut cursor = std::io::Cursor::new(bytes);
    let header = npyz::NpyHeader::from_reader(&mut cursor).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "truncated .npy header".to_owned()
        } else {
            format!("malformed .npy header: {e}")
        }
    })?;
    let descr = match header.dtype() {
        npyz::DType::Plain(type_string) => type_string.to_string(),
        other => other.descr(),
    };
    let dtype = NpyDtype::parse(&descr)?;
    let shape: Vec<usize> = header
        .shape()
        .iter()
        .map(|&n| usize::try_from(n))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("shape {:?} is too large", header.shape()))?;
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
    // The cursor stands at the first data byte (within `bytes`: it only read from them).
    let data = &bytes[usize::try_from(cursor.position()).unwrap_or(bytes.len())..];
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
    Ok(match header.order() {
        npyz::Order::Fortran => DMatrix::from_iterator(nrows, ncols, values),
        npyz::Order::C => DMatrix::from_row_iterator(nrows, ncols, values),
    })
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

    /// Reads a CSV file as written by [`Table::write_csv`]: a header line (names quoted as
    /// [`quote_csv_field`] writes them), then rows of floats (`NaN`, `nan`, `inf`, `-inf`
    /// included). Line ends may be `\n` or `\r\n`; blank lines are ignored. The `csv` crate
    /// splits the records; the floats are parsed by `str::parse`, so they read back bit for bit.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the file and line for
    /// an empty file, a value that is not a float, or a row whose length differs from the
    /// header's.
    pub fn read_csv(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(Error::format(path, "not UTF-8 text"));
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes.as_slice());
        let mut records = reader.records();
        let header = match records.next() {
            Some(Ok(header)) if !header.iter().all(|name| name.trim().is_empty()) => header,
            Some(Err(e)) => return Err(Error::format(path, format!("line 1: {e}"))),
            _ => {
                return Err(Error::format(
                    path,
                    "line 1: empty file, expected a header line",
                ));
            }
        };
        let mut table = Self::new(header.iter().map(str::to_owned).collect());
        for record in records {
            let record = record.map_err(|e| Error::format(path, e.to_string()))?;
            let number = record.position().map_or(0, csv::Position::line);
            let row = record
                .iter()
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

    /// A version 1.0 `.npy` file with header dict `dict` and data bytes `data`.
    fn npy_with_header(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_owned();
        while !(NPY_MAGIC.len() + 4 + header.len() + 1).is_multiple_of(NPY_ALIGNMENT) {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = NPY_MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn header_variants_numpy_writes_are_read() {
        let data: Vec<u8> = [1.0_f64, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let bytes = npy_with_header(
            "{'descr': '>f8', 'fortran_order': True, 'shape': (4,), }   ",
            &data,
        );
        let matrix = parse_npy(&bytes).unwrap();
        assert_eq!(matrix.shape(), (4, 1));
        assert_eq!(matrix[(3, 0)], 4.0);
        let bytes = npy_with_header(
            "{\"shape\":(),\"descr\":\"<f4\",\"fortran_order\":False}",
            &0.5_f32.to_le_bytes(),
        );
        assert_eq!(parse_npy(&bytes).unwrap(), DMatrix::from_element(1, 1, 0.5));
    }

    #[test]
    fn malformed_headers_are_rejected_with_a_message() {
        for dict in ["{'descr': <f8}", "{'shape': (2, x)}", "{'descr': '<f8'"] {
            let message = parse_npy(&npy_with_header(dict, &[])).unwrap_err();
            assert!(message.contains(".npy header"), "{dict}: {message}");
        }
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
        let mut table = Table::new(names.iter().map(|name| (*name).to_owned()).collect());
        table.push(vec![1.0, 2.0, 3.0]);
        let path =
            std::env::temp_dir().join(format!("meanfield-quoted-{}.csv", std::process::id()));
        table.write_csv(&path).unwrap();
        let read = Table::read_csv(&path);
        std::fs::remove_file(&path).ok();
        assert_eq!(read.unwrap(), table);
    }
}
