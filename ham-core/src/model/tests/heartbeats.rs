use super::*;

const MS: i64 = 1_000_000;

fn tracker(hpdl: u32, hpdh: u32) -> HeartbeatTracker {
    HeartbeatTracker::new(
        HeartbeatSpec {
            period_ns: 100 * MS as u64,
            hpdl,
            hpdh,
        },
        0,
    )
}

#[test]
fn h1_checks_at_each_boundary_and_many_beats_count_as_one() {
    let mut t = tracker(2, 3);
    assert_eq!(t.next_boundary(), 100 * MS);
    for at in [10, 20, 30, 99] {
        assert!(t.beat(at * MS).is_empty());
    }
    assert!(t.advance(100 * MS).is_empty());
    assert_eq!(t.next_boundary(), 200 * MS);
    // Nothing in period 1 and nothing in period 2: the second boundary reaches hpdl = 2.
    assert!(t.advance(200 * MS - 1).is_empty());
    assert!(t.advance(200 * MS).is_empty());
    assert_eq!(t.advance(300 * MS), [HeartbeatMiss::Low]);
    assert_eq!(t.state(), HeartbeatState::MissedLow);
    assert_eq!(t.last_beat_ns(), 99 * MS);
}

#[test]
fn h2_low_then_high_once_each_until_healthy() {
    let mut t = tracker(1, 3);
    assert_eq!(t.advance(100 * MS), [HeartbeatMiss::Low]);
    assert!(t.advance(200 * MS).is_empty());
    assert_eq!(t.advance(300 * MS), [HeartbeatMiss::High]);
    assert_eq!(t.state(), HeartbeatState::MissedHigh);
    // Never again, however long it stays silent, even across a late timer.
    assert!(t.advance(10_000 * MS).is_empty());
    // A beat alone does not re-arm the thresholds...
    t.beat(10_050 * MS);
    assert!(t.advance(10_300 * MS).is_empty());
    // ... heartbeat_healthy does (A9).
    t.healthy();
    assert_eq!(t.state(), HeartbeatState::Ok);
    assert_eq!(t.advance(10_400 * MS), [HeartbeatMiss::Low]);
}

#[test]
fn h2_hpdl_equal_hpdh_fires_both_at_once() {
    let mut t = tracker(2, 2);
    assert!(t.advance(100 * MS).is_empty());
    assert_eq!(
        t.advance(200 * MS),
        [HeartbeatMiss::Low, HeartbeatMiss::High]
    );
}

#[test]
fn h2_a_beat_resets_the_run_of_missed_periods() {
    let mut t = tracker(2, 4);
    assert!(t.advance(100 * MS).is_empty()); // missed 1
    t.beat(150 * MS);
    assert!(t.advance(200 * MS).is_empty()); // beat: run back to 0
    assert!(t.advance(300 * MS).is_empty()); // missed 1
    assert_eq!(t.advance(400 * MS), [HeartbeatMiss::Low]); // missed 2
}

#[test]
fn h2_late_beat_is_not_credited_to_a_closed_period() {
    let mut t = tracker(1, 5);
    // The timer did not run at 100 ms; a beat at 150 ms must first close period 0 as missed.
    assert_eq!(t.beat(150 * MS), [HeartbeatMiss::Low]);
    assert!(t.advance(200 * MS).is_empty());
}
