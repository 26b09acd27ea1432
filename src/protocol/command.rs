//! Slash commands typed into the message box.

use crate::domain::{NameError, Username};

/// `/pm <user> <text>`: a private message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateCommand {
    /// Who it is for.
    pub target: Username,
    /// What to say (not yet checked for length).
    pub text: String,
}

/// Why a `/pm` command was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// `/pm` without a user or without text.
    #[error("usage: /pm <user> <message>")]
    Usage,
    /// The user part is not a valid username.
    #[error("{0}")]
    BadUser(#[from] NameError),
}

impl PrivateCommand {
    /// `None` when `text` is an ordinary message; otherwise the command or
    /// why it is malformed.
    pub fn parse(text: &str) -> Option<Result<Self, CommandError>> {
        let rest = text.strip_prefix("/pm")?;
        // "/pmx" is an ordinary message; "/pm" alone or "/pm " is a command.
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            return None;
        }
        let rest = rest.trim_start();
        let Some((user, body)) = rest.split_once(char::is_whitespace) else {
            return Some(Err(CommandError::Usage));
        };
        let body = body.trim_start();
        if body.trim().is_empty() {
            return Some(Err(CommandError::Usage));
        }
        Some(
            Username::parse(user)
                .map(|target| PrivateCommand {
                    target,
                    text: body.to_owned(),
                })
                .map_err(CommandError::from),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pm_splits_user_and_text() {
        let cmd = PrivateCommand::parse("/pm bob  hi there ")
            .unwrap()
            .unwrap();
        assert_eq!(cmd.target.as_str(), "bob");
        assert_eq!(cmd.text, "hi there ");
    }

    #[test]
    fn ordinary_messages_are_not_commands() {
        assert_eq!(PrivateCommand::parse("hello /pm bob x"), None);
        assert_eq!(PrivateCommand::parse("/pmbob hi"), None);
    }

    #[test]
    fn malformed_pm_is_a_usage_error() {
        for text in ["/pm", "/pm ", "/pm bob", "/pm bob   "] {
            assert_eq!(
                PrivateCommand::parse(text),
                Some(Err(CommandError::Usage)),
                "{text:?}"
            );
        }
        assert!(matches!(
            PrivateCommand::parse("/pm b<b> hi"),
            Some(Err(CommandError::BadUser(_)))
        ));
    }
}
