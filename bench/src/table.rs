//! Tables, printed aligned for the terminal and as Markdown for
//! docs/benchmarks.md.

/// A titled table of strings.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Heading.
    pub title: String,
    /// Column names.
    pub headers: Vec<String>,
    /// Rows (as many cells as headers).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(title: &str, headers: &[&str]) -> Table {
        Table {
            title: title.to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(x) = w.get_mut(i) {
                    *x = (*x).max(c.chars().count());
                }
            }
        }
        w
    }

    /// Aligned text: first column left, the others right.
    pub fn text(&self) -> String {
        let w = self.widths();
        let line = |cells: &[String]| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let width = w.get(i).copied().unwrap_or(0);
                    if i == 0 {
                        format!("{c:<width$}")
                    } else {
                        format!("{c:>width$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        let mut out = format!("{}\n{}\n", self.title, line(&self.headers));
        out.push_str(&format!(
            "{}\n",
            "-".repeat(w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1))
        ));
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }

    /// GitHub Markdown (no title).
    pub fn markdown(&self) -> String {
        let cells = |c: &[String]| format!("| {} |\n", c.join(" | ").replace('\n', " "));
        let mut out = cells(&self.headers);
        let sep: Vec<String> = (0..self.headers.len())
            .map(|i| {
                if i == 0 {
                    "---".to_owned()
                } else {
                    "---:".to_owned()
                }
            })
            .collect();
        out.push_str(&cells(&sep));
        for r in &self.rows {
            out.push_str(&cells(r));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_and_markdown() {
        let mut t = Table::new("T", &["name", "ms"]);
        t.row(vec!["ham".into(), "0.5".into()]);
        t.row(vec!["runit".into(), "12.25".into()]);
        assert_eq!(
            t.text(),
            "T\nname      ms\n------------\nham      0.5\nrunit  12.25\n"
        );
        assert_eq!(
            t.markdown(),
            "| name | ms |\n| --- | ---: |\n| ham | 0.5 |\n| runit | 12.25 |\n"
        );
    }
}
