//! Registering owned file descriptors with tokio's reactor.
//!
//! `AsyncFd::register` is unsafe because tokio cannot know that the
//! descriptor stays open and the same while registered. That holds for types
//! that own their descriptor and never swap it, so registration is offered
//! for those types only (a sealed trait).

use nix::sys::inotify::Inotify;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use tokio::io::unix::AsyncFd;

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::os::fd::OwnedFd {}
    impl Sealed for nix::sys::inotify::Inotify {}
}

/// A type that owns one file descriptor for its whole life.
pub trait OwnsFd: AsFd + sealed::Sealed {}
impl OwnsFd for OwnedFd {}
impl OwnsFd for Inotify {}

/// A descriptor owner, seen by tokio through `AsRawFd`.
#[derive(Debug)]
pub struct Owned<T>(pub T);

impl<T: OwnsFd> AsRawFd for Owned<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Registers an owned descriptor with the reactor (inside a tokio runtime).
pub fn register<T: OwnsFd>(inner: T) -> io::Result<AsyncFd<Owned<T>>> {
    // SAFETY: `Owned<T>` owns the descriptor (OwnedFd or Inotify, both of
    // which close it only on drop and never replace it), and the AsyncFd
    // owns the `Owned<T>`, so the descriptor is open and the same for the
    // whole time it is registered.
    unsafe { AsyncFd::register(Owned(inner)).map_err(|e| e.into_parts().1) }
}
