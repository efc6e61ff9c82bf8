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
    /// When throttling of a user name was last recorded as an event.
    login_throttles (username) {
        username -> Text,
        since -> BigInt,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
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

diesel::table! {
    closures (id) {
        id -> Text,
        force_id -> Text,
        source_event_id -> Text,
        division -> Nullable<Text>,
        crime_reference -> Text,
        offence_category -> Text,
        home_office_offence_code -> Nullable<Text>,
        domestic_abuse_flag -> Bool,
        outcome_code -> Integer,
        named_suspect -> Bool,
        crime_recorded_at -> BigInt,
        closure_proposed_at -> BigInt,
        proposed_by_officer_id -> Text,
        proposed_by_rank -> Text,
        rationale -> Text,
        victim_wishes_recorded -> Nullable<Bool>,
        evidence_led_prosecution_considered -> Nullable<Bool>,
        safeguarding_in_place -> Nullable<Bool>,
        victim_informed -> Nullable<Bool>,
        risk_level -> Nullable<Text>,
        /// JSON array of strings.
        evidence_references -> Text,
        victim_sex -> Nullable<Text>,
        victim_age_band -> Nullable<Text>,
        victim_ethnicity -> Nullable<Text>,
        victim_disability -> Nullable<Text>,
        victim_religion_or_belief -> Nullable<Text>,
        victim_sexual_orientation -> Nullable<Text>,
        victim_gender_reassignment -> Nullable<Text>,
        victim_marriage_or_civil_partnership -> Nullable<Text>,
        victim_pregnancy_or_maternity -> Nullable<Text>,
        /// The flags joined by `;`, as in the CSV export.
        review_flags -> Text,
        content_hash -> Text,
        status -> Text,
        version -> BigInt,
        received_at -> BigInt,
        received_by_user_id -> Text,
        /// The latest decision, kept beside the closure for the exports.
        decision -> Nullable<Text>,
        decided_by_user_id -> Nullable<Text>,
        decided_by_officer_id -> Nullable<Text>,
        decided_by_rank -> Nullable<Text>,
        decided_at -> Nullable<BigInt>,
        decision_rationale -> Nullable<Text>,
    }
}

diesel::table! {
    decisions (id) {
        id -> BigInt,
        closure_id -> Text,
        decision -> Text,
        by_user_id -> Text,
        by_officer_id -> Text,
        by_rank -> Text,
        rationale -> Text,
        /// JSON object of the four checklist items.
        checklist -> Text,
        decided_at -> BigInt,
    }
}

diesel::table! {
    volumes (force_id, division, month, offence_category) {
        force_id -> Text,
        /// Empty for the force as a whole.
        division -> Text,
        month -> Text,
        offence_category -> Text,
        finalised_total -> BigInt,
        updated_at -> BigInt,
        updated_by_user_id -> Text,
    }
}

diesel::table! {
    merkle_leaves (leaf_index) {
        leaf_index -> BigInt,
        seq -> BigInt,
        /// Hex SHA-256(0x00 || canonical event bytes).
        leaf_hash -> Text,
    }
}

diesel::table! {
    checkpoints (tree_size) {
        tree_size -> BigInt,
        root_hash -> Text,
        key_id -> Text,
        /// Base64 of the raw 64-byte Ed25519 signature.
        signature -> Text,
        /// The C2SP signed note.
        note -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    log_state (id) {
        id -> Integer,
        watermark -> BigInt,
        /// Leaves the tiles hold.
        tree_size -> BigInt,
    }
}

diesel::table! {
    /// Full tiles: 256 hashes of 32 bytes, as tlog-tiles serves them.
    merkle_tiles (level, tile_index) {
        level -> Integer,
        tile_index -> BigInt,
        hashes -> Binary,
    }
}

diesel::table! {
    /// Each level's partial tile: fewer than 256 hashes.
    merkle_tile_tails (level) {
        level -> Integer,
        tile_index -> BigInt,
        hashes -> Binary,
    }
}

diesel::table! {
    /// The trend summary by month and force (migration 000013).
    trend_cells (month, force_id) {
        month -> Text,
        force_id -> Text,
        closures -> BigInt,
        outcome_15 -> BigInt,
        outcome_16 -> BigInt,
        signed_off -> BigInt,
        rejected -> BigInt,
        pending -> BigInt,
        reopened -> BigInt,
        flagged -> BigInt,
        hours_version -> BigInt,
    }
}

diesel::table! {
    /// Hours to decision per summary cell, in buckets of 1/1000 h.
    trend_hours (month, force_id, bucket) {
        month -> Text,
        force_id -> Text,
        bucket -> BigInt,
        n -> BigInt,
    }
}

diesel::table! {
    trend_versions (shard) {
        shard -> Integer,
        n -> BigInt,
    }
}

diesel::table! {
    /// Witness cosignatures as received.
    cosignatures (tree_size, witness, key_id) {
        tree_size -> BigInt,
        witness -> Text,
        key_id -> Text,
        cosigned_at -> BigInt,
        line -> Text,
        received_at -> BigInt,
    }
}

diesel::table! {
    witness_status (witness) {
        witness -> Text,
        key_id -> Text,
        cosigned_size -> Nullable<BigInt>,
        cosigned_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<BigInt>,
        alarms -> BigInt,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        force_id -> Text,
        url -> Text,
        events -> Text,
        secret -> Text,
        created_by_user_id -> Text,
        created_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        paused_at -> Nullable<BigInt>,
        paused_reason -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_messages (id) {
        id -> BigInt,
        event_type -> Text,
        force_id -> Text,
        closure_id -> Text,
        body -> Text,
        created_at -> BigInt,
        recipients -> Text,
        recipient_count -> Integer,
        fanned_out_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_deliveries (seq) {
        seq -> BigInt,
        id -> Text,
        subscription_id -> Text,
        message_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        first_attempt_at -> Nullable<BigInt>,
        last_attempt_at -> Nullable<BigInt>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        next_attempt_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Sessions of the pages under `/ui`: the SHA-256 of the cookie's id.
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        token_generation -> BigInt,
        csrf_token -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(decisions -> closures (closure_id));
diesel::joinable!(webhook_deliveries -> webhook_messages (message_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    login_failures,
    login_throttles,
    audit_events,
    closures,
    decisions,
    volumes,
    merkle_leaves,
    checkpoints,
    log_state,
    merkle_tiles,
    merkle_tile_tails,
    cosignatures,
    witness_status,
    trend_versions,
    trend_cells,
    trend_hours,
    webhook_subscriptions,
    webhook_messages,
    webhook_deliveries,
    sessions
);
