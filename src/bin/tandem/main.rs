//! The `tandem` command: flags become calls into the `tandem` library
//! (see [`cli`]). The command line is not part of the library's surface.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
