//! The `fake-llm` binary: the fake upstream as a separate process for browser
//! tests and benchmarks. Prints exactly one line with its URL, then serves
//! until killed or interrupted. Flags are parsed by hand: six of them do not
//! justify a dependency.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use fake_llm::{Behavior, Config, FakeLlm};

const USAGE: &str =
    "usage: fake-llm [--port N] [--delay-ms N] [--first-delay-ms N] [--tokens N] [--api-key KEY]
                [--models A,B]

  --port N            port on 127.0.0.1 (0, the default, picks a free one)
  --delay-ms N        delay before every token (default 0)
  --first-delay-ms N  extra delay before the first token (default 0)
  --tokens N          tokens per answer (default 20)
  --api-key KEY       answer 401 unless this key is presented
  --models A,B        the model ids the model list reports (comma-separated)

Prints `fake-llm listening on http://127.0.0.1:PORT` once ready.
Magic words in a question steer one answer: see the crate's README.";

fn parse(args: impl IntoIterator<Item = String>) -> Result<Config, String> {
    let mut config = Config::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // Both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} needs a number, not {value:?}"))
        };
        let behavior: &mut Behavior = &mut config.behavior;
        match flag.as_str() {
            "--port" => {
                config.port =
                    u16::try_from(number()?).map_err(|_| "--port is too large".to_string())?
            }
            "--delay-ms" => behavior.token_delay = Duration::from_millis(number()?),
            "--first-delay-ms" => behavior.first_token_delay = Duration::from_millis(number()?),
            "--tokens" => behavior.tokens = usize::try_from(number()?).unwrap_or(usize::MAX),
            "--api-key" => behavior.api_key = Some(value),
            "--models" => {
                behavior.models = value
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect();
                if behavior.models.is_empty() {
                    return Err("--models needs at least one model id".into());
                }
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(why) if why.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("fake-llm: {why}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let fake = match FakeLlm::try_start(config).await {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("fake-llm: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The one line scripts wait for; flushed because stdout is a pipe there.
    println!("fake-llm listening on {}", fake.url());
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_are_read_in_both_forms() {
        let config = parse(args(&[
            "--port",
            "0",
            "--delay-ms=50",
            "--tokens",
            "5",
            "--api-key",
            "k",
            "--models=fake-gpt, fake-gpt-mini",
        ]))
        .unwrap();
        assert_eq!(config.port, 0);
        assert_eq!(config.behavior.token_delay, Duration::from_millis(50));
        assert_eq!(config.behavior.tokens, 5);
        assert_eq!(config.behavior.api_key.as_deref(), Some("k"));
        assert_eq!(config.behavior.models, ["fake-gpt", "fake-gpt-mini"]);
    }

    #[test]
    fn bad_flags_are_explained() {
        assert!(parse(args(&["--tokens"]))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(args(&["--tokens", "many"]))
            .unwrap_err()
            .contains("number"));
        assert!(parse(args(&["--colour", "red"]))
            .unwrap_err()
            .contains("unknown flag"));
        assert_eq!(parse(args(&["--help"])).unwrap_err(), "");
    }
}
