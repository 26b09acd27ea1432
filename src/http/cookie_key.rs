//! The key that signs and encrypts session cookies: from
//! `CONFAB_SECRET_KEY`, or generated once and kept beside the SQLite file.
//!
//! Start-up calls [`CookieKey::find`] before it opens the database (a bad
//! key file stops it before anything is created), and
//! [`CookieKey::or_generate`] after (so no key is left beside a database
//! that could not be opened). Instances that start together on a new
//! database agree on one key: the file is written atomically, and the
//! second instance takes the first one's.

use crate::config::Settings;
use crate::db::{Backend, sqlite_file};
use actix_web::cookie::Key;
use std::path::{Path, PathBuf};

/// Why there is no usable cookie key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The secret key file could not be read or written.
    #[error(
        "secret key file {path}: {source}; fix that, or set CONFAB_SECRET_KEY so that no file is needed"
    )]
    SecretKey {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The secret key file holds no usable key.
    #[error(
        "secret key file {path} must hold a key of at least 32 bytes in hex (64 hex \
         digits, as `openssl rand -hex 32` prints): {reason}"
    )]
    BadKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with what it holds.
        reason: String,
    },
    /// A database server is configured but no shared cookie key.
    #[error(
        "CONFAB_SECRET_KEY must be set when the database is a server: every instance \
         needs the same key (at least 32 bytes; e.g. `openssl rand -hex 32`)"
    )]
    SecretKeyRequired,
    /// The SQLite database is no file, so a generated key has no place.
    #[error(
        "CONFAB_SECRET_KEY must be set (at least 32 bytes; e.g. `openssl rand -hex 32`) \
         when DATABASE_URL names no SQLite file, as for an in-memory or temporary \
         database: there is no file to keep a generated key beside"
    )]
    NoKeyFile,
}

/// Where a generated key is kept: beside the file SQLite opens, as
/// `<file>.secret`, whatever form of URL names it ([`sqlite_file`]). A
/// database server has no such place (and its instances must share one
/// key), nor has an in-memory database, so there the key must be configured.
fn key_path(settings: &Settings) -> Result<PathBuf, KeyError> {
    let (backend, target) = Backend::from_url(&settings.database_url);
    match backend {
        Backend::Sqlite => {
            let mut name = sqlite_file(&target)
                .ok_or(KeyError::NoKeyFile)?
                .into_os_string();
            name.push(".secret");
            Ok(PathBuf::from(name))
        }
        Backend::Postgres => Err(KeyError::SecretKeyRequired),
    }
}

/// The cookie key as start-up finds it, before the database is opened.
pub enum CookieKey {
    /// From `CONFAB_SECRET_KEY` or the key file.
    Found(Key),
    /// There is no key file yet: one is generated and saved here.
    ToGenerate(PathBuf),
}

impl CookieKey {
    /// The key from `CONFAB_SECRET_KEY`, else from the key file; writes
    /// nothing.
    pub fn find(settings: &Settings) -> Result<Self, KeyError> {
        if let Some(secret) = &settings.secret_key {
            // Length checked when the settings were read.
            return Ok(CookieKey::Found(Key::derive_from(secret.as_bytes())));
        }
        let path = key_path(settings)?;
        Ok(match read_key_file(&path)? {
            Some(key) => CookieKey::Found(key),
            None => CookieKey::ToGenerate(path),
        })
    }

    /// The key, freshly generated and saved if there was none, so sessions
    /// survive restarts. Called once the database is open: the key file's
    /// directory exists then, and no key is left beside a database that
    /// could not be opened.
    pub fn or_generate(self) -> Result<Key, KeyError> {
        let path = match self {
            CookieKey::Found(key) => return Ok(key),
            CookieKey::ToGenerate(path) => path,
        };
        let key = Key::generate();
        match write_private(&path, &hex::encode(key.master())) {
            Ok(()) => {
                log::warn!(
                    "CONFAB_SECRET_KEY is not set: generated a key and saved it to {} \
                     (set CONFAB_SECRET_KEY to share one key between instances)",
                    path.display()
                );
                Ok(Key::derive_from(key.master()))
            }
            // Another instance starting on the same new database saved its
            // key while this one opened the database: take that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                read_key_file(&path)?.ok_or(KeyError::SecretKey { path, source: e })
            }
            Err(source) => Err(KeyError::SecretKey { path, source }),
        }
    }
}

/// The key in the key file at `path`; `None` when there is no such file.
fn read_key_file(path: &Path) -> Result<Option<Key>, KeyError> {
    match std::fs::read(path) {
        Ok(contents) => key_from_file(path, &contents).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyError::SecretKey {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The key in a key file's `contents`: hex, at least 32 bytes, white space
/// around it ignored.
fn key_from_file(path: &Path, contents: &[u8]) -> Result<Key, KeyError> {
    let bad = |reason: String| KeyError::BadKeyFile {
        path: path.to_owned(),
        reason,
    };
    let bytes = hex::decode(contents.trim_ascii()).map_err(|e| bad(e.to_string()))?;
    if bytes.len() < 32 {
        return Err(bad(format!(
            "the key is shorter than 32 bytes ({} bytes)",
            bytes.len()
        )));
    }
    Ok(Key::derive_from(&bytes))
}

/// Writes `contents` to a new file at `path`, readable by its owner only,
/// all at once: it is written beside `path` first and then linked into
/// place, so another instance never reads a half-written key, and
/// `AlreadyExists` means some other instance's complete key is there.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut draft = path.as_os_str().to_owned();
    draft.push(format!(".{:016x}.new", rand::random::<u64>()));
    let draft = PathBuf::from(draft);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&draft)
        .and_then(|mut file| {
            file.write_all(contents.as_bytes())
                .and_then(|()| file.sync_all())
        })
        .and_then(|()| std::fs::hard_link(&draft, path));
    let _ = std::fs::remove_file(&draft);
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(database_url: &str) -> Settings {
        Settings::on_database(database_url)
    }

    #[test]
    fn the_key_file_sits_beside_the_file_sqlite_opens() {
        for (url, key) in [
            ("confab.db", "confab.db.secret"),
            ("/data/confab.db", "/data/confab.db.secret"),
            ("sqlite:///data/confab.db", "/data/confab.db.secret"),
            ("file:confab.db", "confab.db.secret"),
            ("file:/data/confab.db?mode=rwc", "/data/confab.db.secret"),
            ("file:///data/confab.db?mode=rw#x", "/data/confab.db.secret"),
        ] {
            let path = key_path(&settings(url)).map_err(|e| e.to_string());
            assert_eq!(path, Ok(PathBuf::from(key)), "{url}");
        }
    }

    #[test]
    fn a_key_file_must_hold_at_least_32_bytes_of_hex() {
        let path = Path::new("/data/confab.db.secret");
        let key = hex::encode([7u8; 32]);
        assert!(key_from_file(path, format!("{key}\n").as_bytes()).is_ok());
        for (contents, says) in [
            (
                "not a hex key at all".to_owned(),
                "Invalid character 'n' at position 0",
            ),
            ("abc".to_owned(), "Odd number of digits"),
            (
                hex::encode([7u8; 31]),
                "the key is shorter than 32 bytes (31 bytes)",
            ),
            (String::new(), "the key is shorter than 32 bytes (0 bytes)"),
        ] {
            let err = key_from_file(path, contents.as_bytes())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.starts_with(
                    "secret key file /data/confab.db.secret must hold a key of at least \
                     32 bytes in hex"
                ) && err.ends_with(says),
                "{contents:?}: {err}"
            );
        }
    }

    #[test]
    fn a_key_saved_meanwhile_by_another_instance_is_the_one_used() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("confab.db.secret");
        let theirs = [9u8; 64];
        std::fs::write(&path, hex::encode(theirs)).expect("key file written");
        let key = CookieKey::ToGenerate(path.clone())
            .or_generate()
            .expect("the saved key is taken");
        assert_eq!(key.master(), Key::derive_from(&theirs).master());
        assert_eq!(
            std::fs::read_to_string(&path).ok(),
            Some(hex::encode(theirs))
        );
    }

    #[test]
    fn a_database_without_a_file_needs_a_configured_key() {
        for url in [
            ":memory:",
            "file::memory:?cache=shared",
            "file:x.db?mode=memory",
        ] {
            let err = key_path(&settings(url)).err();
            assert!(matches!(err, Some(KeyError::NoKeyFile)), "{url}: {err:?}");
        }
        let err = key_path(&settings("postgres://db/confab")).err();
        assert!(matches!(err, Some(KeyError::SecretKeyRequired)), "{err:?}");
    }
}
