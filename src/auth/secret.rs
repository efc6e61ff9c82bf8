//! The JWT signing secret: configured, or generated once into the data dir.

use std::path::Path;

pub const SECRET_FILE: &str = "jwt-secret";
const MIN_BYTES: usize = 32;

/// The configured secret, else the one in `<data_dir>/jwt-secret`, else a new one
/// written there with mode 0600 (and the log says so).
pub fn load_or_generate(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, String> {
    if let Some(s) = configured {
        if s.len() < MIN_BYTES {
            return Err(format!(
                "the configured JWT secret is {} bytes; at least {MIN_BYTES} are needed",
                s.len()
            ));
        }
        return Ok(s.as_bytes().to_vec());
    }
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let s = s.trim();
            if s.len() < MIN_BYTES {
                return Err(format!(
                    "{} holds fewer than {MIN_BYTES} bytes; delete it to have a new one made",
                    path.display()
                ));
            }
            Ok(s.as_bytes().to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)
                .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
            let secret = hex_random(48);
            crate::files::create_private(&path, secret.as_bytes())?;
            tracing::warn!(path = %path.display(), "no JWT secret configured: generated one (mode 0600); \
                set CLOSURE_AUDIT_JWT_SECRET when several instances share a database");
            Ok(secret.into_bytes())
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// `n` random bytes as lowercase hex.
pub fn hex_random(n: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_generate(None, dir.path()).unwrap();
        let b = load_or_generate(None, dir.path()).unwrap();
        assert_eq!(a, b);
        assert!(a.len() >= 32);
        let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn short_configured_secret_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_or_generate(Some("short"), dir.path()).is_err());
        assert!(load_or_generate(Some(&"k".repeat(32)), dir.path()).is_ok());
    }
}
