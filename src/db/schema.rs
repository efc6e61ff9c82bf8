//! The tables, one portable description for both backends. Timestamps are
//! microseconds since the Unix epoch (UTC) in `BIGINT`: identical on SQLite and
//! PostgreSQL, exact, and cheap to index and compare.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        role -> Text,
        rank -> Nullable<Text>,
        officer_id -> Nullable<Text>,
        force_id -> Nullable<Text>,
        active -> Bool,
        password_hash -> Text,
        /// Raised when the user is deactivated or changes password; a token
        /// carries the generation it was issued under and dies with it.
        token_generation -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        username -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        leaf_index -> Nullable<BigInt>,
        leaf_hash -> Nullable<Text>,
        at -> BigInt,
        action -> Text,
        actor_user_id -> Nullable<Text>,
        actor_username -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        actor_rank -> Nullable<Text>,
        actor_force_id -> Nullable<Text>,
        closure_id -> Nullable<Text>,
        force_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        details -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(users, login_failures, audit_events);
