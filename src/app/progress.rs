//! Progress reporting for long stages. A bar appears only once a stage has run for more than a
//! second (short runs stay quiet) and never when the user asked for `--quiet`. When stderr is not a terminal (a
//! batch job's log), where a bar cannot draw, each stage that ran for more than a second ends with a plain line
//! instead: `meshing: done in 2.1 s (0.96 M nodes, ...)`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SHOW_AFTER: Duration = Duration::from_secs(1);

/// One stage's bar over fractions 0..1 with a message; `finish()` clears it.
pub struct Stage {
    bar: ProgressBar,
    finished: Arc<AtomicBool>,
    name: String,
    started: Instant,
    enabled: bool,
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
        Stage { bar, finished, name: name.to_string(), started: Instant::now(), enabled }
    }

    pub fn update(&self, fraction: f64, message: &str) {
        self.bar.set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
        self.bar.set_message(message.to_string());
    }

    pub fn finish(self) {
        self.finished.store(true, Ordering::Release);
        let seconds = self.started.elapsed();
        if self.enabled && seconds >= SHOW_AFTER && !std::io::stderr().is_terminal() {
            let message = self.bar.message();
            let detail = if message.is_empty() { String::new() } else { format!(" ({message})") };
            let _ = writeln!(std::io::stderr(), "{}: done in {:.1} s{detail}", self.name, seconds.as_secs_f64());
        }
        self.bar.finish_and_clear();
    }
}

/// One bar per stage of a step that reports stages and node counts (the mesher: refine, surfaces, tag,
/// quality): a new bar whenever the stage changes, each showing the nodes so far and the rate.
pub struct NodeStages {
    enabled: bool,
    current: Option<(String, Stage, Instant)>,
}

impl NodeStages {
    pub fn new(enabled: bool) -> NodeStages {
        NodeStages { enabled, current: None }
    }

    pub fn update(&mut self, stage: &str, fraction: f64, nodes: usize) {
        if self.current.as_ref().is_none_or(|(name, _, _)| name != stage) {
            if let Some((_, bar, _)) = self.current.take() {
                bar.finish();
            }
            self.current = Some((stage.to_string(), Stage::new(stage, self.enabled), Instant::now()));
        }
        let (_, bar, start) = self.current.as_ref().expect("set above");
        let rate = nodes as f64 / start.elapsed().as_secs_f64().max(1e-9);
        bar.update(fraction, &format!("{:.2} M nodes, {:.2} M nodes/s", nodes as f64 / 1e6, rate / 1e6));
    }

    pub fn finish(mut self) {
        if let Some((_, bar, _)) = self.current.take() {
            bar.finish();
        }
    }
}
