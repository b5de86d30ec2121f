//! NAB's "Windowed Gaussian" reference detector (`nab/detectors/gaussian/windowedGaussian_detector.py`,
//! v1.1), to calibrate the scorer against NAB's published scoreboard (39.6 / 20.9 / 47.4 on the
//! full corpus). Not faultline's detector: a baseline to compare with.

use crate::model::Timestamp;

/// Values the mean and standard deviation are taken over.
const WINDOW: usize = 6400;
/// Once the window is full, it slides by this many values at a time.
const STEP: usize = 100;

/// One anomaly score in [0, 1] per sample, causal: `1 - Q(|x - mean| / std)` (the two-sided
/// Gaussian tail probability's complement) with mean and population standard deviation of the
/// previous values (up to 6400, sliding by 100 once full); 0 for the first sample, and a
/// standard deviation of 0 counts as 1e-6. As NAB computes it (numpy's summation order
/// included), so that its published per-file figures can be reproduced.
pub fn windowed_gaussian(samples: &[(Timestamp, f64)]) -> Vec<f64> {
    let mut window: Vec<f64> = Vec::new();
    let mut step_buffer: Vec<f64> = Vec::new();
    let (mut mean, mut std) = (0.0, 1.0);
    let mut out = Vec::with_capacity(samples.len());
    for &(_, x) in samples {
        out.push(if window.is_empty() { 0.0 } else { 1.0 - normal_tail(x, mean, std) });
        if window.len() < WINDOW {
            window.push(x);
            (mean, std) = mean_std(&window);
        } else {
            step_buffer.push(x);
            if step_buffer.len() == STEP {
                window.drain(..STEP);
                window.append(&mut step_buffer);
                (mean, std) = mean_std(&window);
            }
        }
    }
    out
}

/// Probability of a sample at least as far from the mean as `x` on its side (the Q-function).
fn normal_tail(x: f64, mean: f64, std: f64) -> f64 {
    // The Gaussian is symmetric: mirror values below the mean.
    let x = if x < mean { 2.0 * mean - x } else { x };
    let z = (x - mean) / std;
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// numpy's `mean` and `std` (population) of a non-empty slice, with NAB's floor of 1e-6.
fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = pairwise_sum(xs) / n;
    let squares: Vec<f64> = xs.iter().map(|&x| (x - mean) * (x - mean)).collect();
    let std = (pairwise_sum(&squares) / n).sqrt();
    (mean, if std == 0.0 { 0.000001 } else { std })
}

/// numpy's pairwise summation of float64 (`pairwise_sum_DOUBLE`): plain below 8 values, eight
/// running sums up to 128, halves (at a multiple of 8) above.
fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |acc, &x| acc + x)
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, r) in r.iter_mut().enumerate() {
                *r += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
    }
}

/// The complementary error function, by CPython's own method (`m_erfc` in `mathmodule.c`): a
/// series below 1.5, a continued fraction above. Accurate to a few units in the last place.
fn erfc(x: f64) -> f64 {
    const SQRT_PI: f64 = 1.772_453_850_905_516;
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    if ax < 1.5 {
        // erf(x) = 2x e^(-x²) / √π · Σ (2x²)^k / (1·3·…·(2k+1)), 25 terms, Horner form.
        let x2 = x * x;
        let mut acc = 0.0;
        let mut fk = 25.0 + 0.5;
        for _ in 0..25 {
            acc = 2.0 + x2 * acc / fk;
            fk -= 1.0;
        }
        return 1.0 - acc * x * (-x2).exp() / SQRT_PI;
    }
    let cf = if ax >= 30.0 {
        0.0
    } else {
        // erfc(x) = e^(-x²) / √π · 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + …)))), 50 terms.
        let x2 = ax * ax;
        let (mut a, mut da) = (0.0, 0.5);
        let (mut p, mut p_last) = (1.0, 0.0);
        let (mut q, mut q_last) = (da + x2, 1.0);
        for _ in 0..50 {
            a += da;
            da += 2.0;
            let b = da + x2;
            (p, p_last) = (b * p - a * p_last, p);
            (q, q_last) = (b * q - a * q_last, q);
        }
        p / q * ax * (-x2).exp() / SQRT_PI
    };
    if x > 0.0 {
        cf
    } else {
        2.0 - cf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_reference_values() {
        // erfc values from tables (Abramowitz & Stegun 7.1; erfc(x) = 1 - erf(x)).
        let cases = [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (1.5, 0.033_894_853_524_689_27),
            (2.0, 0.004_677_734_981_047_266),
            (3.0, 2.209_049_699_858_544e-5),
            (5.0, 1.537_459_794_428_034_8e-12),
            (-1.0, 1.842_700_792_949_715),
        ];
        for (x, want) in cases {
            let got = erfc(x);
            assert!(((got - want) / want).abs() < 1e-13, "erfc({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn pairwise_sum_is_a_sum() {
        for n in [0usize, 1, 7, 8, 9, 16, 127, 128, 129, 1000, 6400] {
            let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
            assert_eq!(pairwise_sum(&xs), (n * n.saturating_sub(1) / 2) as f64, "n = {n}");
        }
    }

    #[test]
    fn scores_follow_the_window() {
        let t = Timestamp(0);
        // First sample 0; second: one value in the window, std floored to 1e-6: far -> 1.
        let s = windowed_gaussian(&[(t, 1.0), (t, 1.0), (t, 5.0)]);
        assert_eq!(s[0], 0.0);
        assert_eq!(s[1], 0.5); // on the mean: Q(0) = 0.5
        assert_eq!(s[2], 1.0);
        // Mean 0, std 1 from [-1, 1]; x = 1 is one std away: 1 - Q(1) = 0.841344746068543.
        let s = windowed_gaussian(&[(t, -1.0), (t, 1.0), (t, 1.0)]);
        assert!((s[2] - 0.841_344_746_068_542_9).abs() < 1e-12, "{}", s[2]);
    }
}
