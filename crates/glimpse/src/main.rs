//! `glimpse`: the command-line entry point. All behaviour lives in the
//! libraries; this file only dispatches sub-commands.

use std::path::Path;

const USAGE: &str = "usage: glimpse <command> [options]

commands:
  api            run the Image API service (the drop-in for glance-api)
  sample-config  print every option with its default, as a commented glance-api.conf
  manage         database administration: manage [--config-file F] db sync|version|check
  policy         policy sample: print the default policy rules as a commented policy.yaml

Run `glimpse <command> --help` for a command's options.";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let invoked_as = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("glimpse")
        .to_string();
    // A `glance-api` symlink to this binary behaves like glance-api.
    if invoked_as == "glance-api" {
        std::process::exit(glimpse_api::command::api_main(&args[1..]));
    }
    let code = match args.get(1).map(String::as_str) {
        Some("api") => glimpse_api::command::api_main(&args[2..]),
        Some("manage") => glimpse_db::manage::manage_main(&args[2..]),
        Some("policy") => glimpse_api::command::policy_main(&args[2..]),
        Some("sample-config") => match glimpse_api::command::sample_config() {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(e) => {
                eprintln!("ERROR: {e}");
                e.exit_code()
            }
        },
        Some("--version") | Some("version") => {
            println!("glimpse {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("-h") | Some("--help") | Some("help") => {
            println!("{USAGE}");
            0
        }
        Some(other) => {
            eprintln!("{USAGE}\nglimpse: error: unknown command {other:?}");
            2
        }
        None => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}
