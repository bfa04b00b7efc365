use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = reprise::cli::Cli::parse();
    reprise::cli::init_tracing(&cli);
    match reprise::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
