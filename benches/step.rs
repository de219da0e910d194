//! One simulation step (drift + Euler update) in population mode (m = 4096, d = 32, k = 4,
//! relu) and in online mode (batch 4096, d = 32, m = 4096, relu): `cargo bench --bench step`.
//! The peer comparison is `meanfield bench` with `benches/peers/compare.sh`.
#![allow(clippy::unwrap_used, reason = "benchmark setup")]

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use meanfield::scenario::Scenario;
use meanfield::scenario::file::parse;

fn scenario(risk: &str) -> Scenario {
    let text = format!(
        "seed = 0\n[model]\nd = 32\nm = 4096\n[target]\nk = 4\n[risk]\n{risk}\n[dynamics]\ndt = 0.01\n"
    );
    let config = parse(&text, "bench.toml", &[]).unwrap();
    Scenario::from_config(config, Path::new("bench.toml"), &text, &[]).unwrap()
}

fn step(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    group.sample_size(10);
    for (name, risk) in [
        ("population_m4096_d32", "mode = \"population\""),
        (
            "online_b4096_m4096_d32",
            "mode = \"online\"\nbatch = 4096\ntest_n = 0",
        ),
    ] {
        let mut setup = scenario(risk).setup().unwrap();
        let initial = setup.particles.matrix().clone();
        let mut theta = initial.clone();
        let mut k = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                theta.copy_from(&initial);
                setup.simulation.step(&mut theta, k).unwrap();
                k += 1;
            })
        });
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
