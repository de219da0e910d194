//! The accuracy study of docs/limit.md section 11: the risk of `meanfield limit` at several
//! resolutions (nodes per direction of a, p and q; angle nodes) and steps, for one scenario.
//!
//! ```text
//! cargo run --release --example limit_accuracy -- SCENARIO [a,p,q,angle[,dt_divisor]]...
//! ```
//!
//! Prints, per resolution, the node count, the wall time and the risk at every logged time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement script"
)]

use std::path::Path;
use std::time::Instant;

use meanfield::dynamics::Control;
use meanfield::limit::{LimitProblem, Resolution, solve};
use meanfield::math::InitResolution;
use meanfield::scenario::Scenario;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = Scenario::load(Path::new(&args[0]), &[]).expect("a scenario");
    let base = LimitProblem::from_scenario(&scenario).expect("a limit problem");
    for spec in &args[1..] {
        let v: Vec<usize> = spec.split(',').map(|x| x.parse().unwrap()).collect();
        let mut problem = base.clone();
        let divisor = v.get(4).copied().unwrap_or(1);
        problem.dt /= divisor as f64;
        problem.steps *= divisor as u64;
        if let meanfield::dynamics::Schedule::Every(n) = problem.schedule {
            problem.schedule = meanfield::dynamics::Schedule::Every(n * divisor as u64);
        }
        let resolution = Resolution {
            init: InitResolution {
                a: v[0],
                p: v[1],
                q: v[2],
            },
            angle: v[3],
        };
        let started = Instant::now();
        let solution = solve(&problem, resolution, &mut |_, _| Control::Continue).unwrap();
        let risks = solution.series.column("risk").unwrap();
        let times = solution.series.column("time").unwrap();
        let text: Vec<String> = times
            .iter()
            .zip(&risks)
            .map(|(t, r)| format!("{t}:{r:.12e}"))
            .collect();
        println!(
            "{spec} nodes {} wall {:.2} s  {}",
            solution.initial.nrows(),
            started.elapsed().as_secs_f64(),
            text.join(" ")
        );
    }
}
