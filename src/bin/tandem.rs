//! The `tandem` command; everything lives in [`tandem::cli`].

fn main() -> std::process::ExitCode {
    tandem::cli::main()
}
