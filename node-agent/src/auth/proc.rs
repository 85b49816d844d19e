//! What `/proc/<pid>/status` says of a local process: its user ids (for kill(2)'s rule, P4)
//! and its groups (for group rules, P2).

/// The `Uid:` and `Groups:` lines of a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcIds {
    /// Real, effective, saved set and filesystem uid.
    pub uids: [u32; 4],
    /// Real, effective, saved set and filesystem gid.
    pub gids: [u32; 4],
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Parses the text of `/proc/<pid>/status`; None if its id lines are missing or malformed.
pub fn parse_status(text: &str) -> Option<ProcIds> {
    fn four(v: &str) -> Option<[u32; 4]> {
        let mut it = v.split_whitespace().map(|n| n.parse::<u32>().ok());
        let ids = [it.next()??, it.next()??, it.next()??, it.next()??];
        Some(ids)
    }
    let (mut uids, mut gids, mut groups) = (None, None, Vec::new());
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key {
            "Uid" => uids = four(value),
            "Gid" => gids = four(value),
            "Groups" => {
                groups = value
                    .split_whitespace()
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .ok()?;
            }
            _ => {}
        }
    }
    Some(ProcIds {
        uids: uids?,
        gids: gids?,
        groups,
    })
}

/// The ids of a live process; None when it is gone or unreadable.
pub fn ids_of(pid: i64) -> Option<ProcIds> {
    if pid <= 0 {
        return None;
    }
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// kill(2)'s rule for an unprivileged sender: its uid must be the target's real or saved
/// set-user-ID.
pub fn may_signal(caller_uid: u32, target: &ProcIds) -> bool {
    caller_uid == target.uids[0] || caller_uid == target.uids[2]
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t77\n\
        Uid:\t1000\t1001\t1002\t1003\nGid:\t100\t100\t100\t100\nFDSize:\t64\n\
        Groups:\t4 24 27 \nVmPeak:\t1 kB\n";

    #[test]
    fn p2_p4_status_lines_are_read() {
        let ids = parse_status(STATUS).unwrap();
        assert_eq!(ids.uids, [1000, 1001, 1002, 1003]);
        assert_eq!(ids.gids, [100; 4]);
        assert_eq!(ids.groups, vec![4, 24, 27]);
        let no_groups = STATUS.replace("Groups:\t4 24 27 ", "Groups:");
        assert_eq!(parse_status(&no_groups).unwrap().groups, Vec::<u32>::new());
        assert_eq!(parse_status("Name:\tx\n"), None);
        assert_eq!(parse_status("Uid:\t1 2 3\nGid:\t1 1 1 1\n"), None);
        assert_eq!(parse_status("Uid:\t1 2 3 x\nGid:\t1 1 1 1\n"), None);
    }

    #[test]
    fn p4_kill_rule_real_or_saved_uid() {
        let ids = parse_status(STATUS).unwrap();
        assert!(may_signal(1000, &ids));
        assert!(may_signal(1002, &ids));
        assert!(
            !may_signal(1001, &ids),
            "the effective uid is not kill(2)'s"
        );
        assert!(!may_signal(0, &ids));
    }

    #[test]
    fn p4_a_live_process_is_read() {
        let me = ids_of(std::process::id().into()).unwrap();
        assert_eq!(me.uids[0], nix::unistd::getuid().as_raw());
        assert_eq!(ids_of(0), None);
    }
}
