//! Aligned tables for people, and the formatting of money and actors in them.

use std::fmt;

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Longest cell shown; longer ones are cut with an ellipsis.
const MAX_CELL: usize = 48;

/// A table rendered with two spaces between columns.
#[derive(Debug)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| cut(&c, MAX_CELL)).collect());
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut shown: String = text.chars().take(max - 1).collect();
    shown.push('…');
    shown
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([name.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, cells: &[&str]| -> fmt::Result {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = " ".repeat(widths[i] - cell.chars().count());
                match self.columns[i].1 {
                    Align::Left => text.push_str(&format!("{cell}{pad}")),
                    Align::Right => text.push_str(&format!("{pad}{cell}")),
                }
                text.push_str("  ");
            }
            writeln!(f, "{}", text.trim_end())
        };
        let headers: Vec<&str> = self.columns.iter().map(|(name, _)| *name).collect();
        line(f, &headers)?;
        for row in &self.rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            line(f, &cells)?;
        }
        Ok(())
    }
}

/// `$1,234.56`, or `$0.0052` for sub-dollar amounts that would otherwise read as zero.
pub fn money(usd: f64) -> String {
    if usd != 0.0 && usd.abs() < 1.0 {
        return format!("${usd:.4}");
    }
    let cents = (usd * 100.0).round() as i64;
    let (whole, frac) = (cents / 100, (cents % 100).abs());
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if whole < 0 { "-" } else { "" };
    format!("{sign}${grouped}.{frac:02}")
}

/// `role/ci-deployer (job-42)` from the actor's ARN and session: what a person recognizes.
pub fn short_actor(arn: &str, session: Option<&str>) -> String {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or(arn);
    let name = match resource.split_once('/') {
        Some((kind, path)) => format!("{kind}/{}", path.rsplit('/').next().unwrap_or(path)),
        None => resource.to_owned(),
    };
    match session {
        Some(s) => format!("{name} ({s})"),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_naturally() {
        assert_eq!(money(95_695.344), "$95,695.34");
        assert_eq!(money(1_000.0), "$1,000.00");
        assert_eq!(money(0.0052), "$0.0052");
        assert_eq!(money(0.0), "$0.00");
        assert_eq!(money(12.5), "$12.50");
    }

    #[test]
    fn actors_are_shortened_to_what_people_recognize() {
        assert_eq!(
            short_actor(
                "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/Admin",
                Some("ana")
            ),
            "role/Admin (ana)"
        );
        assert_eq!(
            short_actor("arn:aws:iam::111122223333:user/bob", None),
            "user/bob"
        );
        assert_eq!(
            short_actor("autoscaling.amazonaws.com", None),
            "autoscaling.amazonaws.com"
        );
        assert_eq!(short_actor("arn:aws:iam::111122223333:root", None), "root");
    }

    #[test]
    fn tables_align_and_cut_long_cells() {
        let mut t = Table::new(&[("A", Align::Left), ("N", Align::Right)]);
        t.row(vec!["x".repeat(60), "1".into()]);
        t.row(vec!["y".into(), "100".into()]);
        let text = t.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].len(), lines[1].chars().count());
        assert!(lines[1].contains('…'));
        assert!(lines[2].ends_with("100"));
    }
}
