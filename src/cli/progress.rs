//! Progress bars on stderr, when it is a terminal: the one place the
//! advance of a rebuild or a benchmark is drawn. Elsewhere the libraries
//! log it as lines.

use crate::ops::rebuild::{Meter, Progress, Unseen};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Bars on a terminal, else nothing drawn.
pub fn on_stderr() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Bars(MultiProgress::new()))
    } else {
        Box::new(Unseen)
    }
}

/// One bar per task, drawn together.
struct Bars(MultiProgress);

impl Progress for Bars {
    fn start(&self, label: &str, done: u64, total: u64) -> Option<Box<dyn Meter>> {
        let bar = self.0.add(ProgressBar::new(total));
        // The template is a constant: it cannot fail, but a plain bar
        // would do if it did.
        let style = ProgressStyle::with_template(
            "{prefix:>14} [{bar:30}] {pos}/{len} events {per_sec} ETA {eta}",
        )
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        bar.set_position(done);
        Some(Box::new(Bar(bar)))
    }
}

struct Bar(ProgressBar);

impl Meter for Bar {
    fn set(&mut self, done: u64) {
        self.0.set_position(done);
    }

    fn finish(&mut self) {
        self.0.finish();
    }

    fn clear(&mut self) {
        self.0.finish_and_clear();
    }
}
