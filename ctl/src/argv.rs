//! Rewrites the QNX-style arguments of `hamctrl` into the forms clap parses:
//! `-node NAME` -> `--node NAME`, `-stop` -> `stop`, `-verbose` -> `verbose
//! incr`, `+verbose` -> `verbose decr`, `=verbose` -> `verbose get`.
//!
//! Only the words before the first ordinary subcommand are rewritten, so a
//! value such as `--message -stop` further on is left alone.

/// Global options that take a value (their value is never rewritten).
const VALUED: &[&str] = &["--node", "--socket", "--addr", "--timeout"];

/// Returns `args` (program name first) with the QNX forms rewritten.
pub fn preprocess(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut args = args.into_iter();
    let mut out: Vec<String> = args.next().into_iter().collect();
    let mut rewriting = true;
    while let Some(arg) = args.next() {
        if !rewriting {
            out.push(arg);
            continue;
        }
        match arg.as_str() {
            "-node" => {
                out.push("--node".to_owned());
                out.extend(args.next());
            }
            "-stop" => out.push("stop".to_owned()),
            "-verbose" => out.extend(["verbose".to_owned(), "incr".to_owned()]),
            "+verbose" => out.extend(["verbose".to_owned(), "decr".to_owned()]),
            "=verbose" => out.extend(["verbose".to_owned(), "get".to_owned()]),
            a if a.starts_with("-node=") => out.push(format!("--node={}", &a["-node=".len()..])),
            a if VALUED.contains(&a) => {
                out.push(arg);
                if let Some(value) = args.next() {
                    out.push(value);
                }
            }
            a if a.starts_with('-') => out.push(arg),
            _ => {
                // The first ordinary word is the subcommand: stop here.
                rewriting = false;
                out.push(arg);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::preprocess;

    fn pp(args: &[&str]) -> Vec<String> {
        preprocess(
            std::iter::once("hamctrl")
                .chain(args.iter().copied())
                .map(String::from),
        )
    }

    #[test]
    fn x3_qnx_stop_forms() {
        assert_eq!(pp(&["-stop"]), ["hamctrl", "stop"]);
        assert_eq!(
            pp(&["-node", "n2", "-stop"]),
            ["hamctrl", "--node", "n2", "stop"]
        );
        assert_eq!(
            pp(&["-stop", "-node", "n2"]),
            ["hamctrl", "stop", "--node", "n2"]
        );
        assert_eq!(pp(&["-node=n2", "-stop"]), ["hamctrl", "--node=n2", "stop"]);
    }

    #[test]
    fn x4_qnx_verbose_forms() {
        assert_eq!(pp(&["-verbose"]), ["hamctrl", "verbose", "incr"]);
        assert_eq!(pp(&["+verbose"]), ["hamctrl", "verbose", "decr"]);
        assert_eq!(
            pp(&["-node", "a", "=verbose"]),
            ["hamctrl", "--node", "a", "verbose", "get"]
        );
    }

    #[test]
    fn later_words_are_left_alone() {
        let args = ["action", "e", "c", "a", "log", "--message", "-stop"];
        assert_eq!(pp(&args)[1..], args);
        // A valued option's value is not a subcommand, nor rewritten.
        assert_eq!(
            pp(&["--socket", "-stop", "ls"]),
            ["hamctrl", "--socket", "-stop", "ls"]
        );
    }
}
