//! Name and path rules (HAM-CONTRACT N1, N2).

use super::errno::{Errno, HamError, Result, einval};

/// Longest name of an entity, condition, action or action-fail, in bytes.
pub const NAME_MAX: usize = 255;
/// Longest `/ham/<entity>/<condition>/<action>` path, in bytes.
pub const PATH_MAX: usize = 1023;

/// Checks one name: non-empty, no `/`, no NUL, at most [`NAME_MAX`] bytes.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(einval(format!("{what} name is empty")));
    }
    if name.contains('/') || name.contains('\0') {
        return Err(einval(format!("{what} name {name:?} contains '/' or NUL")));
    }
    if name.len() > NAME_MAX {
        return Err(HamError::new(
            Errno::Enametoolong,
            format!("{what} name is {} bytes, more than {NAME_MAX}", name.len()),
        ));
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
                "path /ham/{} is {len} bytes, more than {PATH_MAX}",
                parts.join("/")
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
