//! The bytes of a replica snapshot: the replica's own record of applied requests (see
//! `dedup.rs`) in front of the state machine's bytes.
//!
//! Layout: `[version u8][record length u32 LE][record (postcard)][state machine bytes ..]`.

use super::dedup::Applied;

const VERSION: u8 = 1;
const HEADER: usize = 1 + 4;

/// Puts `applied` in front of the state machine's snapshot.
pub(crate) fn wrap(applied: &Applied, state: &[u8]) -> Vec<u8> {
    // Plain owned data always serializes.
    let record = postcard::to_allocvec(applied).expect("the applied record serializes");
    let len = u32::try_from(record.len()).expect("the applied record is bounded far below 4 GiB");
    let mut out = Vec::with_capacity(HEADER + record.len() + state.len());
    out.push(VERSION);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&record);
    out.extend_from_slice(state);
    out
}

/// Splits snapshot bytes into the applied record and the state machine's bytes.
pub(crate) fn unwrap(data: &[u8]) -> Result<(Applied, &[u8]), String> {
    let Some((&version, rest)) = data.split_first() else {
        return Err("snapshot is empty".into());
    };
    if version != VERSION {
        return Err(format!("unknown snapshot version {version}"));
    }
    if rest.len() < 4 {
        return Err("snapshot header is truncated".into());
    }
    let (len, rest) = rest.split_at(4);
    let len = u32::from_le_bytes(len.try_into().map_err(|_| "bad length")?) as usize;
    if rest.len() < len {
        return Err("snapshot is shorter than its applied-request record".into());
    }
    let (record, state) = rest.split_at(len);
    let applied = postcard::from_bytes(record)
        .map_err(|e| format!("applied-request record does not decode: {e}"))?;
    Ok((applied, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_m1_bad_bytes_are_errors() {
        let mut applied = Applied::default();
        applied.record(2, 77);
        let data = wrap(&applied, b"state");
        let (back, state) = unwrap(&data).unwrap();
        assert_eq!((back, state), (applied, &b"state"[..]));
        assert_eq!(unwrap(&wrap(&Applied::default(), b"")).unwrap().1, b"");
        for bad in [
            &[][..],
            &[9][..],
            &[VERSION, 1][..],
            &[VERSION, 9, 0, 0, 0, 1][..],
        ] {
            assert!(unwrap(bad).is_err(), "{bad:?}");
        }
    }
}
