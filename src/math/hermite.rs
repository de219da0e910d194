//! The probabilists' Hermite polynomials He_n of docs/problems.md (Hermite targets and their
//! population fields): He_0 = 1, He_1 = z, He_(n+1) = z He_n - n He_(n-1), orthogonal under
//! N(0, 1) with E He_n^2 = n!.

/// The probabilists' Hermite polynomial He_n(z) (He_0 = 1, He_1 = z,
/// He_{n+1} = z He_n - n He_{n-1}).
pub fn hermite(n: u32, z: f64) -> f64 {
    let (mut previous, mut current) = (1.0, z);
    if n == 0 {
        return 1.0;
    }
    for k in 1..n {
        let next = z * current - f64::from(k) * previous;
        previous = current;
        current = next;
    }
    current
}

/// sqrt(n!), the norm of He_n under N(0, 1).
pub fn hermite_norm(n: u32) -> f64 {
    (1..=n).map(f64::from).product::<f64>().sqrt()
}
