//! Asking (SPEC §3 "Conversations and messages"): a new question, an edit of
//! the last one, a new answer to it; and a gateway call's admission. Every
//! dialect (the native API, the OpenAI gateway, seeds 002 and 004) goes
//! through these functions, so none skips a check: the content limits, the
//! model's availability, the engine's slots and the plan are all checked
//! here, and the question, its empty answer, the title and the context it
//! carries are written with the plan's usage record in one transaction
//! ([`db::conversation::turn`]; a question's in a savepoint of the batch
//! [`Db::write_together`] writes with the others asked meanwhile).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rusqlite::Connection;
use serde_json::Value;

use super::{Error, Result};
use crate::db::conversation::{self as repo, Conversation, ConversationUpdate, Message, Role};
use crate::db::{collector, connection, file, plan, Db};
use crate::engine::{self, CallSlot, Engine, Event, Generation, Job};
use crate::service::files;
use crate::service::groups::Access;
use crate::service::models::endpoint_of;
use crate::service::plan::{check_plan, check_plan_with};

/// Longest question accepted, in characters.
pub const MAX_CONTENT_CHARS: usize = 200_000;
/// Most collector items one message may carry.
const MAX_CONTEXT_ITEMS: usize = 20;

/// What asking needs: the store, the engine, and how long a provider may
/// stay silent in the middle of an answer.
#[derive(Clone, Copy)]
pub struct Chat<'a> {
    pub db: &'a Db,
    pub engine: &'a Engine,
    pub idle_timeout: Duration,
}

/// What a generation answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// A new question at the end of the current thread.
    Question(String),
    /// The last question, rewritten (a sibling of the old one).
    Edit(String),
    /// An earlier question (`message_id`), rewritten: a sibling of it, so a
    /// new branch of the conversation from there.
    EditAt { message_id: String, content: String },
    /// A new answer to the last question (a sibling of the old answer).
    Regenerate,
}

/// One ask: the turn, the model asked for (else the conversation's, else the
/// first available) or the models compared side by side, and the collector
/// items the question carries.
#[derive(Debug, Clone)]
pub struct Ask {
    pub turn: Turn,
    pub model_id: Option<String>,
    /// 2–3 distinct models answering side by side (instead of `model_id`).
    pub model_ids: Option<Vec<String>>,
    pub collector_item_ids: Option<Vec<String>>,
    /// The user's uploads the question carries (an edit without them keeps
    /// the edited question's).
    pub file_ids: Option<Vec<String>>,
}

impl Ask {
    /// A turn with no model asked for and no collector items.
    pub fn new(turn: Turn, model_id: Option<String>) -> Ask {
        Ask {
            turn,
            model_id,
            model_ids: None,
            collector_item_ids: None,
            file_ids: None,
        }
    }
}

/// The conversation a turn is asked in: already read (a new one, or one a
/// dialect read for its own reasons), or only its id, read (the caller's, or
/// 404) in the transaction that writes the turn, which saves a trip to a
/// database thread before the first token.
#[derive(Debug, Clone)]
pub enum In {
    Read(Box<Conversation>),
    Id(String),
}

impl From<Conversation> for In {
    fn from(conversation: Conversation) -> Self {
        In::Read(Box::new(conversation))
    }
}

impl In {
    /// The conversation, read with `conn` when only its id is known.
    fn read(self, conn: &Connection, user_id: &str) -> Result<Conversation> {
        match self {
            In::Read(conversation) => Ok(*conversation),
            In::Id(id) => repo::get(conn, user_id, &id)?
                .ok_or_else(|| Error::NotFound("no such conversation".into())),
        }
    }
}

/// An answer started: its generation, and the conversation as it is now.
pub struct Started {
    /// The answer (the first model's when several answer side by side: the
    /// one shown until the user keeps another).
    pub generation: Arc<Generation>,
    /// The other answers of a side-by-side turn, in the order of `model_ids`.
    pub others: Vec<Arc<Generation>>,
    pub conversation: Conversation,
}

impl Started {
    /// Every answer of the turn, the first one first.
    pub fn generations(&self) -> Vec<Arc<Generation>> {
        std::iter::once(self.generation.clone())
            .chain(self.others.iter().cloned())
            .collect()
    }
}

/// Fewest and most models one question may be asked of side by side.
pub const COMPARE_MODELS: std::ops::RangeInclusive<usize> = 2..=3;

/// Which model(s) answer a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Models {
    /// One answer: the model asked for, else the conversation's, else the
    /// first available.
    One(Option<String>),
    /// Side by side: one answer per model, in this order (checked by
    /// [`Models::of`]: 2–3 distinct ids).
    Compare(Vec<String>),
}

impl From<Option<String>> for Models {
    fn from(model_id: Option<String>) -> Models {
        Models::One(model_id)
    }
}

impl Models {
    /// The models of a request that may carry `model_id` or `model_ids`
    /// (not both): 422 on `model_ids` for both, for fewer than two or more
    /// than three ids, or for one id twice.
    pub fn of(model_id: Option<String>, model_ids: Option<Vec<String>>) -> Result<Models> {
        let Some(ids) = model_ids else {
            return Ok(Models::One(model_id));
        };
        if model_id.is_some() {
            return Err(Error::invalid(
                "model_ids",
                "give either model_id or model_ids, not both",
            ));
        }
        if !COMPARE_MODELS.contains(&ids.len()) {
            return Err(Error::invalid(
                "model_ids",
                format!(
                    "compare {} to {} models at once",
                    COMPARE_MODELS.start(),
                    COMPARE_MODELS.end()
                ),
            ));
        }
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(Error::invalid(
                    "model_ids",
                    format!("the model {id} is asked for twice"),
                ));
            }
        }
        Ok(Models::Compare(ids))
    }
}

/// A refusal about `model_id` said about `model_ids` (a side-by-side ask).
pub fn about_model_ids(err: Error) -> Error {
    match err {
        Error::Validation(mut fields) => {
            if let Some(why) = fields.remove("model_id") {
                fields.insert("model_ids", why);
            }
            Error::Validation(fields)
        }
        other => other,
    }
}

/// How a generation ended, for the dialects that answer once it has.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The finished answer (`message`, a message object) and the question
    /// it answers (`user_message`, null for a regeneration).
    Answered { user_message: Value, message: Value },
    /// The failure: the status to answer, the error's text and code, the
    /// (partial) answer saved with status `error`, and the question.
    Failed {
        status: u16,
        error: Value,
        code: Value,
        message: Value,
        user_message: Value,
    },
}

/// The conversation `id` of `user_id`, or 404 (also for another user's).
pub async fn owned(db: &Db, user_id: &str, id: String) -> Result<Conversation> {
    let user_id = user_id.to_string();
    db.run(move |conn| In::Id(id).read(conn, &user_id)).await
}

/// Whether the conversation is answering right now (any answer of its turn).
pub fn is_busy(engine: &Engine, conversation_id: &str) -> bool {
    engine
        .turn(conversation_id)
        .iter()
        .any(|g| !g.is_finished())
}

/// Asks in `conversation`: checks the ask, takes the conversation's slot in
/// the engine, writes the turn (plan checked and counted in the same
/// transaction) and starts the answer.
pub async fn ask(
    chat: &Chat<'_>,
    user_id: &str,
    conversation: impl Into<In>,
    ask: Ask,
) -> Result<Started> {
    let context = collector_items(chat.db, user_id, ask.collector_item_ids).await?;
    let models = Models::of(ask.model_id, ask.model_ids)?;
    let carried = Carried {
        context,
        file_ids: ask.file_ids,
    };
    ask_with(chat, user_id, conversation, ask.turn, models, carried).await
}

/// What a question carries besides its text.
#[derive(Debug, Default)]
pub struct Carried {
    /// Collector items (checked to be the user's).
    pub context: Vec<collector::Item>,
    /// Uploads, checked in the turn's transaction.
    pub file_ids: Option<Vec<String>>,
}

impl From<Vec<collector::Item>> for Carried {
    fn from(context: Vec<collector::Item>) -> Self {
        Carried {
            context,
            file_ids: None,
        }
    }
}

/// The user's collector items to attach to a message (SPEC §3 "Collector"):
/// an unknown id or another user's is a 404, like every other id.
pub async fn collector_items(
    db: &Db,
    user_id: &str,
    ids: Option<Vec<String>>,
) -> Result<Vec<collector::Item>> {
    let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
        return Ok(Vec::new());
    };
    if ids.len() > MAX_CONTEXT_ITEMS {
        return Err(Error::invalid(
            "collector_item_ids",
            format!("at most {MAX_CONTEXT_ITEMS} items per message"),
        ));
    }
    let user_id = user_id.to_string();
    db.run(move |conn| -> Result<_> {
        let mut items: Vec<collector::Item> = Vec::new();
        for id in ids {
            if items.iter().any(|i| i.id == id) {
                continue;
            }
            match collector::get(conn, &user_id, &id)? {
                Some(item) => items.push(item),
                None => return Err(Error::NotFound(format!("no such collector item {id}"))),
            }
        }
        Ok(items)
    })
    .await
}

/// Refuses an empty or too long question.
pub fn check_content(content: &str) -> Result<()> {
    if content.trim().is_empty() {
        return Err(Error::invalid("content", "must not be empty"));
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(Error::invalid(
            "content",
            format!("must be at most {MAX_CONTENT_CHARS} characters"),
        ));
    }
    Ok(())
}

/// The model to use (asked for, else `fallback`, else the first available)
/// with its connection; refuses unknown and disabled ones.
pub async fn resolve_model(
    db: &Db,
    asked: Option<String>,
    fallback: Option<String>,
) -> Result<connection::Route> {
    db.run(move |conn| route_for(conn, asked.or(fallback), None))
        .await
}

/// [`resolve_model`] on a connection: with nothing asked for, the admin's
/// default model while it is available, else the first available one (of
/// those `user` may use, when the user is known).
fn route_for(
    conn: &Connection,
    wanted: Option<String>,
    access: Option<&Access>,
) -> Result<connection::Route> {
    let wanted = match wanted {
        Some(id) => Some(id),
        None => {
            let default = super::admin::default_model(conn)?;
            // The default model when they may pick it: no list to build.
            if let Some(default) = &default {
                if let Some(route) = usable(conn, default, access)? {
                    return Ok(route);
                }
            }
            let available = match access {
                Some(access) => access.allowed_models(conn)?,
                None => connection::available_models(conn)?,
            };
            available.first().map(|m| m.id.clone())
        }
    };
    let Some(wanted) = wanted else {
        return Err(Error::invalid(
            "model_id",
            "no model is configured yet; an administrator adds a connection first",
        ));
    };
    match connection::route(conn, &wanted)? {
        None => Err(Error::invalid(
            "model_id",
            format!("unknown model {wanted}"),
        )),
        Some(route) if !route.model.enabled || !route.connection.enabled => Err(Error::forbidden(
            "model_disabled",
            format!("the model {wanted} is disabled"),
        )),
        Some(route) => Ok(route),
    }
}

/// The route of `model_id` when it may be picked: enabled, of an enabled
/// connection, and allowed by `access` (when there is one).
fn usable(
    conn: &Connection,
    model_id: &str,
    access: Option<&Access>,
) -> Result<Option<connection::Route>> {
    let Some(route) = connection::route(conn, model_id)? else {
        return Ok(None);
    };
    if !route.model.enabled || !route.connection.enabled {
        return Ok(None);
    }
    let allowed = match access {
        Some(access) => access.may_pick(conn, model_id)?,
        None => true,
    };
    Ok(allowed.then_some(route))
}

/// [`ask`] with the collector items already gathered: writes the rows of
/// `turn` (with the items and files it carries) and starts the answer, or
/// the answers side by side when several models are compared.
pub async fn ask_with(
    chat: &Chat<'_>,
    user_id: &str,
    conversation: impl Into<In>,
    turn: Turn,
    models: impl Into<Models>,
    carried: impl Into<Carried>,
) -> Result<Started> {
    let carried: Carried = carried.into();
    let (model_id, compared) = match models.into() {
        Models::One(model_id) => (model_id, Vec::new()),
        Models::Compare(ids) => match ids.split_first() {
            Some((first, rest)) => (Some(first.clone()), rest.to_vec()),
            None => (None, Vec::new()),
        },
    };
    let side_by_side = !compared.is_empty();
    if let Turn::Question(content) | Turn::Edit(content) | Turn::EditAt { content, .. } = &turn {
        // A question may be only files (a screenshot, no words).
        let has_files = carried.file_ids.as_ref().is_some_and(|ids| !ids.is_empty());
        if !(has_files && content.trim().is_empty()) {
            check_content(content)?;
        }
    }
    // One trip to a database thread before the answer starts: the
    // conversation (when only its id is known), the model, the
    // conversation's slot, and the rows (the plan checked and the
    // answer counted in the transaction that writes it, before anything is
    // sent upstream). The rows are written with the other questions asked
    // meanwhile, in one transaction (a group commit), each in a savepoint
    // of its own: a refusal rolls back this turn's rows alone.
    let engine = chat.engine.clone();
    let owner = user_id.to_string();
    let conversation = conversation.into();
    let idle_timeout = chat.idle_timeout;
    // The answer's reader thread starts while the question is written
    // (below); the write hands it its call once the rows are written.
    let reader: Arc<std::sync::Mutex<Option<engine::Reader>>> = Arc::default();
    let reader_there = reader.clone();
    let written = chat.db.queue_together(move |conn| -> Result<_> {
        let conversation = conversation.read(conn, &owner)?;
        let access = Access::read(conn, &owner)?;
        let route = if side_by_side {
            route_for(conn, model_id.clone(), Some(&access)).map_err(about_model_ids)?
        } else {
            let wanted = model_id.clone().or(conversation.model_id.clone());
            match route_for(conn, wanted, Some(&access)) {
                // The conversation's own model is gone: fall back to the first available.
                Err(_) if model_id.is_none() && conversation.model_id.is_some() => {
                    route_for(conn, None, Some(&access))?
                }
                other => other?,
            }
        };
        let others = compared
            .iter()
            .map(|id| route_for(conn, Some(id.clone()), Some(&access)).map_err(about_model_ids))
            .collect::<Result<Vec<_>>>()?;
        let reservation = engine.reserve_answers(&conversation.id, &owner, 1 + others.len())?;
        let model = Model::of(&route);
        // Every model is checked against the plan before the rows are
        // written (the limit again as each answer is counted).
        check_plan_with(conn, &access, &model.id)?;
        for other in &others {
            check_plan_with(conn, &access, &other.model.id)?;
        }
        let mut rows = write_turn(conn, &conversation, &owner, &model, &turn, carried)?;
        plan::record_usage(conn, &owner, &model.id, Some(&rows.answer.id))?;
        let extras = if others.is_empty() {
            Vec::new()
        } else {
            add_side_by_side(conn, &owner, &mut rows, others)?
        };
        // A lone answer goes upstream now, while the transaction commits
        // (its rows are checked and written; a lost transaction cancels
        // it). Not with images: encoding them would hold up every write
        // of the batch.
        let early = (extras.is_empty() && rows.images.is_empty())
            .then(|| {
                reader_there
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
            })
            .flatten()
            .and_then(|reader| {
                let job = Prompt::of(&rows)
                    .job(
                        &route,
                        rows.answer.clone(),
                        &rows.images,
                        rows.title_from.clone(),
                        idle_timeout,
                    )
                    .ok()?;
                Some(engine.start_early(&owner, job, reader))
            });
        Ok((route, reservation, rows, extras, early))
    });
    *reader.lock().unwrap_or_else(|e| e.into_inner()) = chat.engine.early_reader();
    let (route, reservation, rows, extras, early) = written.await?;
    if let Some(early) = early {
        let generation = chat.engine.start_started(reservation, early);
        return Ok(Started {
            generation,
            others: Vec::new(),
            conversation: rows.conversation,
        });
    }
    let reader = reader.lock().unwrap_or_else(|e| e.into_inner()).take();
    let prompt = Prompt::of(&rows);
    let first = prompt.job(
        &route,
        rows.answer.clone(),
        &rows.images,
        rows.title_from.clone(),
        idle_timeout,
    )?;
    let others = extras
        .into_iter()
        .map(|extra| {
            prompt.job(
                &extra.route,
                extra.answer,
                &extra.images,
                None,
                idle_timeout,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let (generation, others) = chat.engine.start_turn(reservation, first, others, reader);
    Ok(Started {
        generation,
        others,
        conversation: rows.conversation,
    })
}

/// What every answer of a turn is asked: the system prompt and the thread
/// before the answer.
struct Prompt<'a> {
    rows: &'a Rows,
    system_prompt: String,
    history: &'a [Message],
}

impl<'a> Prompt<'a> {
    fn of(rows: &'a Rows) -> Prompt<'a> {
        // The thread is the path to the conversation's current message, the
        // new answer (it has no children, so it can only be the last): the
        // history is the rest.
        let history = match rows.thread.split_last() {
            Some((last, before)) if last.id == rows.answer.id => before,
            _ => &rows.thread[..],
        };
        Prompt {
            rows,
            system_prompt: system_prompt(
                &rows.conversation.system_prompt,
                rows.context_text.as_deref(),
            ),
            history,
        }
    }

    /// The job of `answer`, written for `route`'s model.
    fn job(
        &self,
        route: &connection::Route,
        answer: Message,
        images: &HashMap<String, Vec<crate::llm::Image>>,
        title_from: Option<String>,
        idle_timeout: Duration,
    ) -> Result<Job> {
        let request = crate::llm::ChatRequest {
            model: route.model.upstream_id.clone(),
            messages: engine::build_prompt(
                &self.system_prompt,
                self.history,
                route.model.context_window,
                images,
            ),
            max_tokens: None,
        };
        Ok(Job {
            conversation_id: self.rows.conversation.id.clone(),
            user_message: self.rows.user_message.clone(),
            assistant_message: answer,
            endpoint: endpoint_of(&route.connection, idle_timeout)?,
            request,
            title_from,
        })
    }
}

/// Another answer of a side-by-side turn: its model and the images its
/// prompt shows.
struct Extra {
    route: connection::Route,
    answer: Message,
    images: HashMap<String, Vec<crate::llm::Image>>,
}

/// Writes the other answers of a side-by-side turn under the question of
/// `rows` (siblings of its answer, each counted against the plan), keeps
/// the first answer current and its model the conversation's, and fills
/// in the siblings of every answer; inside the turn's transaction.
fn add_side_by_side(
    tx: &Connection,
    user_id: &str,
    rows: &mut Rows,
    others: Vec<connection::Route>,
) -> Result<Vec<Extra>> {
    let Some(question_id) = rows.answer.parent_id.clone() else {
        return Err(Error::Internal("an answer without its question".into()));
    };
    let questions: Vec<&str> = rows
        .thread
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.id.as_str())
        .collect();
    let mut extras = Vec::new();
    for route in others {
        let model = Model::of(&route);
        if !model.vision
            && files::of_thread(tx, &[question_id.as_str()], true)?
                .images
                .contains_key(&question_id)
        {
            return Err(files::cannot_see(&model.name));
        }
        check_plan(tx, user_id, &model.id)?;
        let answer = repo::add_answer(tx, &rows.conversation.id, &question_id, &model.id)?;
        plan::record_usage(tx, user_id, &model.id, Some(&answer.id))?;
        let images = files::of_thread(tx, &questions, model.vision)?.images;
        extras.push(Extra {
            route,
            answer,
            images,
        });
    }
    // Until the user keeps one, the first model's answer is the one shown.
    repo::set_current(tx, &rows.conversation.id, Some(&rows.answer.id), true)?;
    let first_model = rows.answer.model_id.clone();
    repo::update(
        tx,
        &rows.conversation.id,
        &ConversationUpdate {
            model_id: Some(first_model),
            ..Default::default()
        },
    )?;
    let conversation_id = rows.conversation.id.clone();
    rows.conversation =
        repo::get(tx, user_id, &conversation_id)?.unwrap_or(rows.conversation.clone());
    let with_siblings = |m: &Message| -> Result<Message> {
        Ok(repo::message_with_siblings(tx, &m.id)?.unwrap_or_else(|| m.clone()))
    };
    rows.answer = with_siblings(&rows.answer)?;
    for extra in &mut extras {
        extra.answer = with_siblings(&extra.answer)?;
    }
    Ok(extras)
}

/// The conversation's system prompt followed by the collector text, if any.
fn system_prompt(own: &str, context: Option<&str>) -> String {
    match context {
        Some(block) if own.trim().is_empty() => block.to_string(),
        Some(block) => format!("{own}\n\n{block}"),
        None => own.to_string(),
    }
}

/// What one turn wrote.
struct Rows {
    /// The conversation after the turn.
    conversation: Conversation,
    /// Its current thread (the new answer included).
    thread: Vec<Message>,
    /// The question (none for a regeneration).
    user_message: Option<Message>,
    /// The empty answer.
    answer: Message,
    /// The fallback title given to a conversation's first question.
    title_from: Option<String>,
    /// The collector's and the documents' text for the prompt.
    context_text: Option<String>,
    /// The images each question of the thread showed (vision models).
    images: HashMap<String, Vec<crate::llm::Image>>,
}

/// The model a turn is written for.
struct Model {
    id: String,
    name: String,
    window: Option<u32>,
    vision: bool,
}

impl Model {
    fn of(route: &connection::Route) -> Model {
        Model {
            id: route.model.id.clone(),
            name: route.model.name.clone(),
            window: route.model.context_window,
            vision: files::sees_images(&route.model),
        }
    }
}

/// Writes the rows of `turn` (and records the collector items it carries);
/// inside the turn's transaction.
fn write_turn(
    conn: &Connection,
    conv: &Conversation,
    user_id: &str,
    model_row: &Model,
    turn: &Turn,
    carried: Carried,
) -> Result<Rows> {
    let model = model_row.id.as_str();
    let Carried {
        mut context,
        file_ids,
    } = carried;
    let leaf = match &conv.current_message_id {
        Some(id) => repo::message(conn, id)?,
        None => None,
    };
    // The last question of the current thread, for edit and regenerate.
    let last_question = match &leaf {
        Some(m) if m.role == Role::User => Some(m.clone()),
        Some(m) => match &m.parent_id {
            Some(p) => repo::message(conn, p)?,
            None => None,
        },
        None => None,
    };
    let (user_message, answer, first) = match turn {
        Turn::Question(content) => {
            let parent = match &leaf {
                Some(m) if m.role == Role::User => m.parent_id.clone(),
                Some(m) => Some(m.id.clone()),
                None => None,
            };
            let first = parent.is_none() && conv.title.trim().is_empty();
            let (u, a) = repo::add_exchange(conn, &conv.id, parent.as_deref(), content, model)?;
            (Some(u), a, first)
        }
        Turn::Edit(content) => {
            let Some(question) = &last_question else {
                return Err(Error::NotFound("there is no question to edit".into()));
            };
            let (u, a) = repo::add_exchange(
                conn,
                &conv.id,
                question.parent_id.as_deref(),
                content,
                model,
            )?;
            (Some(u), a, false)
        }
        Turn::EditAt {
            message_id,
            content,
        } => {
            let question = match repo::message(conn, message_id)? {
                Some(m) if m.conversation_id == conv.id && m.role == Role::User => m,
                _ => {
                    return Err(Error::NotFound(
                        "no such question in this conversation".into(),
                    ))
                }
            };
            let (u, a) = repo::add_exchange(
                conn,
                &conv.id,
                question.parent_id.as_deref(),
                content,
                model,
            )?;
            (Some(u), a, false)
        }
        Turn::Regenerate => {
            let Some(question) = &last_question else {
                return Err(Error::NotFound(
                    "there is no question to answer again".into(),
                ));
            };
            (
                None,
                repo::add_answer(conn, &conv.id, &question.id, model)?,
                false,
            )
        }
    };
    // The files the question carries: the ones given, else (an edit) the
    // edited question's.
    let mut attached_names: Vec<String> = Vec::new();
    if let Some(question) = &user_message {
        let ids = match (&file_ids, turn) {
            (Some(ids), _) => ids.clone(),
            (None, Turn::Edit(_)) => match &last_question {
                Some(q) => file::ids_of_message(conn, &q.id)?,
                None => Vec::new(),
            },
            (None, Turn::EditAt { message_id, .. }) => file::ids_of_message(conn, message_id)?,
            (None, _) => Vec::new(),
        };
        let attached = files::check_attachable(conn, user_id, &conv.id, &ids)?;
        if !model_row.vision && attached.iter().any(|f| f.kind == file::FileKind::Image) {
            return Err(files::cannot_see(&model_row.name));
        }
        attached_names = attached.iter().map(|f| f.name.clone()).collect();
        let ids: Vec<String> = attached.into_iter().map(|f| f.id).collect();
        file::attach(conn, &conv.id, &question.id, &ids)?;
    }
    let title_from = if first {
        let words = user_message
            .as_ref()
            .map(|u| u.content.clone())
            .filter(|c| !c.trim().is_empty());
        // Only files: the title is their names, and no model is asked to
        // make one up from a question without words.
        let question = words.clone().unwrap_or_else(|| attached_names.join(", "));
        let fallback = engine::fallback_title(&question);
        repo::update(
            conn,
            &conv.id,
            &ConversationUpdate {
                title: Some(fallback.clone()),
                ..Default::default()
            },
        )?;
        words.map(|_| fallback)
    } else {
        None
    };
    // A regeneration carries what its question carried.
    if let (Turn::Regenerate, Some(question)) = (turn, &last_question) {
        for carried in repo::context_of(conn, &question.id)? {
            if let Some(item) = collector::get(conn, user_id, &carried.collector_item_id)? {
                context.push(item);
            }
        }
    }
    let fresh = repo::get(conn, user_id, &conv.id)?.unwrap_or(conv.clone());
    let thread = repo::thread(conn, &fresh, user_id)?;
    let questions: Vec<&str> = thread
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.id.as_str())
        .collect();
    let thread_files = files::of_thread(conn, &questions, model_row.vision)?;
    let mut budget = engine::reference_budget(model_row.window);
    let mut blocks = Vec::new();
    if !context.is_empty() {
        let (block, used) = engine::context_block(&context, &mut budget);
        if let Some(u) = &user_message {
            repo::set_context(conn, &u.id, &used)?;
        }
        blocks.push(block);
    }
    blocks.push(files::documents_block(&thread_files, &mut budget));
    blocks.retain(|b| !b.is_empty());
    let context_text = (!blocks.is_empty()).then(|| blocks.join("\n"));
    let user_message = match user_message {
        Some(u) => repo::message_with_siblings(conn, &u.id)?,
        None => None,
    };
    let answer = repo::message_with_siblings(conn, &answer.id)?.unwrap_or(answer);
    Ok(Rows {
        conversation: fresh,
        thread,
        user_message,
        answer,
        title_from,
        context_text,
        images: thread_files.images,
    })
}

/// Waits for the end of a generation (for the dialects that answer once).
pub async fn outcome(generation: &Arc<Generation>) -> Result<Outcome> {
    let mut user_message = Value::Null;
    let mut last = None;
    let mut events = Box::pin(generation.subscribe(None));
    while let Some(event) = events.next().await {
        match event {
            Event::Message(v) => user_message = v["user_message"].clone(),
            Event::Delta { .. } => {}
            end => last = Some(end),
        }
    }
    match last {
        Some(Event::Done(message)) => Ok(Outcome::Answered {
            user_message,
            message,
        }),
        Some(Event::Error(err)) => Ok(Outcome::Failed {
            status: err["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (100..1000).contains(s))
                .unwrap_or(502),
            error: err["error"].clone(),
            code: err["code"].clone(),
            message: err["message"].clone(),
            user_message,
        }),
        _ => Err(Error::Internal(
            "the generation ended without a result".into(),
        )),
    }
}

/// A gateway call's admission: a place among the answers being written
/// (`--max-generations`, `--max-generations-per-user`, shared with the
/// conversations' answers), then the caller's plan, checked and the call
/// counted in one transaction before the provider is called. The slot is
/// held until the call ends, however it ends.
pub async fn admit_call(chat: &Chat<'_>, user_id: &str, model_id: &str) -> Result<CallSlot> {
    let slot = chat.engine.admit_call(user_id)?;
    let user_id = user_id.to_string();
    let model_id = model_id.to_string();
    chat.db
        .run(move |conn| {
            repo::turn(conn, |tx| -> Result<()> {
                check_plan(tx, &user_id, &model_id)?;
                plan::record_usage(tx, &user_id, &model_id, None)?;
                Ok(())
            })
        })
        .await?;
    Ok(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conversation::{NewConversation, Status, Usage};

    fn test_model() -> Model {
        Model {
            id: "m".into(),
            name: "m".into(),
            window: None,
            vision: false,
        }
    }

    /// A fresh database file (kept alive by the returned directory) with one
    /// user, and a conversation of theirs with no title.
    fn setup() -> (tempfile::TempDir, Connection, String, Conversation) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("daehwa.db")).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        crate::db::migrate::migrate(&mut conn, None).unwrap();
        let user_id = crate::db::new_id();
        conn.execute(
            "INSERT INTO user (id, username, display_name, role, status, created_at, updated_at)
             VALUES (?1, 'alice', 'Alice', 'user', 'active', 'x', 'x')",
            [&user_id],
        )
        .unwrap();
        let conversation = repo::create(
            &conn,
            &user_id,
            &NewConversation {
                title: "",
                model_id: None,
                system_prompt: "",
            },
        )
        .unwrap();
        (dir, conn, user_id, conversation)
    }

    /// One turn as `ask_with` writes it (no plan, no collector items); the
    /// answer is finished at once with `answer` as its text.
    fn take_turn(
        conn: &mut Connection,
        user_id: &str,
        conversation: &Conversation,
        turn: Turn,
        answer: &str,
    ) -> Rows {
        let conv = repo::get(conn, user_id, &conversation.id).unwrap().unwrap();
        let rows = repo::turn(conn, |tx| {
            write_turn(tx, &conv, user_id, &test_model(), &turn, Carried::default())
        })
        .unwrap();
        repo::finish(
            conn,
            &rows.answer.id,
            answer,
            Status::Complete,
            None,
            Usage::default(),
        )
        .unwrap();
        rows
    }

    /// The current thread's contents, root first.
    fn shown(conn: &Connection, user_id: &str, conversation: &Conversation) -> Vec<String> {
        let conv = repo::get(conn, user_id, &conversation.id).unwrap().unwrap();
        repo::thread(conn, &conv, user_id)
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect()
    }

    #[test]
    fn an_edit_is_a_sibling_question_whose_branch_is_shown() {
        let (_dir, mut conn, user, conv) = setup();
        take_turn(&mut conn, &user, &conv, Turn::Question("q1".into()), "a1");
        let old = take_turn(&mut conn, &user, &conv, Turn::Question("q2".into()), "a2");
        let new = take_turn(
            &mut conn,
            &user,
            &conv,
            Turn::Edit("q2 again".into()),
            "a2'",
        );
        assert_eq!(shown(&conn, &user, &conv), ["q1", "a1", "q2 again", "a2'"]);

        let old_q = old.user_message.unwrap();
        let new_q = new.user_message.unwrap();
        assert_eq!(
            new_q.parent_id, old_q.parent_id,
            "the edit is the old question's sibling"
        );
        assert_eq!(new_q.sibling_ids, vec![old_q.id.clone(), new_q.id.clone()]);
        let conv_now = repo::get(&conn, &user, &conv.id).unwrap().unwrap();
        assert_eq!(conv_now.current_message_id, Some(new.answer.id));
        assert_eq!(conv_now.message_count, 4);

        // Switching back to the old question shows its branch down to its answer.
        let leaf = repo::latest_leaf(&conn, &old_q.id).unwrap();
        repo::set_current(&conn, &conv.id, Some(&leaf), false).unwrap();
        assert_eq!(shown(&conn, &user, &conv), ["q1", "a1", "q2", "a2"]);
    }

    #[test]
    fn a_regeneration_is_a_sibling_answer_and_is_shown() {
        let (_dir, mut conn, user, conv) = setup();
        let first = take_turn(&mut conn, &user, &conv, Turn::Question("q".into()), "a1");
        let again = take_turn(&mut conn, &user, &conv, Turn::Regenerate, "a2");
        assert!(again.user_message.is_none(), "no new question");
        assert_eq!(shown(&conn, &user, &conv), ["q", "a2"]);
        let question = first.user_message.unwrap();
        assert_eq!(
            again.answer.parent_id.as_deref(),
            Some(question.id.as_str())
        );
        assert_eq!(
            again.answer.sibling_ids,
            vec![first.answer.id.clone(), again.answer.id.clone()]
        );
        assert_eq!(again.answer.role, Role::Assistant);
        // The newest leaf under the question is the regenerated answer.
        assert_eq!(
            repo::latest_leaf(&conn, &question.id).unwrap(),
            again.answer.id
        );
    }

    #[test]
    fn delete_last_removes_the_last_question_with_all_its_answers() {
        let (_dir, mut conn, user, conv) = setup();
        let first = take_turn(&mut conn, &user, &conv, Turn::Question("q1".into()), "a1");
        let second = take_turn(&mut conn, &user, &conv, Turn::Question("q2".into()), "a2");
        let regenerated = take_turn(&mut conn, &user, &conv, Turn::Regenerate, "a2'");

        let current = repo::get(&conn, &user, &conv.id).unwrap().unwrap();
        assert!(repo::delete_last_exchange(&mut conn, &current).unwrap());
        assert_eq!(shown(&conn, &user, &conv), ["q1", "a1"]);
        for gone in [
            second.user_message.unwrap().id,
            second.answer.id,
            regenerated.answer.id,
        ] {
            assert!(repo::message(&conn, &gone).unwrap().is_none(), "{gone}");
        }
        let current = repo::get(&conn, &user, &conv.id).unwrap().unwrap();
        assert_eq!(current.current_message_id, Some(first.answer.id));
        assert_eq!(current.message_count, 2);

        assert!(repo::delete_last_exchange(&mut conn, &current).unwrap());
        let current = repo::get(&conn, &user, &conv.id).unwrap().unwrap();
        assert!(shown(&conn, &user, &conv).is_empty());
        assert_eq!(current.current_message_id, None);
        assert!(
            !repo::delete_last_exchange(&mut conn, &current).unwrap(),
            "nothing left to delete"
        );
    }

    #[test]
    fn a_turn_writes_the_question_the_empty_answer_and_the_title_together() {
        let (_dir, mut conn, user, conv) = setup();
        let rows = repo::turn(&mut conn, |tx| {
            write_turn(
                tx,
                &conv,
                &user,
                &test_model(),
                &Turn::Question("  hello   there ".into()),
                Carried::default(),
            )
        })
        .unwrap();
        let question = rows.user_message.unwrap();
        assert_eq!(
            (question.role, question.status),
            (Role::User, Status::Complete)
        );
        assert_eq!(question.content, "  hello   there ");
        let answer = repo::message(&conn, &rows.answer.id).unwrap().unwrap();
        assert_eq!(
            (answer.role, answer.status),
            (Role::Assistant, Status::Streaming)
        );
        assert_eq!(answer.content, "");
        assert_eq!(answer.parent_id, Some(question.id));
        let saved = repo::get(&conn, &user, &conv.id).unwrap().unwrap();
        assert_eq!(saved.title, engine::fallback_title("hello there"));
        assert_eq!(rows.title_from.as_deref(), Some(saved.title.as_str()));
        assert_eq!(saved.current_message_id, Some(answer.id));
        assert_eq!(saved.model_id.as_deref(), Some("m"));
    }

    #[test]
    fn a_refused_turn_leaves_nothing_behind() {
        let (_dir, mut conn, user, conv) = setup();
        // A default plan without the model asked for.
        plan::save(
            &conn,
            None,
            &plan::PlanInput {
                name: "small",
                daily_message_limit: None,
                allowed_models: &["other".to_string()],
                self_service: false,
                is_default: true,
            },
        )
        .unwrap();
        // The refusal comes after the rows are written, so only the
        // transaction keeps them out.
        let refused = repo::turn(&mut conn, |tx| -> Result<Rows> {
            let rows = write_turn(
                tx,
                &conv,
                &user,
                &test_model(),
                &Turn::Question("q".into()),
                Carried::default(),
            )?;
            check_plan(tx, &user, "m")?;
            Ok(rows)
        });
        let err = refused.err().expect("the plan refuses the model");
        assert_eq!(err.status().as_u16(), 403);
        let count: i64 = conn
            .query_row("SELECT count(*) FROM message", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0, "no question and no answer");
        let saved = repo::get(&conn, &user, &conv.id).unwrap().unwrap();
        assert_eq!(saved.title, "", "no title");
        assert_eq!(saved.current_message_id, None);
        assert_eq!(saved.message_count, 0);
    }

    #[test]
    fn a_question_must_have_text_and_not_be_too_long() {
        assert!(check_content("hello").is_ok());
        let cases = [
            ("".to_string(), "empty"),
            ("  \n\t".to_string(), "only whitespace"),
            ("가".repeat(MAX_CONTENT_CHARS + 1), "one character too long"),
        ];
        for (content, why) in cases {
            let err = check_content(&content).expect_err(why);
            assert_eq!(err.status().as_u16(), 422, "{why}");
        }
        assert!(check_content(&"가".repeat(MAX_CONTENT_CHARS)).is_ok());
    }

    #[test]
    fn the_collector_text_follows_the_system_prompt() {
        assert_eq!(system_prompt("be brief", None), "be brief");
        assert_eq!(system_prompt(" ", Some("ctx")), "ctx");
        assert_eq!(system_prompt("be brief", Some("ctx")), "be brief\n\nctx");
    }
}
