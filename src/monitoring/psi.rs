//! The population stability index of a window against the baseline.

use super::baseline::BINS;

/// Shares below this count as this, in the window and in the baseline: an empty bin
/// would make `ln(a/e)` infinite. The recording rule in `config/drift.yml` clamps
/// with the same value, so the replica's PSI and the fleet's agree.
pub const EPSILON: f64 = 1e-4;

/// `Σ (a − e) · ln(a / e)` over the bins, with `a` the window's share and `e` the
/// baseline's; `None` for an empty window.
pub fn psi(counts: &[u64; BINS], expected: &[f64; BINS]) -> Option<f64> {
    let rows: u64 = counts.iter().sum();
    if rows == 0 {
        return None;
    }
    let total = counts
        .iter()
        .zip(expected)
        .map(|(&c, &e)| {
            let a = (c as f64 / rows as f64).max(EPSILON);
            let e = e.max(EPSILON);
            (a - e) * (a / e).ln()
        })
        .sum();
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_hand_computed_value() {
        let expected = [0.1; BINS];
        let mut counts = [10u64; BINS];
        counts[0] = 20;
        counts[1] = 0;
        // a = 0.2 in bin 0, 1e-4 (clamped) in bin 1, 0.1 elsewhere.
        let want = (0.2 - 0.1) * 2f64.ln() + (EPSILON - 0.1) * (EPSILON / 0.1).ln();
        let got = psi(&counts, &expected).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert_eq!(psi(&[0; BINS], &expected), None);
        assert_eq!(psi(&[7; BINS], &expected), Some(0.0));
    }
}
