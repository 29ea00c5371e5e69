//! What the Backup page shows.

use serde::{Deserialize, Serialize};

/// The state of backups, for the Backup page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupStatus {
    /// The newest backup made, if any.
    pub last: Option<LastBackup>,
}

/// One backup: when, how big, and who asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastBackup {
    pub at_ms: u64,
    pub bytes: u64,
    /// The administrator who downloaded it; `None` when `tessera backup` made it.
    pub downloaded_by: Option<String>,
}

/// A size for people: "812 bytes", "3.4 KB", "12.0 MB", "1.2 GB" (powers of 1,000).
pub fn size_label(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::size_label;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_label(0), "0 bytes");
        assert_eq!(size_label(999), "999 bytes");
        assert_eq!(size_label(1_000), "1.0 KB");
        assert_eq!(size_label(3_449), "3.4 KB");
        assert_eq!(size_label(999_960), "1.0 MB");
        assert_eq!(size_label(12_000_000), "12.0 MB");
        assert_eq!(size_label(1_234_000_000), "1.2 GB");
        assert_eq!(size_label(u64::MAX), "18446744.1 TB");
    }
}
