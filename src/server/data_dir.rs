//! Who may read the data directory: the server's own account, no one else. It holds every
//! password hash, every personal record, the set-password links of imports and the (hashed)
//! sessions, so the directory is made 0700 and every file in it 0600, and a directory found
//! wider than that is named in a warning at start.
//!
//! A wider directory is not tightened here: its modes are the operator's (a group-readable
//! directory may be on purpose, for a file-level backup agent in that group), and changing
//! them behind their back would break such a set-up without a word. The warning says what to
//! run instead.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Makes every file and directory this process creates readable by its own account only
/// (0600 and 0700), whatever umask it was started with. The store creates its files itself, without
/// a mode, so this is the one place that covers them; the binary calls it first, for every
/// command (each may create the directory, a backup file or the control socket).
pub fn restrict_umask() {
    // SAFETY: umask takes no pointer and cannot fail; it sets the process's file-creation
    // mask, which only the files created afterwards see.
    unsafe {
        libc::umask(0o077);
    }
}

/// Creates the data directory `dir` with mode 0700 (its missing parents as the umask says).
/// An existing directory is left as it is ([`permission_warning`] names it when it is wider).
pub fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// Entries under `dir` (and `dir` itself) that accounts other than the owner may read, write
/// or enter, with their modes, `dir` first. Sockets and symbolic links are passed over (the
/// control socket is made again at each start, in a 0700 directory); so is what cannot be read.
pub fn wide_entries(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut wide = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&d) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            wide.push((d.clone(), mode));
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if meta.is_file() {
                let mode = meta.permissions().mode() & 0o7777;
                if mode & 0o077 != 0 {
                    wide.push((entry.path(), mode));
                }
            }
        }
    }
    wide
}

/// The warning for a data directory that others may read, if `dir` (or anything in it) is
/// wider than 0700 for directories and 0600 for files: one line naming the first such path
/// and its mode, and the command that fixes it. `None` when it is private or does not exist.
pub fn permission_warning(dir: &Path) -> Option<String> {
    let wide = wide_entries(dir);
    let (path, mode) = wide.first()?;
    let more = match wide.len() - 1 {
        0 => String::new(),
        1 => " and 1 more entry in it".to_string(),
        n => format!(" and {n} more entries in it"),
    };
    Some(format!(
        "the data directory {} can be read by other accounts on this machine: {} has mode \
         {mode:04o}{more}; it holds password hashes and personal data. Fix it with: chmod -R \
         go= {}",
        dir.display(),
        path.display(),
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_is_private_and_an_existing_one_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("data");
        create_private(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        create_private(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        create_private(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750, "not tightened behind the operator's back");
        let file = root.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(create_private(&file).is_err(), "a file is not a directory");
    }

    #[test]
    fn the_warning_names_the_first_wide_entry_and_the_fix() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        create_private(&dir).unwrap();
        assert_eq!(permission_warning(&dir), None);
        assert_eq!(permission_warning(&root.path().join("missing")), None);
        let db = dir.join("db");
        std::fs::write(&db, b"x").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(permission_warning(&dir), None);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let w = permission_warning(&dir).unwrap();
        assert!(
            w.contains(&format!("{} has mode 0644;", db.display())),
            "{w}"
        );
        assert!(
            w.contains(&format!("chmod -R go= {}", dir.display())),
            "{w}"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let w = permission_warning(&dir).unwrap();
        assert!(
            w.contains(&format!("{} has mode 0755 and 1 more entry", dir.display())),
            "{w}"
        );
    }
}
