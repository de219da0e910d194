//! Measurements behind docs/math.md section 3, "Why the smooth kernels are not tabulated yet":
//! the cost of the quadrature per pair, how local polynomial interpolation of K, coef_v and
//! coef_u converges along |u| and along the angle, and how many Mehler terms
//! K = sum_n a_n(|u|) a_n(|v|) cos^n(phi) need. Run with
//! `cargo run --release --example kernel_table_probe`; it prints tables and asserts nothing.

use meanfield::math::mehler::{HermiteFeatures, mehler_reach, mehler_terms};
use meanfield::math::{Activation, InitLaw, PairKernel, Particles};
use std::f64::consts::PI;
use std::time::Instant;

/// (K, coef_v, coef_u) at |u| = r1, |v| = r2 and angle phi, by the quadrature.
fn terms(kernel: &PairKernel, r1: f64, r2: f64, phi: f64) -> [f64; 3] {
    let t = kernel.terms(r1 * r1, r2 * r2, r1 * r2 * phi.cos());
    [t.value, t.coef_v, t.coef_u]
}

/// Local Lagrange interpolation with `points` nodes of f on the uniform grid t0 + i h,
/// i = 0..=last, stencil centred on the cell of t and shifted inside the grid at its ends.
fn interpolate(
    f: &dyn Fn(f64) -> [f64; 3],
    t: f64,
    (t0, h, last): (f64, f64, usize),
    points: usize,
) -> [f64; 3] {
    let position = (t - t0) / h;
    let start = ((position.floor() as isize) - (points as isize / 2 - 1))
        .clamp(0, (last + 1 - points) as isize) as usize;
    let mut out = [0.0; 3];
    for i in 0..points {
        let xi = (start + i) as f64;
        let weight: f64 = (0..points)
            .filter(|&j| j != i)
            .map(|j| (position - (start + j) as f64) / (xi - (start + j) as f64))
            .product();
        let node = f(t0 + xi * h);
        for q in 0..3 {
            out[q] += weight * node[q];
        }
    }
    out
}

/// Largest interpolation error of (K, coef_v, coef_u) over `samples` points of [a, b] (in the
/// grid variable t), and where the error of K is largest.
fn worst(
    f: &dyn Fn(f64) -> [f64; 3],
    grid: (f64, f64, usize),
    points: usize,
    (a, b): (f64, f64),
    samples: usize,
) -> ([f64; 3], f64) {
    let mut worst = [0.0f64; 3];
    let mut at = a;
    for s in 0..samples {
        let t = a + (b - a) * (s as f64 + 0.5) / samples as f64;
        let got = interpolate(f, t, grid, points);
        let exact = f(t);
        for q in 0..3 {
            let error = (got[q] - exact[q]).abs();
            if q == 0 && error > worst[0] {
                at = t;
            }
            worst[q] = worst[q].max(error);
        }
    }
    (worst, at)
}

fn cost_per_pair(kernel: &PairKernel, d: usize) -> meanfield::Result<f64> {
    let particles = Particles::draw(64, d, &InitLaw::standard(d), 7)?;
    let t = particles.matrix();
    let w = |j: usize| t.row(j).columns(1, d).into_owned();
    let start = Instant::now();
    let mut pairs = 0usize;
    let mut sink = 0.0;
    while start.elapsed().as_secs_f64() < 0.5 {
        for j in 0..64 {
            for l in 0..=j {
                let (u, v) = (w(j), w(l));
                let terms = kernel.terms(u.norm_squared(), v.norm_squared(), u.dot(&v));
                sink += terms.value + terms.coef_v + terms.coef_u;
                pairs += 1;
            }
        }
    }
    std::hint::black_box(sink);
    Ok(start.elapsed().as_secs_f64() / pairs as f64)
}

/// Hermite coefficients a_n(r) = E[sigma(r g) He_n(g)] / sqrt(n!), n < count, by the trapezoid
/// rule (spacing 0.002 on [-12, 12]: far finer than sigma(r g) needs for r <= 6).
fn hermite_coefficients(activation: Activation, r: f64, count: usize) -> Vec<f64> {
    let h = 0.002;
    let mut a = vec![0.0; count];
    let mut k = -6000i32;
    while k <= 6000 {
        let g = f64::from(k) * h;
        let weight = (-0.5 * g * g).exp() * h / (2.0 * PI).sqrt() * activation.value(r * g);
        // Normalised Hermite recursion: h_{n+1} = (g h_n - sqrt(n) h_{n-1}) / sqrt(n + 1).
        let (mut previous, mut current) = (0.0, 1.0);
        for (n, an) in a.iter_mut().enumerate() {
            *an += weight * current;
            let next = (g * current - (n as f64).sqrt() * previous) / ((n + 1) as f64).sqrt();
            previous = current;
            current = next;
        }
        k += 1;
    }
    a
}

/// Seconds per particle for the features and per pair for the expansion (N = 64), m = 512
/// particles of the standard law in d = 32, and the share of pairs within the reach.
fn mehler_cost(activation: Activation) -> meanfield::Result<(f64, f64, f64)> {
    let (m, d, count) = (512, 32, 64);
    let reach = mehler_reach(count, 1e-8);
    let particles = Particles::draw(m, d, &InitLaw::standard(d), 7)?;
    let t = particles.matrix();
    let w: Vec<_> = (0..m)
        .map(|j| t.row(j).columns(1, d).into_owned())
        .collect();
    let norms: Vec<f64> = w.iter().map(|x| x.norm()).collect();
    let start = Instant::now();
    let features: Vec<_> = norms
        .iter()
        .map(|&r| HermiteFeatures::new(activation, r, count))
        .collect();
    let per_particle = start.elapsed().as_secs_f64() / m as f64;
    let cosines: Vec<f64> = (0..m)
        .flat_map(|j| (0..j).map(move |l| (j, l)))
        .map(|(j, l)| w[j].dot(&w[l]) / (norms[j] * norms[l]))
        .collect();
    let within = cosines.iter().filter(|c| c.abs() <= reach).count();
    let start = Instant::now();
    let mut sink = 0.0;
    let mut index = 0;
    for j in 0..m {
        for l in 0..j {
            let terms = mehler_terms(&features[j], &features[l], cosines[index]);
            sink += terms.value + terms.coef_v + terms.coef_u + terms.coef_u_backward;
            index += 1;
        }
    }
    std::hint::black_box(sink);
    let per_pair = start.elapsed().as_secs_f64() / cosines.len() as f64;
    Ok((per_particle, per_pair, within as f64 / cosines.len() as f64))
}

fn main() -> meanfield::Result<()> {
    println!(
        "# Mehler expansion, N = 64, reach |cos| <= {:.3} at 1e-8",
        mehler_reach(64, 1e-8)
    );
    for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Softplus] {
        let (particle, pair, share) = mehler_cost(activation)?;
        println!(
            "{activation}: features {particle:.2e} s per particle, {pair:.2e} s per pair (scalar), {:.5} of the pairs within reach",
            share
        );
    }
    println!("# quadrature cost per pair, m = 64 particles of the standard law, d = 32");
    for activation in [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Softplus,
    ] {
        let kernel = PairKernel::new(activation);
        println!("{activation}: {:.3e} s", cost_per_pair(&kernel, 32)?);
    }
    let tanh = PairKernel::new(Activation::Tanh);
    let diagonal = |r: f64| tanh.value(r * r, r * r, r * r);

    println!("\n# tanh along |u| (|v| = 6, phi = 0.3), 8-point local Lagrange, max |error|");
    let along_radius = |r1: f64| terms(&tanh, r1, 6.0, 0.3);
    for h in [0.125, 0.0625] {
        let grid = (0.0, h, (6.0 / h) as usize);
        for (a, b) in [(0.0, 6.0), (1.0, 6.0), (3.0, 6.0)] {
            let (e, at) = worst(&along_radius, grid, 8, (a, b), 96);
            println!(
                "uniform |u| grid h {h}: |u| in [{a}, {b}]: K {:.1e} (at |u| = {at:.3}) coef_v {:.1e} coef_u {:.1e}",
                e[0], e[1], e[2]
            );
        }
    }
    let along_log_radius = |t: f64| terms(&tanh, t.exp(), 6.0, 0.3);
    let (low, high) = (0.15f64.ln(), 6.0f64.ln());
    for h in [0.2, 0.1] {
        let last = ((high - low) / h).ceil() as usize;
        let grid = (low, h, last);
        let (e, at) = worst(&along_log_radius, grid, 8, (low, high), 96);
        println!(
            "uniform log|u| grid h {h} on [0.15, 6] ({} nodes): K {:.1e} (at |u| = {:.3}) coef_v {:.1e} coef_u {:.1e}",
            last + 1,
            e[0],
            at.exp(),
            e[1],
            e[2]
        );
    }

    println!("\n# tanh along phi (|u| = |v| = 6), 10-point local Lagrange, max |error|");
    println!("(K(6, 6, 0) = {:.3})", diagonal(6.0));
    let along_angle = |phi: f64| terms(&tanh, 6.0, 6.0, phi);
    for intervals in [128usize, 256] {
        let h = PI / intervals as f64;
        let grid = (0.0, h, intervals);
        for (a, b) in [(0.0, 0.2), (0.2, PI / 2.0)] {
            let (e, at) = worst(&along_angle, grid, 10, (a, b), 64);
            println!(
                "uniform phi grid pi/{intervals}: phi in [{a}, {b:.2}]: K {:.1e} (at phi = {at:.4}) coef_v {:.1e} coef_u {:.1e}",
                e[0], e[1], e[2]
            );
        }
    }

    println!("\n# Mehler terms: smallest N with sum_(n >= N) a_n(r)^2 <= 1e-16 K(r, r) (tanh)");
    for r in [0.3, 1.0, 3.0, 6.0] {
        let a = hermite_coefficients(Activation::Tanh, r, 400);
        let total: f64 = a.iter().map(|x| x * x).sum();
        let mut tail = 0.0;
        let mut needed = a.len();
        for n in (0..a.len()).rev() {
            tail += a[n] * a[n];
            if tail > 1e-16 * total {
                needed = n + 1;
                break;
            }
        }
        println!(
            "r {r}: K(r, r) = {:.6} by quadrature, {:.6} by the 400 coefficients; N = {needed}{}",
            diagonal(r),
            total,
            if needed >= a.len() {
                " (more than 400)"
            } else {
                ""
            }
        );
    }
    Ok(())
}
