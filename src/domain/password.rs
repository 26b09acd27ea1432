//! Passwords as typed by a person, before hashing.

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`Password::MIN_CHARS`] characters.
    #[error(
        "the password must be at least {} characters long",
        Password::MIN_CHARS
    )]
    TooShort,
    /// More than [`Password::MAX_BYTES`] bytes: hashing it would be a cheap
    /// way to burn server CPU.
    #[error("the password can be at most {} bytes long", Password::MAX_BYTES)]
    TooLong,
}

/// A password that meets the length rules. Its `Debug` hides the text.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Shortest accepted password, in characters.
    pub const MIN_CHARS: usize = 8;
    /// Longest accepted password, in bytes.
    pub const MAX_BYTES: usize = 1024;

    /// Accepts a password for a new account.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        if raw.len() > Self::MAX_BYTES {
            return Err(PasswordError::TooLong);
        }
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        Ok(Password(raw.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules() {
        assert_eq!(
            Password::parse("short").unwrap_err(),
            PasswordError::TooShort
        );
        assert_eq!(
            Password::parse(&"x".repeat(1025)).unwrap_err(),
            PasswordError::TooLong
        );
        let ok = Password::parse("correct horse").unwrap();
        assert_eq!(format!("{ok:?}"), "Password(..)");
    }
}
