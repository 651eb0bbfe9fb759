//! A small todo app in egui, built on nonblocking's UI thread context: the Add button calls a
//! server function and its handlers update the list and the status line on the UI thread, a
//! heartbeat counts on the UI thread with `repeat`, the notes field autosaves through a
//! debounced `defer`, and a long import shows its progress in a bar, with a button that
//! cancels it.
//!
//! [`TodoApp`] holds the state and draws it into any `egui::Ui`, so the headless test
//! (`tests/kittest.rs`) drives the same code as the window (`src/main.rs`).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::ui::{UiContext, UiDeferRef, UiRepeatRef};
use nonblocking_runtime::{AsyncCall, CallError, server_function};

/// How long the notes must rest before they are saved.
pub const AUTOSAVE_AFTER: Duration = Duration::from_millis(300);
/// How often the heartbeat counts.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(100);

/// How long an import takes per row.
pub const IMPORT_ROW: Duration = Duration::from_millis(15);

static TODOS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static NOTES_SAVES: AtomicUsize = AtomicUsize::new(0);
static IMPORTS_STOPPED: AtomicUsize = AtomicUsize::new(0);

/// Counts an import stopped before it finished.
struct ImportStopped;

impl Drop for ImportStopped {
    fn drop(&mut self) {
        IMPORTS_STOPPED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Imports `rows` rows, one every [`IMPORT_ROW`], reporting the share done (0 to 1).
#[server_function(name = "todo.import")]
pub async fn import(rows: u32, #[context] progress: Progress<f32>) -> u32 {
    let stopped = ImportStopped;
    for row in 1..=rows {
        tokio::time::sleep(IMPORT_ROW).await;
        progress.report(row as f32 / rows as f32);
    }
    std::mem::forget(stopped);
    rows
}

/// How many imports the server stopped before they finished, for the test.
pub fn imports_stopped() -> usize {
    IMPORTS_STOPPED.load(Ordering::SeqCst)
}

/// Adds an item to the server's list and returns the whole list.
#[server_function(name = "todo.add")]
pub async fn add_todo(title: String) -> Result<Vec<String>, String> {
    // A server takes a moment; the UI must not freeze meanwhile.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let title = title.trim();
    if title.is_empty() {
        return Err("an item needs a title".into());
    }
    let mut todos = TODOS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    todos.push(title.to_owned());
    Ok(todos.clone())
}

/// Saves the notes; returns how many saves the server has seen.
#[server_function(name = "notes.save")]
pub fn save_notes(text: String) -> usize {
    let _ = text;
    NOTES_SAVES.fetch_add(1, Ordering::SeqCst) + 1
}

/// How many times the server saved the notes, for the test.
pub fn notes_saves() -> usize {
    NOTES_SAVES.load(Ordering::SeqCst)
}

/// What the handlers change: shared with them through `Rc<RefCell<_>>`, which is not `Send`.
#[derive(Debug, Default)]
pub struct Shown {
    /// The list as the server last returned it.
    pub items: Vec<String>,
    /// The status line of the Add button: saving, saved, or the error.
    pub status: String,
    /// The notes being typed.
    pub notes: String,
    /// What the last autosave said.
    pub notes_status: String,
    /// Heartbeats counted on the UI thread.
    pub beats: u64,
    /// The running import's share done, as its progress handler last set it.
    pub import_done: f32,
    /// Every share the progress handler was given, in order.
    pub import_reports: Vec<f32>,
    /// What the import said at the end: imported, or why it stopped.
    pub import_status: String,
}

/// The app: its state, and the context whose pump runs the handlers and timer bodies.
pub struct TodoApp {
    ui: Rc<UiContext>,
    shown: Rc<RefCell<Shown>>,
    draft: String,
    autosave: Option<UiDeferRef>,
    heartbeat: UiRepeatRef,
    importing: Option<AsyncCall<u32>>,
}

impl TodoApp {
    /// The app; `wake` asks the GUI for a frame (egui: `ctx.request_repaint()`).
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        let ui = Rc::new(UiContext::new(wake));
        let shown = Rc::new(RefCell::new(Shown::default()));
        let beating = Rc::clone(&shown);
        let heartbeat = ui.repeat(move || beating.borrow_mut().beats += 1, HEARTBEAT_EVERY);
        TodoApp {
            ui,
            shown,
            draft: String::new(),
            autosave: None,
            heartbeat,
            importing: None,
        }
    }

    /// What the handlers have shown so far.
    pub fn shown(&self) -> std::cell::Ref<'_, Shown> {
        self.shown.borrow()
    }

    /// One frame: run what the calls and timers queued for this thread, then draw.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.ui.pump();

        ui.heading("Todo");
        ui.horizontal(|ui| {
            let label = ui.label("New item");
            ui.add(egui::TextEdit::singleline(&mut self.draft))
                .labelled_by(label.id);
            if ui.button("Add").clicked() {
                self.add();
            }
        });
        for item in &self.shown.borrow().items {
            ui.label(format!("• {item}"));
        }
        ui.label(format!("Status: {}", self.shown.borrow().status));

        ui.separator();
        let label = ui.label("Notes (saved when you stop typing)");
        let changed = ui
            .add(egui::TextEdit::multiline(&mut self.shown.borrow_mut().notes).id_salt("notes"))
            .labelled_by(label.id)
            .changed();
        if changed {
            self.notes_changed();
        }
        {
            let shown = self.shown.borrow();
            ui.label(format!("Autosave: {}", shown.notes_status));
            ui.label(format!("Heartbeat: {}", shown.beats));
        }

        ui.separator();
        ui.horizontal(|ui| {
            if ui.button("Import").clicked() {
                self.import();
            }
            let running = self
                .importing
                .as_ref()
                .is_some_and(|call| !call.is_finished());
            let cancel = ui.add_enabled(running, egui::Button::new("Cancel import"));
            if let (true, Some(call)) = (cancel.clicked(), &self.importing) {
                call.cancel();
            }
        });
        let shown = self.shown.borrow();
        ui.add(egui::ProgressBar::new(shown.import_done).show_percentage());
        ui.label(format!("Import: {}", shown.import_status));
    }

    fn import(&mut self) {
        {
            let mut shown = self.shown.borrow_mut();
            shown.import_done = 0.0;
            shown.import_reports.clear();
            shown.import_status = "importing...".into();
        }
        let (bar, done, failed) = (
            Rc::clone(&self.shown),
            Rc::clone(&self.shown),
            Rc::clone(&self.shown),
        );
        // The bar moves on the UI thread, with the latest share each frame.
        let call = call_async_import(40)
            .on_progress_ui(&self.ui, move |share: f32| {
                let mut shown = bar.borrow_mut();
                shown.import_done = share;
                shown.import_reports.push(share);
            })
            .on_result_ui(&self.ui, move |rows| {
                done.borrow_mut().import_status = format!("imported {rows} rows")
            })
            .on_error_ui(&self.ui, move |error| {
                failed.borrow_mut().import_status = format!("stopped: {error}")
            });
        self.importing = Some(call);
    }

    fn add(&mut self) {
        self.shown.borrow_mut().status = "saving...".into();
        let (done, failed) = (Rc::clone(&self.shown), Rc::clone(&self.shown));
        // The three lines of "click -> server function -> update the UI":
        call_async_add_todo(std::mem::take(&mut self.draft))
            .on_result_ui(&self.ui, move |items| done.borrow_mut().saved(items))
            .on_error_ui(&self.ui, move |error| failed.borrow_mut().failed(error));
    }

    fn notes_changed(&mut self) {
        // Each keystroke moves the save; it runs once the typing rests.
        if self
            .autosave
            .as_ref()
            .is_some_and(|pending| pending.reset(AUTOSAVE_AFTER))
        {
            return;
        }
        let shown = Rc::clone(&self.shown);
        // Weak: the body is kept by the context, which must not keep itself alive.
        let context = Rc::downgrade(&self.ui);
        let save = move || {
            let Some(ui) = context.upgrade() else { return };
            let text = shown.borrow().notes.clone();
            let saved = Rc::clone(&shown);
            call_async_save_notes(text).on_result_ui(&ui, move |saves| {
                saved.borrow_mut().notes_status = format!("notes saved (save #{saves})");
            });
        };
        self.autosave = Some(self.ui.defer(save, AUTOSAVE_AFTER));
    }

    /// The heartbeat, for the test.
    pub fn heartbeat(&self) -> &UiRepeatRef {
        &self.heartbeat
    }
}

impl Shown {
    fn saved(&mut self, items: &[String]) {
        self.items = items.to_vec();
        self.status = format!("saved ({} items)", items.len());
    }

    fn failed(&mut self, error: &CallError) {
        self.status = format!("error: {error}");
    }
}
