//! Particle matrices across the boundary: row-major native-endian float64 bytes with their
//! shape, which the Python layer views as a NumPy array (`numpy.frombuffer`): no NumPy C API,
//! so the module needs only the stable ABI.

use nalgebra::DMatrix;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// `matrix` as (row-major bytes, rows, columns).
pub(crate) fn to_bytes<'py>(
    py: Python<'py>,
    matrix: &DMatrix<f64>,
) -> (Bound<'py, PyBytes>, usize, usize) {
    let (rows, columns) = matrix.shape();
    let mut bytes = Vec::with_capacity(rows * columns * 8);
    for i in 0..rows {
        for j in 0..columns {
            bytes.extend_from_slice(&matrix[(i, j)].to_ne_bytes());
        }
    }
    (PyBytes::new(py, &bytes), rows, columns)
}

/// Row-major native-endian float64 `bytes` of shape (rows, columns) as a matrix; `None` when
/// the length does not match the shape.
pub(crate) fn from_bytes(bytes: &[u8], rows: usize, columns: usize) -> Option<DMatrix<f64>> {
    if bytes.len() != rows.checked_mul(columns)?.checked_mul(8)? {
        return None;
    }
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            f64::from_ne_bytes(word)
        })
        .collect();
    Some(DMatrix::from_row_slice(rows, columns, &values))
}
