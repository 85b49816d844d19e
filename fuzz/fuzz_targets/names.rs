//! N1/N2 names and paths: `check_name`, `check_path`, and `quoted` (how every error message
//! shows a bad input). Properties: an accepted name obeys every rule the contract states; an
//! error is EINVAL or ENAMETOOLONG; a quoted input is bounded whatever its length.
#![no_main]

use ham_core::model::{
    Errno, NAME_MAX, PATH_MAX, QUOTE_MAX, check_name, check_path, display_path, quoted,
};
use libfuzzer_sys::fuzz_target;

/// `{:?}` writes one char as at most 10 bytes (`\u{10ffff}`); the cut mark and the length
/// after it are short.
const QUOTED_MAX: usize = QUOTE_MAX * 10 + 40;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The input is one name, and also a path of names split on '\n'.
    match check_name("entity", text) {
        Ok(()) => {
            assert!(!text.is_empty() && text.len() <= NAME_MAX);
            assert!(!text.contains('/') && !text.chars().any(char::is_control));
            assert!(text != "." && text != ".." && !text.starts_with(".info"));
        }
        Err(e) => assert!(
            matches!(e.errno, Errno::Einval | Errno::Enametoolong),
            "{e:?}"
        ),
    }
    let shown = quoted(text).to_string();
    assert!(shown.len() <= QUOTED_MAX, "quoted {} bytes", shown.len());
    let parts: Vec<&str> = text.split('\n').collect();
    let len = "/ham".len() + parts.iter().map(|p| 1 + p.len()).sum::<usize>();
    match check_path(&parts) {
        Ok(()) => assert!(len <= PATH_MAX),
        Err(e) => {
            assert_eq!(e.errno, Errno::Enametoolong);
            assert!(
                e.to_string().len() <= QUOTED_MAX + 200,
                "path error is unbounded"
            );
        }
    }
    let _ = display_path(&parts);
});
