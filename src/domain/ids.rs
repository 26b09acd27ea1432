//! Database ids, one type per table so they cannot be mixed up.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A row of `users`.
    UserId(i32)
);
id_type!(
    /// A row of `rooms`.
    RoomId(i32)
);
id_type!(
    /// A row of `messages`; increases with every message stored, so within
    /// one room it orders messages too.
    MessageId(i32)
);
