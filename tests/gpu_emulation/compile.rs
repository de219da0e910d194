//! Compiles a harness of `tests/gpu_emulation` (a CUDA source of `src/gpu` run on the CPU)
//! with the machine's C++ compiler, for the test crates of the GPU backend.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Compiles `tests/gpu_emulation/<harness>` (of `MEANFIELD_ROOT` when set, else of this
/// crate) with the kernel's NVRTC `options` (and `extra`
/// defines) into a binary called `name`; None (and a note on stderr) where no C++ compiler
/// is installed. Floating-point contraction is off, so that the host's arithmetic is the
/// source's as written.
///
/// Tests of one binary run in parallel and may compile the same harness at once: each compiles
/// to a name of its own and renames the finished binary into place, so no test ever executes a
/// binary that another compiler is still writing (that failed as ETXTBSY, "Text file busy").
pub fn compile_harness(harness: &str, options: &[String], name: &str) -> Option<PathBuf> {
    let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    if Command::new(&compiler).arg("--version").output().is_err() {
        eprintln!("no C++ compiler ({compiler}): the emulated kernel is not checked here");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("meanfield-gpu-emulation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(name);
    static COMPILES: AtomicUsize = AtomicUsize::new(0);
    let partial = dir.join(format!(
        "{name}.partial-{}",
        COMPILES.fetch_add(1, Ordering::Relaxed)
    ));
    // MEANFIELD_ROOT: another checkout's sources (a carried test binary, a mutation check).
    let root = std::env::var_os("MEANFIELD_ROOT")
        .map_or_else(|| Path::new(MANIFEST_DIR).to_path_buf(), PathBuf::from);
    let output = Command::new(&compiler)
        .args([
            "-std=c++20",
            "-O2",
            "-pthread",
            "-ffp-contract=off",
            "-Wno-unknown-pragmas",
        ])
        .arg("-I")
        .arg(root.join("src/gpu"))
        .args(options)
        .arg(root.join("tests/gpu_emulation").join(harness))
        .arg("-o")
        .arg(&partial)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{compiler} {options:?} {harness}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&partial, &exe).unwrap();
    Some(exe)
}
