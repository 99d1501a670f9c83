//! The `residual` binary: parse, run, exit. Everything lives in the library.

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so `residual checks | head` would panic on the closed pipe.
    // Restore the Unix default: the process ends quietly when its reader goes away.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::ExitCode::from(residual::run(std::env::args_os().collect()))
}
