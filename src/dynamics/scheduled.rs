//! Flow parameters as functions of time (docs/scenarios.md, "Schedules"): the time step dt,
//! the weight decay lambda and the temperature tau (annealing), each a plain number or a
//! schedule, piecewise constant or exponentially decaying.
//!
//! Step k goes from t_k to t_{k+1} with the values at t_k: dt_k = dt(t_k),
//! t_{k+1} = t_k + dt_k, and lambda(t_k), tau(t_k) frozen for every Runge-Kutta stage of the
//! step and its noise sqrt(2 tau(t_k) dt_k) xi. The time is computed in step order from the
//! last step at which dt changed ([`Clock`]): t_{k+1} = t_a + (k + 1 - a) dt_k, so that a
//! constant stretch of dt has the times k dt of a constant step (bit for bit: a piecewise
//! schedule of one value runs exactly as the number), rounding does not accumulate within a
//! stretch, and t_k is a pure function of k that a resumed run recomputes bit for bit.

/// A parameter that changes with time t >= 0.
#[derive(Clone, Debug, PartialEq)]
pub enum ParameterSchedule {
    /// The value of the last breakpoint at or before t: `values[i]` on
    /// `times[i] <= t < times[i + 1]`; `times` starts at 0 and increases strictly, and has as
    /// many entries as `values`.
    Piecewise {
        /// Breakpoints, from 0, increasing.
        times: Vec<f64>,
        /// The value from each breakpoint on.
        values: Vec<f64>,
    },
    /// max(start exp(-rate t), floor), rate >= 0.
    Exponential {
        /// The value at t = 0.
        start: f64,
        /// Decay rate (per unit time).
        rate: f64,
        /// Lower clamp (default 0).
        floor: f64,
    },
}

impl ParameterSchedule {
    /// The value at time `t`.
    pub fn value(&self, t: f64) -> f64 {
        match self {
            ParameterSchedule::Piecewise { times, values } => {
                // times[0] = 0 <= t, so at least one breakpoint precedes t.
                let after = times.partition_point(|breakpoint| *breakpoint <= t);
                values
                    .get(after.saturating_sub(1))
                    .copied()
                    .unwrap_or(f64::NAN)
            }
            ParameterSchedule::Exponential { start, rate, floor } => {
                (start * (-rate * t).exp()).max(*floor)
            }
        }
    }

    /// The derivative in t (0 between the breakpoints of a piecewise schedule, where it jumps;
    /// 0 where an exponential is clamped at its floor).
    pub fn derivative(&self, t: f64) -> f64 {
        match self {
            ParameterSchedule::Piecewise { .. } => 0.0,
            ParameterSchedule::Exponential { start, rate, floor } => {
                let free = start * (-rate * t).exp();
                if free > *floor { -rate * free } else { 0.0 }
            }
        }
    }

    /// The largest value over t >= 0.
    pub fn highest(&self) -> f64 {
        match self {
            ParameterSchedule::Piecewise { values, .. } => {
                values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            }
            ParameterSchedule::Exponential { start, floor, .. } => start.max(*floor),
        }
    }

    /// The smallest value over t >= 0 (an exponential approaches its floor).
    pub fn lowest(&self) -> f64 {
        match self {
            ParameterSchedule::Piecewise { values, .. } => {
                values.iter().copied().fold(f64::INFINITY, f64::min)
            }
            ParameterSchedule::Exponential {
                start, rate, floor, ..
            } => {
                if *rate > 0.0 {
                    start.min(*floor)
                } else {
                    start.max(*floor)
                }
            }
        }
    }
}

/// The schedules of a run; `None` keeps the constant of [`crate::dynamics::Dynamics`] (or the
/// simulation's dt), bit for bit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedules {
    /// Time step dt(t).
    pub dt: Option<ParameterSchedule>,
    /// Weight decay lambda(t).
    pub lambda: Option<ParameterSchedule>,
    /// Temperature tau(t).
    pub tau: Option<ParameterSchedule>,
}

impl Schedules {
    /// Whether every parameter is a constant.
    pub fn is_constant(&self) -> bool {
        self.dt.is_none() && self.lambda.is_none() && self.tau.is_none()
    }

    /// t_k: `step` dt for a constant step `dt`, else t_0 = 0 advanced by the [`Clock`] with
    /// dt(t_i) for the steps i < k, in step order.
    pub fn time_at(&self, dt: f64, step: u64) -> f64 {
        self.clock_at(dt, step).0
    }

    /// t_k and the clock that advances it (what a run resumed at step k needs).
    pub fn clock_at(&self, dt: f64, step: u64) -> (f64, Clock) {
        match &self.dt {
            None => (step as f64 * dt, Clock::new(dt)),
            Some(schedule) => {
                let mut clock = Clock::new(schedule.value(0.0));
                let mut time = 0.0;
                for k in 0..step {
                    time = clock.next(k, time, schedule.value(time));
                }
                (time, clock)
            }
        }
    }

    /// The number of steps that ends nearest to `t_end`: round(t_end / dt) for a constant
    /// step; with a dt schedule the first k with t_k + dt_k / 2 >= t_end; at least 1. `None`
    /// when more than `limit` steps would be needed.
    pub fn steps_to(&self, dt: f64, t_end: f64, limit: u64) -> Option<u64> {
        match &self.dt {
            None => {
                let steps = (t_end / dt).round().max(1.0);
                (steps <= limit as f64).then_some(steps as u64)
            }
            Some(schedule) => {
                let mut clock = Clock::new(schedule.value(0.0));
                let (mut time, mut steps) = (0.0, 0_u64);
                loop {
                    let step = schedule.value(time);
                    if time + 0.5 * step >= t_end {
                        return Some(steps.max(1));
                    }
                    if steps >= limit || step.is_nan() || step <= 0.0 {
                        return None;
                    }
                    time = clock.next(steps, time, step);
                    steps += 1;
                }
            }
        }
    }
}

/// The time t_k = k dt of step k: the `f64` nearest to the exact decimal product of k and the
/// shortest decimal spelling of dt, so that it prints as the decimal a user expects (step 963
/// of dt = 0.1 is 96.3, where `963.0 * 0.1` is 96.30000000000001). It differs from
/// `k as f64 * dt` by an ulp or so, and only where times are written or shown: no step uses it.
///
/// ```
/// use meanfield::dynamics::scheduled::step_time;
///
/// assert_eq!(step_time(963, 0.1).to_string(), "96.3");
/// assert_eq!(step_time(3, 0.05).to_string(), "0.15");
/// assert_eq!(step_time(0, 0.05), 0.0);
/// ```
#[must_use]
pub fn step_time(step: u64, dt: f64) -> f64 {
    let product = step as f64 * dt;
    if !product.is_finite() {
        return product;
    }
    // `{:e}` is the shortest spelling that reads back as dt: digits d1.d2d3...e<exponent>.
    let spelling = format!("{:e}", dt.abs());
    let exact = spelling.split_once('e').and_then(|(mantissa, exponent)| {
        let exponent: i64 = exponent.parse().ok()?;
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let significand: u128 = format!("{whole}{fraction}").parse().ok()?;
        let digits = significand.checked_mul(u128::from(step))?;
        let scale = exponent - i64::try_from(fraction.len()).ok()?;
        // Rust's float parsing rounds the exact decimal correctly.
        format!("{digits}e{scale}").parse::<f64>().ok()
    });
    match exact {
        Some(time) if dt < 0.0 => -time,
        Some(time) => time,
        None => product,
    }
}

/// Advances the time of a run step by step: t_{k+1} = t_a + (k + 1 - a) dt_k, where a is the
/// last step at which dt changed (its bits) and t_a its time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    anchor_step: u64,
    anchor_time: f64,
    dt: f64,
}

impl Clock {
    /// A clock at t_0 = 0 whose first step is `dt`.
    pub fn new(dt: f64) -> Self {
        Self {
            anchor_step: 0,
            anchor_time: 0.0,
            dt,
        }
    }

    /// t_{k+1} from t_k = `time` and the step `dt` = dt_k of step k = `step`.
    pub fn next(&mut self, step: u64, time: f64, dt: f64) -> f64 {
        if dt.to_bits() != self.dt.to_bits() {
            *self = Self {
                anchor_step: step,
                anchor_time: time,
                dt,
            };
        }
        self.anchor_time + (step + 1 - self.anchor_step) as f64 * dt
    }

    /// t_k of step k = `step` (at or after the last change of dt) as a run writes it: the
    /// anchor's time plus [`step_time`] of the steps since, so that a constant dt (and a
    /// schedule of one value) writes the decimals k dt, e.g. 96.3 for step 963 of dt = 0.1.
    /// It differs from the clock's own time by an ulp or so; no step uses it.
    pub fn written(&self, step: u64) -> f64 {
        self.anchor_time + step_time(step - self.anchor_step, self.dt)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::float_cmp, reason = "exact values are the property tested")]
    use super::*;

    #[test]
    fn piecewise_takes_the_last_breakpoint_at_or_before_t() {
        let s = ParameterSchedule::Piecewise {
            times: vec![0.0, 10.0],
            values: vec![0.05, 0.01],
        };
        assert_eq!(s.value(0.0), 0.05);
        assert_eq!(s.value(9.999), 0.05);
        assert_eq!(s.value(10.0), 0.01);
        assert_eq!(s.value(1e9), 0.01);
        assert_eq!((s.lowest(), s.highest()), (0.01, 0.05));
    }

    #[test]
    fn exponential_decays_to_its_floor() {
        let s = ParameterSchedule::Exponential {
            start: 0.1,
            rate: 0.5,
            floor: 0.02,
        };
        assert_eq!(s.value(0.0), 0.1);
        assert!((s.value(2.0) - 0.1 * (-1.0_f64).exp()).abs() < 1e-17);
        assert_eq!(s.value(100.0), 0.02);
        assert_eq!(s.derivative(100.0), 0.0);
        assert!((s.derivative(2.0) + 0.5 * 0.1 * (-1.0_f64).exp()).abs() < 1e-17);
    }

    #[test]
    fn time_advances_from_the_last_change_of_dt() {
        let s = Schedules {
            dt: Some(ParameterSchedule::Piecewise {
                times: vec![0.0, 1.0],
                values: vec![0.25, 0.5],
            }),
            ..Schedules::default()
        };
        // 0, 0.25, 0.5, 0.75, 1.0, then steps of 0.5.
        assert_eq!(s.time_at(9.0, 4), 1.0);
        assert_eq!(s.time_at(9.0, 5), 1.5);
        assert_eq!(s.time_at(9.0, 6), 2.0);
        assert_eq!(s.steps_to(9.0, 2.0, 100), Some(6));
        assert_eq!(s.steps_to(9.0, 2.0, 5), None);
        let constant = Schedules::default();
        assert_eq!(constant.time_at(0.1, 3), 3.0 * 0.1);
        // One value as a schedule: the times of the constant, not a rounded running sum.
        let flat = Schedules {
            dt: Some(ParameterSchedule::Piecewise {
                times: vec![0.0, 1.0],
                values: vec![0.1, 0.1],
            }),
            ..Schedules::default()
        };
        for k in [6, 10, 77] {
            assert_eq!(flat.time_at(9.0, k), k as f64 * 0.1, "{k}");
        }
        // A running sum would not: 0.1 added 6 times is not 6 x 0.1.
        assert_ne!((0..6).fold(0.0, |t, _| t + 0.1), 6.0 * 0.1);
        assert_eq!(constant.steps_to(0.1, 5.0, 1000), Some(50));
    }
}
