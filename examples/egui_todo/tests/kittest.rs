//! The todo app driven headless through its UI with egui_kittest: the Add button's call and its
//! UI-thread handlers, the error path, the debounced autosave and the heartbeat.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use nonblocking_egui_todo::{AUTOSAVE_AFTER, IMPORT_ROW, TodoApp, imports_stopped, notes_saves};

fn harness() -> Harness<'static, TodoApp> {
    // The window would repaint on wake-up; here the test steps frames itself.
    Harness::new_ui_state(|ui, app: &mut TodoApp| app.show(ui), TodoApp::new(|| {}))
}

/// Steps frames until `done` holds, for at most 10 s (a loaded 2-core machine).
fn step_until(harness: &mut Harness<'_, TodoApp>, what: &str, done: impl Fn(&TodoApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
        harness.step();
    }
}

#[test]
fn click_add_calls_the_server_and_the_handler_updates_the_list_and_status() {
    let mut harness = harness();
    harness.get_by_label("New item").focus();
    harness.step();
    harness.get_by_label("New item").type_text("buy milk");
    harness.step();
    harness.get_by_label("Add").click();
    harness.step();
    assert_eq!(harness.state().shown().status, "saving...");
    step_until(&mut harness, "the saved status", |app| {
        app.shown().status.starts_with("saved")
    });
    assert!(
        harness
            .state()
            .shown()
            .items
            .contains(&"buy milk".to_owned())
    );
    harness.step();
    // What the handler changed is what the window draws.
    harness.get_by_label_contains("Status: saved");
    harness.get_by_label("• buy milk");
}

#[test]
fn an_empty_item_shows_the_servers_error() {
    let mut harness = harness();
    harness.get_by_label("Add").click();
    harness.step();
    step_until(&mut harness, "the error", |app| {
        app.shown().status.starts_with("error")
    });
    assert_eq!(
        harness.state().shown().status,
        "error: an item needs a title"
    );
    harness.step();
    harness.get_by_label("Status: error: an item needs a title");
}

#[test]
fn typing_faster_than_the_debounce_saves_once() {
    let mut harness = harness();
    let notes = "Notes (saved when you stop typing)";
    harness.get_by_label(notes).focus();
    harness.step();
    let before = notes_saves();
    let started = Instant::now();
    for letter in "twenty characters!!!".chars() {
        harness.get_by_label(notes).type_text(&letter.to_string());
        harness.step();
    }
    assert!(
        started.elapsed() < AUTOSAVE_AFTER,
        "the typing took {:?}, longer than the debounce: the test proves nothing",
        started.elapsed()
    );
    assert_eq!(harness.state().shown().notes, "twenty characters!!!");
    step_until(&mut harness, "the autosave", |app| {
        !app.shown().notes_status.is_empty()
    });
    // Rest for two more debounce periods: no second save comes.
    let rest = Instant::now();
    while rest.elapsed() < AUTOSAVE_AFTER * 2 {
        std::thread::sleep(Duration::from_millis(10));
        harness.step();
    }
    assert_eq!(notes_saves() - before, 1, "twenty keystrokes, one save");
    assert!(
        harness
            .state()
            .shown()
            .notes_status
            .starts_with("notes saved")
    );
}

#[test]
fn the_heartbeat_advances_on_the_ui_thread() {
    let mut harness = harness();
    step_until(&mut harness, "three heartbeats", |app| {
        app.shown().beats >= 3
    });
    assert!(harness.state().heartbeat().calls() >= 3);
    harness.step();
    harness.get_by_label_contains("Heartbeat: ");
}

#[test]
fn import_moves_the_progress_bar_to_the_end_before_the_result() {
    let mut harness = harness();
    harness.get_by_label("Import").click();
    harness.step();
    step_until(&mut harness, "the import's end", |app| {
        app.shown().import_status.starts_with("imported")
    });
    let shown = harness.state().shown();
    assert_eq!(shown.import_status, "imported 40 rows");
    let reports = shown.import_reports.clone();
    assert_eq!(shown.import_done, 1.0);
    drop(shown);
    assert!(
        reports.len() >= 2,
        "the bar moved while it ran: {reports:?}"
    );
    assert!(
        reports.windows(2).all(|pair| pair[0] < pair[1]),
        "monotonic: {reports:?}"
    );
    assert_eq!(
        reports.last(),
        Some(&1.0),
        "it reaches the end: {reports:?}"
    );
    harness.step();
    harness.get_by_label_contains("Import: imported 40 rows");
}

#[test]
fn cancel_import_stops_it_where_it_was() {
    let mut harness = harness();
    let before = imports_stopped();
    harness.get_by_label("Import").click();
    harness.step();
    step_until(&mut harness, "a quarter of the import", |app| {
        app.shown().import_done >= 0.25
    });
    harness.get_by_label("Cancel import").click();
    harness.step();
    step_until(&mut harness, "the cancellation", |app| {
        app.shown().import_status.starts_with("stopped")
    });
    assert_eq!(imports_stopped(), before + 1, "the import was stopped");
    let at = harness.state().shown().import_done;
    // A few more row-times: the bar stays where it was.
    let rest = Instant::now();
    while rest.elapsed() < IMPORT_ROW * 5 {
        std::thread::sleep(Duration::from_millis(5));
        harness.step();
    }
    assert_eq!(harness.state().shown().import_done, at);
    assert!(at < 1.0, "stopped part way: {at}");
    harness.get_by_label_contains("Import: stopped");
}
