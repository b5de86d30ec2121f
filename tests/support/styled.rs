//! A drawn screen as reviewable text, for snapshot tests: the rows as the user reads them, then
//! the style runs (`row col..col fg bg modifiers`, adjacent equal cells merged, the default style
//! left out), so that a change of words and a change of colours both show in a snapshot's diff.
//! Included with `#[path]` by the test files that use it, so it is not a test crate of its own.

use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier};
use ratatui::text::Span;

/// The screen's rows (trailing blanks cut), a separator, then one line per style run.
pub fn styled_text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = format!("{}x{}\n", area.width, area.height);
    for y in 0..area.height {
        out.push_str(row_text(buffer, y).trim_end());
        out.push('\n');
    }
    out.push_str("---- styles: row col..col fg bg modifiers (default style omitted)\n");
    for y in 0..area.height {
        for run in style_runs(buffer, y) {
            out.push_str(&run);
            out.push('\n');
        }
    }
    out
}

/// Row `y` as text: a wide symbol's hidden continuation cells are left out, as a terminal shows it.
fn row_text(buffer: &Buffer, y: u16) -> String {
    let mut text = String::new();
    let mut hidden = 0;
    for x in 0..buffer.area.width {
        if hidden > 0 {
            hidden -= 1;
            continue;
        }
        let symbol = buffer[(x, y)].symbol();
        text.push_str(symbol);
        hidden = Span::raw(symbol).width().saturating_sub(1);
    }
    text
}

/// The style a cell is drawn in, as written in a run; `None` for the terminal's default.
fn style_of(cell: &Cell) -> Option<String> {
    if cell.fg == Color::Reset && cell.bg == Color::Reset && cell.modifier.is_empty() {
        return None;
    }
    let modifiers = if cell.modifier.is_empty() { "-".to_string() } else { modifier_names(cell.modifier) };
    Some(format!("{} {} {}", color_name(cell.fg), color_name(cell.bg), modifiers))
}

/// Row `y`'s runs of equally styled cells, as `row from..to style` (columns inclusive).
fn style_runs(buffer: &Buffer, y: u16) -> Vec<String> {
    let mut runs = Vec::new();
    let mut open: Option<(u16, String)> = None;
    let mut close = |from: u16, to: u16, style: String| runs.push(format!("{y:>3} {from:>3}..{to:<3} {style}"));
    for x in 0..buffer.area.width {
        let style = style_of(&buffer[(x, y)]);
        match (&open, style) {
            (Some((_, current)), Some(s)) if *current == s => {}
            (_, style) => {
                if let Some((from, current)) = open.take() {
                    close(from, x - 1, current);
                }
                open = style.map(|s| (x, s));
            }
        }
    }
    if let Some((from, current)) = open {
        close(from, buffer.area.width - 1, current);
    }
    runs
}

/// `#rrggbb`, `i203` for a palette index, `-` for the default, else the colour's name.
fn color_name(color: Color) -> String {
    match color {
        Color::Reset => "-".to_string(),
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => format!("i{i}"),
        named => format!("{named:?}").to_lowercase(),
    }
}

/// `bold+reversed`.
fn modifier_names(modifier: Modifier) -> String {
    modifier.iter_names().map(|(name, _)| name.to_lowercase()).collect::<Vec<_>>().join("+")
}
