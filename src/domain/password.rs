//! Passwords as typed by a person, before hashing, and the one set of rules
//! a new password must meet: sign-up, `confab createsuperuser` and changing
//! a password all go through [`Password::parse`].
//!
//! The rules are Django's validators in spirit: long enough, not all
//! digits, not the username, and not easy to guess. "Easy to guess" is
//! zxcvbn's estimate (Dropbox's strength estimator, with its lists of
//! common passwords, words, names, keyboard patterns, dates and
//! sequences), not a list of our own: `12345678`, `password1` and
//! `qwertyuiop` are refused, a few unrelated words are not.

use super::Username;
use zxcvbn::Score;

/// Why a password was refused; each message tells a person what to type
/// instead.
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
    /// Only digits: the first thing anyone guesses.
    #[error("the password cannot be only digits; add some letters or words")]
    AllDigits,
    /// The username, in any case, backwards, or with only digits and
    /// symbols (or a letter or three) added.
    #[error("the password is too much like your username")]
    LikeUsername,
    /// zxcvbn guesses it in too few tries; `why` is its own explanation,
    /// when it has one ("This is a top-100 common password.").
    #[error(
        "that password is too easy to guess{}; try a few unrelated words",
        why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default()
    )]
    TooCommon {
        /// zxcvbn's warning, lower-cased and without its full stop.
        why: Option<String>,
    },
}

/// A password that meets the rules. Its `Debug` hides the text.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Shortest accepted password, in characters.
    pub const MIN_CHARS: usize = 8;
    /// Longest accepted password, in bytes.
    pub const MAX_BYTES: usize = 1024;
    /// The weakest zxcvbn score accepted: `Two` is "at least 10^6 guesses",
    /// out of reach of an online guesser that the login throttle holds to
    /// a few tries per quarter-hour.
    const MIN_SCORE: Score = Score::Two;
    /// How much of a password zxcvbn looks at. Its matching grows faster
    /// than the length, and a password this long that is still weak in its
    /// first 64 characters is a repetition zxcvbn sees within them.
    const ESTIMATED_CHARS: usize = 64;
    /// Letters a password needs besides the username in it, so that the
    /// name with digits or symbols around it counts as the name.
    const OTHER_LETTERS: usize = 4;

    /// Accepts a new password for `username`'s account.
    pub fn parse(raw: &str, username: &Username) -> Result<Self, PasswordError> {
        if raw.len() > Self::MAX_BYTES {
            return Err(PasswordError::TooLong);
        }
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        if raw.chars().all(|c| c.is_ascii_digit()) {
            return Err(PasswordError::AllDigits);
        }
        if resembles(raw, username) {
            return Err(PasswordError::LikeUsername);
        }
        let estimated: String = raw.chars().take(Self::ESTIMATED_CHARS).collect();
        let estimate = zxcvbn::zxcvbn(&estimated, &[username.as_str()]);
        if estimate.score() < Self::MIN_SCORE {
            let why = estimate
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| w.to_string().trim_end_matches('.').to_lowercase());
            return Err(PasswordError::TooCommon { why });
        }
        Ok(Password(raw.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether `password` is trivially `username`: the name (in any case,
/// forwards or backwards, whatever the punctuation) with fewer than
/// [`Password::OTHER_LETTERS`] letters besides it: `Alice!`, `a.l.i.c.e`,
/// `ecila`, `alice1990`. A name inside a longer phrase (`admin password`)
/// is left to zxcvbn, which also knows the name.
fn resembles(password: &str, username: &Username) -> bool {
    let letters_and_digits = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let password = letters_and_digits(password);
    let name = letters_and_digits(username.as_str());
    if name.is_empty() {
        return false;
    }
    let backwards: String = name.chars().rev().collect();
    [name, backwards].iter().any(|name| {
        password.contains(name.as_str())
            && password
                .replacen(name.as_str(), "", 1)
                .chars()
                .filter(|c| c.is_alphabetic())
                .count()
                < Password::OTHER_LETTERS
    })
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Username {
        Username::parse("alice").unwrap()
    }

    #[test]
    fn length_rules() {
        assert_eq!(
            Password::parse("short", &alice()).unwrap_err(),
            PasswordError::TooShort
        );
        assert_eq!(
            Password::parse(&"x".repeat(1025), &alice()).unwrap_err(),
            PasswordError::TooLong
        );
        let ok = Password::parse("correct horse", &alice()).unwrap();
        assert_eq!(format!("{ok:?}"), "Password(..)");
    }

    #[test]
    fn all_digits_are_refused() {
        for digits in ["12345678", "84720193746", "00000000"] {
            assert_eq!(
                Password::parse(digits, &alice()).unwrap_err(),
                PasswordError::AllDigits,
                "{digits}"
            );
        }
    }

    #[test]
    fn the_username_is_refused_in_any_disguise() {
        let name = Username::parse("Alice.Smith").unwrap();
        for like in [
            "alice.smith",
            "ALICESMITH",
            "htimsecila",
            "AliceSmith1990!",
            "xxalicesmith",
        ] {
            assert_eq!(
                Password::parse(like, &name).unwrap_err(),
                PasswordError::LikeUsername,
                "{like}"
            );
        }
        // A name inside a phrase is only a word of it.
        assert!(Password::parse("alicesmith keeps violet tugboats", &name).is_ok());
        let admin = Username::parse("admin").unwrap();
        assert!(Password::parse("admin password", &admin).is_ok());
        let al = Username::parse("al").unwrap();
        assert!(Password::parse("metal always rusts", &al).is_ok());
        assert_eq!(
            Password::parse("al-123456", &al).unwrap_err(),
            PasswordError::LikeUsername
        );
    }

    #[test]
    fn common_passwords_are_refused_with_a_reason() {
        for common in [
            "password",
            "password1",
            "qwertyuiop",
            "iloveyou",
            "abcdefgh",
        ] {
            let err = Password::parse(common, &alice()).unwrap_err();
            assert!(
                matches!(err, PasswordError::TooCommon { .. }),
                "{common}: {err:?}"
            );
        }
        let err = Password::parse("password", &alice()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "that password is too easy to guess (this is a top-10 common password); \
             try a few unrelated words"
        );
    }

    #[test]
    fn a_few_unrelated_words_pass() {
        for good in [
            "correct horse battery",
            "correct horse",
            "another password",
            "admin password",
            "bench-password-1",
            "ci-check-password",
        ] {
            assert!(Password::parse(good, &alice()).is_ok(), "{good}");
        }
    }

    #[test]
    fn a_long_password_is_judged_in_good_time() {
        // 1,024 bytes of a weak pattern: refused, after looking at the
        // first 64 characters only.
        let long = "ab".repeat(512);
        assert!(matches!(
            Password::parse(&long, &alice()),
            Err(PasswordError::TooCommon { .. })
        ));
    }
}
