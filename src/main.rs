//! `cadet`: detect T1651 Cloud Administration Command in CloudTrail and Azure events.
//!
//! This binary only wires: it parses arguments, reads inputs and hands records to
//! `cadet-core`. See `cadet --help` and the README for the contract.

mod detect;
mod input;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Format;

/// Detects MITRE ATT&CK T1651 (Cloud Administration Command): SSM Run Command, Session Manager,
/// State Manager, Automation, and Azure Run Command, extensions and Automation runbooks.
#[derive(Debug, Parser)]
#[command(name = "cadet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score events from files, directories or stdin and print verdicts.
    Detect(DetectArgs),
    /// Policy files: validate, or print the commented default.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Debug, clap::Args)]
struct DetectArgs {
    /// Files or directories (walked for *.json, *.jsonl, *.ndjson, *.gz, *.log); `-` or
    /// nothing reads stdin.
    paths: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Print a verdict for every recognized event, not only those at or above the policy's
    /// alert severity.
    #[arg(long)]
    all: bool,
    /// Baseline store: `memory` or a path to a state file.
    #[arg(long, default_value = "memory")]
    state: String,
    /// Policy file (TOML); default: the built-in policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Colour in the text table: auto (TTY only, honours NO_COLOR), always, never.
    #[arg(long, default_value = "auto")]
    color: ColorChoice,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a policy file; errors name the key and line.
    Check {
        /// Policy file.
        file: PathBuf,
    },
    /// Print the commented default policy.
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Detect(args) => {
            let colour = match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    use std::io::IsTerminal;
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            let opts = detect::Options {
                paths: args.paths,
                format: args.format,
                all: args.all,
                state: args.state,
                policy: args.policy,
                colour,
            };
            match detect::run(&opts) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => match std::fs::read_to_string(&file) {
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                ExitCode::from(1)
            }
            Ok(text) => match cadet_core::Policy::from_toml(&text) {
                Ok(_) => {
                    println!("ok: {} is a valid cadet policy", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    ExitCode::from(1)
                }
            },
        },
        Command::Policy {
            command: PolicyCommand::Default,
        } => {
            print!("{}", cadet_core::DEFAULT_POLICY);
            ExitCode::SUCCESS
        }
    }
}
