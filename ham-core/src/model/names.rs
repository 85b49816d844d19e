//! Name and path rules (HAM-CONTRACT N1, N2).

use super::errno::{Errno, HamError, Result, einval};

/// Longest name of an entity, condition, action or action-fail, in bytes.
pub const NAME_MAX: usize = 255;
/// Longest `/ham/<entity>/<condition>/<action>` path, in bytes.
pub const PATH_MAX: usize = 1023;

/// Most bytes of a bad input an error message quotes (HAM-CONTRACT N1).
pub const QUOTE_MAX: usize = 64;

/// A bad input as an error message shows it: quoted and escaped like `{:?}`,
/// cut after [`QUOTE_MAX`] bytes (on a char boundary) with the cut marked and
/// the full length given, e.g. `"aaaa…" (10240 bytes)`. A client must be
/// able to read the error of a 10 KB name, so no message echoes it whole.
pub fn quoted(input: &str) -> Quoted<'_> {
    Quoted(input)
}

/// See [`quoted`].
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(&'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        if s.len() <= QUOTE_MAX {
            return write!(f, "{s:?}");
        }
        let mut cut = QUOTE_MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let head = format!("{:?}", &s[..cut]);
        // `head` ends with the closing quote: the mark goes inside it.
        write!(f, "{}…\" ({} bytes)", &head[..head.len() - 1], s.len())
    }
}

/// Checks one name (N1, N2): non-empty, no `/`, NUL or other control
/// character, not `.`, `..` or `.info*`, at most [`NAME_MAX`] bytes.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(einval(format!("{what} name is empty")));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(einval(format!(
            "{what} name {} contains '/', NUL or a control character",
            quoted(name)
        )));
    }
    if name.len() > NAME_MAX {
        return Err(HamError::new(
            Errno::Enametoolong,
            format!("{what} name is {} bytes, more than {NAME_MAX}", name.len()),
        ));
    }
    // `.` and `..` would be paths in the tree view; `.info` is its per-node file.
    if name == "." || name == ".." || name.starts_with(".info") {
        return Err(einval(format!(
            "{what} name {} is reserved (., .. and .info*)",
            quoted(name)
        )));
    }
    Ok(())
}

/// Checks the combined path of an object, given the names from the entity down.
pub fn check_path(parts: &[&str]) -> Result<()> {
    let len = "/ham".len() + parts.iter().map(|p| 1 + p.len()).sum::<usize>();
    if len > PATH_MAX {
        return Err(HamError::new(
            Errno::Enametoolong,
            format!(
                "path {} is {len} bytes, more than {PATH_MAX}",
                quoted(&format!("/ham/{}", parts.join("/")))
            ),
        ));
    }
    Ok(())
}

/// The display path of an object (`inetd/death/restart`); the global entity shows as `(global)`.
pub fn display_path(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| if p.is_empty() { "(global)" } else { p })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n1_names_accept_plain_utf8() {
        for ok in ["inetd", "Fs-nfs2", "naïve name", "a", "x.y_z-1"] {
            check_name("entity", ok).unwrap();
        }
    }

    #[test]
    fn n1_names_accept_neighbours_of_the_reserved_forms() {
        for ok in [
            ".x", "a.info", "info", "...", ". ", "x..", "a.", "..a", ".inf", "_info",
        ] {
            check_name("entity", ok).unwrap();
        }
        for ok in ["日本語", "emoji 🚀", "tab-free\u{a0}nbsp", "ß"] {
            check_name("entity", ok).unwrap();
        }
    }

    #[test]
    fn n1_names_refuse_dots_info_and_control_characters() {
        for bad in [
            ".",
            "..",
            ".info",
            ".infox",
            ".info.d",
            "line\nbreak",
            "\n",
            "cr\r",
            "tab\there",
            "esc\u{1b}[31mred",
            "del\u{7f}",
            "c1\u{85}",
            "bell\u{7}",
        ] {
            let e = check_name("entity", bad).unwrap_err();
            assert_eq!(e.errno, Errno::Einval, "{bad:?}");
            // The message escapes what it quotes: no raw control character.
            assert!(!e.message.chars().any(char::is_control), "{:?}", e.message);
        }
    }

    #[test]
    fn n1_quoted_cuts_long_inputs_after_64_bytes() {
        assert_eq!(quoted("web").to_string(), "\"web\"");
        assert_eq!(
            quoted(&"a".repeat(64)).to_string(),
            format!("{:?}", "a".repeat(64))
        );
        let long = "a".repeat(10240);
        assert_eq!(
            quoted(&long).to_string(),
            format!("\"{}…\" (10240 bytes)", "a".repeat(64))
        );
        // Cut on a char boundary: 63 bytes of 'a' and then a 2-byte 'é'.
        let s = format!("{}é{}", "a".repeat(63), "b".repeat(10));
        assert_eq!(
            quoted(&s).to_string(),
            format!("\"{}…\" (75 bytes)", "a".repeat(63))
        );
        // A long bad name's message stays short.
        let bad = format!("{}\n", "x".repeat(10000));
        let e = check_name("entity", &bad).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message);
        let n = "p".repeat(255);
        let e = check_path(&[&n, &n, &n, &n]).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message);
    }

    #[test]
    fn n1_names_refuse_empty_slash_nul() {
        for bad in ["", "a/b", "/", "nul\0inside"] {
            assert_eq!(
                check_name("entity", bad).unwrap_err().errno,
                Errno::Einval,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn n2_long_names_and_paths_are_enametoolong() {
        check_name("entity", &"a".repeat(255)).unwrap();
        assert_eq!(
            check_name("entity", &"a".repeat(256)).unwrap_err().errno,
            Errno::Enametoolong
        );
        let n = "b".repeat(255);
        // /ham + 3 * (1 + 255) = 772 bytes: fine; a fourth part goes over 1023.
        check_path(&[&n, &n, &n]).unwrap();
        assert_eq!(
            check_path(&[&n, &n, &n, &n]).unwrap_err().errno,
            Errno::Enametoolong
        );
    }
}
