//! Progress reporting for long stages. A bar appears only once a stage has run for more than a
//! second (short runs stay quiet) and never when the user asked for `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SHOW_AFTER: Duration = Duration::from_secs(1);

/// One stage's bar over fractions 0..1 with a message; `finish()` clears it.
pub struct Stage {
    bar: ProgressBar,
    finished: Arc<AtomicBool>,
}

impl Stage {
    /// `enabled = false` (quiet runs) keeps the bar hidden for good.
    pub fn new(name: &str, enabled: bool) -> Stage {
        let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{elapsed_precise}] {wide_bar} {msg}")
                .expect("static template is valid"),
        );
        bar.set_prefix(name.to_string());
        let finished = Arc::new(AtomicBool::new(false));
        if enabled {
            // Reveal the bar from a timer thread, so stages without updates (a solve) show too.
            let (bar, finished) = (bar.clone(), finished.clone());
            std::thread::spawn(move || {
                std::thread::sleep(SHOW_AFTER);
                if !finished.load(Ordering::Acquire) {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(Duration::from_millis(200));
                }
            });
        }
        Stage { bar, finished }
    }

    pub fn update(&self, fraction: f64, message: &str) {
        self.bar.set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
        self.bar.set_message(message.to_string());
    }

    pub fn finish(self) {
        self.finished.store(true, Ordering::Release);
        self.bar.finish_and_clear();
    }
}
