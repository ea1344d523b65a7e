//! Files written whole or not at all, and read no further than they should be.
//!
//! - [`write_atomically`]: the bytes go to a new temporary file in the same directory, under a
//!   name no other writer uses, created exclusively (so a link planted at that name is never
//!   followed); the file is synced, renamed over the destination, and the directory synced. A
//!   reader of the destination sees the old file or the new one, never a part; a failure at
//!   any point leaves the old file as it was and removes the temporary one.
//! - [`read_bounded`]: refuses what is not a regular file (a device, a named pipe, a
//!   directory) before opening it, and reads at most one byte more than the caller expects.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes a file at `path` holding what `write` writes, atomically (see the module's
/// documentation). If `path` is a symbolic link, the link itself is replaced by the new file
/// (its target is not written); a read-only file is replaced as any other (the directory's
/// permissions decide), as `tempfile`'s `persist` does. The new file has the permissions a new
/// file gets in that directory.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let (temporary, mut file) = create_temporary(path)?;
    let result = write(&mut file)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            fs::rename(&temporary, path)
        })
        .and_then(|()| sync_directory(directory_of(path)));
    if result.is_err() {
        // the rename, if it happened, is all that mattered; otherwise nothing is left behind
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// Whether a file can be written at `path` by [`write_atomically`]: its directory exists and
/// takes a new file (made and removed at once).
pub(crate) fn check_writable(path: &Path) -> io::Result<()> {
    let (temporary, file) = create_temporary(path)?;
    drop(file);
    fs::remove_file(temporary)
}

/// Reads the regular file at `path`, refusing anything else, and at most `limit + 1` bytes of
/// it: the caller tells a file longer than `limit` by the length it gets.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    // before opening: opening a named pipe for reading waits for a writer
    ensure_regular(path, &fs::metadata(path)?)?;
    let file = File::open(path)?;
    // and after: the path may have changed in between
    ensure_regular(path, &file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn ensure_regular(path: &Path, metadata: &fs::Metadata) -> io::Result<()> {
    if metadata.is_file() {
        return Ok(());
    }
    let kind = if metadata.is_dir() {
        "a directory"
    } else {
        "not a regular file (a device, a named pipe or a socket)"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is {kind}", path.display()),
    ))
}

/// The directory `path` is in (`.` for a bare name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// The `n`-th candidate temporary name for `path`: hidden, in the same directory, unique to
/// this process and this candidate.
fn temporary_name(path: &Path, n: u64) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    directory_of(path).join(name)
}

/// Candidates handed out so far, by all threads of this process.
static CANDIDATES: AtomicU64 = AtomicU64::new(0);

/// A new temporary file for `path`, created exclusively (`O_CREAT | O_EXCL`: an existing file
/// or link at the name is an error, never opened or followed), and its name.
fn create_temporary(path: &Path) -> io::Result<(PathBuf, File)> {
    // A name taken (by a leftover of an earlier process with the same id, or by someone
    // else's file) is passed over; a hundred taken in a row is not chance.
    for _ in 0..100 {
        let name = temporary_name(path, CANDIDATES.fetch_add(1, Ordering::Relaxed));
        match OpenOptions::new().write(true).create_new(true).open(&name) {
            Ok(file) => return Ok((name, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "no free temporary name beside {} after 100 tries",
            path.display()
        ),
    ))
}

/// Makes the rename durable: syncs the directory (on Unix; elsewhere the rename is what the
/// system makes of it).
fn sync_directory(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A directory of its own under the system's temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("typenet-atomic-{}-{name}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_write_that_fails_midway_leaves_the_old_file_and_no_temporary_one() {
        let dir = Scratch::new("midway");
        let path = dir.0.join("model");
        fs::write(&path, b"the old model").unwrap();
        for fail_after in [0, 1, 5, 100] {
            // a disk that fails after `fail_after` bytes
            let err = write_atomically(&path, |file| {
                let new = vec![7u8; 1000];
                file.write_all(&new[..fail_after.min(new.len())])?;
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            })
            .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull);
            assert_eq!(fs::read(&path).unwrap(), b"the old model");
            let names: Vec<_> = fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap()).collect();
            assert_eq!(names.len(), 1, "only the model is left: {names:?}");
        }
        write_atomically(&path, |file| file.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_at_the_next_temporary_names_are_never_followed() {
        let dir = Scratch::new("planted");
        let path = dir.0.join("model");
        let target = dir.0.join("victim");
        fs::write(&target, b"not yours").unwrap();
        // every name the next ten candidates could take
        let next = CANDIDATES.load(Ordering::Relaxed);
        for n in next..next + 10 {
            std::os::unix::fs::symlink(&target, temporary_name(&path, n)).unwrap();
        }
        write_atomically(&path, |file| file.write_all(b"model")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"not yours");
        assert_eq!(fs::read(&path).unwrap(), b"model");
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_before_it_is_read() {
        let dir = Scratch::new("irregular");
        let err = read_bounded(&dir.0, 100).unwrap_err();
        assert!(err.to_string().ends_with("is a directory"), "{err}");
        #[cfg(unix)]
        {
            let err = read_bounded(Path::new("/dev/zero"), 100).unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        let file = dir.0.join("f");
        fs::write(&file, [1u8; 50]).unwrap();
        assert_eq!(
            read_bounded(&file, 10).unwrap().len(),
            11,
            "the limit and one byte"
        );
        assert_eq!(read_bounded(&file, 50).unwrap().len(), 50);
    }
}
