//! The `residual` binary: parse, run, exit. Everything lives in the library.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(residual::run(std::env::args_os().collect()))
}
