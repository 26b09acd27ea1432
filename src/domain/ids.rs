//! Database ids, one type per table so they cannot be mixed up.
//!
//! Each id is its own type all the way from the database to the wire:
//! queries take and return them, rows hold them, frames carry them, so
//! passing a room's id where a message's belongs does not compile. Each
//! also says, once, which SQL type stores it; widening one (say message
//! ids to 64 bits) is a change of its line here, plus the migration and the
//! regenerated schema.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty) as $sql:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = diesel::sql_types::$sql)]
        pub struct $name(pub $inner);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        // Stored as the plain integer, on every backend.
        impl<DB: Backend> ToSql<diesel::sql_types::$sql, DB> for $name
        where
            $inner: ToSql<diesel::sql_types::$sql, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<diesel::sql_types::$sql, DB> for $name
        where
            $inner: FromSql<diesel::sql_types::$sql, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                <$inner>::from_sql(bytes).map($name)
            }
        }
    };
}

id_type!(
    /// A row of `users`.
    UserId(i32) as Integer
);
id_type!(
    /// A row of `rooms`.
    RoomId(i32) as Integer
);
id_type!(
    /// A row of `sessions`: one signed-in browser, from its login to its
    /// logout or expiry (not a WebSocket connection, which is a
    /// [`SessionId`](crate::actors::delivery::SessionId)). 64-bit: every
    /// login takes a new one.
    LoginId(i64) as BigInt
);
id_type!(
    /// A row of `messages`; increases with every message stored, so within
    /// one room it orders messages too.
    MessageId(i64) as BigInt
);

impl MessageId {
    /// The id just before this one: the floor of a window that starts with
    /// this message.
    pub fn previous(self) -> Self {
        MessageId(self.0 - 1)
    }
}
