//! Starting a process directly inside its entity's cgroup: `clone3` with
//! `CLONE_INTO_CGROUP` (cgroup v2, Linux 5.7).
//!
//! Moving a running process into a cgroup (a write to `cgroup.procs`) takes
//! the kernel's cgroup threadgroup rwsem for writing and waits for an RCU
//! grace period, and every fork on the machine takes the same rwsem for
//! reading: under a storm of restarts each move took 7-11 ms and held up the
//! next spawn. A process born in its cgroup is never moved.
//!
//! The same call returns a pidfd (`CLONE_PIDFD`) of the new process, so the
//! agent can tell it from a later process that reuses its pid.
//!
//! How the child is made: on x86_64 like `posix_spawn` does it,
//! `CLONE_VM | CLONE_VFORK` on a stack of its own (mapped once, kept), so
//! nothing of the agent's memory is copied and the calling thread waits
//! until the child has exec'd; elsewhere fork-style (a copy of the agent's
//! address space), which is what std's fork path does. Either way the child
//! does only async-signal-safe system calls on data the parent prepared
//! ([`Exec`]), allocates nothing, and reports a failure before or of the
//! exec as an errno through a close-on-exec pipe, as std does. Signal
//! handlers are reset in the child by the kernel (`CLONE_CLEAR_SIGHAND`,
//! Linux 5.5), so none of the agent's handlers can run on the child's stack.

use super::spawn::ChildSetup;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd, RawFd};

const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of the kernel (`include/uapi/linux/sched.h`,
/// CLONE_ARGS_SIZE_VER2: up to `cgroup`).
#[repr(C, align(8))]
#[derive(Debug, Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// How the child gets its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// `CLONE_VM | CLONE_VFORK` on a stack of its own: nothing is copied.
    #[cfg(target_arch = "x86_64")]
    Shared,
    /// A copy of the agent's address space, as fork makes it.
    #[cfg_attr(
        all(target_arch = "x86_64", not(test)),
        expect(
            dead_code,
            reason = "the start of other architectures, tested here too"
        )
    )]
    Copied,
}

impl Memory {
    /// The way this build starts processes.
    #[cfg(target_arch = "x86_64")]
    pub const CHOSEN: Memory = Memory::Shared;
    /// The way this build starts processes (the shared-memory start needs a
    /// few lines of assembly, written for x86_64 only).
    #[cfg(not(target_arch = "x86_64"))]
    pub const CHOSEN: Memory = Memory::Copied;
}

/// Everything the child does, prepared (allocated) by the parent: the child
/// only reads it.
#[derive(Debug)]
pub struct Exec<'a> {
    /// The program (argv[0], an absolute path).
    pub path: &'a CStr,
    /// argv, NULL-terminated, pointing into strings the caller keeps alive.
    pub argv: &'a [*const c_char],
    /// The environment, NULL-terminated, the same way.
    pub envp: &'a [*const c_char],
    /// Standard input.
    pub stdin: RawFd,
    /// Standard output (None: the agent's own).
    pub stdout: Option<RawFd>,
    /// Standard error (None: the agent's own).
    pub stderr: Option<RawFd>,
    /// Limits, credentials and working directory.
    pub setup: &'a ChildSetup,
}

/// Why a start through `clone3` did not happen.
#[derive(Debug)]
pub enum Failure {
    /// The kernel cannot do it at all (ENOSYS, EINVAL, EPERM, E2BIG): not on
    /// this node, so the caller moves to the spawn-then-move path for good.
    Unsupported(io::Error),
    /// `clone3` failed this time (no memory, no pids): the caller may try
    /// the other path for this start.
    Clone(io::Error),
    /// The child was made but could not exec (or set itself up): the start
    /// failed as a spawn with the same errno would have.
    Exec(io::Error),
}

/// A child started in its cgroup.
#[derive(Debug)]
pub struct Child {
    /// Its pid.
    pub pid: u32,
    /// Its pidfd (close-on-exec in the agent).
    pub pidfd: OwnedFd,
}

/// What the child's entry point gets.
struct ChildArg<'a> {
    exec: &'a Exec<'a>,
    /// The write end of the error pipe.
    report: RawFd,
}

/// The stack of a child that shares the agent's memory, with a guard page
/// below it. One is mapped on first use and kept: a start returns only
/// once its child has exec'd or exited (CLONE_VFORK), so the next start can
/// use it again, and unmapping it each time would cost a TLB shootdown
/// across the agent's threads per start.
#[cfg(target_arch = "x86_64")]
#[derive(Debug)]
struct Stack {
    base: *mut c_void,
    len: usize,
    guard: usize,
}

#[cfg(target_arch = "x86_64")]
impl Stack {
    /// Enough for the child's few frames (its system calls use almost no
    /// stack); pages it never touches are never allocated.
    const SIZE: usize = 128 * 1024;

    fn new() -> io::Result<Stack> {
        // SAFETY: sysconf takes a constant and reads no memory of ours.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let len = Self::SIZE + page;
        // SAFETY: an anonymous private mapping at an address the kernel
        // chooses: it touches no existing memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the lowest page of the mapping just made, which nothing uses.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            let e = io::Error::last_os_error();
            // SAFETY: the mapping just made, which nothing else knows of.
            unsafe { libc::munmap(base, len) };
            return Err(e);
        }
        Ok(Stack {
            base,
            len,
            guard: page,
        })
    }

    /// The lowest usable address (clone3 takes the low end and the size;
    /// the child's stack pointer starts at their sum, 16-byte aligned).
    fn low(&self) -> u64 {
        self.base as u64 + self.guard as u64
    }

    fn size(&self) -> u64 {
        (self.len - self.guard) as u64
    }
}

// SAFETY: the stack is an anonymous mapping of the whole process, not
// tied to the thread that made it; it is only used under `STACK`'s lock.
#[cfg(target_arch = "x86_64")]
unsafe impl Send for Stack {}

/// The one child stack, held for the whole of a start.
#[cfg(target_arch = "x86_64")]
static STACK: std::sync::Mutex<Option<Stack>> = std::sync::Mutex::new(None);

/// Whether an errno of `clone3` says the kernel lacks what we ask of it.
fn unsupported(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOSYS | libc::EINVAL | libc::EPERM | libc::E2BIG
    )
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just made by the kernel and are ours alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Starts `exec` as a new process in the cgroup open at `cgroup`.
pub fn start(exec: &Exec<'_>, cgroup: BorrowedFd<'_>, memory: Memory) -> Result<Child, Failure> {
    let (read_end, write_end) = pipe().map_err(Failure::Clone)?;
    let mut pidfd: c_int = -1;
    let mut args = CloneArgs {
        flags: (libc::CLONE_PIDFD as u64) | CLONE_INTO_CGROUP | CLONE_CLEAR_SIGHAND,
        pidfd: std::ptr::from_mut(&mut pidfd) as u64,
        // The reaper learns of its death like of any child's.
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    let arg = ChildArg {
        exec,
        report: write_end.as_raw_fd(),
    };
    let ret = match memory {
        #[cfg(target_arch = "x86_64")]
        Memory::Shared => {
            let mut slot = STACK.lock().unwrap_or_else(|p| p.into_inner());
            let stack = match slot.as_mut() {
                Some(stack) => stack,
                None => slot.insert(Stack::new().map_err(Failure::Clone)?),
            };
            args.flags |= (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
            args.stack = stack.low();
            args.stack_size = stack.size();
            // SAFETY: see `clone3_shared`: `args` describes a child with its
            // own stack (`stack`, kept mapped, and no other start uses it
            // while `slot` is locked, i.e. until this call returns, which is
            // after the child exec'd or exited), and `child_main` only reads
            // `arg`, which lives on this frame.
            unsafe { clone3_shared(&mut args, child_main, &arg) }
        }
        Memory::Copied => {
            // SAFETY: a fork-style clone (no CLONE_VM, no stack): the child
            // runs on its copy of this thread's stack and memory, alone in
            // its process, and `child_main` never returns, so it never
            // comes back into the parent's code. It does only
            // async-signal-safe system calls (see `child_main`).
            unsafe {
                let ret = libc::syscall(
                    libc::SYS_clone3,
                    std::ptr::from_mut(&mut args),
                    std::mem::size_of::<CloneArgs>(),
                );
                if ret == 0 {
                    child_main(&arg);
                }
                if ret < 0 {
                    -i64::from(
                        io::Error::last_os_error()
                            .raw_os_error()
                            .unwrap_or(libc::EINVAL),
                    )
                } else {
                    ret
                }
            }
        }
    };
    // Only the child's copy of the write end may stay open, so that the
    // read below ends when the child exec's (close-on-exec) or exits.
    drop(write_end);
    if ret < 0 {
        let errno = i32::try_from(-ret).unwrap_or(libc::EINVAL);
        let e = io::Error::from_raw_os_error(errno);
        return Err(if unsupported(errno) {
            Failure::Unsupported(e)
        } else {
            Failure::Clone(e)
        });
    }
    let pid =
        u32::try_from(ret).map_err(|_| Failure::Clone(io::Error::other("pid out of range")))?;
    // SAFETY: with CLONE_PIDFD a successful clone3 stored a new descriptor
    // in `pidfd`, which nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    match read_report(&read_end) {
        Ok(None) => Ok(Child { pid, pidfd }),
        // The child exited (127); the reaper collects it like any child.
        Ok(Some(errno)) => Err(Failure::Exec(io::Error::from_raw_os_error(errno))),
        Err(e) => Err(Failure::Exec(e)),
    }
}

/// The errno the child reported, or None when it exec'd (end of file).
fn read_report(fd: &OwnedFd) -> io::Result<Option<i32>> {
    let mut buf = [0u8; 4];
    loop {
        // SAFETY: read writes at most `buf.len()` bytes into `buf`.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return Ok(None),
            4 => return Ok(Some(i32::from_ne_bytes(buf))),
            n if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            n if n < 0 => return Err(io::Error::last_os_error()),
            // A pipe write of 4 bytes is atomic: a short one never happens.
            _ => return Err(io::Error::other("short report from a starting child")),
        }
    }
}

/// `clone3` whose child starts on its own stack and calls `entry(arg)`.
///
/// # Safety
/// `args` must ask for CLONE_VM | CLONE_VFORK with a valid stack of its own
/// (the child must not run on the caller's stack, which the caller keeps
/// using once the child exec'd); `entry` must never return and must only
/// read `arg` and make async-signal-safe system calls, as the child shares
/// the agent's memory while the calling thread is suspended.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_shared(
    args: &mut CloneArgs,
    entry: extern "C" fn(&ChildArg<'_>) -> !,
    arg: &ChildArg<'_>,
) -> i64 {
    let ret: i64;
    // SAFETY: the caller's contract above. In the parent the block is one
    // system call (rcx and r11 are clobbered by `syscall`). In the child
    // (rax = 0) the kernel has set the stack pointer to the top of the new
    // stack, 16-byte aligned, so `call` enters `entry` as the ABI wants;
    // `entry` never returns (`ud2` is never reached), so the child never
    // comes back into code the compiler laid out for the parent.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") std::ptr::from_mut(args),
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") std::ptr::from_ref(arg),
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// The child: sets itself up and execs, or reports the errno and exits.
/// `extern "C"`: a panic here (there is none to be had) aborts instead of
/// unwinding on a stack that has no frames to unwind to.
extern "C" fn child_main(arg: &ChildArg<'_>) -> ! {
    let errno = arg.exec.run();
    let bytes = errno.to_ne_bytes();
    // SAFETY: write(2) and _exit(2) are async-signal-safe; `bytes` is on
    // this (the child's) stack. A failed write leaves the parent seeing an
    // exec that worked and then a child that exited with 127: a death.
    unsafe {
        libc::write(arg.report, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    }
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// Makes `fd` the descriptor `target` of the program (it keeps no
/// close-on-exec flag).
fn redirect(fd: RawFd, target: RawFd) -> Result<(), i32> {
    // SAFETY: dup2 and fcntl act on descriptor numbers only.
    let rc = unsafe {
        if fd == target {
            libc::fcntl(fd, libc::F_SETFD, 0)
        } else {
            libc::dup2(fd, target)
        }
    };
    if rc < 0 { Err(errno()) } else { Ok(()) }
}

impl Exec<'_> {
    /// In the child: the steps std takes between fork and exec, in its
    /// order (standard streams, process group, SIGPIPE back to default and
    /// an empty signal mask, then the entity's limits, credentials and
    /// working directory), then the exec. Returns only on failure, with
    /// its errno. Allocates nothing.
    fn run(&self) -> i32 {
        if let Err(errno) = self.prepare() {
            return errno;
        }
        // SAFETY: execve takes NUL-terminated strings and NULL-terminated
        // pointer arrays the parent built and keeps alive (it is suspended
        // or has its own copy); it returns only on failure.
        unsafe {
            libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
        }
        errno()
    }

    fn prepare(&self) -> Result<(), i32> {
        redirect(self.stdin, libc::STDIN_FILENO)?;
        if let Some(fd) = self.stdout {
            redirect(fd, libc::STDOUT_FILENO)?;
        }
        if let Some(fd) = self.stderr {
            redirect(fd, libc::STDERR_FILENO)?;
        }
        // SAFETY: setpgid, sigaction, sigemptyset and sigprocmask are
        // async-signal-safe and read or write only the two values on this
        // stack frame.
        unsafe {
            // Its own process group, as `process_group(0)` gives.
            if libc::setpgid(0, 0) != 0 {
                return Err(errno());
            }
            // The agent ignores SIGPIPE (std does), and an ignored signal
            // stays ignored across exec; handled ones are reset already
            // (CLONE_CLEAR_SIGHAND).
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            if libc::sigaction(libc::SIGPIPE, &raw const dfl, std::ptr::null_mut()) != 0 {
                return Err(errno());
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&raw mut set);
            if libc::sigprocmask(libc::SIG_SETMASK, &raw const set, std::ptr::null_mut()) != 0 {
                return Err(errno());
            }
        }
        self.setup
            .run()
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))
    }
}
