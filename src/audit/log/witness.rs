//! The witness file: every checkpoint this instance signs, appended outside
//! the database.

use super::{Log, view};
use crate::audit::checkpoint::SignedCheckpoint;
use crate::db::now_micros;

impl Log {
    pub(super) fn witness(&self, cp: &SignedCheckpoint) {
        let Some(path) = &self.witness else { return };
        let line = serde_json::to_string(&view(cp, now_micros())).expect("json");
        if let Err(e) = crate::files::append_line(path, &line) {
            tracing::error!(path = %path.display(), error = %e, "cannot append to the checkpoint witness file");
        }
    }
}
