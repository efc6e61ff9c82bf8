//! `closure-audit witness`: the tlog-witness server; `witness pin FILE`.

use closure_audit::Settings;
use closure_audit::witness::http::WitnessServer;
use closure_audit::witness::{Witness, WitnessSettings};
use std::path::Path;

pub fn run(settings: &Settings) -> Result<(), String> {
    let ws = WitnessSettings::from_settings(settings)?;
    actix_web::rt::System::new().block_on(async move {
        let server = WitnessServer::build(&ws)?;
        println!("{}", server.witness.verifier().verifier_key());
        server
            .run_until_stopped()
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("stopped");
        Ok(())
    })
}

pub fn pin(settings: &Settings, note: &Path) -> Result<(), String> {
    let ws = WitnessSettings::from_settings(settings)?;
    let text = std::fs::read_to_string(note)
        .map_err(|e| format!("cannot read {}: {e}", note.display()))?;
    let witness = Witness::open(&ws)?;
    let (origin, size) = witness.pin(&text)?;
    println!("pinned {origin} at size {size}");
    Ok(())
}
