//! `closure-audit migrate-data`: the work is the library's
//! (`closure_audit::migrate_data`); this prints its summary.

use closure_audit::Settings;

pub fn run(settings: &Settings, from: &str, to: &str) -> Result<(), String> {
    closure_audit::migrate_data::run(settings, from, to).map(|s| print!("{s}"))
}
