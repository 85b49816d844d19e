//! Percentiles (nearest rank) of latency samples. A restart that never
//! came is `f64::INFINITY` and sorts last, so it shows in the high
//! percentiles instead of being dropped.

/// p50 / p99 / max of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// The nearest-rank `p`-th percentile (0 < p <= 100) of sorted values:
/// the smallest value with at least p% of the values at or below it.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Sorts a copy of `values` and summarises it; None when empty.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Some(Summary {
        n: v.len(),
        p50: percentile(&v, 50.0)?,
        p99: percentile(&v, 99.0)?,
        max: *v.last()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.5), Some(1.0));
        let w: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&w, 99.0), Some(198.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0], 50.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, 0.0), None);
        assert_eq!(percentile(&v, 101.0), None);
    }

    #[test]
    fn summaries_sort_and_keep_timeouts() {
        let s = summarize(&[3.0, f64::INFINITY, 1.0, 2.0]).unwrap();
        assert_eq!(s.n, 4);
        assert_eq!(s.p50, 2.0);
        assert!(s.p99.is_infinite());
        assert!(s.max.is_infinite());
        assert_eq!(summarize(&[]), None);
        let fifty: Vec<f64> = (1..=50).rev().map(f64::from).collect();
        let s = summarize(&fifty).unwrap();
        assert_eq!((s.p50, s.p99, s.max), (25.0, 50.0, 50.0));
    }
}
