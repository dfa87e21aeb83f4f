//! The command line: exit codes and formats, through `run_cli`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::Parser;
use mamori_scan::{run_cli, ScanArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ScanArgs,
}

fn args(v: &[&str]) -> ScanArgs {
    Cli::parse_from(std::iter::once("scan").chain(v.iter().copied())).args
}

#[test]
fn formats_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("orders.log");
    std::fs::write(&data, "2024-05-01 card=4556 7375 8689 9855 exp 12/27\n").unwrap();
    let clean = dir.path().join("clean.log");
    std::fs::write(&clean, "tel 090-1234-5678\n").unwrap();

    for fmt in ["human", "jsonl", "sarif"] {
        let out = dir.path().join(format!("report.{fmt}"));
        let code = run_cli(args(&[
            "--no-progress",
            "--format",
            fmt,
            "-o",
            out.to_str().unwrap(),
            data.to_str().unwrap(),
        ]));
        assert_eq!(code, 1, "{fmt}");
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("455673******9855"), "{fmt}");
        assert!(
            !text.contains("4556737586899855") && !text.contains("4556 7375 8689 9855"),
            "{fmt} leaks the number"
        );
        match fmt {
            "jsonl" => {
                let lines: Vec<serde_json::Value> = text
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                assert_eq!(lines[0]["type"], "finding");
                assert_eq!(lines[0]["brand"], "Visa");
                assert_eq!(lines[0]["line"], 1);
                assert_eq!(lines.last().unwrap()["type"], "summary");
            }
            "sarif" => {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["version"], "2.1.0");
                assert_eq!(v["runs"][0]["results"][0]["ruleId"], "card-number");
                assert_eq!(v["runs"][0]["results"][0]["level"], "error");
                assert_eq!(
                    v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
                        ["startLine"],
                    1
                );
            }
            _ => assert!(text.contains("1 findings")),
        }
    }
    let out = dir.path().join("clean.txt");
    assert_eq!(
        run_cli(args(&[
            "--no-progress",
            "-o",
            out.to_str().unwrap(),
            clean.to_str().unwrap()
        ])),
        0
    );
    let missing = dir.path().join("missing");
    assert_eq!(
        run_cli(args(&[
            "--no-progress",
            "-o",
            out.to_str().unwrap(),
            missing.to_str().unwrap()
        ])),
        2
    );
}
