//! Files of a run directory and figures: `.npy`, CSV and JSON survive a round trip bit for
//! bit, match what NumPy writes, are replaced atomically, and figures render to PNG and SVG.

#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

use std::path::{Path, PathBuf};

use meanfield::Error;
use meanfield::output::{
    Table, npy_bytes, read_npy, write_atomic, write_json, write_npy, write_npy_vector,
};
use meanfield::plot::{Curve, LogLogFigure, render_loglog};
use nalgebra::DMatrix;

/// A fresh, empty directory under the target's temporary folder, unique to `name`.
fn scratch_directory(name: &str) -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("output-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

fn assert_bit_identical(found: &DMatrix<f64>, expected: &DMatrix<f64>) {
    assert_eq!(found.shape(), expected.shape());
    for (found, expected) in found.iter().zip(expected.iter()) {
        assert_eq!(found.to_bits(), expected.to_bits(), "{found} != {expected}");
    }
}

/// A `.npy` file built by hand: version 1.0, the given header dict, padded as NumPy does.
fn handmade_npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_owned();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn special_matrix() -> DMatrix<f64> {
    DMatrix::from_row_slice(
        3,
        4,
        &[
            0.1,
            -0.0,
            5e-324,
            1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            -1.5,
            std::f64::consts::PI,
            1e300,
            f64::from_bits(0x7ff8_0000_0000_0001), // a NaN with a payload
        ],
    )
}

#[test]
fn npy_round_trip_is_bit_exact_for_a_non_square_matrix_with_special_values() {
    let directory = scratch_directory("npy_round_trip");
    let matrix = special_matrix();
    let path = directory.join("particles.npy");
    write_npy(&path, &matrix).unwrap();
    assert_bit_identical(&read_npy(&path).unwrap(), &matrix);

    let transposed = matrix.transpose();
    write_npy(&path, &transposed).unwrap();
    assert_bit_identical(&read_npy(&path).unwrap(), &transposed);
}

#[test]
fn npy_vector_reads_back_as_a_column() {
    let directory = scratch_directory("npy_vector");
    let path = directory.join("values.npy");
    let values = [1.0, -2.5, 5e-324, f64::NAN];
    write_npy_vector(&path, &values).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("'shape': (4,), }"));
    let column = read_npy(&path).unwrap();
    assert_eq!(column.shape(), (4, 1));
    for (found, expected) in column.iter().zip(values) {
        assert_eq!(found.to_bits(), expected.to_bits());
    }
}

#[test]
fn npy_bytes_of_a_small_matrix_are_those_numpy_writes() {
    let matrix = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let bytes = npy_bytes(&matrix);
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    // numpy.save(np.arange(1., 7.).reshape(2, 3)): 10 bytes of preamble, the dict padded with
    // spaces to 117 bytes, '\n', so the data starts at byte 128.
    let mut expected = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    expected.extend_from_slice(dict.as_bytes());
    expected.extend(std::iter::repeat_n(b' ', 128 - 10 - dict.len() - 1));
    expected.push(b'\n');
    assert_eq!(expected.len(), 128);
    for value in [1.0_f64, 2.0, 3.0, 4.0, 5.0, 6.0] {
        expected.extend_from_slice(&value.to_le_bytes());
    }
    assert_eq!(bytes, expected);
}

#[test]
fn numpy_loads_what_write_npy_writes() {
    let has_numpy = std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_numpy {
        println!("skipped: python3 with numpy is not available on this machine");
        return;
    }
    let directory = scratch_directory("numpy_loads");
    let path = directory.join("m.npy");
    let matrix = special_matrix();
    write_npy(&path, &matrix).unwrap();
    let script = "import sys, numpy as np\n\
                  a = np.load(sys.argv[1])\n\
                  assert a.dtype == np.float64 and a.shape == (3, 4), (a.dtype, a.shape)\n\
                  print(' '.join(str(x) for x in a.view(np.uint64).ravel()))";
    let output = std::process::Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bits: Vec<u64> = String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .map(|word| word.parse().unwrap())
        .collect();
    let expected: Vec<u64> = (0..3)
        .flat_map(|i| (0..4).map(move |j| (i, j)))
        .map(|index| matrix[index].to_bits())
        .collect();
    assert_eq!(bits, expected);
}

#[test]
fn fortran_order_and_float32_files_read_correctly() {
    let directory = scratch_directory("npy_variants");
    // Column-major data of [[1, 2, 3], [4, 5, 6]].
    let fortran: Vec<u8> = [1.0_f64, 4.0, 2.0, 5.0, 3.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let path = directory.join("fortran.npy");
    let dict = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
    std::fs::write(&path, handmade_npy(dict, &fortran)).unwrap();
    let expected = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(read_npy(&path).unwrap(), expected);

    // float32 values, converted exactly: 0.1_f32 is not 0.1_f64.
    let single: Vec<u8> = [0.1_f32, 2.0, -3.5, 1e-30]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let path = directory.join("single.npy");
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    std::fs::write(&path, handmade_npy(dict, &single)).unwrap();
    let expected =
        DMatrix::from_row_slice(2, 2, &[f64::from(0.1_f32), 2.0, -3.5, f64::from(1e-30_f32)]);
    assert_eq!(read_npy(&path).unwrap(), expected);

    // Big-endian float64, 1-D.
    let big: Vec<u8> = [0.1_f64, -7.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let path = directory.join("big.npy");
    std::fs::write(
        &path,
        handmade_npy(
            "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }",
            &big,
        ),
    )
    .unwrap();
    assert_eq!(
        read_npy(&path).unwrap(),
        DMatrix::from_column_slice(2, 1, &[0.1, -7.0])
    );
}

#[test]
fn npy_version_2_header_is_read() {
    let directory = scratch_directory("npy_version_2");
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }";
    let mut header = dict.to_owned();
    while !(12 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend_from_slice(&u32::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(0.25_f64.to_le_bytes());
    bytes.extend(8.0_f64.to_le_bytes());
    let path = directory.join("v2.npy");
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(
        read_npy(&path).unwrap(),
        DMatrix::from_row_slice(1, 2, &[0.25, 8.0])
    );
}

/// The message of a [`Error::Format`], checking that it names `path`.
fn format_error_message(result: meanfield::Result<DMatrix<f64>>, path: &Path) -> String {
    let error = result.unwrap_err();
    assert!(matches!(error, Error::Format { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    message
}

#[test]
fn truncated_npy_names_the_file_and_says_truncated() {
    let directory = scratch_directory("npy_truncated");
    let path = directory.join("cut.npy");
    let bytes = npy_bytes(&DMatrix::from_element(3, 3, 1.0));
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let message = format_error_message(read_npy(&path), &path);
    assert!(message.contains("truncated"), "{message}");

    std::fs::write(&path, &bytes[..20]).unwrap();
    let message = format_error_message(read_npy(&path), &path);
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn integer_npy_names_the_file_and_the_dtype_found() {
    let directory = scratch_directory("npy_integer");
    let path = directory.join("int.npy");
    let data: Vec<u8> = [1_i64, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(
        &path,
        handmade_npy(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
            &data,
        ),
    )
    .unwrap();
    let message = format_error_message(read_npy(&path), &path);
    assert!(
        message.contains("'<i8'") && message.contains("float64"),
        "{message}"
    );
}

#[test]
fn three_dimensional_and_non_npy_files_are_rejected() {
    let directory = scratch_directory("npy_rejected");
    let path = directory.join("cube.npy");
    let data = vec![0_u8; 8 * 8];
    std::fs::write(
        &path,
        handmade_npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }",
            &data,
        ),
    )
    .unwrap();
    let message = format_error_message(read_npy(&path), &path);
    assert!(message.contains("3 dimensions"), "{message}");

    let path = directory.join("text.npy");
    std::fs::write(&path, "time,risk\n0,1\n").unwrap();
    let message = format_error_message(read_npy(&path), &path);
    assert!(message.contains("not an .npy file"), "{message}");
}

#[test]
fn csv_round_trip_is_bit_exact_for_special_values() {
    let directory = scratch_directory("csv_round_trip");
    let path = directory.join("series.csv");
    let mut table = Table::new(vec![
        "time".into(),
        "risk".into(),
        "test risk, held out".into(),
    ]);
    let values = [
        0.1,
        1e-300,
        5e-324,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        1.0 / 3.0,
        123_456_789.123_456_78,
        1e16,
        0.0,
    ];
    for row in values.chunks(3) {
        table.push(row.to_vec());
    }
    table.write_csv(&path).unwrap();
    let read = Table::read_csv(&path).unwrap();
    assert_eq!(read.columns, table.columns);
    assert_eq!(read.rows.len(), table.rows.len());
    for (found, expected) in read.rows.iter().flatten().zip(table.rows.iter().flatten()) {
        if expected.is_nan() {
            assert!(found.is_nan());
        } else {
            assert_eq!(found.to_bits(), expected.to_bits(), "{found} != {expected}");
        }
    }
    assert_eq!(
        read.column("time").unwrap()[1].to_bits(),
        (-0.0_f64).to_bits()
    );
    assert_eq!(read.column("missing"), None);
}

#[test]
fn csv_text_has_a_header_and_readable_numbers() {
    let mut table = Table::new(vec!["t".into(), "r".into()]);
    table.push(vec![0.5, 1e-300]);
    table.push(vec![f64::NAN, f64::NEG_INFINITY]);
    assert_eq!(table.to_csv(), "t,r\n0.5,1e-300\nNaN,-inf\n");
}

#[test]
fn csv_with_a_bad_value_names_the_file_and_line() {
    let directory = scratch_directory("csv_bad");
    let path = directory.join("series.csv");
    std::fs::write(&path, "time,risk\n0,1\n1,oops\n").unwrap();
    let message = Table::read_csv(&path).unwrap_err().to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains("line 3"),
        "{message}"
    );
    assert!(message.contains("oops"), "{message}");

    std::fs::write(&path, "time,risk\n0,1,2\n").unwrap();
    let message = Table::read_csv(&path).unwrap_err().to_string();
    assert!(
        message.contains("line 2") && message.contains("expected 2"),
        "{message}"
    );
}

#[test]
fn csv_reader_accepts_crlf_lowercase_nan_and_a_trailing_blank_line() {
    let directory = scratch_directory("csv_crlf");
    let path = directory.join("series.csv");
    std::fs::write(&path, "a,b\r\nnan,inf\r\n1,2\r\n\r\n").unwrap();
    let table = Table::read_csv(&path).unwrap();
    assert_eq!(table.rows.len(), 2);
    assert!(table.rows[0][0].is_nan());
    assert_eq!(table.rows[1], vec![1.0, 2.0]);
}

#[test]
fn write_atomic_replaces_the_file_and_leaves_no_temporary_file() {
    let directory = scratch_directory("atomic");
    let path = directory.join("config.json");
    std::fs::write(&path, "old content that is longer than the new one").unwrap();
    write_atomic(&path, b"new").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    let names: Vec<String> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["config.json"]);
}

/// The file gets the permissions of `File::create` (0666 less the umask), not the private
/// 0600 of a temporary file: results are read by others (a cluster's shared folders).
#[cfg(unix)]
#[test]
fn write_atomic_gives_the_permissions_of_a_created_file() {
    use std::os::unix::fs::PermissionsExt;
    let directory = scratch_directory("atomic_mode");
    let created = directory.join("created.csv");
    std::fs::File::create(&created).unwrap();
    let atomic = directory.join("atomic.csv");
    write_atomic(&atomic, b"x").unwrap();
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode(&atomic) & 0o777, mode(&created) & 0o777);
    assert_ne!(mode(&atomic) & 0o044, 0, "group and others can read");
}

/// A blank line between rows is skipped (the `csv` crate's reading), not an error.
#[test]
fn csv_reader_skips_a_blank_line_between_rows() {
    let directory = scratch_directory("csv_blank");
    let path = directory.join("series.csv");
    std::fs::write(&path, "a,b\n1,2\n\n3,4\n").unwrap();
    let table = Table::read_csv(&path).unwrap();
    assert_eq!(table.rows, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
}

#[test]
fn write_atomic_into_a_missing_directory_names_the_path() {
    let directory = scratch_directory("atomic_missing");
    let path = directory.join("no such dir").join("x.csv");
    let error = write_atomic(&path, b"x").unwrap_err();
    assert!(matches!(error, Error::Io { .. }));
    assert!(error.to_string().contains("no such dir"), "{error}");
}

#[test]
fn write_json_is_pretty_and_ends_with_a_newline() {
    let directory = scratch_directory("json");
    let path = directory.join("summary.json");
    let mut value = std::collections::BTreeMap::new();
    value.insert("steps", 10);
    value.insert("m", 4);
    write_json(&path, &value).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\n  \"m\": 4,\n  \"steps\": 10\n}\n"
    );
}

fn risk_figure() -> LogLogFigure {
    let time: Vec<f64> = (0..=400)
        .map(|k| 10_f64.powf(-2.0 + 4.0 * f64::from(k) / 400.0))
        .collect();
    let risk = time.iter().map(|t| 0.5 / (1.0 + 30.0 * t * t)).collect();
    let test_risk = time
        .iter()
        .map(|t| 0.5 / (1.0 + 30.0 * t * t) + 2e-6)
        .collect();
    LogLogFigure {
        title: "Risk of a width-1000 network, relu teacher".into(),
        x_label: "time t".into(),
        y_label: "risk R(ρ_t)".into(),
        curves: vec![
            Curve {
                label: "train risk".into(),
                x: time.clone(),
                y: risk,
            },
            Curve {
                label: "test risk".into(),
                x: time,
                y: test_risk,
            },
        ],
    }
}

/// Checks the PNG signature and its width and height from the IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let read = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (read(16), read(20))
}

#[test]
fn loglog_figure_renders_png_and_svg_with_title_and_legend() {
    let directory = scratch_directory("figure");
    let stem = directory.join("risk");
    render_loglog(&risk_figure(), &stem).unwrap();
    assert_eq!(png_size(&directory.join("risk.png")), (1200, 800));
    let svg = std::fs::read_to_string(directory.join("risk.svg")).unwrap();
    for text in [
        "Risk of a width-1000 network, relu teacher",
        "train risk",
        "test risk",
        "time t",
        "R(ρ\u{209c})", // written R(ρ_t), drawn with its subscript (plot::typeset)
    ] {
        assert!(svg.contains(text), "the SVG lacks {text:?}");
    }
    let mut names: Vec<String> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["risk.png", "risk.svg"]);
}

#[test]
fn figure_with_no_drawable_point_still_renders_a_labelled_frame() {
    let directory = scratch_directory("figure_empty");
    let stem = directory.join("empty");
    let figure = LogLogFigure {
        title: "Diverged run".into(),
        x_label: "time t".into(),
        y_label: "risk".into(),
        curves: vec![Curve {
            label: "train risk".into(),
            x: vec![0.0, 1.0, 2.0],
            y: vec![1.0, -1.0, f64::NAN],
        }],
    };
    render_loglog(&figure, &stem).unwrap();
    assert_eq!(png_size(&directory.join("empty.png")), (1200, 800));
    let svg = std::fs::read_to_string(directory.join("empty.svg")).unwrap();
    assert!(
        svg.contains("Diverged run") && svg.contains("no positive, finite data"),
        "{svg}"
    );
}

#[test]
fn figure_spanning_less_than_a_decade_has_labelled_ticks() {
    let directory = scratch_directory("figure_narrow");
    let stem = directory.join("narrow");
    let time: Vec<f64> = (0..50).map(|k| 2.0 + 0.1 * f64::from(k)).collect();
    let risk = time.iter().map(|t| 0.03 + 0.001 * t).collect();
    // A gap (a zero risk) and an isolated point after it.
    let mut gappy: Vec<f64> = time.iter().map(|t| 0.05 / t).collect();
    gappy[40] = 0.0;
    gappy[42] = f64::NAN;
    let figure = LogLogFigure {
        title: "Narrow ranges".into(),
        x_label: "time t".into(),
        y_label: "risk".into(),
        curves: vec![
            Curve {
                label: "smooth".into(),
                x: time.clone(),
                y: risk,
            },
            Curve {
                label: "with gaps".into(),
                x: time,
                y: gappy,
            },
        ],
    };
    render_loglog(&figure, &stem).unwrap();
    assert_eq!(png_size(&directory.join("narrow.png")), (1200, 800));
    let svg = std::fs::read_to_string(directory.join("narrow.svg")).unwrap();
    // plotters writes each text on a line of its own.
    let texts: Vec<&str> = svg.lines().map(str::trim).collect();
    // The risk axis reaches 10⁻³, so all its decades are powers of ten; time stays decimal.
    for label in ["10⁻³", "10⁻²", "10⁻¹", "1", "2", "5", "10"] {
        assert!(
            texts.contains(&label),
            "the SVG lacks the tick label {label}"
        );
    }
}

#[test]
fn figure_into_a_missing_directory_is_an_error_naming_it() {
    let directory = scratch_directory("figure_missing");
    let error = render_loglog(&risk_figure(), &directory.join("absent").join("risk")).unwrap_err();
    assert!(error.to_string().contains("absent"), "{error}");
}
