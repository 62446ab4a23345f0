//! The writers of answers' text. The flush task writes the partial text of
//! every running answer once per [`FLUSH_INTERVAL`](super::FLUSH_INTERVAL),
//! and the final state of answers that could not be saved (a full disk) once
//! space is freed; it sleeps while no answer runs. The final writer
//! ([`final_loop`]) writes the final state of answers as they end, those
//! that end together in one transaction.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::{Engine, Slot, FLUSH_INTERVAL};
use crate::db::conversation::{self, Message, Usage};
use crate::db::{Db, DbError};

/// The most answers whose final state one transaction writes: enough to
/// share the commit among many, few enough that the write stays short
/// (DESIGN §3) and the questions being written meanwhile do not wait
/// long for SQLite's lock.
const MAX_FINAL_BATCH: usize = 16;

/// The final state of an answer, waiting to be written.
#[derive(Clone)]
pub(super) struct Final {
    pub(super) id: String,
    pub(super) text: String,
    pub(super) status: conversation::Status,
    pub(super) error: Option<String>,
    /// What the provider said, for admins.
    pub(super) detail: Option<String>,
    pub(super) usage: Usage,
}

impl Engine {
    pub(super) async fn flush_loop(self) {
        const IDLE_CHECK: Duration = Duration::from_secs(60);
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Whether answers ran since the server was last idle.
        let mut worked = false;
        loop {
            tick.tick().await;
            if Arc::strong_count(&self.inner) == 1 {
                return; // the engine is gone
            }
            self.flush_once().await;
            if !self.unsaved().is_empty() {
                self.write_unsaved().await;
                continue;
            }
            // Nothing streams: sleep until an answer starts (a stored permit
            // covers one that started meanwhile), so an idle server does not
            // wake twice a second; look now and then whether the engine is gone.
            if self.inner.active.load(Ordering::SeqCst) == 0 {
                if worked {
                    self.inner.db.checkpoint().await;
                    tokio::task::spawn_blocking(release_free_memory);
                }
                worked = tokio::time::timeout(IDLE_CHECK, self.inner.started.notified())
                    .await
                    .is_ok();
                tick.reset();
            }
        }
    }

    /// Writes the partial text of every answer that changed since the last tick.
    pub async fn flush_once(&self) {
        let dirty: Vec<(String, String)> = {
            let slots = self.slots();
            slots
                .values()
                .flat_map(Slot::generations)
                .filter(|gen| gen.dirty.swap(false, Ordering::Relaxed))
                .filter_map(|gen| {
                    let state = gen.lock();
                    (!state.finished).then(|| (gen.message_id.clone(), state.text.clone()))
                })
                .collect()
        };
        if dirty.is_empty() {
            return;
        }
        let count = dirty.len();
        match self
            .inner
            .db
            .run(move |conn| conversation::flush_partial(conn, &dirty))
            .await
        {
            Ok(()) => {}
            // The database layer says so once; every running answer stops
            // here, its text kept in memory until it can be written.
            Err(err) if err.is_disk_full() => {
                for gen in self.slots().values().flat_map(Slot::generations) {
                    gen.cut_for_full_disk();
                }
            }
            Err(err) => {
                log::error!("could not save the partial text of {count} answers: {err}")
            }
        }
    }

    pub(super) fn unsaved(&self) -> std::sync::MutexGuard<'_, Vec<Final>> {
        self.inner.unsaved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the answers kept in memory while the disk was full, all or
    /// none, and says so once they are on disk.
    pub(super) async fn write_unsaved(&self) {
        let pending = std::mem::take(&mut *self.unsaved());
        let count = pending.len();
        let attempt = pending.clone();
        let written = self
            .inner
            .db
            .run(move |conn| write_finals(conn, &attempt))
            .await;
        match written {
            Ok(()) => {
                log::warn!("saved {count} answers that were kept in memory while the disk was full")
            }
            Err(err) => {
                if !err.is_disk_full() {
                    log::error!("could not save {count} answers kept in memory: {err}");
                }
                let mut unsaved = self.unsaved();
                let newer = std::mem::replace(&mut *unsaved, pending);
                unsaved.extend(newer);
            }
        }
    }
}

/// An answer whose final state waits for the final writer, and who to tell
/// once it is written.
pub(super) struct Finishing {
    answer: Final,
    written: oneshot::Sender<Result<Option<Message>, DbError>>,
}

impl Engine {
    /// Writes the final state of an answer (through the final writer) and
    /// reads back its message with its siblings: `None` when the message is
    /// gone (its conversation was deleted meanwhile).
    pub(super) async fn write_final(&self, answer: Final) -> Result<Option<Message>, DbError> {
        let gone = || DbError::Task("the final writer has ended".into());
        let (written, result) = oneshot::channel();
        if self
            .inner
            .finals
            .send(Finishing { answer, written })
            .is_err()
        {
            return Err(gone());
        }
        result.await.unwrap_or_else(|_| Err(gone()))
    }
}

/// The final writer: writes the final state of answers as they end, one
/// transaction for all those that ended while the previous one was being
/// written, up to [`MAX_FINAL_BATCH`] (a group commit). Answers ending
/// together then share a commit, a search-index flush and a WAL write per
/// batch instead of one each, and do not queue for SQLite's write lock
/// against each other; an answer that ends alone is written at once, as
/// before. Ends with the engine (when the last sender is gone).
pub(super) async fn final_loop(db: Db, mut queue: mpsc::UnboundedReceiver<Finishing>) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, MAX_FINAL_BATCH).await > 0 {
        let (answers, replies): (Vec<Final>, Vec<_>) =
            batch.drain(..).map(|f| (f.answer, f.written)).unzip();
        match db.run(move |conn| write_finals_read(conn, &answers)).await {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(err) => {
                for reply in replies {
                    let _ = reply.send(Err(err.copy()));
                }
            }
        }
    }
}

/// Writes the final state of `answers` in one transaction: all or none.
fn write_finals(conn: &mut Connection, answers: &[Final]) -> Result<(), DbError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for a in answers {
        conversation::finish(&tx, &a.id, &a.text, a.status, a.error.as_deref(), a.usage)?;
        if let Some(detail) = &a.detail {
            conversation::set_error_detail(&tx, &a.id, detail)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// [`write_finals`], then each answer's message as written. When the
/// transaction fails for a reason that is not the disk (which fails every
/// write alike), the answers are written one by one, so that one that cannot
/// be written does not take the others with it. `Err` only when nothing was
/// written for a reason that holds for every answer.
fn write_finals_read(
    conn: &mut Connection,
    answers: &[Final],
) -> Result<Vec<Result<Option<Message>, DbError>>, DbError> {
    let read = |conn: &Connection, a: &Final| conversation::message_with_siblings(conn, &a.id);
    match write_finals(conn, answers) {
        Ok(()) => Ok(answers.iter().map(|a| read(conn, a)).collect()),
        Err(err) if answers.len() == 1 || err.is_disk_full() => Err(err),
        Err(_) => Ok(answers
            .iter()
            .map(|a| {
                write_finals(conn, std::slice::from_ref(a))?;
                read(conn, a)
            })
            .collect()),
    }
}

/// Hands the memory freed by finished answers back to the system. glibc
/// keeps freed blocks in per-thread arenas (a thousand reader threads use
/// many of them): after a soak of 1,000 concurrent answers the idle server
/// still held 350 MiB, and `malloc_trim` brought it to 74 MiB (measured).
/// Other allocators (Windows, musl) return memory on their own.
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conversation::{NewConversation, Status};

    /// A fresh database with one user and `n` conversations, each with a
    /// question and its (streaming) answer; the answers' ids.
    fn answers(n: usize) -> (tempfile::TempDir, Connection, Vec<String>) {
        let (dir, mut conn, user) = crate::db::test_db();
        let ids = (0..n)
            .map(|_| {
                let new = NewConversation {
                    title: "t",
                    model_id: None,
                    system_prompt: "",
                };
                let conv = conversation::create(&conn, &user, &new).unwrap();
                let (_, answer) = conversation::turn(&mut conn, |tx| {
                    conversation::add_exchange(tx, &conv.id, None, "question", "m")
                })
                .unwrap();
                answer.id
            })
            .collect();
        (dir, conn, ids)
    }

    fn answer(id: &str, text: &str, detail: Option<&str>) -> Final {
        Final {
            id: id.to_string(),
            text: text.to_string(),
            status: if detail.is_some() {
                Status::Error
            } else {
                Status::Complete
            },
            error: detail.map(|_| "the provider failed".to_string()),
            detail: detail.map(str::to_string),
            usage: Usage {
                prompt_tokens: 3,
                completion_tokens: 5,
            },
        }
    }

    #[test]
    fn answers_ending_together_are_written_in_one_go_and_read_back() {
        let (_dir, mut conn, ids) = answers(3);
        let batch = vec![
            answer(&ids[0], "first answer", None),
            answer(&ids[1], "second answer", Some("upstream said 500")),
            answer(&ids[2], "third answer", None),
        ];
        let written = write_finals_read(&mut conn, &batch).unwrap();
        let messages: Vec<Message> = written.into_iter().map(|r| r.unwrap().unwrap()).collect();
        let texts: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["first answer", "second answer", "third answer"]);
        assert_eq!(messages[1].status, Status::Error);
        assert_eq!(messages[1].error.as_deref(), Some("the provider failed"));
        let detail: String = conn
            .query_row(
                "SELECT detail FROM message_error_detail WHERE message_id = ?1",
                [&ids[1]],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(detail, "upstream said 500");
        // Indexed for search once no longer streaming.
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM search_trigram WHERE search_trigram MATCH '\"answer\"'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 3);
    }

    #[test]
    fn an_answer_that_cannot_be_written_does_not_take_the_others_with_it() {
        let (_dir, mut conn, ids) = answers(2);
        // Its conversation was deleted while it ran: its detail row has no
        // message to belong to, so the batch's transaction fails.
        let batch = vec![
            answer(&ids[0], "kept", None),
            answer("gone", "lost", Some("upstream said 500")),
            answer(&ids[1], "kept too", Some("timeout")),
        ];
        let written = write_finals_read(&mut conn, &batch).unwrap();
        assert_eq!(
            written[0].as_ref().unwrap().as_ref().unwrap().content,
            "kept"
        );
        assert!(written[1].is_err(), "{:?}", written[1]);
        assert_eq!(
            written[2].as_ref().unwrap().as_ref().unwrap().content,
            "kept too"
        );
        // Alone, the same failure is the batch's error.
        let alone = write_finals_read(&mut conn, &[answer("gone", "x", Some("d"))]);
        assert!(alone.is_err());
    }
}
