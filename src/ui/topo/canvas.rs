//! A character grid that box-drawing lines are drawn on: each cell keeps which way lines leave
//! it, so two lines that meet become a junction (`┬`, `┼`) instead of overwriting each other.
//!
//! A whole estate's diagram is thousands of cells wide and its runs-on lines share the channels
//! between layers, so the same cells are crossed by hundreds of lines. Horizontal relation lines
//! are therefore only recorded as where they start and end, per row, and laid onto the grid in
//! one pass over the row when the canvas is finished: drawing costs the lines plus the cells,
//! not the lines times their lengths.

/// Which kind of thing a cell belongs to; the view turns it into a theme style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tag {
    #[default]
    Blank,
    /// A relation's line.
    Edge,
    /// A node's border or text, by the node's health.
    Node(super::layout::Health),
    /// The root cause's border and text.
    Root,
    /// A collapsed group of siblings.
    Group,
}

/// One drawn cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub ch: char,
    pub tag: Tag,
}

const UP: u8 = 1;
const DOWN: u8 = 2;
const LEFT: u8 = 4;
const RIGHT: u8 = 8;

/// The grid while it is drawn; [`Canvas::finish`] turns it into cells.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    bits: Vec<u8>,
    double: Vec<bool>,
    text: Vec<char>,
    tags: Vec<Tag>,
    /// Per row, horizontal relation lines as running counts: `+1` where lines going right (or
    /// left) start covering cells, `-1` past their end; `width + 1` entries a row, made on the
    /// first such line.
    runs_right: Vec<i32>,
    runs_left: Vec<i32>,
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Canvas {
        let n = width * height;
        Canvas {
            width,
            height,
            bits: vec![0; n],
            double: vec![false; n],
            text: vec!['\0'; n],
            tags: vec![Tag::Blank; n],
            runs_right: Vec::new(),
            runs_left: Vec::new(),
        }
    }

    /// Records a horizontal relation line on row `y` from `a` to `b` (`a < b`): cells `a..b` get
    /// a line leaving right, `a+1..=b` one leaving left (as [`Canvas::mark`] would, cell by cell).
    fn run(&mut self, a: usize, b: usize, y: usize) {
        if y >= self.height || a >= self.width {
            return;
        }
        let stride = self.width + 1;
        if self.runs_right.is_empty() {
            self.runs_right = vec![0; stride * self.height];
            self.runs_left = vec![0; stride * self.height];
        }
        let row = y * stride;
        let b = b.min(self.width);
        self.runs_right[row + a] += 1;
        self.runs_right[row + b] -= 1;
        if a + 1 < self.width {
            self.runs_left[row + a + 1] += 1;
            self.runs_left[row + (b + 1).min(self.width)] -= 1;
        }
    }

    /// Lays the recorded horizontal lines onto the grid.
    fn lay_runs(&mut self) {
        if self.runs_right.is_empty() {
            return;
        }
        let stride = self.width + 1;
        for y in 0..self.height {
            let (mut right, mut left) = (0i32, 0i32);
            for x in 0..self.width {
                right += self.runs_right[y * stride + x];
                left += self.runs_left[y * stride + x];
                let bits = if right > 0 { RIGHT } else { 0 } | if left > 0 { LEFT } else { 0 };
                if bits != 0 {
                    let i = y * self.width + x;
                    self.bits[i] |= bits;
                    if self.tags[i] == Tag::Blank {
                        self.tags[i] = Tag::Edge;
                    }
                }
            }
        }
    }

    fn at(&self, x: usize, y: usize) -> Option<usize> {
        (x < self.width && y < self.height).then_some(y * self.width + x)
    }

    fn mark(&mut self, x: usize, y: usize, bits: u8, tag: Tag, double: bool) {
        if let Some(i) = self.at(x, y) {
            self.bits[i] |= bits;
            self.double[i] |= double;
            if tag != Tag::Edge || self.tags[i] == Tag::Blank {
                self.tags[i] = tag;
            }
        }
    }

    /// A line through `points`, each step along one axis (a corner where it turns).
    pub fn path(&mut self, points: &[(usize, usize)], tag: Tag) {
        self.path_styled(points, tag, false);
    }

    fn path_styled(&mut self, points: &[(usize, usize)], tag: Tag, double: bool) {
        for pair in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            if y0 == y1 {
                let (a, b) = (x0.min(x1), x0.max(x1));
                if tag == Tag::Edge && !double {
                    if a < b {
                        self.run(a, b, y0);
                    }
                    continue;
                }
                for x in a..b {
                    self.mark(x, y0, RIGHT, tag, double);
                    self.mark(x + 1, y0, LEFT, tag, double);
                }
            } else if x0 == x1 {
                let (a, b) = (y0.min(y1), y0.max(y1));
                for y in a..b {
                    self.mark(x0, y, DOWN, tag, double);
                    self.mark(x0, y + 1, UP, tag, double);
                }
            }
        }
    }

    /// A box `w` by `h` cells with its top-left corner at `(x, y)`; `double` for `╔═╗`.
    pub fn rect(&mut self, x: usize, y: usize, w: usize, h: usize, tag: Tag, double: bool) {
        let (r, b) = (x + w - 1, y + h - 1);
        self.path_styled(&[(x, y), (r, y), (r, b), (x, b), (x, y)], tag, double);
    }

    /// Text from `(x, y)` on, over whatever lines are there; one cell a character (characters
    /// wider than one cell are drawn as `?`, so the grid stays a grid).
    pub fn text(&mut self, x: usize, y: usize, text: &str, tag: Tag) {
        for (i, c) in text.chars().enumerate() {
            if let Some(at) = self.at(x + i, y) {
                self.text[at] = if crate::ui::views::text_width(c.encode_utf8(&mut [0u8; 4])) == 1 { c } else { '?' };
                self.tags[at] = tag;
            }
        }
    }

    pub fn finish(mut self) -> Vec<Cell> {
        self.lay_runs();
        (0..self.bits.len())
            .map(|i| {
                let ch = if self.text[i] != '\0' { self.text[i] } else { glyph(self.bits[i], self.double[i]) };
                Cell { ch, tag: self.tags[i] }
            })
            .collect()
    }
}

/// The box-drawing character for the directions lines leave a cell.
fn glyph(bits: u8, double: bool) -> char {
    if double {
        let d = match bits {
            b if b == RIGHT | DOWN => Some('╔'),
            b if b == LEFT | DOWN => Some('╗'),
            b if b == RIGHT | UP => Some('╚'),
            b if b == LEFT | UP => Some('╝'),
            b if b == LEFT | RIGHT => Some('═'),
            b if b == LEFT | RIGHT | UP => Some('╧'),
            b if b == LEFT | RIGHT | DOWN => Some('╤'),
            b if b == UP | DOWN => Some('║'),
            b if b == UP | DOWN | RIGHT => Some('╟'),
            b if b == UP | DOWN | LEFT => Some('╢'),
            _ => None,
        };
        if let Some(c) = d {
            return c;
        }
    }
    match bits {
        0 => ' ',
        b if b & !(UP | DOWN) == 0 => '│',
        b if b & !(LEFT | RIGHT) == 0 => '─',
        b if b == RIGHT | DOWN => '┌',
        b if b == LEFT | DOWN => '┐',
        b if b == RIGHT | UP => '└',
        b if b == LEFT | UP => '┘',
        b if b == UP | DOWN | RIGHT => '├',
        b if b == UP | DOWN | LEFT => '┤',
        b if b == LEFT | RIGHT | DOWN => '┬',
        b if b == LEFT | RIGHT | UP => '┴',
        _ => '┼',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(canvas: Canvas) -> Vec<String> {
        let w = canvas.width;
        let cells = canvas.finish();
        cells.chunks(w).map(|r| r.iter().map(|c| c.ch).collect()).collect()
    }

    #[test]
    fn lines_meeting_a_box_make_junctions() {
        let mut c = Canvas::new(7, 5);
        c.rect(1, 1, 5, 3, Tag::Root, false);
        c.path(&[(3, 0), (3, 1)], Tag::Edge);
        c.path(&[(5, 2), (6, 2)], Tag::Edge);
        c.text(2, 2, "ab", Tag::Root);
        assert_eq!(rows(c), vec!["   │   ", " ┌─┴─┐ ", " │ab ├─", " └───┘ ", "       "]);
        let mut c = Canvas::new(5, 3);
        c.rect(0, 0, 5, 3, Tag::Root, true);
        c.path(&[(2, 0), (2, 0)], Tag::Edge);
        assert_eq!(rows(c), vec!["╔═══╗", "║   ║", "╚═══╝"]);
    }
}
