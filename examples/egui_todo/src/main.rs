//! The todo app in a window: `cargo run -p nonblocking-egui-todo`.

use nonblocking_egui_todo::TodoApp;

struct Window(TodoApp);

impl eframe::App for Window {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| self.0.show(ui));
    }
}

fn main() -> eframe::Result {
    eframe::run_native(
        "nonblocking todo",
        eframe::NativeOptions::default(),
        Box::new(|creation| {
            let egui = creation.egui_ctx.clone();
            // Handlers, the heartbeat and the autosave queue work for this thread: ask for a
            // frame, whose `show` pumps it.
            Ok(Box::new(Window(TodoApp::new(move || {
                egui.request_repaint()
            }))))
        }),
    )
}
