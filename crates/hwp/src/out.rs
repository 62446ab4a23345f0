//! The text being built: byte cap, blank-line collapsing.

/// The text is full: stop reading.
#[derive(Debug)]
pub(crate) struct Full;

pub(crate) struct Out {
    text: String,
    max: usize,
    truncated: bool,
    /// '\n's at the end of `text`; starts high so leading blank lines are dropped.
    newlines: usize,
}

/// At most this many '\n' in a row: two blank lines.
const MAX_NEWLINES: usize = 3;

impl Out {
    pub(crate) fn new(max: usize) -> Out {
        Out {
            text: String::new(),
            max,
            truncated: false,
            newlines: MAX_NEWLINES,
        }
    }

    pub(crate) fn push(&mut self, c: char) -> Result<(), Full> {
        if self.truncated {
            return Err(Full);
        }
        if c == '\n' {
            if self.newlines >= MAX_NEWLINES {
                return Ok(());
            }
            self.newlines += 1;
        } else {
            self.newlines = 0;
        }
        if self.text.len() + c.len_utf8() > self.max {
            self.truncated = true;
            return Err(Full);
        }
        self.text.push(c);
        Ok(())
    }

    pub(crate) fn push_str(&mut self, s: &str) -> Result<(), Full> {
        s.chars().try_for_each(|c| self.push(c))
    }

    /// Ends the current line unless the text is empty or already ends one.
    pub(crate) fn end_line(&mut self) -> Result<(), Full> {
        if self.newlines == 0 {
            self.push('\n')
        } else {
            Ok(())
        }
    }

    pub(crate) fn finish(self, sections: u32) -> crate::Text {
        crate::Text {
            text: self.text,
            truncated: self.truncated,
            sections,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_blank_lines_and_drops_leading_ones() {
        let mut o = Out::new(100);
        o.push_str("\n\na\n\n\n\n\n\nb\n").unwrap();
        assert_eq!(o.finish(1).text, "a\n\n\nb\n");
    }

    #[test]
    fn cuts_on_char_boundary() {
        let mut o = Out::new(7);
        assert!(o.push_str("가나다").is_err());
        let t = o.finish(1);
        assert_eq!(t.text, "가나");
        assert!(t.truncated);
    }
}
