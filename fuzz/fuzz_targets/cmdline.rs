//! E3 command lines (attach, restart and execute lines): `parse_command_line`.
//! Properties: an accepted line gives a non-empty argv whose program is an absolute path and
//! no NUL anywhere; quoting each word again and parsing gives the same argv.
#![no_main]

use ham_core::model::{LINE_MAX, parse_command_line};
use libfuzzer_sys::fuzz_target;

/// Quotes a word so that the parser gives it back whole: single quotes, with each single
/// quote inside written as a double-quoted one (`'a'"'"'b'`).
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\"'\"'"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(argv) = parse_command_line(line) else {
        return;
    };
    assert!(line.len() <= LINE_MAX);
    assert!(!argv.is_empty());
    assert!(argv[0].starts_with('/'), "program {:?}", argv[0]);
    assert!(argv.iter().all(|a| !a.contains('\0')));
    let total: usize = argv.iter().map(String::len).sum();
    assert!(total <= line.len(), "argv is longer than its line");
    let again: Vec<String> = argv.iter().map(|a| quote(a)).collect();
    let again = again.join(" ");
    if again.len() <= LINE_MAX {
        assert_eq!(parse_command_line(&again).as_ref(), Ok(&argv), "{again:?}");
    }
});
