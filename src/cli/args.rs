//! The raw command-line arguments: clap's definitions of `meanfield` and its subcommands, as
//! typed by the user. Their doc comments are the `--help` text. Each subcommand's module
//! validates its arguments into a request before running anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Mean-field dynamics of two-layer neural networks, simulated as interacting particles.
///
/// A scenario (TOML) describes the network f(x) = m^(-alpha) sum_j a_j sigma(w_j . x), the
/// target, the risk mode and the dynamics; `run` integrates the particle flow and writes a run
/// directory with series.csv, summary.json, particles (.npy) and plots.
#[derive(Debug, Parser)]
#[command(name = "meanfield", version, about, long_about)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Run a scenario and write its run directory (default runs/<name>/).
    ///
    /// A run directory holds one run. Running again into a directory with a finished or
    /// diverged run of the same resolved scenario (file and --set overrides) runs it again
    /// from the start; a run of another scenario (the error lists the differing keys), an
    /// interrupted run (continue it with --resume) or run files without scenario.toml are
    /// refused (exit 2) unless --overwrite is given. Before writing, a run removes the files
    /// and folders a run writes (README.md, "The run directory"), never other files.
    ///
    /// Exit codes: 0 finished, 2 bad scenario or run directory, 3 diverged (rows and the last
    /// finite particles are kept), 130 interrupted (Ctrl-C; resume with
    /// meanfield run DIR/scenario.toml --resume --out DIR).
    Run(RunArgs),
    /// Solve the exact mean-field limit (m -> infinity) of a scenario and write its run
    /// directory (default runs/<name>-limit/): scenario.toml, series.csv (step, time, risk,
    /// objective, dissipation, a_mean, a_std, w_norm_mean, cone_share_<i>), summary.json,
    /// reduced_init.npy, reduced_final.npy and plots/risk.png.
    ///
    /// The limit is computed by the symmetry reduction of docs/limit.md: each neuron is reduced
    /// to (a, p, q), p its projection on the teacher span and q the norm of the rest, and the
    /// limit measure is a tensor Gauss rule of the initial law pushed forward by the reduced
    /// flow, with the scenario's integrator, dt and steps. It needs population mode, no bias,
    /// model.alpha = 1, dynamics.tau = 0 and init laws (normal or sphere w); anything else is
    /// refused (exit 2) naming the key. summary.json reports the solver's own error estimates
    /// (a solve at half the resolution; the half-resolution solve at dt/2).
    ///
    /// Exit codes: 0 solved, 2 bad scenario or run directory, 3 diverged (rows kept), 130
    /// interrupted (rows kept; a limit is rerun, not resumed).
    Limit(LimitArgs),
    /// Run a scenario over a ladder of widths and seeds, and compare them with the limit.
    ///
    /// Every run gets its own run directory OUT/runs/<id>/ (id = width, seed and a hash of its
    /// resolved scenario); then sweep.csv (varied keys, m, seed, every logged scalar),
    /// sweep_stats.csv (seed means, standard errors, deviations from the reference),
    /// sweep_summary.json (fitted exponents with bootstrap intervals) and plots/ are written.
    /// The scenario's [sweep] section may set widths, seeds, other keys to vary
    /// (vary = { "model.alpha" = [0.5, 1.0] }) and the reference; the flags override it.
    /// Particle j of every width is the same draw (coupled seeds). Rerunning skips finished
    /// runs and resumes interrupted ones. On a cluster, run each --shard i/N (e.g. a Slurm job
    /// array, examples/slurm/) and then --merge the output directories.
    ///
    /// Exit codes: 0 done (diverged runs are results, listed), 2 bad input, 130 interrupted.
    Sweep(SweepArgs),
    /// Reproduce the classic mean-field results (docs/gallery.md): every entry's runs or
    /// sweeps, its figure (PNG and SVG) in plots/gallery/, its measured numbers and checked
    /// facts in plots/gallery/gallery.json and summary.md.
    ///
    /// Entries: convergence (global convergence, Chizat-Bach), overparameterised (success
    /// against width), lazy (lazy against mean-field scaling), features (random features
    /// against a trained first layer), limit (finite-m convergence to the limit of a linear
    /// network), exact_limit (the 1/m bias and m^-1/2 fluctuation of a relu network against its
    /// exact limit), langevin (mean-field Langevin dynamics), separation (closeness to random
    /// features when m >> n, E-Ma-Wu), information_exponent (Hermite targets: time to weak
    /// recovery against d per degree), mmn_mixture (Mei-Montanari-Nguyen's two isotropic Gaussians against the
    /// exact limit), logistic_margin (the normalised margin under the logistic loss,
    /// Chizat-Bach 2020), barron (the Barron-space approximation rate: risk against m at
    /// several d), generalisation (the generalisation gap against n, with and without weight
    /// decay).
    /// Finished runs are reused when rerun with the same sizes. Exit codes: 0 done (a failed
    /// check is reported, not an error), 2 bad input, 3 a run diverged, 130 interrupted.
    Gallery(GalleryArgs),
    /// Validate a scenario and print it with every default resolved; runs nothing.
    Check(CheckArgs),
    /// Re-render the plots and report.html of a run directory from its stored data, titled
    /// with the scenario name of its scenario.toml.
    ///
    /// Exit codes: 0 done, 2 no such run directory (or no series.csv in it).
    Plot(PlotArgs),
    /// Draw one figure for a paper from several run directories, as SPEC.toml describes.
    ///
    /// A SPEC is a grid of [[panel]]s, each drawing a column of the runs' series.csv (or
    /// measures.csv) against another (x = "time", y = "risk"), on log or linear axes: one
    /// curve per run directory (paths or globs, relative to the SPEC; labelled from the run's
    /// scenario, label = "m = {model.m}"), reference runs such as a `meanfield limit` run
    /// (black), power-law guides (grey). [[run]] tables name scenarios (with --set-style
    /// overrides, or command = "limit" for the exact limit) that are run into <out>/runs/<name>
    /// when missing and reused once finished; panels refer to them as "@name", so a SPEC works
    /// on a fresh clone. width = "column" (3.4 in), "page" (7.0 in) or inches;
    /// text prints at 8-9 pt at that width. Writes <stem>.png, .svg and .pdf (vector, fonts
    /// embedded) into --out, <stem> being the SPEC's file name. See docs/figures.md and
    /// examples/figures/.
    ///
    /// Exit codes: 0 done, 2 a mistake in the SPEC (named: the key, what was found, what is
    /// allowed), such as a glob that matches nothing or a column the runs lack.
    Figure(FigureArgs),
    /// Time one step of the standard cases (see benches/peers/README.md), or its scaling.
    ///
    /// Before timing, the gradient of each case is checked against a plain reference
    /// implementation on 64 rows spread over m: every entry must agree to 1e-12 of the largest
    /// reference value of its column, or the command fails naming the row and column. With
    /// --json, prints one JSON line per case (case, s_per_step_median, s_per_step_min, gflops,
    /// threads, check_max_rel_error, ...) for benches/peers/compare.sh.
    ///
    /// With --scaling population, times one step against the width m (d = 32, k = 4; m from
    /// 1,000 to 100,000); with --scaling data, against the number of samples n (m = 4096,
    /// d = 32; n from 256 to 65,536). Each point runs in a child process, self-checked, with up
    /// to --reps timed steps (fewer once they add up to 20 s), and its peak resident memory is
    /// recorded. Writes scaling_<mode>.csv, scaling_<mode>.png/.svg (seconds per step, log-log,
    /// with the power law fitted on m >= 4000 or n >= 2048 and its 95% interval) and
    /// scaling_<mode>_memory.png/.svg into --out (default plots/performance). A full ladder
    /// takes a few minutes on 2 cores; --quick stops at m = 4000 or n = 4096.
    Bench(BenchArgs),
}

// The arguments of `meanfield run` as given (no doc comment: the variant's is the help).
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The scenario file (TOML), e.g. scenarios/quickstart.toml.
    pub scenario: PathBuf,
    /// Run directory (default runs/<name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override a scenario key, e.g. --set dynamics.dt=0.01 --set model.m=200 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Number of threads (default: all cores). Results are bit-identical for any count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Continue the interrupted run in --out from its checkpoint (bit-identical result).
    /// Give the run's own resolved scenario, DIR/scenario.toml, to keep its --set overrides;
    /// another scenario is refused, naming the keys that differ.
    #[arg(long)]
    pub resume: bool,
    /// Replace the run that --out holds, whatever its scenario or state: first remove the
    /// files and folders a run writes there (other files are kept).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Seconds of wall time between checkpoints.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub checkpoint_every: f64,
    /// Testing aid: stop as if interrupted once this step is completed.
    #[arg(long, hide = true)]
    pub stop_at_step: Option<u64>,
    /// Where the risk and gradient run: cpu, or cuda (a binary built with --features cuda,
    /// an NVIDIA GPU and its driver; every risk mode); the same as --set device=...
    #[arg(long, value_parser = ["cpu", "cuda"])]
    pub device: Option<String>,
    /// Once the run has finished, also solve the exact mean-field limit (m -> infinity) of its
    /// scenario into DIR/limit (as `meanfield limit`; an earlier solve of the same scenario
    /// there is reused) and draw it on the risk figure and in report.html. A scenario without
    /// an exact limit (docs/limit.md) is refused before the run starts.
    #[arg(long)]
    pub limit: bool,
    /// With --limit: nodes of the limit's initial-law rule per direction (as `meanfield limit
    /// --nodes`; default: about 1200 nodes in all).
    #[arg(long, value_name = "N", requires = "limit")]
    pub limit_nodes: Option<usize>,
}

// The arguments of `meanfield limit` as given (no doc comment: the variant's is the help).
#[derive(Debug, Args)]
pub(super) struct LimitArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Run directory (default runs/<name>-limit).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override a scenario key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Nodes of the initial-law rule for a and for each teacher coordinate p_i (q gets
    /// round(0.45 N), at least 4: its rule converges fastest). Default: about 1200 nodes in
    /// all (N = 14 for one teacher direction, 7 for two).
    #[arg(long, value_name = "N")]
    pub nodes: Option<usize>,
    /// Nodes of the rule in the cosine between complement directions.
    #[arg(long, default_value_t = meanfield::limit::Resolution::DEFAULT_ANGLE, value_name = "N")]
    pub angle_nodes: usize,
    /// Replace the run that --out holds (its run files only).
    #[arg(long)]
    pub overwrite: bool,
    /// Number of threads (default: all cores). Results are bit-identical for any count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

// The arguments of `meanfield sweep` as given (no doc comment: the variant's is the help).
#[derive(Debug, Args)]
pub(super) struct SweepArgs {
    /// The scenario file (not with --merge).
    #[arg(required_unless_present = "merge")]
    pub scenario: Option<PathBuf>,
    /// Widths m, comma-separated (default: sweep.widths, else 16,64,256,1024).
    #[arg(long, value_delimiter = ',', value_name = "M,M,...")]
    pub widths: Option<Vec<usize>>,
    /// Number of seeds per width (default: sweep.seeds, else 8).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// wide | richardson | linear | limit | none (default: sweep.reference, else wide).
    #[arg(long)]
    pub reference: Option<String>,
    /// Output directory (default sweeps/<name>; with --merge, the first directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at once (default: the number of threads); runs share one thread pool.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only part I of N (zero-based), e.g. --shard 0/8; merge afterwards.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Merge and analyse the runs found in these sweep directories (shards).
    #[arg(long, num_args = 1.., value_name = "DIR", conflicts_with_all = ["scenario", "shard", "widths", "seeds", "reference"])]
    pub merge: Option<Vec<PathBuf>>,
    /// Override a scenario key for every run (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Replace runs whose directory holds a run of another scenario (otherwise refused,
    /// exit 2): remove the files and folders a run writes there first.
    #[arg(long, conflicts_with = "merge")]
    pub overwrite: bool,
    /// Number of threads (default: all cores). Results are bit-identical for any count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

// The arguments of `meanfield gallery` as given (no doc comment: the variant's is the help).
#[derive(Debug, Args)]
pub(super) struct GalleryArgs {
    /// Reduced sizes: every entry in about a minute on 2 cores (27 s of CPU time;
    /// docs/gallery.md gives each entry's time). What CI runs.
    #[arg(long)]
    pub quick: bool,
    /// Run only this entry.
    #[arg(long, value_name = "NAME")]
    pub only: Option<String>,
    /// Figures and results (default plots/gallery).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs and sweeps of the entries (default gallery_runs, or gallery_runs/quick).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Folder of the entries' scenarios (default scenarios/gallery; a file missing there
    /// is taken from the copy compiled into the binary).
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
    /// Number of threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

// The arguments of `meanfield check` as given (no doc comment: the variant's is the help).
#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Override a scenario key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

// The arguments of `meanfield plot` as given (no doc comment: the variant's is the help).
#[derive(Debug, Args)]
pub(super) struct PlotArgs {
    /// The run directory.
    pub run_dir: PathBuf,
}

// The arguments of `meanfield figure` as given (no doc comment: the variant's is the help).
#[derive(Debug, Args)]
pub(super) struct FigureArgs {
    /// The SPEC file (TOML).
    pub spec: PathBuf,
    /// Directory of the figure files (default: the SPEC's directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

// The arguments of `meanfield bench` as given (no doc comment: the variant's is the help).
#[derive(Debug, Args)]
pub(super) struct BenchArgs {
    /// data1 | data2 | pop1 | pop2 | all (comma-separated list allowed).
    #[arg(long, default_value = "all")]
    pub case: String,
    /// Timed steps per case (after one warm-up step); with --scaling, at most this many per
    /// point.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// One JSON line per case on stdout.
    #[arg(long)]
    pub json: bool,
    /// Divide m and n by 4 (a smoke run, not a comparison); with --scaling, only the
    /// smallest sizes.
    #[arg(long)]
    pub quick: bool,
    /// Number of threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the risk and gradient run: cpu, or cuda (a binary built with --features cuda
    /// and an NVIDIA GPU: the fused population kernel, cuBLAS for the data cases).
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda"])]
    pub device: String,
    /// Precision of the products and elementwise passes: f64, or f32 (on the CPU or with
    /// --device cuda; the self-check then allows 1e-3 instead of 1e-12).
    #[arg(long, default_value = "f64", value_parser = ["f64", "f32"])]
    pub precision: String,
    /// The activation of the student and the teacher (default relu): relu, erf, tanh,
    /// sigmoid, softplus, linear or quadratic; with --case or --size (the data cases evaluate
    /// sigma and sigma' elementwise, population mode the pair kernel K of the activation).
    #[arg(long, value_name = "NAME", conflicts_with = "scaling")]
    pub activation: Option<String>,
    /// population | data | activations: time one step against m (population) or n (data),
    /// or the time per pair of each of the seven activations in population mode (m = 1024,
    /// d = 32; m = 64 for tanh, sigmoid and softplus, whose kernel is numerical).
    #[arg(long, value_name = "MODE", conflicts_with_all = ["json", "size"])]
    pub scaling: Option<String>,
    /// Output directory of --scaling (default plots/performance).
    #[arg(long, requires = "scaling")]
    pub out: Option<PathBuf>,
    /// With --scaling population: leave out widths above M; with --scaling activations: time
    /// each activation at a width of at most M.
    #[arg(long, value_name = "M", requires = "scaling")]
    pub max_m: Option<usize>,
    /// With --scaling data: leave out sample counts above N.
    #[arg(long, value_name = "N", requires = "scaling")]
    pub max_n: Option<usize>,
    /// No progress and no summary on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// One point of --scaling, run in a child process: m=M[,n=N][,d=D].
    #[arg(long, hide = true, value_name = "m=M,n=N,d=D")]
    pub size: Option<String>,
}
