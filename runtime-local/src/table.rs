//! Aligned tables for people.

use std::fmt;

use dd0c_ports::domain::{actor_name, format_usd};
use dd0c_ports::ledger::ResourceView;

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

    /// Adds a column at the right, before any row.
    pub fn column(&mut self, name: &'static str, align: Align) {
        self.columns.push((name, align));
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

/// `role/ci-deployer (job-42)` from the actor's ARN and session: what a person recognizes.
pub fn short_actor(arn: &str, session: Option<&str>) -> String {
    match session {
        Some(s) => format!("{} ({s})", actor_name(arn)),
        None => actor_name(arn),
    }
}

/// Followed resources, one a row: where, what, who made it, what it does now and its cost.
pub fn resources(views: &[ResourceView]) -> String {
    if views.is_empty() {
        return "No resources followed yet.\n".to_owned();
    }
    let mut table = Table::new(&[
        ("ACCOUNT", Align::Left),
        ("REGION", Align::Left),
        ("RESOURCE", Align::Left),
        ("WHAT", Align::Left),
        ("CREATED (UTC)", Align::Left),
        ("BY", Align::Left),
        ("NOW", Align::Left),
        ("$/HOUR", Align::Right),
        ("COST", Align::Right),
    ]);
    for v in views {
        let now = match &v.ended {
            Some(ended) => format!(
                "ended {}{}",
                ended.at.format("%Y-%m-%d %H:%M"),
                ended
                    .by
                    .as_ref()
                    .map(|m| format!(" by {}", actor_name(&m.actor_arn)))
                    .unwrap_or_default()
            ),
            None if v.running => "running".to_owned(),
            None => "stopped".to_owned(),
        };
        table.row(vec![
            v.account_id.clone(),
            v.region.clone(),
            v.resource_id.clone(),
            format!("{} × {}", v.quantity, v.resource_type),
            v.created.as_ref().map_or("—".to_owned(), |m| {
                m.at.format("%Y-%m-%d %H:%M").to_string()
            }),
            v.created
                .as_ref()
                .map_or("—".to_owned(), |m| actor_name(&m.actor_arn)),
            now,
            format_usd(v.hourly_now_usd),
            format_usd(v.cost_so_far_usd),
        ]);
    }
    let burn: f64 = views.iter().map(|v| v.hourly_now_usd).sum();
    format!(
        "{table}\n{} resources; {}/hour running now.\n",
        views.len(),
        format_usd(burn)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
