//! `/staff/reports/`: the messages people reported, oldest first, each in
//! its context (the two messages before and after it), with one-click
//! answers: delete the message, mute its author (10 minutes, an hour, a
//! day, or until lifted), ban its author from the room, or dismiss the
//! report. Each performs its action and then closes the report with the
//! matching [`Resolution`] (which closes every open report of the same
//! message: they are answered together); both land in the audit log. Handled
//! reports are listed on a second tab, `/staff/reports/resolved/`.

use super::{
    Flash, Kept, PageNumber, Pager, Section, Staff, Time, back_with, perform, refuse, render,
};
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::staff::{self, ContextMessage, ReportLine};
use crate::domain::{Reason, RoomName, Username};
use crate::http::error::sentence;
use crate::http::{AppError, Templates, auth::check_csrf};
use crate::moderation::{Action, Moderation, Resolution};
use actix_session::Session;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

/// Registers the report pages and forms.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(open).service(resolved).service(answer);
}

/// A message as a report shows it.
#[derive(Serialize)]
struct MessageView {
    id: i64,
    author: String,
    content: String,
    deleted: bool,
    posted: Time,
}

impl From<ContextMessage> for MessageView {
    fn from(m: ContextMessage) -> Self {
        MessageView {
            id: m.id.0,
            author: m.author,
            content: m.content,
            deleted: m.deleted,
            posted: m.created_at.into(),
        }
    }
}

/// A report as the queue shows it.
#[derive(Serialize)]
struct ReportView {
    id: i32,
    room: String,
    reporter: String,
    reason: String,
    filed: Time,
    message: MessageView,
    before: Vec<MessageView>,
    after: Vec<MessageView>,
    /// The message in its room.
    url: String,
    resolution: Option<String>,
    resolved_by: Option<String>,
    resolved: Option<Time>,
}

impl From<ReportLine> for ReportView {
    fn from(line: ReportLine) -> Self {
        ReportView {
            id: line.report.id,
            url: format!("/chat/{}/?around={}", line.room, line.message.id),
            room: line.room,
            reporter: line.reporter,
            reason: line.report.reason,
            filed: line.report.created_at.into(),
            message: line.message.into(),
            before: line.before.into_iter().map(MessageView::from).collect(),
            after: line.after.into_iter().map(MessageView::from).collect(),
            resolution: line.report.resolution,
            resolved_by: line.resolved_by,
            resolved: line.report.resolved_at.map(Time::from),
        }
    }
}

/// Which tab.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Open,
    Resolved,
}

async fn queue(
    tab: Tab,
    me: &crate::domain::Identity,
    page: PageNumber,
    templates: &Templates,
    db: &Database,
    settings: &Settings,
    session: &Session,
) -> Result<HttpResponse, AppError> {
    let rows = page.rows(settings.staff_page_size);
    let found = db
        .run(move |c| match tab {
            Tab::Open => staff::open_reports(c, rows),
            Tab::Resolved => staff::resolved_reports(c, rows),
        })
        .await?;
    let path = match tab {
        Tab::Open => "/staff/reports/",
        Tab::Resolved => "/staff/reports/resolved/",
    };
    let pager = Pager::new(path, &[], page, found.more);
    let reports: Vec<ReportView> = found.rows.into_iter().map(ReportView::from).collect();
    let title = match tab {
        Tab::Open => "Reports",
        Tab::Resolved => "Resolved reports",
    };
    render(
        templates,
        session,
        me,
        Section::Reports,
        title,
        "staff/reports.html",
        |ctx| {
            ctx.insert("subpage", &(tab == Tab::Resolved));
            ctx.insert("tab", if tab == Tab::Open { "open" } else { "resolved" });
            ctx.insert("reports", &reports);
            ctx.insert("pager", &pager);
        },
    )
}

#[get("/staff/reports/")]
async fn open(
    Staff(me): Staff,
    page: web::Query<PageNumber>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    queue(Tab::Open, &me, *page, &templates, &db, &settings, &session).await
}

#[get("/staff/reports/resolved/")]
async fn resolved(
    Staff(me): Staff,
    page: web::Query<PageNumber>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    queue(
        Tab::Resolved,
        &me,
        *page,
        &templates,
        &db,
        &settings,
        &session,
    )
    .await
}

#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    csrf_token: String,
    /// `delete`, `mute`, `ban` or `dismiss`: the button pressed.
    #[serde(default)]
    op: String,
    /// `mute`: for how many minutes; empty: until lifted.
    #[serde(default)]
    minutes: String,
    /// Why (shown to the author when muted or banned).
    #[serde(default)]
    reason: String,
}

/// Answers a report: the action, then the report (and every other open
/// report of the same message) closed with its resolution.
#[post("/staff/reports/{id}/")]
async fn answer(
    Staff(me): Staff,
    path: web::Path<String>,
    form: web::Form<AnswerForm>,
    db: web::Data<Database>,
    moderation: web::Data<Moderation>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let back = "/staff/reports/";
    let kept = Kept::form(&format!("report-{}", path.trim()))
        .with("reason", &form.reason)
        .with("minutes", &form.minutes);
    let refused = |error: String| refuse(&session, back, error, kept.clone());
    let Ok(id) = path.trim().parse::<i32>() else {
        return refused("There is no such report.".to_owned());
    };
    let Some(target) = db.run(move |c| staff::report_target(c, id)).await? else {
        return refused("There is no such report.".to_owned());
    };
    if target.resolved {
        return refused("Someone has handled that report already.".to_owned());
    }
    let reason = match Reason::parse(&form.reason, settings.moderation_reason_max_chars) {
        Ok(reason) => reason,
        Err(e) => return refused(sentence(&e)),
    };
    // Names as stored are valid names.
    let room = RoomName::from_stored(target.room.clone());
    let author = Username::from_stored(target.author.clone());
    let (action, resolution) = match form.op.as_str() {
        "delete" => (
            Some(Action::DeleteMessage {
                id: target.message_id,
                reason,
            }),
            Resolution::Deleted,
        ),
        "mute" => {
            let minutes = match form.minutes.trim() {
                "" => None,
                raw => match raw.parse::<u32>() {
                    Ok(m) if m > 0 => Some(m),
                    _ => return refused("Choose how long the mute lasts.".to_owned()),
                },
            };
            (
                Some(Action::Mute {
                    room,
                    user: author,
                    minutes,
                    reason,
                }),
                Resolution::Muted,
            )
        }
        "ban" => (
            Some(Action::Ban {
                room,
                user: author,
                minutes: None,
                reason,
            }),
            Resolution::Banned,
        ),
        "dismiss" => (None, Resolution::Dismissed),
        _ => return refused("That is not an answer to a report.".to_owned()),
    };
    let mut said = Vec::new();
    if let Some(action) = action {
        match perform(&moderation, &me, action).await? {
            Ok(outcome) => said.push(outcome.message),
            Err(error) => return refused(error),
        }
    }
    // Closes every open report of the same message: they are answered
    // together.
    let close = Action::ResolveReport {
        id: target.id,
        resolution,
    };
    match perform(&moderation, &me, close).await? {
        Ok(outcome) => said.push(outcome.message),
        // The action is done; say so, and why the report is not closed.
        Err(error) => {
            said.push(error);
            return back_with(
                &session,
                back,
                Flash::refused(said.join(" "), Kept::default()),
            );
        }
    }
    back_with(
        &session,
        back,
        Flash::done(&crate::moderation::Outcome {
            message: said.join(" "),
        }),
    )
}
