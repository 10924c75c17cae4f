//! The one Dezky binary: `dezky crds`, `dezky dev` and, as they land, `dezky operator`, `dezky api`,
//! `dezky devcluster` and `dezky simulators`.

mod crds;
mod dev;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Dezky control plane: a declarative reconciler for multi-tenant SSO, mail and files.
#[derive(Parser, Debug)]
#[command(name = "dezky", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the five CustomResourceDefinitions as YAML (or write one file each with --output-dir).
    Crds {
        /// Write `<plural>.dezky.io.yaml` files into this folder instead of printing.
        #[arg(long)]
        output_dir: Option<PathBuf>,
    },
    /// Start the whole platform on this machine (embedded default).
    Dev(dev::DevArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds { output_dir } => crds::run(output_dir.as_deref()),
        Command::Dev(args) => dev::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
