//! The envelope around every proposed command.
//!
//! The origin node and a request id travel inside the log entry so that the node which proposed
//! a command (and only that node) can hand the state machine's output back to the waiting caller
//! when the entry is applied.
//! Layout: `[version u8][origin u64 LE][request u64 LE][reserved u64 LE][command ..]`.
//!
//! The reserved word once held the proposer's wall-clock deadline, which leaders compared with
//! their own clock to drop late forwarded proposals. Clocks of different nodes need not agree
//! (HAM-CONTRACT H5), so it is no longer read: new envelopes carry 0 there, and entries on disk
//! written with a deadline decode as before and are applied whatever it says.

/// Format version of the envelope; bumped if the layout ever changes.
const VERSION: u8 = 2;
/// Bytes in front of the command.
const HEADER: usize = 1 + 8 + 8 + 8;

/// A decoded envelope borrowing the entry's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Envelope<'a> {
    /// Node id of the replica that proposed the command.
    pub origin: u64,
    /// Request id, unique per origin (see `Driver::next_request_id`).
    pub request: u64,
    /// The caller's command bytes.
    pub command: &'a [u8],
}

/// Wraps `command` for the log.
pub(crate) fn encode(origin: u64, request: u64, command: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + command.len());
    out.push(VERSION);
    out.extend_from_slice(&origin.to_le_bytes());
    out.extend_from_slice(&request.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(command);
    out
}

/// Unwraps an entry's data; `Err` says why the bytes are not an envelope.
pub(crate) fn decode(data: &[u8]) -> Result<Envelope<'_>, String> {
    if data.len() < HEADER {
        return Err(format!("envelope too short: {} bytes", data.len()));
    }
    if data[0] != VERSION {
        return Err(format!("unknown envelope version {}", data[0]));
    }
    let word = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[at..at + 8]);
        u64::from_le_bytes(b)
    };
    Ok(Envelope {
        origin: word(1),
        request: word(9),
        command: &data[HEADER..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_including_empty_command() {
        for cmd in [&b""[..], b"x", b"hello world"] {
            let bytes = encode(3, u64::MAX - 1, cmd);
            let env = decode(&bytes).unwrap();
            assert_eq!(
                env,
                Envelope {
                    origin: 3,
                    request: u64::MAX - 1,
                    command: cmd
                }
            );
        }
    }

    #[test]
    fn m5_an_envelope_written_with_a_deadline_still_decodes() {
        // As written before the deadline was retired: a wall-clock deadline in the past.
        let mut old = vec![VERSION];
        for word in [3u64, 7, 1_000] {
            old.extend_from_slice(&word.to_le_bytes());
        }
        old.extend_from_slice(b"cmd");
        let env = decode(&old).unwrap();
        assert_eq!((env.origin, env.request, env.command), (3, 7, &b"cmd"[..]));
        assert_eq!(
            &encode(3, 7, b"cmd")[17..25],
            &[0; 8],
            "new envelopes carry no deadline"
        );
    }

    #[test]
    fn rejects_short_and_unknown_version() {
        assert!(decode(b"").is_err());
        assert!(decode(&[2; 24]).is_err());
        let mut bytes = encode(1, 2, b"c");
        bytes[0] = 9;
        assert!(decode(&bytes).is_err());
    }
}
