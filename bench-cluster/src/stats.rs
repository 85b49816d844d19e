//! Latency samples and their percentiles.

use std::time::Duration;

/// The nearest-rank percentile `p` (0..=100) of `sorted` (ascending); `None`
/// when there is no sample.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    // Nearest rank: the smallest sample with at least p% of the samples at or below it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A summary of latency samples, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    pub min: u64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: u64,
}

impl Summary {
    /// Summarizes `samples` (nanoseconds; sorted here).
    pub fn of(mut samples: Vec<u64>) -> Summary {
        samples.sort_unstable();
        let Some(&max) = samples.last() else {
            return Summary::default();
        };
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        Summary {
            n: samples.len(),
            min: samples[0],
            p50: percentile(&samples, 50.0).unwrap_or(0),
            p99: percentile(&samples, 99.0).unwrap_or(0),
            max,
            mean: u64::try_from(sum / samples.len() as u128).unwrap_or(u64::MAX),
        }
    }
}

/// Nanoseconds of a duration, saturated.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Milliseconds, for printing.
pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        // Ten samples: p99 is the largest, p50 the fifth.
        let v: Vec<u64> = (1..=10).map(|x| x * 10).collect();
        assert_eq!(percentile(&v, 99.0), Some(100));
        assert_eq!(percentile(&v, 50.0), Some(50));
    }

    #[test]
    fn summary_sorts_and_averages() {
        let s = Summary::of(vec![5, 1, 3, 2, 4]);
        assert_eq!(
            (s.n, s.min, s.p50, s.p99, s.max, s.mean),
            (5, 1, 3, 5, 5, 3)
        );
        assert_eq!(Summary::of(Vec::new()), Summary::default());
    }
}
