//! `conea config check` and `conea config table`.

use crate::cli::ConfigCommand;
use anyhow::Result;
use conea_core::config::{read_file, Config, RawSettings, Source};
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

pub fn run(file: Option<&Path>, command: ConfigCommand) -> Result<ExitCode> {
    match command {
        ConfigCommand::Check => check(file),
        ConfigCommand::Table => {
            print!("{}", conea_core::config::markdown_table());
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[allow(clippy::disallowed_methods)] // a CLI config entry point: the environment goes to the loader
fn check(file: Option<&Path>) -> Result<ExitCode> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let mut problems = Vec::new();
    let table = match file.map(read_file) {
        Some(Ok(t)) => Some(t),
        Some(Err(p)) => {
            problems.push(p);
            None
        }
        None => None,
    };
    let raw = RawSettings::collect(&env, table.as_ref());
    println!("Effective configuration:");
    for (name, value, source) in Config::describe(&raw) {
        let from = match source {
            Source::Env => "env",
            Source::File => "file",
            Source::Default => "default",
            Source::Unset => "unset",
        };
        println!("  {name:<26} {value}  ({from})");
    }
    if let Err(mut found) = Config::load(&raw) {
        problems.append(&mut found);
    }
    if problems.is_empty() {
        println!("\nNo problems found.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\n{} problem(s):", problems.len());
        for p in &problems {
            println!("  - {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}
