//! The audit log: every change, login, view and export is an event, appended in
//! the same transaction as what it records (Data Protection Act 2018, s.62).

pub mod checkpoint;
pub mod content;
pub mod cosignature;
pub mod export;
pub mod leaf;
pub mod log;
pub mod merkle;
pub mod policy;
pub mod receipt;
pub mod tiles;
pub mod verify;

use crate::db::events::{self, NewEventRow};
use crate::db::{Conn, now_micros};
use crate::domain::{Rank, Role};
use crate::error::AppResult;
use serde_json::Value;

/// What happened, as a dotted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    AuthLogin,
    AuthLoginFailed,
    AuthLoginThrottled,
    UserCreated,
    UserUpdated,
    ClosureCreated,
    ClosureApproved,
    ClosureRejected,
    ClosureReopened,
    ClosureViewed,
    ClosureListed,
    VolumeSet,
    ExportDownloaded,
    ExportCompleted,
    WebhookCreated,
    WebhookDeleted,
    WebhookResumed,
    WebhookRedeliveryRequested,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AuthLogin => "auth.login",
            Action::AuthLoginFailed => "auth.login_failed",
            Action::AuthLoginThrottled => "auth.login_throttled",
            Action::UserCreated => "user.created",
            Action::UserUpdated => "user.updated",
            Action::ClosureCreated => "closure.created",
            Action::ClosureApproved => "closure.approved",
            Action::ClosureRejected => "closure.rejected",
            Action::ClosureReopened => "closure.reopened",
            Action::ClosureViewed => "closure.viewed",
            Action::ClosureListed => "closure.listed",
            Action::VolumeSet => "volume.set",
            Action::ExportDownloaded => "export.downloaded",
            Action::ExportCompleted => "export.completed",
            Action::WebhookCreated => "webhook.created",
            Action::WebhookDeleted => "webhook.deleted",
            Action::WebhookResumed => "webhook.resumed",
            Action::WebhookRedeliveryRequested => "webhook.redelivery_requested",
        }
    }
}

/// Who did it, as they were at that moment.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub role: Option<Role>,
    pub rank: Option<Rank>,
    pub force_id: Option<String>,
}

impl Actor {
    /// Someone not signed in, known only by the user name they tried.
    pub fn anonymous(username: &str) -> Actor {
        Actor {
            username: Some(username.to_string()),
            ..Actor::default()
        }
    }

    /// The service itself (first-start admin) or the command line.
    pub fn system(name: &str) -> Actor {
        Actor {
            username: Some(name.to_string()),
            ..Actor::default()
        }
    }
}

/// One event to append.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub action: Action,
    pub actor: &'a Actor,
    pub closure_id: Option<&'a str>,
    pub force_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub details: Value,
}

impl<'a> Event<'a> {
    pub fn new(
        action: Action,
        actor: &'a Actor,
        request_id: Option<&'a str>,
        details: Value,
    ) -> Self {
        Event {
            action,
            actor,
            closure_id: None,
            force_id: None,
            request_id,
            details,
        }
    }

    pub fn force(mut self, force_id: Option<&'a str>) -> Self {
        self.force_id = force_id;
        self
    }

    /// The event concerns this closure (of this force).
    pub fn closure(mut self, closure_id: &'a str, force_id: &'a str) -> Self {
        self.closure_id = Some(closure_id);
        self.force_id = Some(force_id);
        self
    }

    fn row(&self, at: i64) -> NewEventRow<'_> {
        let a = self.actor;
        NewEventRow {
            at,
            action: self.action.as_str(),
            actor_user_id: a.user_id.as_deref(),
            actor_username: a.username.as_deref(),
            actor_role: a.role.map(Role::as_str),
            actor_rank: a.rank.map(Rank::as_str),
            actor_force_id: a.force_id.as_deref(),
            closure_id: self.closure_id,
            force_id: self.force_id,
            request_id: self.request_id,
            details: self.details.to_string(),
        }
    }
}

/// Appends the event inside the caller's transaction; returns its `seq`.
pub fn append(conn: &mut Conn, ev: Event) -> AppResult<i64> {
    events::insert(conn, &ev.row(now_micros()))
}

/// Appends many events, in order, inside the caller's transaction.
pub fn append_all(conn: &mut Conn, evs: &[Event]) -> AppResult<()> {
    let at = now_micros();
    let rows: Vec<NewEventRow> = evs.iter().map(|e| e.row(at)).collect();
    events::insert_all(conn, &rows)
}
