// The UI context belongs to the thread that made it: another thread cannot pump it.
use nonblocking_runtime::ui::UiContext;

fn main() {
    let ui = UiContext::new(|| {});
    std::thread::spawn(move || {
        ui.pump();
    });
}
