// @generated automatically by Diesel CLI.

diesel::table! {
    memberships (user_id, room_id) {
        user_id -> Integer,
        room_id -> Integer,
        last_read_id -> BigInt,
        joined_at -> Timestamp,
    }
}

diesel::table! {
    mentions (message_id, user_id) {
        message_id -> BigInt,
        user_id -> Integer,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        room_id -> Integer,
        user_id -> Integer,
        content -> Text,
        created_at -> Timestamp,
        edited_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        client_id -> Nullable<Text>,
        reply_to -> Nullable<BigInt>,
    }
}

diesel::table! {
    reactions (id) {
        id -> BigInt,
        message_id -> BigInt,
        user_id -> Integer,
        emoji -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rooms (id) {
        id -> Integer,
        name -> Text,
        admin_only -> Bool,
        created_at -> Timestamp,
        created_by -> Nullable<Integer>,
        direct_a -> Nullable<Integer>,
        direct_b -> Nullable<Integer>,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        key_hash -> Text,
        user_id -> Integer,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        username -> Text,
        password_hash -> Text,
        is_staff -> Bool,
        created_at -> Timestamp,
        username_folded -> Nullable<Text>,
        username_skeleton -> Nullable<Text>,
    }
}

diesel::joinable!(memberships -> rooms (room_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(mentions -> messages (message_id));
diesel::joinable!(mentions -> users (user_id));
diesel::joinable!(messages -> rooms (room_id));
diesel::joinable!(messages -> users (user_id));
diesel::joinable!(reactions -> messages (message_id));
diesel::joinable!(reactions -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    memberships,
    mentions,
    messages,
    reactions,
    rooms,
    sessions,
    users,
);
