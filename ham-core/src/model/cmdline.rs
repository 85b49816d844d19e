//! Command-line parsing for attach, restart and execute lines (HAM-CONTRACT E3).
//!
//! A line is split on unquoted white space. Single or double quotes group text
//! that contains spaces into one argument and are removed; quoted and unquoted
//! text next to each other join into one argument, as in a shell. Backslashes
//! are ordinary characters: the QNX `\'...\'` forms are C-string escapes that
//! a C compiler has already turned into plain quotes. The program must be an
//! absolute path: the HAM does no `PATH` search, so what runs never depends on
//! the environment of the node.

use super::errno::{Result, einval};
use super::names::quoted;

/// Longest command line accepted, in bytes (a Linux `ARG_MAX`-sized line is
/// never a sensible restart line, and the log carries every one).
pub const LINE_MAX: usize = 64 * 1024;

/// Splits `line` into argv. The first word is an absolute path.
pub fn parse_command_line(line: &str) -> Result<Vec<String>> {
    if line.len() > LINE_MAX {
        return Err(einval(format!(
            "command line is longer than {LINE_MAX} bytes"
        )));
    }
    if line.contains('\0') {
        return Err(einval("command line contains NUL"));
    }
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(einval(format!(
            "unbalanced {q} quote in command line {}",
            quoted(line)
        )));
    }
    if in_word {
        args.push(current);
    }
    match args.first() {
        None => Err(einval("command line is empty")),
        Some(prog) if !prog.starts_with('/') => Err(einval(format!(
            "program {} is not an absolute path (no PATH search is done)",
            quoted(prog)
        ))),
        Some(_) => Ok(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::errno::Errno;

    fn argv(line: &str) -> Vec<String> {
        parse_command_line(line).unwrap()
    }

    #[test]
    fn e3_splits_on_unquoted_white_space() {
        assert_eq!(argv("/usr/sbin/inetd -D"), ["/usr/sbin/inetd", "-D"]);
        assert_eq!(argv("  /bin/x\t a   b\n"), ["/bin/x", "a", "b"]);
    }

    #[test]
    fn e3_quotes_group_and_are_removed() {
        // The guide's example, after C unescaping.
        assert_eq!(
            argv(r#"'/path with space' arg1 arg2 "arg3 with space""#),
            ["/path with space", "arg1", "arg2", "arg3 with space"]
        );
        assert_eq!(
            argv(r#"/bin/echo "it's" 'say "hi"'"#),
            ["/bin/echo", "it's", "say \"hi\""]
        );
        assert_eq!(
            argv(r#"/bin/echo a"b c"d '' x"#),
            ["/bin/echo", "ab cd", "", "x"]
        );
        assert_eq!(argv(r"/bin/echo back\slash"), ["/bin/echo", r"back\slash"]);
    }

    #[test]
    fn e3_refuses_unbalanced_quotes_relative_paths_and_empty_lines() {
        for bad in [
            "/bin/echo 'open",
            "/bin/echo \"open",
            "echo hi",
            "./run",
            "",
            "   ",
            "'' /bin/x",
            "/bin/x\0y",
        ] {
            assert_eq!(
                parse_command_line(bad).unwrap_err().errno,
                Errno::Einval,
                "{bad:?}"
            );
        }
        assert!(parse_command_line(&format!("/bin/x {}", "a".repeat(LINE_MAX))).is_err());
    }
}
