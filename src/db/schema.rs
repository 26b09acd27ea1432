// @generated automatically by Diesel CLI.

diesel::table! {
    audit_log (id) {
        id -> Integer,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        target -> Text,
        room -> Nullable<Text>,
        reason -> Text,
        detail -> Text,
    }
}

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
    reports (id) {
        id -> Integer,
        message_id -> BigInt,
        room_id -> Integer,
        reporter_id -> Integer,
        reason -> Text,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        resolved_by -> Nullable<Integer>,
        resolution -> Nullable<Text>,
    }
}

diesel::table! {
    room_aliases (name) {
        name -> Text,
        room_id -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    room_moderators (room_id, user_id) {
        room_id -> Integer,
        user_id -> Integer,
        appointed_at -> Timestamp,
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
        locked -> Bool,
        invite_only -> Bool,
        slow_mode_secs -> Integer,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sanctions (id) {
        id -> Integer,
        room_id -> Integer,
        user_id -> Integer,
        kind -> Text,
        reason -> Text,
        created_by -> Nullable<Integer>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        lifted_at -> Nullable<Timestamp>,
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
        deactivated_at -> Nullable<Timestamp>,
        must_change_password -> Bool,
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
diesel::joinable!(reports -> messages (message_id));
diesel::joinable!(reports -> rooms (room_id));
diesel::joinable!(reports -> users (reporter_id));
diesel::joinable!(room_aliases -> rooms (room_id));
diesel::joinable!(room_moderators -> rooms (room_id));
diesel::joinable!(room_moderators -> users (user_id));
diesel::joinable!(sanctions -> rooms (room_id));
diesel::joinable!(sanctions -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    memberships,
    mentions,
    messages,
    reactions,
    reports,
    room_aliases,
    room_moderators,
    rooms,
    sanctions,
    sessions,
    users,
);
