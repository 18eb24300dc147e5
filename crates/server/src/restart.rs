//! `-e <file>`: the cache survives a graceful restart.
//!
//! As memcached 1.6.45 does it: only a graceful stop (SIGUSR1, or `shutdown graceful` with
//! `-A`) saves; SIGTERM, SIGINT and plain `shutdown` do not. The next start with the same
//! `-e` loads the file and then removes it, so that a crash later on cannot bring back items
//! deleted or changed in between (memcached likewise unlinks its `<file>.meta` as it reads
//! it). The file's format is ferrocache's own: see `ferrocache_storage`'s `persist` module.
//!
//! Log lines start with `[restart]`, as memcached's do.

use ferrocache_storage::Store;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Reads and writes go through buffers this large: whole pages of the file per system call.
const BUF: usize = 1 << 20;

/// Where a save is written before it is renamed over `path`: a stop that dies half-way
/// leaves the previous file (or none) in place, never a torn one.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Checks at start that the file can be written where `-e` says: a server that finds out
/// only when it stops would lose the cache it was asked to keep. (memcached aborts when it
/// cannot open the file.)
pub(crate) fn check_writable(path: &Path) -> io::Result<()> {
    let temp = temp_path(path);
    let made = open_temp(&temp);
    let _ = std::fs::remove_file(&temp);
    made.map(drop).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "[restart] cannot write the memory file {} (-e): {e}",
                path.display()
            ),
        )
    })
}

fn open_temp(temp: &Path) -> io::Result<File> {
    // Only the server's user reads the cache's contents, as with memcached's files.
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(temp)
}

fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{}", now.as_secs(), now.subsec_micros())
}

/// memcached's line when it finds no save of its own to load, word for word and whatever
/// the verbosity: operators grep for it.
const NO_SAVE: &str = "[restart] no metadata save file, starting with a clean cache";

/// Loads the file into a new store, before any client is served, and removes it. Any
/// problem with the file is logged and the server starts empty; only a file that cannot be
/// removed after a load is an error (see the module notes).
pub(crate) fn load(store: &Store, path: &Path) -> io::Result<()> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            eprintln!("{NO_SAVE}");
            return Ok(());
        }
        Err(e) => {
            tracing::warn!(
                "[restart] could not open the memory file {}: {e}; starting with a clean cache",
                path.display()
            );
            return Ok(());
        }
    };
    tracing::info!("[restart] recovery start [{}]", timestamp());
    let started = Instant::now();
    let result = store.load(&mut BufReader::with_capacity(BUF, file));
    tracing::info!("[restart] recovery end [{}]", timestamp());
    let remove = match &result {
        Ok(report) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            tracing::info!(
                "[restart] loaded {} items from {} in {} ms (saved {} s ago)",
                report.loaded,
                path.display(),
                started.elapsed().as_millis(),
                now.saturating_sub(report.saved_at),
            );
            if report.expired > 0 {
                tracing::info!(
                    "[restart] {} items expired or were flushed while the server was down",
                    report.expired
                );
            }
            if report.too_large + report.no_memory > 0 {
                tracing::warn!(
                    "[restart] dropped {} items larger than -I and {} items over -m",
                    report.too_large,
                    report.no_memory
                );
            }
            true
        }
        Err(e) => {
            if matches!(e, ferrocache_storage::LoadError::Foreign) {
                // No save of ours: what memcached says when it finds no save of its own
                // (its mmapped file, at this path, is such a foreign file).
                eprintln!("{NO_SAVE}");
            }
            tracing::warn!(
                "[restart] refused the memory file {}: {e}; starting with a clean cache",
                path.display()
            );
            // A file of ours that cannot be loaded is worth nothing; someone else's file is
            // left alone.
            e.is_ours()
        }
    };
    if remove {
        std::fs::remove_file(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "[restart] could not remove the memory file {} after reading it: {e}; \
                     stopping rather than risk loading it again after a crash",
                    path.display()
                ),
            )
        })?;
    }
    Ok(())
}

/// Writes the store to `path` (through a temporary file renamed over it), once every
/// connection is closed.
pub(crate) fn save(store: &Store, path: &Path) -> io::Result<()> {
    let started = Instant::now();
    let temp = temp_path(path);
    let result = (|| {
        let file = open_temp(&temp)?;
        let mut out = BufWriter::with_capacity(BUF, file);
        let report = store.save(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        // On disk, the data must be there before the name points at it.
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok::<_, io::Error>(report)
    })();
    match result {
        Ok(report) => {
            tracing::info!(
                "[restart] saved {} items ({} bytes) to {} in {} ms",
                report.items,
                report.file_bytes,
                path.display(),
                started.elapsed().as_millis()
            );
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(io::Error::new(
                e.kind(),
                format!(
                    "[restart] failed to save the memory file {}: {e}",
                    path.display()
                ),
            ))
        }
    }
}
