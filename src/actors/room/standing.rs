//! What the room keeps of its rules and of its members' standing (issue
//! 14), and what it tells its modern sockets of them.
//!
//! The writer's checks read the database at every write (`admission.rs`);
//! this is the room's copy of the same facts, for the two things that do
//! not go through the writer: typing hints (a muted user's, or a member's
//! in a locked or archived room, are dropped here) and the `room_state`
//! and `standing` frames that let the room page say why its composer is
//! closed. The copy is filled at each join (`membership.rs`) and refreshed
//! by the session sweep ([`RulesRead`], through the registry), which reads
//! them for every open connection every `CONFAB_SESSION_SWEEP_SECS` and at
//! once on moderation news. A frame goes out only when what it says
//! changed; a read older than the copy is ignored, so a slow sweep never
//! undoes what a join read after it.

use super::Room;
use crate::actors::delivery::Deliver;
use crate::db::queries::rules::{RoomRules, Standing};
use crate::domain::Username;
use crate::protocol::{ServerFrame, encode};
use actix::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A fact and when it was read.
#[derive(Debug, Clone)]
struct Known<T> {
    value: T,
    read_at: Instant,
}

/// The room's copy of its rules and of its members' standing.
#[derive(Debug, Default)]
pub(super) struct Standings {
    rules: Option<Known<RoomRules>>,
    users: HashMap<Username, Known<Standing>>,
}

impl Standings {
    /// Whether `user` may type here, by what the room knows (a user not
    /// known yet may: their join is loading).
    pub(super) fn may_type(&self, user: &Username) -> bool {
        let (Some(rules), Some(standing)) = (&self.rules, self.users.get(user)) else {
            return true;
        };
        standing
            .value
            .may_write(&rules.value, crate::db::queries::now())
    }

    /// `user` has no connection here any more.
    pub(super) fn forget(&mut self, user: &Username) {
        self.users.remove(user);
    }

    /// Takes `rules` read at `read_at`, unless what is known is newer;
    /// whether they changed.
    fn note_rules(&mut self, rules: RoomRules, read_at: Instant) -> bool {
        match &self.rules {
            Some(known) if known.read_at > read_at => false,
            Some(known) if known.value == rules => {
                self.rules = Some(Known {
                    value: rules,
                    read_at,
                });
                false
            }
            _ => {
                self.rules = Some(Known {
                    value: rules,
                    read_at,
                });
                true
            }
        }
    }

    /// Takes `user`'s `standing` read at `read_at`, unless what is known is
    /// newer; whether it changed.
    fn note_standing(&mut self, user: &Username, standing: Standing, read_at: Instant) -> bool {
        match self.users.get_mut(user) {
            Some(known) if known.read_at > read_at => false,
            Some(known) => {
                let changed = known.value != standing;
                *known = Known {
                    value: standing,
                    read_at,
                };
                changed
            }
            None => {
                self.users.insert(
                    user.clone(),
                    Known {
                        value: standing,
                        read_at,
                    },
                );
                true
            }
        }
    }
}

/// The rules of the room and the standing of its connected users, as the
/// session sweep read them (sent by the registry).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RulesRead {
    /// When the sweep began reading them.
    pub read_at: Instant,
    /// The room's rules.
    pub rules: RoomRules,
    /// Each connected user's standing, with what is left of their
    /// slow-mode wait.
    pub standings: Vec<(Username, Standing, Duration)>,
}

impl Handler<RulesRead> for Room {
    type Result = ();

    fn handle(&mut self, msg: RulesRead, _ctx: &mut Self::Context) {
        let rules_changed = self.standings.note_rules(msg.rules, msg.read_at);
        if rules_changed {
            self.tell_modern(None, &ServerFrame::RoomState(msg.rules.view()));
        }
        for (user, standing, wait) in msg.standings {
            let view = standing.view(wait);
            // New rules change what a standing allows: everyone hears
            // theirs again, with the wait the new rules make.
            if self.standings.note_standing(&user, standing, msg.read_at) || rules_changed {
                self.tell_modern(Some(&user), &ServerFrame::Standing(view));
            }
        }
    }
}

impl Room {
    /// Takes what a join read of the room's rules and `user`'s standing at
    /// `read_at`; the frames for the joining socket's burst.
    pub(super) fn note_join(
        &mut self,
        user: &Username,
        read: (RoomRules, Standing, Duration),
        read_at: Instant,
    ) -> [ServerFrame; 2] {
        let (rules, standing, wait) = read;
        let frames = [
            ServerFrame::RoomState(rules.view()),
            ServerFrame::Standing(standing.view(wait)),
        ];
        if self.standings.note_rules(rules, read_at) {
            // Someone else's join, or the sweep, knew older rules: the
            // other members hear the new ones (the newcomer has them in
            // its burst, and is not a member yet).
            self.tell_modern(None, &frames[0]);
        }
        self.standings.note_standing(user, standing, read_at);
        frames
    }

    /// Sends `frame` to the modern sockets of the room (of `user` only, if
    /// given).
    fn tell_modern(&self, user: Option<&Username>, frame: &ServerFrame) {
        let frame = encode(frame);
        for member in self.members.values() {
            if member.session.is_modern() && user.is_none_or(|u| *u == member.user) {
                member.session.offer(Deliver {
                    frame: frame.clone(),
                    message_id: None,
                });
            }
        }
    }
}
