//! Files the service keeps beside the database (signing keys, the JWT secret,
//! the witness file), written so that a crash or power cut cannot leave them
//! half there: each write is flushed to disk (`fsync`), and a new file's
//! folder too, before the file is first used.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Flushes the folder holding `path`, so that a file just created in it survives
/// a power cut.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `path` (mode 0600; it must not exist) holding `contents`, flushed to
/// disk with its folder before this returns.
pub fn create_private(path: &Path, contents: &[u8]) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    f.write_all(contents).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    sync_parent(path).map_err(fail)
}

/// Creates `path` empty when it does not exist (flushed with its folder);
/// whether it was created.
pub fn ensure_exists(path: &Path) -> std::io::Result<bool> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => {
            f.sync_all()?;
            sync_parent(path)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Appends `line` and a newline in one write, flushed to disk before this
/// returns. A line torn by an earlier crash (the file not ending in a newline)
/// is ended first, so that the torn part stays a line of its own.
pub fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let created = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    let len = f.metadata()?.len();
    let mut last = [b'\n'; 1];
    if len > 0 {
        f.read_exact_at(&mut last, len - 1)?;
    }
    let text = if last[0] != b'\n' {
        format!("\n{line}\n")
    } else {
        format!("{line}\n")
    };
    f.write_all(text.as_bytes())?;
    f.sync_data()?;
    if created {
        sync_parent(path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_line_is_ended_before_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.ndjson");
        append_line(&p, "{\"a\":1}").unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"{\"tor")
            .unwrap();
        append_line(&p, "{\"b\":2}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"tor\n{\"b\":2}\n"
        );
        assert!(!ensure_exists(&p).unwrap());
        create_private(&dir.path().join("k"), b"seed").unwrap();
        assert!(create_private(&dir.path().join("k"), b"seed").is_err());
    }
}
