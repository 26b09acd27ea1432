//! How results leave the generator: a table for people on stdout, then the
//! same result as one JSON line (also appended to `--json-out` if given),
//! which `plot` and BENCHMARKS.md are made from.

use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Prints `title` and aligned `name  value` rows.
pub fn print_table(title: &str, rows: &[(&str, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("\n{title}");
    println!("{}", "-".repeat(title.len().max(20)));
    for (name, value) in rows {
        println!("{name:<width$}  {value}");
    }
}

/// Prints `result` as one JSON line and appends it to `json_out`.
pub fn emit<T: Serialize>(result: &T, json_out: Option<&Path>) -> anyhow::Result<()> {
    let line = serde_json::to_string(result)?;
    println!("{line}");
    if let Some(path) = json_out {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{line}")?;
    }
    Ok(())
}

/// A count with thousands separators: `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
