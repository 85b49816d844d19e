//! Paths of the HAM tree as `hamctrl` accepts them: `inetd`,
//! `inetd/death/restart`, `/ham/inetd/.info`, `/proc/ham/.info`.

/// How the node's global entity (whose real name is empty) is written.
pub const GLOBAL_ENTITY: &str = "@global";

/// A parsed tree path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreePath {
    /// Entity, condition, action; at most three, each non-empty except that
    /// the global entity is "".
    pub parts: Vec<String>,
    /// Whether the path ends in `.info`.
    pub info: bool,
}

impl TreePath {
    /// Parses a path; `None` when it has more than three levels or an empty
    /// component in the middle.
    pub fn parse(text: &str) -> Option<TreePath> {
        let mut rest = text.trim();
        for prefix in ["/proc/ham", "/ham"] {
            if rest == prefix {
                rest = "";
            } else if let Some(r) = rest.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
                rest = r;
                break;
            }
        }
        let mut parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        let info = parts.last() == Some(&".info");
        if info {
            parts.pop();
        }
        if parts.len() > 3 || parts.contains(&".info") {
            return None;
        }
        let parts = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                if i == 0 {
                    entity_name(p).to_owned()
                } else {
                    p.to_owned()
                }
            })
            .collect();
        Some(TreePath { parts, info })
    }

    /// The component at `level` (0 entity, 1 condition, 2 action) or "".
    pub fn part(&self, level: usize) -> &str {
        self.parts.get(level).map_or("", String::as_str)
    }
}

/// The real name of an entity written on the command line ("@global" -> "").
pub fn entity_name(text: &str) -> &str {
    if text == GLOBAL_ENTITY { "" } else { text }
}

/// How an entity name is shown ("" -> "@global").
pub fn show_entity(name: &str) -> &str {
    if name.is_empty() { GLOBAL_ENTITY } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(parts: &[&str], info: bool) -> Option<TreePath> {
        Some(TreePath {
            parts: parts.iter().map(|s| s.to_string()).collect(),
            info,
        })
    }

    #[test]
    fn x5_path_forms() {
        assert_eq!(TreePath::parse(""), p(&[], false));
        assert_eq!(TreePath::parse(".info"), p(&[], true));
        assert_eq!(TreePath::parse("/ham"), p(&[], false));
        assert_eq!(TreePath::parse("/ham/.info"), p(&[], true));
        assert_eq!(TreePath::parse("/proc/ham/.info"), p(&[], true));
        assert_eq!(TreePath::parse("inetd"), p(&["inetd"], false));
        assert_eq!(TreePath::parse("/ham/inetd/.info"), p(&["inetd"], true));
        assert_eq!(
            TreePath::parse("inetd/death/"),
            p(&["inetd", "death"], false)
        );
        assert_eq!(
            TreePath::parse("inetd/death/restart"),
            p(&["inetd", "death", "restart"], false)
        );
        assert_eq!(TreePath::parse("@global/c"), p(&["", "c"], false));
        assert_eq!(TreePath::parse("/hammer/x"), p(&["hammer", "x"], false));
        assert_eq!(TreePath::parse("a/b/c/d"), None);
        assert_eq!(TreePath::parse("a/.info/b"), None);
    }
}
