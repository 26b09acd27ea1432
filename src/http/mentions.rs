//! `/mentions/`: the messages that mention me, newest first, as a page or
//! (`?format=json`) as JSON; and `/chat/<room>/members.json`, the names the
//! room's composer completes `@` to.
//!
//! Both list only what the reader may see now: a mention in a room that
//! became admin-only is hidden from users who are not staff, and an
//! admin-only room's names are not given to them (see
//! [`mentions`](crate::db::queries::mentions)).

use super::auth::{SignedIn, csrf_token};
use super::pages::{admitted, no_such_room, room_name_from_path};
use super::{AppError, Templates};
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::mentions::{self, MyMention};
use crate::db::queries::rooms;
use crate::domain::{MessageId, Username, mention_spans};
use actix_session::Session;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Registers `/mentions/` and the members list.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(members);
}

#[derive(Deserialize)]
struct ListParams {
    /// `json` for the JSON form.
    format: Option<String>,
    /// Only mentions in messages older than this id (the next page).
    before: Option<i64>,
}

/// One mention, as the JSON and the page show it.
#[derive(Serialize)]
struct MentionView {
    id: MessageId,
    /// The room's name, or `@other` for a direct conversation.
    room: String,
    user: String,
    message: String,
    #[serde(serialize_with = "rfc3339")]
    created_at: DateTime<Utc>,
    /// Where the message is shown in its context.
    url: String,
}

fn rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

impl From<MyMention> for MentionView {
    fn from(m: MyMention) -> Self {
        MentionView {
            url: format!("/chat/{}/?around={}", m.room, m.id.0),
            id: m.id,
            room: m.room,
            user: m.user,
            message: m.message,
            created_at: m.created_at.and_utc(),
        }
    }
}

/// A mention as the page shows it: its text in parts, so that the
/// template can set `@name` apart (escaped like any text).
#[derive(Serialize)]
struct PageRow<'a> {
    mention: &'a MentionView,
    parts: Vec<Part<'a>>,
    /// When, for people: `Dec 6, 14:05 UTC`.
    when: String,
}

/// A piece of a message's text: plain, or an `@name` (`me` when it names
/// the reader).
#[derive(Serialize)]
struct Part<'a> {
    text: &'a str,
    mention: bool,
    me: bool,
}

/// `text` cut at its `@name`s.
fn parts<'a>(text: &'a str, me: &Username) -> Vec<Part<'a>> {
    let mut out = Vec::new();
    let mut from = 0;
    for span in mention_spans(text) {
        if span.at.start > from {
            out.push(Part {
                text: &text[from..span.at.start],
                mention: false,
                me: false,
            });
        }
        out.push(Part {
            text: &text[span.at.clone()],
            mention: true,
            me: span.name.folded() == me.folded(),
        });
        from = span.at.end;
    }
    if from < text.len() {
        out.push(Part {
            text: &text[from..],
            mention: false,
            me: false,
        });
    }
    out
}

#[derive(Serialize)]
struct MentionsJson {
    mentions: Vec<MentionView>,
    /// The `before` of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<MessageId>,
}

#[get("/mentions/")]
async fn list(
    SignedIn(user): SignedIn,
    query: web::Query<ListParams>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let json = match query.format.as_deref() {
        None | Some("html") => false,
        Some("json") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "There is no format {other:?}; use format=json, or leave it out for the page."
            )));
        }
    };
    let before = match query.before {
        None => None,
        Some(id) if id > 0 => Some(MessageId(id)),
        Some(_) => {
            return Err(AppError::BadRequest(
                "before must be a message id (a whole number above 0).".to_owned(),
            ));
        }
    };
    let limit = i64::try_from(settings.mentions_page_size).unwrap_or(i64::MAX);
    let me = user.clone();
    let (found, more) = db
        .run(move |c| mentions::mine(c, &me, before, limit))
        .await?;
    let next_before = more.then(|| found.last().map(|m| m.id)).flatten();
    let views: Vec<MentionView> = found.into_iter().map(MentionView::from).collect();
    if json {
        return Ok(HttpResponse::Ok().json(MentionsJson {
            mentions: views,
            next_before,
        }));
    }
    let rows: Vec<PageRow<'_>> = views
        .iter()
        .map(|m| PageRow {
            parts: parts(&m.message, &user.username),
            when: m.created_at.format("%b %-d, %H:%M UTC").to_string(),
            mention: m,
        })
        .collect();
    let mut ctx = Templates::context("Mentions", Some(&user), &csrf_token(&session)?);
    ctx.insert("mentions", &rows);
    ctx.insert("next_before", &next_before);
    ctx.insert("paged", &before.is_some());
    let page = templates.render("mentions.html", &ctx)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}

#[derive(Serialize)]
struct MembersJson {
    /// Names, the most recent authors first; each once.
    members: Vec<String>,
}

/// The names the room's composer completes `@` to. The room must exist
/// (this never creates one) and admit the reader.
#[get("/chat/{room}/members.json")]
async fn members(
    SignedIn(user): SignedIn,
    path: web::Path<String>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    let name = room_name_from_path(&path)?;
    let lookup = name.as_str().to_owned();
    let row = db.run(move |c| rooms::by_name(c, &lookup)).await?;
    let Some(row) = row else {
        return Err(no_such_room(&name));
    };
    let info = admitted(&db, &user, row).await?;
    let limit = i64::try_from(settings.mention_candidates).unwrap_or(i64::MAX);
    let members = db
        .run(move |c| mentions::candidates(c, &info, limit))
        .await?;
    Ok(HttpResponse::Ok().json(MembersJson { members }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_cut_at_its_mentions_and_mine_are_marked() {
        let me = Username::from_stored("Bob".to_owned());
        let cut = parts("hi @bob, ask @carol. mail@bob.x", &me);
        let seen: Vec<(&str, bool, bool)> = cut.iter().map(|p| (p.text, p.mention, p.me)).collect();
        assert_eq!(
            seen,
            [
                ("hi ", false, false),
                ("@bob", true, true),
                (", ask ", false, false),
                ("@carol", true, false),
                (". mail@bob.x", false, false),
            ]
        );
        assert!(parts("", &me).is_empty());
    }
}
