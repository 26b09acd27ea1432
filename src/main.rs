//! The `confab` binary: parse the command line, read the configuration,
//! start logging, and hand over to the library.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = confab::cli::Cli::parse();
    let settings = confab::config::Settings::from_env()?;
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    confab::cli::run(cli, settings)
}
