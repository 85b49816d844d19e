//! Named points where a test build of `ham` can be made to die on purpose,
//! to prove what a crash at that moment leaves behind (HAM-CONTRACT E11).
//! Built only with the `failpoints` feature (the integration tests' build);
//! in every other build `hit` is an empty inline function.

#[cfg(feature = "failpoints")]
static ARMED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Arms the named points (`--failpoint NAME`, repeatable).
#[cfg(feature = "failpoints")]
pub fn arm(names: Vec<String>) {
    let _ = ARMED.set(names);
}

/// Aborts the process (like a SIGKILL: nothing is flushed or cleaned up) when `name` is armed.
#[inline]
pub fn hit(name: &str) {
    #[cfg(feature = "failpoints")]
    if ARMED.get().is_some_and(|a| a.iter().any(|n| n == name)) {
        eprintln!("ham: failpoint {name}: aborting");
        std::process::abort();
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}
