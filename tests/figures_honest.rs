//! Figures that say nothing false (issue 21, item 4): the risk figure draws the objective E
//! under weight decay and labels D = -dE/dt only where the energy identity holds; the cloud of a
//! k = 3 teacher says which plane it shows and marks the third neuron as projected; curves drawn
//! on top of each other stay visible; long titles are fitted, not cut.
#![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::svg_texts;
use meanfield::plot::figure::{PALETTE, dash_of};
use meanfield::plot::{Curve, LineFigure, Scale, render_lines};

/// A small relu teacher-student run, drawn.
const BASE: &str = r#"
name = "honest"
seed = 2
[model]
d = 4
m = 12
[dynamics]
dt = 0.1
steps = 20
[record]
every = 2
snapshots = 3
marginals = false
"#;

/// Runs `meanfield run` on `BASE` with the `--set` overrides `sets` and returns the run
/// directory.
fn run(test: &str, sets: &[&str]) -> PathBuf {
    let dir = common::scratch_directory("figures-honest-tests", test);
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, BASE).unwrap();
    let out = dir.join("run");
    let mut command = Command::new(env!("CARGO_BIN_EXE_meanfield"));
    command
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--quiet");
    for set in sets {
        command.arg("--set").arg(set);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

fn has_text(texts: &[String], wanted: &str) -> bool {
    texts.iter().any(|t| t.contains(wanted))
}

#[test]
fn weight_decay_risk_figure_draws_the_objective_beside_the_risk() {
    let decay = svg_texts(&run("decay", &["dynamics.lambda=0.05"]).join("plots/risk.svg"));
    assert!(has_text(&decay, "objective E"), "{decay:?}");
    assert!(has_text(&decay, "risk R"), "{decay:?}");
    let plain = svg_texts(&run("no-decay", &[]).join("plots/risk.svg"));
    assert!(!has_text(&plain, "objective E"), "{plain:?}");
}

#[test]
fn dissipation_is_labelled_minus_de_dt_only_for_the_deterministic_flow() {
    let population = svg_texts(&run("population", &[]).join("plots/risk.svg"));
    // Written `D = -dE/dt`, drawn with the minus sign (plot::typeset).
    assert!(has_text(&population, "D = \u{2212}dE/dt"), "{population:?}");
    let empirical = svg_texts(
        &run("empirical", &["risk.mode=\"empirical\"", "risk.n=64"]).join("plots/risk.svg"),
    );
    assert!(has_text(&empirical, "D = \u{2212}dE/dt"), "{empirical:?}");
    let online = svg_texts(
        &run("online", &["risk.mode=\"online\"", "risk.batch=16"]).join("plots/risk.svg"),
    );
    assert!(!has_text(&online, "dE/dt"), "{online:?}");
    assert!(has_text(&online, "stochastic drift"), "{online:?}");
    let noisy = svg_texts(&run("noisy", &["dynamics.tau=0.01"]).join("plots/risk.svg"));
    assert!(!has_text(&noisy, "dE/dt"), "{noisy:?}");
    assert!(has_text(&noisy, "noise left out"), "{noisy:?}");
    let scheduled = svg_texts(
        &run(
            "lambda-schedule",
            &["dynamics.lambda={ schedule = \"exponential\", start = 0.05, rate = 1.0 }"],
        )
        .join("plots/risk.svg"),
    );
    assert!(!has_text(&scheduled, "dE/dt"), "{scheduled:?}");
    assert!(has_text(&scheduled, "\u{3bb} scheduled"), "{scheduled:?}");
}

#[test]
fn a_three_neuron_teacher_cloud_names_its_plane_and_marks_the_third_as_projected() {
    let out = run("three", &["target.k=3"]);
    let texts = svg_texts(&out.join("plots/cloud.svg"));
    let joined = texts.join(" ");
    assert!(
        joined.contains("plane of teacher neurons 1 and 2"),
        "{texts:?}"
    );
    // Legend: filled stars "in plane", hollow stars "projected".
    assert!(texts.iter().any(|t| t == "projected"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "in plane"), "{texts:?}");
    let two = svg_texts(&run("two", &["target.k=2"]).join("plots/cloud.svg"));
    assert!(!has_text(&two, "projected"), "{two:?}");
}

/// The polylines of an SVG drawn in `colour` (plotters writes `stroke="#RRGGBB"`).
fn polylines_in(svg: &str, colour: (u8, u8, u8)) -> usize {
    let stroke = format!(
        "stroke=\"#{:02X}{:02X}{:02X}\"",
        colour.0, colour.1, colour.2
    );
    svg.lines()
        .filter(|line| line.contains("<polyline") && line.contains(&stroke))
        .count()
}

#[test]
fn a_curve_drawn_on_top_of_an_identical_one_is_dashed_so_both_stay_visible() {
    let dir = common::scratch_directory("figures-honest-tests", "overlap");
    let x: Vec<f64> = (1..=50).map(f64::from).collect();
    let y: Vec<f64> = x.iter().map(|t| 1.0 / t).collect();
    let curve = |label: &str| Curve {
        label: label.into(),
        x: x.clone(),
        y: y.clone(),
    };
    let figure = LineFigure {
        title: "distance".into(),
        x_label: "t".into(),
        y_label: "d".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        curves: vec![curve("coupled"), curve("sliced W2"), curve("exact W2")],
    };
    render_lines(&figure, &dir.join("overlap")).unwrap();
    let svg = std::fs::read_to_string(dir.join("overlap.svg")).unwrap();
    let colour = |index: usize| {
        let c = PALETTE[index];
        (c.0, c.1, c.2)
    };
    assert!(dash_of(0).is_none());
    // The first curve is one line (and its legend sample); the later ones are cut into dashes,
    // through whose gaps the first shows.
    assert!(
        polylines_in(&svg, colour(0)) <= 2,
        "{}",
        polylines_in(&svg, colour(0))
    );
    for index in [1, 2] {
        assert!(dash_of(index).is_some());
        assert!(polylines_in(&svg, colour(index)) > 10, "curve {index}");
    }
    assert_ne!(dash_of(1), dash_of(2));
}

#[test]
fn a_long_title_is_fitted_to_the_figure_not_cut() {
    let dir = common::scratch_directory("figures-honest-tests", "title");
    let title = "finite_m_relu_teacher (dynamics.lambda = 0.001, model.activation = \"relu\"): \
                 risk at each width (mean +- 2 SE)";
    let figure = LineFigure {
        title: title.into(),
        x_label: "time t".into(),
        y_label: "risk".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        curves: vec![Curve {
            label: "m = 8".into(),
            x: vec![1.0, 2.0],
            y: vec![1.0, 0.5],
        }],
    };
    render_lines(&figure, &dir.join("long")).unwrap();
    let svg = std::fs::read_to_string(dir.join("long.svg")).unwrap();
    let texts = svg_texts(&dir.join("long.svg"));
    // Wrapped: no text is the whole title, and its lines together are the title.
    assert!(
        !texts.iter().any(|t| t == &title.replace('"', "&quot;")),
        "{texts:?}"
    );
    let first = texts
        .iter()
        .position(|t| t.starts_with("finite_m_relu_teacher"))
        .unwrap();
    let joined = format!("{} {}", texts[first], texts[first + 1]).replace("&quot;", "\"");
    assert_eq!(joined, meanfield::plot::typeset::typeset(title));
    // A title that fits keeps one line.
    let short = LineFigure {
        title: "short".into(),
        ..figure
    };
    render_lines(&short, &dir.join("short")).unwrap();
    assert!(svg_texts(&dir.join("short.svg")).contains(&"short".to_owned()));
    assert!(svg.contains("relu"));
}

/// (time, E, D) at every step.
#[derive(Default)]
struct Energy(Vec<(f64, f64, f64)>);

impl meanfield::dynamics::Observer for Energy {
    fn observe(&mut self, o: &meanfield::dynamics::Observation<'_>) -> meanfield::Result<()> {
        use meanfield::diagnostics::scalars::{dissipation, objective};
        self.0.push((
            o.time,
            objective(o.network, o.dynamics, o.risk, o.theta),
            dissipation(o.network, o.dynamics, o.velocity),
        ));
        Ok(())
    }
}

/// Largest relative error of the central difference -(E(t+dt) - E(t-dt)) / 2dt against D(t)
/// in the risk mode `risk` (TOML lines of `[risk]`), RK4 with step `dt` up to t = 0.5.
fn identity_error(risk: &str, dt: f64) -> f64 {
    use meanfield::dynamics::{Control, Schedule};
    let steps = (0.5 / dt).round() as u64;
    let text = format!(
        "seed = 12\n[model]\nd = 3\nm = 20\nactivation = \"erf\"\n[target]\nk = 2\n\
         [risk]\n{risk}\n[dynamics]\nintegrator = \"rk4\"\ndt = {dt}\nsteps = {steps}\n\
         lambda = 0.1\n"
    );
    let mut setup = common::setup(&text);
    let mut theta = setup.particles.matrix().clone();
    let mut energy = Energy::default();
    setup
        .simulation
        .run(
            &mut theta,
            0,
            steps,
            Schedule::Every(1),
            &mut energy,
            &mut |_, _| Control::Continue,
        )
        .unwrap();
    energy
        .0
        .windows(3)
        .map(|w| {
            let derivative = -(w[2].1 - w[0].1) / (w[2].0 - w[0].0);
            (derivative - w[1].2).abs() / w[1].2.abs().max(1e-12)
        })
        .fold(0.0, f64::max)
}

/// Empirical mode is a full-batch gradient flow of the logged risk: the label D = -dE/dt holds
/// (central difference error dt^2: halving dt divides it by about 4). Online mode draws a new
/// batch per step: the logged E jumps with the batch and D is not -dE/dt, as its label says.
#[test]
fn empirical_mode_obeys_the_energy_identity_and_online_mode_does_not() {
    let empirical = "mode = \"empirical\"\nn = 64";
    let (coarse, fine) = (
        identity_error(empirical, 0.02),
        identity_error(empirical, 0.01),
    );
    assert!(fine < 1e-3, "empirical: relative error {fine}");
    assert!((3.0..5.0).contains(&(coarse / fine)), "{coarse} {fine}");
    let online = identity_error("mode = \"online\"\nbatch = 16", 0.01);
    assert!(online > 0.5, "online: relative error {online}");
}

#[test]
fn a_long_heat_map_title_is_wrapped_not_cut() {
    use meanfield::plot::{HeatMap, render_heatmap};
    let dir = common::scratch_directory("figures-honest-tests", "heatmap-title");
    let title = "a_scenario_with_a_long_name (dynamics.lambda = 0.001): marginal of angle to \
                 teacher neuron 1 (rad)";
    let map = HeatMap {
        title: title.into(),
        value_label: "angle".into(),
        times: vec![0.0, 1.0, 2.0],
        edges: vec![0.0, 1.0, 2.0],
        density: vec![vec![0.5, 0.5], vec![0.2, 0.8], vec![0.9, 0.1]],
    };
    render_heatmap(&map, &dir.join("map")).unwrap();
    let texts = svg_texts(&dir.join("map.svg"));
    let first = texts
        .iter()
        .position(|t| t.starts_with("a_scenario_with_a_long_name"))
        .unwrap();
    assert_ne!(texts[first], title);
    assert_eq!(format!("{} {}", texts[first], texts[first + 1]), title);
}
