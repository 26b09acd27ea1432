//! The `confab` binary: parse the command line, read the configuration,
//! start logging, and hand over to the library.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = confab::cli::Cli::parse();
    // Logging first, so that what reading the settings warns about is seen.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let settings = confab::config::Settings::from_env()?;
    confab::cli::run(cli, settings)
}
