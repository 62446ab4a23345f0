//! One answer's run: the provider call on a reader thread of its own, how
//! it ended ([`Outcome`]: what is stored and what is sent), the final write,
//! the `done` or `error` event, and the title of a new conversation.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;

use super::flush::{release_free_memory, Final};
use super::generation::{Cut, Generation};
use super::{clean_title, estimate_tokens, Engine, Event, Job, LINGER, READER_STACK};
use crate::db::conversation::{self, Usage};
use crate::llm;

/// How one answer ended: what is stored with it ([`Outcome::status`], the
/// error of [`Outcome::failure`], [`Outcome::detail`] for admins) and what its
/// subscribers are told (`done`, or `error` with the failure's code and HTTP
/// status).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The provider finished the answer.
    Complete,
    /// The engine cut it; the text so far is kept.
    Cut(Cut),
    /// The provider failed (after the retries); the text so far is kept.
    Failed(llm::LlmError),
    /// The server shut down while it was being written.
    Interrupted,
    /// Its user stopped it (not an error).
    Stopped,
}

/// What a failed answer stores as its error and sends in its `error` event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    /// For the user: stored with the message and sent as `error`.
    message: String,
    /// The machine code sent as `code`.
    code: &'static str,
    /// The status of a non-streamed answer.
    status: u16,
}

impl Outcome {
    /// The outcome of the provider call `result`, given the engine's cut (it
    /// wins: the call ended because of it) and whether the server is
    /// shutting down (a cancel then is an interruption, not a stop).
    fn of(
        result: &Result<llm::Usage, llm::LlmError>,
        cut: Option<Cut>,
        shutting_down: bool,
    ) -> Outcome {
        match (result, cut) {
            (_, Some(cut)) => Outcome::Cut(cut),
            (Ok(_), None) => Outcome::Complete,
            (Err(llm::LlmError::Cancelled), None) if shutting_down => Outcome::Interrupted,
            (Err(llm::LlmError::Cancelled), None) => Outcome::Stopped,
            (Err(err), None) => Outcome::Failed(err.clone()),
        }
    }

    /// The message's stored status.
    fn status(&self) -> conversation::Status {
        match self {
            Outcome::Complete => conversation::Status::Complete,
            Outcome::Stopped => conversation::Status::Stopped,
            Outcome::Cut(_) | Outcome::Failed(_) | Outcome::Interrupted => {
                conversation::Status::Error
            }
        }
    }

    /// The error stored and sent, with its code and status; `None` for a
    /// complete or stopped answer.
    fn failure(&self) -> Option<Failure> {
        let failure = |message: String, code, status| Failure {
            message,
            code,
            status,
        };
        match self {
            Outcome::Complete | Outcome::Stopped => None,
            Outcome::Cut(Cut::TooLong(limit)) => Some(failure(
                format!(
                    "the answer was cut at {limit} characters, the longest this server keeps; \
                     the text so far is saved"
                ),
                "answer_too_long",
                502,
            )),
            Outcome::Cut(Cut::TooSlow(limit)) => Some(failure(
                format!(
                    "the answer was cut after {} seconds, the longest an answer may take on \
                     this server; the text so far is saved",
                    limit.as_secs()
                ),
                "generation_timeout",
                504,
            )),
            Outcome::Cut(Cut::DiskFull) => Some(failure(
                "the server's disk is full: the answer was stopped; its text so far is kept \
                 and saved as soon as space is freed"
                    .to_string(),
                "disk_full",
                507,
            )),
            // The provider's one mapping, for a shutdown as for a failure.
            Outcome::Interrupted => Some(Self::llm_failure(&llm::LlmError::Cancelled)),
            Outcome::Failed(err) => Some(Self::llm_failure(err)),
        }
    }

    fn llm_failure(err: &llm::LlmError) -> Failure {
        Failure {
            message: err.user_message(),
            code: err.code(),
            status: err.status(),
        }
    }

    /// What the provider said, for admins only (status page, log).
    fn detail(&self) -> Option<String> {
        match self {
            Outcome::Failed(err) => Some(err.to_string()),
            _ => None,
        }
    }
}

/// An answer whose reader thread was started ([`Engine::start_reading`]),
/// with what its end needs of the job.
pub(super) struct Reading {
    /// The reader's result, or why the thread could not start.
    done: std::io::Result<Done>,
    conversation_id: String,
    title_from: Option<String>,
    title_endpoint: Option<llm::Endpoint>,
    question: String,
    model: String,
    prompt_estimate: u32,
}

/// Called on a reader thread once its answer's first token went out: the
/// rest of the answer runs at a lower scheduling priority than the server's
/// other threads. When the cores are saturated (a burst of answers starting
/// at once), the threads that accept requests, write questions and start
/// readers go before more tokens of answers already flowing, so a new
/// answer's first token waits less; with a core free, a lowered thread runs
/// as before. Linux only (its nice value is per thread, and a thread may
/// always lower its own priority); elsewhere every thread keeps its own.
fn after_first_token() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc's nice() adds to the calling thread's nice value (Linux
        // keeps it per thread); a failure leaves the priority as it was.
        // SAFETY: nice only reads its integer argument.
        unsafe {
            libc::nice(READER_NICE);
        }
    }
}

/// How much a reader thread's nice value grows after its first token. Each
/// step is about 1.25 times less CPU time when threads compete for a core.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const READER_NICE: libc::c_int = 5;

/// What a reader thread's provider call ends with.
pub(super) type Done = tokio::sync::oneshot::Receiver<Result<llm::Usage, llm::LlmError>>;

/// A reader thread waiting for its answer's provider call: each answer reads
/// its provider on a thread of its own, not on tokio's blocking pool (a
/// thousand slow answers must not starve the SQLite calls that use that
/// pool, DESIGN §1). Started by [`Engine::early_reader`] while the question
/// is being written, or by `start_turn` when there is none.
pub struct Reader {
    pub(super) call: std::sync::mpsc::SyncSender<Call>,
    pub(super) done: Done,
    /// Held while an early reader waits for its call.
    pub(super) early: Option<EarlyCount>,
}

/// The call a reader makes: where to, what, and the answer it writes to.
pub(super) struct Call {
    endpoint: llm::Endpoint,
    request: llm::ChatRequest,
    gen: Arc<Generation>,
    /// The engine's delivery tick, which paces the reads ([`llm::paced`]).
    pace: Arc<llm::Pace>,
}

/// One of the readers started early and waiting for a call
/// ([`Engine::early_reader`]); counted down as it gets its call or is dropped.
pub(super) struct EarlyCount(pub(super) Arc<std::sync::atomic::AtomicUsize>);

impl Drop for EarlyCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Reader {
    /// A new reader thread. Dropped without a call (the question was
    /// refused), it ends at once.
    pub(super) fn spawn(early: Option<EarlyCount>) -> std::io::Result<Reader> {
        let (call, calls) = std::sync::mpsc::sync_channel::<Call>(1);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("llm-reader".into())
            .stack_size(READER_STACK)
            .spawn(move || {
                let Ok(Call {
                    endpoint,
                    request,
                    gen,
                    pace,
                }) = calls.recv()
                else {
                    return;
                };
                let mut first = true;
                let outcome = llm::paced(&pace, || {
                    llm::stream_chat(&endpoint, &request, &gen.cancel, &mut |piece| {
                        gen.push_delta(piece);
                        if std::mem::take(&mut first) {
                            after_first_token();
                            // Later tokens go out on the delivery tick.
                            llm::start_pacing();
                        }
                    })
                });
                let _ = done_tx.send(outcome);
            })?;
        Ok(Reader { call, done, early })
    }

    /// Hands the reader its call; what the call ends with.
    fn read(self, call: Call) -> std::io::Result<Done> {
        let Reader {
            call: to,
            done,
            early,
        } = self;
        drop(early);
        to.send(call)
            .map_err(|_| std::io::Error::other("the reader thread ended before its call"))?;
        Ok(done)
    }
}

impl Engine {
    /// Starts the answer's provider call on `reader` (a new reader thread if
    /// none), at once: called by `start_turn` before the answer's task is
    /// spawned, so the request goes upstream while the response's head is
    /// still being written (the time to first token, issue 19), not after.
    pub(super) fn start_reading(
        &self,
        gen: &Arc<Generation>,
        job: Job,
        reader: Option<Reader>,
    ) -> Reading {
        let Job {
            endpoint,
            request,
            title_from,
            conversation_id,
            ..
        } = job;
        let title_endpoint = title_from.as_ref().map(|_| endpoint.clone());
        let question = request
            .messages
            .iter()
            .rev()
            .find(|m| matches!(m.role, llm::ChatRole::User))
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let model = request.model.clone();
        let prompt_estimate = request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum::<u32>();
        let call = Call {
            endpoint,
            request,
            gen: gen.clone(),
            pace: self.inner.pace.clone(),
        };
        let done = match reader {
            Some(reader) => Ok(reader),
            None => Reader::spawn(None),
        }
        .and_then(|reader| reader.read(call));
        Reading {
            done,
            conversation_id,
            title_from,
            title_endpoint,
            question,
            model,
            prompt_estimate,
        }
    }

    /// The rest of the answer's run, once its reader started: waits for the
    /// reader (cut past the time limit), writes the final answer, sends
    /// `done` or `error`, names a new conversation, and keeps the answer a
    /// while for late reconnects.
    pub(super) async fn run(self, gen: Arc<Generation>, reading: Reading) {
        let max_time = self.inner.limits.max_generation_time;
        let outcome = match reading.done {
            Ok(mut done_rx) => {
                let result = match tokio::time::timeout(max_time, &mut done_rx).await {
                    Ok(result) => result,
                    Err(_) => {
                        gen.lock().cut.get_or_insert(Cut::TooSlow(max_time));
                        gen.cancel.store(true, Ordering::Relaxed);
                        done_rx.await
                    }
                };
                result.unwrap_or_else(|_| {
                    Err(llm::LlmError::Connect(
                        "the reader thread ended without a result".into(),
                    ))
                })
            }
            Err(err) => Err(llm::LlmError::Connect(format!(
                "cannot start a reader thread: {err}"
            ))),
        };

        let (text, cut) = {
            let state = gen.lock();
            (state.text.clone(), state.cut)
        };
        let shutting_down = self.inner.shutting_down.load(Ordering::Relaxed);
        let ending = Outcome::of(&outcome, cut, shutting_down);
        let status = ending.status();
        let failure = ending.failure();
        let error = failure.as_ref().map(|f| f.message.clone());
        let usage = match &outcome {
            Ok(u) if u.prompt_tokens > 0 || u.completion_tokens > 0 => Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            },
            _ => Usage {
                prompt_tokens: reading.prompt_estimate,
                completion_tokens: estimate_tokens(&text),
            },
        };
        if let Err(err) = &outcome {
            if !matches!(err, llm::LlmError::Cancelled) {
                log::warn!("answer {} failed: {err}", gen.message_id);
            }
        }

        // What the provider said stays with admins (status page, log).
        let detail = ending.detail();
        let answer = Final {
            id: gen.message_id.clone(),
            text,
            status,
            error,
            detail,
            usage,
        };
        let final_message = self.write_final(answer.clone()).await;
        let final_json = match final_message {
            Ok(Some(m)) => json!(m),
            Ok(None) => json!({ "id": gen.message_id, "status": status }),
            Err(err) => {
                let unsaved = json!({
                    "id": gen.message_id,
                    "conversation_id": reading.conversation_id,
                    "role": conversation::Role::Assistant,
                    "status": status,
                    "content": answer.text,
                    "error": answer.error,
                });
                if err.is_disk_full() {
                    // Kept until the flush task can write it.
                    self.unsaved().push(answer);
                } else {
                    log::error!("could not save answer {}: {err}", gen.message_id);
                }
                unsaved
            }
        };
        {
            let mut state = gen.lock();
            let event = match failure {
                Some(failure) => Event::Error(json!({
                    "error": failure.message,
                    "code": failure.code,
                    "status": failure.status,
                    "message": final_json,
                })),
                None => Event::Done(final_json),
            };
            gen.push(&mut state, event);
            state.finished = true;
            gen.changed.send_replace(state.events());
        }
        if self.inner.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify_waiters();
        }

        if matches!(ending, Outcome::Complete) {
            if let (Some(fallback), Some(endpoint)) = (reading.title_from, reading.title_endpoint) {
                self.generate_title(
                    reading.conversation_id.clone(),
                    fallback,
                    endpoint,
                    reading.model,
                    reading.question,
                )
                .await;
            }
        }

        // Keep it a while for late reconnects, unless a newer one took the slot.
        let engine = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LINGER).await;
            let last = {
                let mut slots = engine.slots();
                // The turn goes once all its answers have ended (the last
                // to end removes it, a minute after it ended).
                let ours = slots.get(&reading.conversation_id).is_some_and(|slot| {
                    let gens = slot.generations();
                    gens.iter().any(|g| Arc::ptr_eq(g, &gen))
                        && gens.iter().all(|g| g.is_finished())
                });
                if ours {
                    slots.remove(&reading.conversation_id);
                }
                slots.is_empty()
            };
            drop(gen);
            // The last answer kept for reconnects is gone: the server is idle,
            // give what the answers used back to the system.
            if last && engine.inner.active.load(Ordering::SeqCst) == 0 {
                tokio::task::spawn_blocking(release_free_memory);
            }
        });
    }

    /// Asks the model for a short title; keeps the fallback on any failure.
    async fn generate_title(
        &self,
        conversation_id: String,
        fallback: String,
        endpoint: llm::Endpoint,
        model: String,
        question: String,
    ) {
        let request = llm::ChatRequest {
            model,
            messages: vec![
                llm::ChatMessage::new(
                    llm::ChatRole::System,
                    "You write titles. Reply with a title of at most six words for the \
                     conversation that starts with the user's message, in the user's \
                     language, without quotes or punctuation at the end.",
                ),
                llm::ChatMessage::new(
                    llm::ChatRole::User,
                    question.chars().take(2000).collect::<String>(),
                ),
            ],
            max_tokens: Some(32),
        };
        // A few at a time: each holds a blocking thread for the provider's
        // whole answer, and those threads are the database's too.
        let Ok(_permit) = self.inner.titles.acquire().await else {
            return;
        };
        let answer = tokio::task::spawn_blocking(move || llm::complete(&endpoint, &request)).await;
        let title = match answer {
            Ok(Ok((text, _))) => clean_title(&text),
            Ok(Err(err)) => {
                log::info!("title generation failed, keeping the first words: {err}");
                return;
            }
            Err(_) => return,
        };
        if title.is_empty() {
            return;
        }
        let result = self
            .inner
            .db
            .run(move |conn| conversation::set_title_if(conn, &conversation_id, &fallback, &title))
            .await;
        if let Err(err) = result {
            log::warn!("could not save a generated title: {err}");
        }
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::{after_first_token, READER_NICE};

    /// The nice value of the calling thread.
    fn nice_now() -> libc::c_int {
        // SAFETY: getpriority only reads its integer arguments.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    /// After its first token a reader thread runs at a lower priority, and
    /// only that thread: the thread that started it keeps its own.
    #[test]
    fn a_reader_thread_lowers_its_own_priority_after_the_first_token() {
        let ours = nice_now();
        let (before, after) = std::thread::spawn(|| {
            let before = nice_now();
            after_first_token();
            (before, nice_now())
        })
        .join()
        .unwrap();
        assert_eq!(before, ours);
        assert_eq!(after, (before + READER_NICE).min(19));
        assert_eq!(nice_now(), ours, "the other threads keep their priority");
    }
}
