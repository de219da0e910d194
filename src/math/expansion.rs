//! The Mehler expansion inside the population pass (docs/math.md section 3, "Smooth kernels by
//! expansion"): the smooth pair kernels (tanh, sigmoid, softplus) as a short power series in
//! rho = cos phi whose coefficients are features of one particle, with a per-pair test of the
//! truncation bound that sends the pairs it cannot certify back to the quadrature of
//! `math::kernel`.
//!
//! With a_n(r) = E[sigma(r g) h_n(g)], b_n and c_n the same for sigma' and sigma'' (h_n the
//! normalised Hermite polynomials), Mehler's formula and Price's theorem give
//!
//! ```text
//! K(u, v)           = sum_n a_n(|u|) a_n(|v|) rho^n
//! coef_v(u, v)      = sum_n b_n(|u|) b_n(|v|) rho^n          (E[s'(u.x) s'(v.x)])
//! coef_u(u, v)      = sum_n c_n(|u|) a_n(|v|) rho^n          (E[s''(u.x) s(v.x)])
//! ```
//!
//! Parity halves the work: every activation here is a constant or linear term plus an odd
//! (tanh, sigmoid) or even (softplus) function, so a_n vanishes for n >= 2 of one parity, b_n
//! (of sigma') for the other, and c_n like a_n. Each sum is a polynomial in x = rho^2 over its
//! parity class, evaluated by Horner's scheme, plus at most one low-order term.
//!
//! Truncation. Keeping n < N, Cauchy-Schwarz over the dropped terms gives
//! |Delta K| <= |rho|^N sqrt(T_a(|u|) T_a(|v|)), with T_a(r) = E sigma(r g)^2 - sum_{n<N} a_n^2
//! the tail energy (Parseval), and the same for coef_v (T_b) and coef_u (T_c, T_a). With
//! tau(r) = max(T_a / S_a^2, T_b / S_b^2, T_c / S_c^2), S_f^2 the full energies, a pair is
//! taken by the expansion when |rho|^N sqrt(tau(|u|) tau(|v|)) <= eps: then every one of the
//! four numbers is within eps of its Cauchy-Schwarz scale, |Delta K| <= eps sqrt(K(u, u)
//! K(v, v)), |Delta coef_v| <= eps S_b(|u|) S_b(|v|), |Delta coef_u| <= eps S_c(|u|) S_a(|v|).
//! Particles of small norm have fast-decaying coefficients (for tanh tau = 4e-15 at |w| = 0.5,
//! 7e-7 at 1, 6e-3 at 2), so the test passes at nearly every angle; at |w| = 6 (tau = 0.55)
//! only pairs with |rho| <= 0.75 pass. Pairs
//! that fail, and particles with |w| > [`MAX_NORM`], go to the quadrature; self pairs (rho = 1,
//! equal norms) use the one-dimensional integrals of the features, which are exact.
//!
//! The features are one-dimensional trapezoid sums, spacing h = 0.2 / max(r, 1) on [-L, L],
//! L = 2 sqrt(N) + 8, with the point symmetry g -> -g folded in. The integrands are analytic in
//! the strip |Im g| < c / r (tanh c = pi/2, sigmoid and softplus pi), so the discretisation error
//! is of order exp(-2 pi c / (r h)) <= exp(-49) times the growth of h_n in the strip (below
//! e^18 for n < 64); a unit test holds them to 1e-13 of `math::mehler`'s rule at half the
//! spacing. O(N L / h) work per particle, a vectorised Hermite recursion over the nodes. The
//! pair sums run on 8 pairs at a time with fused multiply-adds
//! (`f64::mul_add`, exactly rounded on every path, so every CPU gives the same bits).

use crate::math::activation::Activation;
use rayon::prelude::*;

/// Terms kept, N (even): n < N.
pub const TERMS: usize = 64;
/// The normalised tolerance eps of the truncation test.
pub const TOLERANCE: f64 = 1e-8;
/// Particles with |w| above this norm always go to the quadrature (the issue's range; their
/// features would need ever finer rules and their coefficients decay slowly).
pub const MAX_NORM: f64 = 6.0;
/// Pairs per lane group (one AVX-512 register per sum; 16 measured 3 % faster on pop1 with
/// AVX-512 and would spill the 16 AVX2 registers).
pub const LANES: usize = 8;
/// Shorter truncations a lane group may use (class terms: n < 8, 16, 32): each particle also
/// carries its tail beyond them, and a group of 8 pairs whose cosines are small enough is summed
/// to the shortest level that certifies all of its pairs.
pub const LEVELS: [usize; 3] = [4, 8, 16];
/// Trapezoid spacing at norm <= 1 (divided by the norm above 1).
const SPACING: f64 = 0.2;

/// The expansion of one smooth activation: which parity class each family lives in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expansion {
    activation: Activation,
    /// Parity p of the class of a_n and c_n (b_n's class is 1 - p).
    parity: usize,
    /// N.
    terms: usize,
    /// eps.
    tolerance: f64,
}

impl Expansion {
    /// The expansion of `activation` with [`TERMS`] terms, `None` for activations with a closed
    /// form (they need none).
    pub fn new(activation: Activation) -> Option<Self> {
        Self::with_terms(activation, TERMS)
    }

    /// The expansion with `terms` terms (even, >= 2): tests use a shorter one to show that the
    /// bound fails without the last terms.
    #[doc(hidden)]
    pub fn with_terms(activation: Activation, terms: usize) -> Option<Self> {
        let parity = match activation {
            // sigma = constant + odd function: a_n odd (plus a_0), sigma' even, sigma'' odd.
            Activation::Tanh | Activation::Sigmoid => 1,
            // softplus(z) = z / 2 + log(2 cosh(z / 2)): a_n even (plus a_1), sigma' = 1/2 +
            // odd, sigma'' even.
            Activation::Softplus => 0,
            _ => return None,
        };
        Some(Self {
            activation,
            parity,
            terms: terms.max(2) & !1,
            tolerance: TOLERANCE,
        })
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Terms per parity class, N / 2.
    fn class(&self) -> usize {
        self.terms / 2
    }
}

/// The four numbers of one pair (u, v): K(u, v), coef_v, coef_u of grad_1 K(u, v), and the
/// coef_u of grad_1 K(v, u).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExpandedTerms {
    /// K(u, v).
    pub value: f64,
    /// Coefficient of v in grad_1 K(u, v).
    pub coef_v: f64,
    /// Coefficient of u in grad_1 K(u, v).
    pub coef_u: f64,
    /// Coefficient of v in grad_1 K(v, u).
    pub coef_u_backward: f64,
}

/// Features of m particles, stored class term by class term (row k holds term k of every
/// particle, padded by [`LANES`] zeros so that a lane group may read past the last particle).
#[derive(Clone, Debug, Default)]
pub struct ParticleFeatures {
    count: usize,
    stride: usize,
    class: usize,
    /// a_n, n in the class of p, row-major class x stride.
    value: Vec<f64>,
    /// b_n, n in the class of 1 - p.
    slope: Vec<f64>,
    /// c_n, n in the class of p.
    curve: Vec<f64>,
    /// (a, b, c) of class term k, particle by particle (particle j at j * class + k): one
    /// column's features in consecutive memory.
    interleaved: Vec<[f64; 3]>,
    /// a_{1-p}: the one term of a outside its class.
    value_extra: Vec<f64>,
    /// b_p.
    slope_extra: Vec<f64>,
    /// 1 / |w| (0 at w = 0).
    inverse_norm: Vec<f64>,
    /// sqrt(tau / eps); infinite beyond [`MAX_NORM`].
    reach: Vec<f64>,
    /// The same for the truncations of [`LEVELS`].
    reach_levels: [Vec<f64>; 3],
    /// K(w, w), coef_v(w, w), coef_u(w, w).
    self_terms: Vec<[f64; 3]>,
}

impl ParticleFeatures {
    /// The number of particles.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Computes the features of particles with squared norms `sq_norms`, in parallel (each
    /// particle's features are its own: the result does not depend on the thread count).
    pub fn compute(&mut self, expansion: &Expansion, sq_norms: &[f64]) {
        let m = sq_norms.len();
        let class = expansion.class();
        let stride = m + LANES;
        self.count = m;
        self.stride = stride;
        self.class = class;
        for buffer in [&mut self.value, &mut self.slope, &mut self.curve] {
            buffer.clear();
            buffer.resize(class * stride, 0.0);
        }
        let mut per_particle: Vec<Single> = Vec::new();
        sq_norms
            .par_iter()
            .map(|&q| Single::compute(expansion, q))
            .collect_into_vec(&mut per_particle);
        self.interleaved.clear();
        self.interleaved.reserve(m * class);
        for single in &per_particle {
            for k in 0..class {
                self.interleaved
                    .push([single.value[k], single.slope[k], single.curve[k]]);
            }
        }
        self.value_extra.clear();
        self.slope_extra.clear();
        self.inverse_norm.clear();
        self.reach.clear();
        for level in &mut self.reach_levels {
            level.clear();
        }
        self.self_terms.clear();
        for (j, single) in per_particle.iter().enumerate() {
            for k in 0..class {
                self.value[k * stride + j] = single.value[k];
                self.slope[k * stride + j] = single.slope[k];
                self.curve[k * stride + j] = single.curve[k];
            }
            self.value_extra.push(single.value_extra);
            self.slope_extra.push(single.slope_extra);
            self.inverse_norm.push(single.inverse_norm);
            self.reach.push(single.reach);
            for (level, &reach) in self.reach_levels.iter_mut().zip(&single.reach_levels) {
                level.push(reach);
            }
            self.self_terms.push(single.self_terms);
        }
        // Padding, so that a lane group may read past the last particle (its results are
        // discarded).
        for buffer in [
            &mut self.value_extra,
            &mut self.slope_extra,
            &mut self.inverse_norm,
            &mut self.reach,
        ] {
            buffer.resize(stride, 0.0);
        }
        for level in &mut self.reach_levels {
            level.resize(stride, 0.0);
        }
    }

    /// The exact self-pair terms of particle `j` (as [`ExpandedTerms`]).
    pub fn self_terms(&self, j: usize) -> ExpandedTerms {
        let [value, coef_v, coef_u] = self.self_terms[j];
        ExpandedTerms {
            value,
            coef_v,
            coef_u,
            coef_u_backward: coef_u,
        }
    }

    /// The (a, b, c) class terms of particle `j`.
    #[inline(always)]
    fn own(&self, j: usize) -> &[[f64; 3]] {
        &self.interleaved[j * self.class..(j + 1) * self.class]
    }

    /// 1 / |w_j| (0 for w_j = 0).
    pub fn inverse_norm(&self, j: usize) -> f64 {
        self.inverse_norm[j]
    }

    /// tau(|w_j|), the largest relative tail energy of the three families beyond N terms
    /// (infinite beyond [`MAX_NORM`]).
    pub fn tail(&self, j: usize) -> f64 {
        self.reach[j] * self.reach[j] * TOLERANCE
    }
}

/// One particle's features (see [`ParticleFeatures`]).
struct Single {
    value: Vec<f64>,
    slope: Vec<f64>,
    curve: Vec<f64>,
    value_extra: f64,
    slope_extra: f64,
    inverse_norm: f64,
    reach: f64,
    reach_levels: [f64; 3],
    self_terms: [f64; 3],
}

impl Single {
    fn compute(expansion: &Expansion, sq_norm: f64) -> Self {
        let class = expansion.class();
        let norm = sq_norm.max(0.0).sqrt();
        let mut single = Self {
            value: vec![0.0; class],
            slope: vec![0.0; class],
            curve: vec![0.0; class],
            value_extra: 0.0,
            slope_extra: 0.0,
            inverse_norm: if norm > 0.0 { 1.0 / norm } else { 0.0 },
            reach: f64::INFINITY,
            reach_levels: [f64::INFINITY; 3],
            self_terms: [0.0; 3],
        };
        if norm > MAX_NORM {
            return single;
        }
        let nodes = Nodes::new(expansion, norm);
        let p = expansion.parity;
        // Energies kept in each family, for the tails, and at each level.
        let mut kept = [0.0f64; 3];
        let mut kept_levels = [[0.0f64; 3]; 3];
        let (mut previous, mut current) = (vec![0.0; nodes.len()], vec![1.0; nodes.len()]);
        for n in 0..expansion.terms {
            let same = n % 2 == p;
            let k = n / 2;
            if same {
                let a = nodes.project(&current, Family::Value, n);
                let c = nodes.project(&current, Family::Curve, n);
                single.value[k] = a;
                single.curve[k] = c;
                kept[0] += a * a;
                kept[2] += c * c;
                if n == p {
                    single.slope_extra = nodes.project(&current, Family::Slope, n);
                    kept[1] += single.slope_extra * single.slope_extra;
                }
            } else {
                let b = nodes.project(&current, Family::Slope, n);
                single.slope[k] = b;
                kept[1] += b * b;
                if n == 1 - p {
                    single.value_extra = nodes.project(&current, Family::Value, n);
                    kept[0] += single.value_extra * single.value_extra;
                }
            }
            for (level, &terms) in LEVELS.iter().enumerate() {
                if n + 1 == 2 * terms {
                    kept_levels[level] = kept;
                }
            }
            nodes.advance(&mut previous, &mut current, n);
        }
        let energies = nodes.energies();
        let reach = |kept: &[f64; 3]| {
            let tau = (0..3)
                .map(|f| {
                    if energies[f] > 0.0 {
                        ((energies[f] - kept[f]) / energies[f]).max(0.0)
                    } else {
                        0.0
                    }
                })
                .fold(0.0f64, f64::max);
            (tau / expansion.tolerance).sqrt()
        };
        single.reach = reach(&kept);
        single.reach_levels = kept_levels.map(|kept| reach(&kept));
        single.self_terms = [energies[0], energies[1], nodes.cross_energy()];
        single
    }
}

#[derive(Clone, Copy)]
enum Family {
    Value = 0,
    Slope = 1,
    Curve = 2,
}

/// The folded trapezoid rule of one norm: nodes g_q = q h >= 0, and for each family f the
/// weighted even and odd parts w_q (f(g_q) +- f(-g_q)) (w_0 halved, so the q = 0 node counts
/// once).
struct Nodes {
    g: Vec<f64>,
    /// w_q (w_0 halved).
    weights: Vec<f64>,
    /// [family][even, odd][q].
    parts: [[Vec<f64>; 2]; 3],
}

impl Nodes {
    fn new(expansion: &Expansion, norm: f64) -> Self {
        let spacing = SPACING / norm.max(1.0);
        let half_width = 2.0 * (expansion.terms as f64).sqrt() + 8.0;
        let count = (half_width / spacing).ceil() as usize + 1;
        let scale = spacing / (2.0 * std::f64::consts::PI).sqrt();
        let g: Vec<f64> = (0..count).map(|q| q as f64 * spacing).collect();
        // exp(-(q h)^2 / 2) by the recurrence E_{q+1} = E_q R_q, R_{q+1} = R_q exp(-h^2): two
        // products a node instead of an exponential (relative error ~q eps, below 1e-13).
        let step = (-spacing * spacing).exp();
        let (mut gaussian, mut ratio) = (1.0, (-0.5 * spacing * spacing).exp());
        let weights: Vec<f64> = (0..count)
            .map(|q| {
                let weight = gaussian * scale * if q == 0 { 0.5 } else { 1.0 };
                gaussian *= ratio;
                ratio *= step;
                weight
            })
            .collect();
        let mut parts: [[Vec<f64>; 2]; 3] = Default::default();
        for family in &mut parts {
            for part in family.iter_mut() {
                part.resize(count, 0.0);
            }
        }
        let activation = expansion.activation;
        for (q, (&node, &weight)) in g.iter().zip(&weights).enumerate() {
            let (plus, minus) = derivatives(activation, norm * node);
            for f in 0..3 {
                parts[f][0][q] = weight * (plus[f] + minus[f]);
                parts[f][1][q] = weight * (plus[f] - minus[f]);
            }
        }
        Self { g, weights, parts }
    }

    fn len(&self) -> usize {
        self.g.len()
    }

    /// sum_q part_q h_n(g_q), the part of the parity of n, in 8 lane sums added in order.
    fn project(&self, h: &[f64], family: Family, n: usize) -> f64 {
        let part = &self.parts[family as usize][n % 2];
        lane_dot(part, h)
    }

    /// h_{n+1} = (g h_n - sqrt(n) h_{n-1}) / sqrt(n + 1), in place (previous <- h_n,
    /// current <- h_{n+1}).
    fn advance(&self, previous: &mut [f64], current: &mut [f64], n: usize) {
        let root = (n as f64).sqrt();
        let inverse = 1.0 / ((n + 1) as f64).sqrt();
        for ((p, c), &g) in previous.iter_mut().zip(current.iter_mut()).zip(&self.g) {
            let next = (g * *c - root * *p) * inverse;
            *p = *c;
            *c = next;
        }
    }

    /// E f(r g)^2 for the three families: sum_q w_q (f(g)^2 + f(-g)^2), from the parts.
    fn energies(&self) -> [f64; 3] {
        [0, 1, 2].map(|f| self.pair_energy(f, f))
    }

    /// E[sigma''(r g) sigma(r g)].
    fn cross_energy(&self) -> f64 {
        self.pair_energy(2, 0)
    }

    /// sum_q w_q (f(g) e(g) + f(-g) e(-g)) from the parts P = w (f(g) + f(-g)) and
    /// M = w (f(g) - f(-g)): w (f e + f' e') = (P_f P_e + M_f M_e) / (2 w).
    fn pair_energy(&self, f: usize, e: usize) -> f64 {
        let mut lanes = [0.0; LANES];
        for (q, &weight) in self.weights.iter().enumerate() {
            let product = self.parts[f][0][q] * self.parts[e][0][q]
                + self.parts[f][1][q] * self.parts[e][1][q];
            lanes[q % LANES] += product / (2.0 * weight);
        }
        lanes.iter().sum()
    }
}

/// (sigma, sigma', sigma'') at z >= 0 and at -z, from one exponential: tanh and sigma'' of
/// sigmoid are odd, sigma' of tanh and sigmoid even, sigmoid(-z) = 1 - sigmoid(z),
/// softplus(-z) = softplus(z) - z and softplus'' is even. Absolute errors of a few ulps, which
/// is what the features need (their error is measured against the scale of each factor).
fn derivatives(activation: Activation, z: f64) -> ([f64; 3], [f64; 3]) {
    // z >= 0 here (z = |w| g, g >= 0): e = exp(-z) <= 1 never overflows.
    match activation {
        Activation::Tanh => {
            let e = (-2.0 * z).exp();
            let t = (1.0 - e) / (1.0 + e);
            let slope = 1.0 - t * t;
            let curve = -2.0 * t * slope;
            ([t, slope, curve], [-t, slope, -curve])
        }
        Activation::Sigmoid => {
            let s = 1.0 / (1.0 + (-z).exp());
            let slope = s * (1.0 - s);
            let curve = slope * (1.0 - 2.0 * s);
            ([s, slope, curve], [1.0 - s, slope, -curve])
        }
        Activation::Softplus => {
            let e = (-z).exp();
            let (value, s) = (z + e.ln_1p(), 1.0 / (1.0 + e));
            let curve = s * (1.0 - s);
            ([value, s, curve], [value - z, 1.0 - s, curve])
        }
        _ => {
            let (value, slope) = activation.value_and_derivative(z);
            let (minus_value, minus_slope) = activation.value_and_derivative(-z);
            (
                [value, slope, activation.second_derivative(z)],
                [minus_value, minus_slope, activation.second_derivative(-z)],
            )
        }
    }
}

/// sum_q x_q y_q in 8 lane sums, added in order (the same bits on every vector width).
fn lane_dot(x: &[f64], y: &[f64]) -> f64 {
    let mut lanes = [0.0; LANES];
    let (xs, x_tail) = x.as_chunks::<LANES>();
    let (ys, y_tail) = y.as_chunks::<LANES>();
    for (xc, yc) in xs.iter().zip(ys) {
        for i in 0..LANES {
            lanes[i] += xc[i] * yc[i];
        }
    }
    for (lane, (a, b)) in lanes.iter_mut().zip(x_tail.iter().zip(y_tail)) {
        *lane += a * b;
    }
    lanes.iter().sum()
}

/// x^e by a fixed sequence of squarings (the same bits everywhere, unlike `powi`).
#[inline(always)]
fn power(x: f64, mut e: usize) -> f64 {
    let (mut base, mut result) = (x, 1.0);
    while e > 0 {
        if e & 1 == 1 {
            result *= base;
        }
        base *= base;
        e >>= 1;
    }
    result
}

/// The terms of C x 8 pairs, one array of 8 lanes per column ([`block_terms`]).
#[derive(Clone, Copy, Debug)]
pub struct BlockTerms<const C: usize> {
    /// K(u, v).
    pub value: [[f64; LANES]; C],
    /// coef_v(u, v).
    pub coef_v: [[f64; LANES]; C],
    /// coef_u of grad_1 K(u, v).
    pub coef_u: [[f64; LANES]; C],
    /// coef_u of grad_1 K(v, u).
    pub coef_u_backward: [[f64; LANES]; C],
    /// Whether the pair passed the truncation test.
    pub ok: [[bool; LANES]; C],
}

impl<const C: usize> BlockTerms<C> {
    /// The terms of the pair of column `c`, lane `i`.
    pub fn pair(&self, c: usize, i: usize) -> ExpandedTerms {
        ExpandedTerms {
            value: self.value[c][i],
            coef_v: self.coef_v[c][i],
            coef_u: self.coef_u[c][i],
            coef_u_backward: self.coef_u_backward[c][i],
        }
    }
}

/// Terms of 8 pairs (rows `first .. first + 8` of `rows`, against particle `column` of
/// `columns`) at cosines `rho`, and whether each pair passed the truncation test. Lanes that
/// fail hold numbers to be discarded.
#[inline(always)]
pub fn lane_terms(
    expansion: &Expansion,
    rows: &ParticleFeatures,
    first: usize,
    columns: &ParticleFeatures,
    column: usize,
    rho: &[f64; LANES],
) -> ([ExpandedTerms; LANES], [bool; LANES]) {
    let block = block_terms::<1>(expansion, rows, first, columns, [column], &[*rho], LANES);
    (std::array::from_fn(|i| block.pair(0, i)), block.ok[0])
}

/// [`lane_terms`] for C columns at once: the rows' features are loaded once for the C
/// columns (4 C independent chains of fused multiply-adds), and every step is an operation on
/// whole lanes. Each column's group of 8 pairs (its first `live` lanes) is summed to the
/// shortest of [`LEVELS`] that certifies all of them, else to N. Every pair gets the same
/// operations in the same order whatever C is (the level is chosen per column), so C changes
/// no result.
#[inline(always)]
pub fn block_terms<const C: usize>(
    expansion: &Expansion,
    rows: &ParticleFeatures,
    first: usize,
    columns: &ParticleFeatures,
    column: [usize; C],
    rho: &[[f64; LANES]; C],
    live: usize,
) -> BlockTerms<C> {
    let class = expansion.class();
    // Plain loops, not `array::from_fn`: its closures are compiled out of line, without the
    // caller's target features.
    let mut x = [[0.0f64; LANES]; C];
    for c in 0..C {
        for i in 0..LANES {
            x[c][i] = rho[c][i] * rho[c][i];
        }
    }
    let mut levels = [class; C];
    for c in 0..C {
        for (level, &terms) in LEVELS.iter().enumerate() {
            if terms >= class.min(rows.class) {
                break;
            }
            let tail = lane_power(&x[c], terms);
            let row_reach = lane(&rows.reach_levels[level], first);
            let column_reach = columns.reach_levels[level][column[c]];
            let mut certified = true;
            for i in 0..LANES {
                certified &= (i >= live) | (tail[i] * row_reach[i] * column_reach <= 1.0);
            }
            if certified {
                levels[c] = terms;
                break;
            }
        }
    }
    let mut value = [[0.0f64; LANES]; C];
    let mut slope = [[0.0f64; LANES]; C];
    let mut forward = [[0.0f64; LANES]; C];
    let mut backward = [[0.0f64; LANES]; C];
    let rs = rows.stride;
    let mut own: [&[[f64; 3]]; C] = [&[]; C];
    for c in 0..C {
        own[c] = columns.own(column[c]);
    }
    for k in (0..class).rev() {
        let ra: &[f64; LANES] = lane(&rows.value, k * rs + first);
        let rb: &[f64; LANES] = lane(&rows.slope, k * rs + first);
        let rc: &[f64; LANES] = lane(&rows.curve, k * rs + first);
        for c in 0..C {
            if k >= levels[c] {
                continue;
            }
            let [ca, cb, cc] = own[c][k];
            for i in 0..LANES {
                value[c][i] = value[c][i].mul_add(x[c][i], ra[i] * ca);
                slope[c][i] = slope[c][i].mul_add(x[c][i], rb[i] * cb);
                forward[c][i] = forward[c][i].mul_add(x[c][i], rc[i] * ca);
                backward[c][i] = backward[c][i].mul_add(x[c][i], ra[i] * cc);
            }
        }
    }
    let row_extra = lane(&rows.value_extra, first);
    let row_slope_extra = lane(&rows.slope_extra, first);
    let row_reach = lane(&rows.reach, first);
    let mut out = BlockTerms {
        value,
        coef_v: slope,
        coef_u: forward,
        coef_u_backward: backward,
        ok: [[false; LANES]; C],
    };
    let odd = expansion.parity == 1;
    for c in 0..C {
        let l = column[c];
        let (column_extra, column_slope_extra) = (columns.value_extra[l], columns.slope_extra[l]);
        let column_reach = columns.reach[l];
        let tail = lane_power(&x[c], rows.class);
        for i in 0..LANES {
            let (same, other) = if odd {
                (rho[c][i], 1.0)
            } else {
                (1.0, rho[c][i])
            };
            out.value[c][i] = same.mul_add(value[c][i], row_extra[i] * column_extra * other);
            out.coef_v[c][i] =
                other.mul_add(slope[c][i], row_slope_extra[i] * column_slope_extra * same);
            out.coef_u[c][i] = same * forward[c][i];
            out.coef_u_backward[c][i] = same * backward[c][i];
            out.ok[c][i] = levels[c] < class || tail[i] * row_reach[i] * column_reach <= 1.0;
        }
    }
    out
}

/// x^e lane by lane, by the fixed sequence of squarings of [`power`].
#[inline(always)]
fn lane_power(x: &[f64; LANES], mut e: usize) -> [f64; LANES] {
    let (mut base, mut result) = (*x, [1.0; LANES]);
    while e > 0 {
        if e & 1 == 1 {
            for i in 0..LANES {
                result[i] *= base[i];
            }
        }
        for b in &mut base {
            *b *= *b;
        }
        e >>= 1;
    }
    result
}

#[inline(always)]
fn lane(buffer: &[f64], start: usize) -> &[f64; LANES] {
    buffer[start..start + LANES]
        .try_into()
        .unwrap_or_else(|_| unreachable!("a slice of LANES elements"))
}

/// The terms of one pair (particle `row` of `rows`, `column` of `columns`) at cosine `rho`,
/// `None` when the pair fails the truncation test (the caller then uses the quadrature). The
/// scalar form of [`lane_terms`] (the teacher terms: m k pairs), with separate multiplies and
/// adds.
pub fn pair_terms(
    expansion: &Expansion,
    rows: &ParticleFeatures,
    row: usize,
    columns: &ParticleFeatures,
    column: usize,
    rho: f64,
) -> Option<ExpandedTerms> {
    let class = expansion.class();
    let x = rho * rho;
    // The certification is that of the features' N (NaN, from 0 * infinity, refuses).
    let bound = power(x, rows.class) * rows.reach[row] * columns.reach[column];
    if bound.is_nan() || bound > 1.0 {
        return None;
    }
    let (rs, cs) = (rows.stride, columns.stride);
    let (mut value, mut slope, mut forward, mut backward) = (0.0, 0.0, 0.0, 0.0);
    for k in (0..class).rev() {
        let (ra, rb, rc) = (
            rows.value[k * rs + row],
            rows.slope[k * rs + row],
            rows.curve[k * rs + row],
        );
        let (ca, cb, cc) = (
            columns.value[k * cs + column],
            columns.slope[k * cs + column],
            columns.curve[k * cs + column],
        );
        value = value * x + ra * ca;
        slope = slope * x + rb * cb;
        forward = forward * x + rc * ca;
        backward = backward * x + ra * cc;
    }
    let (same, other) = if expansion.parity == 1 {
        (rho, 1.0)
    } else {
        (1.0, rho)
    };
    Some(ExpandedTerms {
        value: same * value + rows.value_extra[row] * columns.value_extra[column] * other,
        coef_v: other * slope + rows.slope_extra[row] * columns.slope_extra[column] * same,
        coef_u: same * forward,
        coef_u_backward: same * backward,
    })
}

/// The cosine of the angle between u and v from u.v and the inverse norms, clamped to
/// [-1, 1] (0 when either vector is 0).
#[inline(always)]
pub fn cosine(uv: f64, inverse_u: f64, inverse_v: f64) -> f64 {
    (uv * inverse_u * inverse_v).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]
    use super::*;
    use crate::math::mehler::HermiteFeatures;

    /// The folded, vectorised features against `math::mehler`'s direct sum over all nodes and
    /// all n (the same rule unfolded, at half the spacing, with libm's activations and
    /// exponentials): within 1e-13 (1 + |w|) (the scale of softplus grows like |w|), and zero
    /// where parity says so.
    #[test]
    fn folded_features_match_the_direct_sum() {
        for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Softplus] {
            let expansion = Expansion::new(activation).unwrap();
            for norm in [0.0, 0.3, 1.0, 2.5, 6.0] {
                let mut features = ParticleFeatures::default();
                features.compute(&expansion, &[norm * norm]);
                let direct = HermiteFeatures::new(activation, norm, TERMS);
                let p = expansion.parity;
                for n in 0..TERMS {
                    let k = n / 2;
                    let (a, b, c) = direct.coefficients(n);
                    let got_a = if n % 2 == p {
                        features.value[k * features.stride]
                    } else if n == 1 - p {
                        features.value_extra[0]
                    } else {
                        0.0
                    };
                    let got_b = if n % 2 != p {
                        features.slope[k * features.stride]
                    } else if n == p {
                        features.slope_extra[0]
                    } else {
                        0.0
                    };
                    let got_c = if n % 2 == p {
                        features.curve[k * features.stride]
                    } else {
                        0.0
                    };
                    for (name, got, want) in [("a", got_a, a), ("b", got_b, b), ("c", got_c, c)] {
                        assert!(
                            (got - want).abs() <= 1e-13 * (1.0 + norm),
                            "{activation} |w| {norm} {name}_{n}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn power_is_repeated_multiplication() {
        assert_eq!(power(0.5, 0), 1.0);
        assert_eq!(power(0.5, 5), 0.03125);
        assert_eq!(power(-2.0, 3), -8.0);
    }
}
