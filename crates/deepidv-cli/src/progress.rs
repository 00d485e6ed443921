//! Progress on stderr while a wait runs: a spinner when stderr is a terminal,
//! plain lines when asked to (the demo), nothing otherwise.

use std::time::{Duration, Instant};

use deepidv_core::Event;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::render::Style;

/// How progress is shown.
#[derive(Debug)]
pub struct Progress {
    spinner: Option<ProgressBar>,
    /// Print each status change as a line on stderr (kept above the spinner if there is one).
    lines: bool,
    start: Instant,
    style: Style,
    label: String,
}

impl Progress {
    /// `spinner`: stderr is a terminal. `lines`: print status changes as lines too.
    pub fn new(spinner: bool, lines: bool, style: Style) -> Self {
        let spinner = spinner.then(|| {
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let template = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            pb.set_style(template);
            pb.enable_steady_tick(Duration::from_millis(100));
            pb
        });
        Self {
            spinner,
            lines,
            start: Instant::now(),
            style,
            label: String::new(),
        }
    }

    /// Sets what the spinner says (e.g. `creating a screening`).
    pub fn label(&mut self, label: impl Into<String>) {
        self.label = label.into();
        if let Some(pb) = &self.spinner {
            pb.set_message(self.label.clone());
        }
    }

    /// A line on stderr, above the spinner if there is one.
    pub fn line(&self, text: &str) {
        match &self.spinner {
            Some(pb) => pb.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Observes one event of the core's machine.
    pub fn event(&mut self, event: &Event) {
        match event {
            Event::Status(job) => {
                let status = self.style.safe(job.status_str());
                self.label(format!("job {}: {status}", self.style.safe(&job.job_id)));
                if self.lines {
                    let secs = self.start.elapsed().as_secs_f64();
                    self.line(&format!("[{secs:5.1}s] {}", self.label));
                }
            }
            Event::Retrying {
                failures,
                delay,
                error,
            } => {
                if let Some(pb) = &self.spinner {
                    pb.set_message(format!(
                        "{} — retry {failures} in {:.1}s: {}",
                        self.label,
                        delay.as_secs_f64(),
                        error.message()
                    ));
                }
            }
            _ => {}
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        if let Some(pb) = &self.spinner {
            pb.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
