//! One answer being written: its [`Generation`] (the text so far, its
//! events, its cancel flag) and the subscribers that replay and follow it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::watch;

use super::Event;

#[derive(Default)]
pub(super) struct State {
    pub(super) events: Vec<Event>,
    pub(super) text: String,
    /// Characters in `text`.
    pub(super) chars: usize,
    pub(super) deltas: u64,
    pub(super) finished: bool,
    /// Why the engine cut the answer, when it did.
    pub(super) cut: Option<Cut>,
}

/// Why the engine ended an answer the provider was still writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
    /// It grew past [`Limits::max_answer_chars`].
    TooLong(usize),
    /// It ran past [`Limits::max_generation_time`].
    TooSlow(Duration),
    /// Its text could not be written: the disk is full.
    DiskFull,
}

/// One running (or recently finished) answer.
pub struct Generation {
    pub conversation_id: String,
    pub message_id: String,
    pub(super) user_id: String,
    pub(super) max_chars: usize,
    pub(super) state: Mutex<State>,
    pub(super) changed: watch::Sender<usize>,
    pub(super) cancel: AtomicBool,
    pub(super) dirty: AtomicBool,
    /// Deltas were added that subscribers have not been told of yet: the
    /// engine tells them at its next delivery tick ([`Generation::deliver`]).
    pub(super) undelivered: AtomicBool,
}

impl Generation {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an event and tells the subscribers at once (with any deltas
    /// still waiting for the delivery tick).
    pub(super) fn push(&self, state: &mut State, event: Event) {
        state.events.push(event);
        self.undelivered.store(false, Ordering::Relaxed);
        self.changed.send_replace(state.events.len());
    }

    /// Tells the subscribers of deltas added since they were last told
    /// (the engine's delivery tick).
    pub(super) fn deliver(&self) {
        if self.undelivered.swap(false, Ordering::AcqRel) {
            let len = self.lock().events.len();
            self.changed.send_replace(len);
        }
    }

    pub(super) fn push_delta(&self, piece: &str) {
        if piece.is_empty() {
            return;
        }
        let mut state = self.lock();
        if state.cut.is_some() {
            return;
        }
        let mut piece = piece;
        let chars = piece.chars().count();
        if state.chars + chars > self.max_chars {
            // Keep what fits, and end the answer there.
            let room = self.max_chars.saturating_sub(state.chars);
            let end = piece
                .char_indices()
                .nth(room)
                .map_or(piece.len(), |(i, _)| i);
            piece = &piece[..end];
            state.cut = Some(Cut::TooLong(self.max_chars));
            self.cancel.store(true, Ordering::Relaxed);
            if piece.is_empty() {
                return;
            }
        }
        state.chars += piece.chars().count();
        state.deltas += 1;
        state.text.push_str(piece);
        let seq = state.deltas;
        state.events.push(Event::Delta {
            seq,
            content: piece.to_string(),
        });
        self.dirty.store(true, Ordering::Relaxed);
        if seq == 1 {
            // The first token goes out at once: it is what the user waits for.
            self.changed.send_replace(state.events.len());
        } else {
            // The rest at the engine's next delivery tick, several in one
            // write when they come fast (see `DELIVER_INTERVAL`).
            self.undelivered.store(true, Ordering::Release);
        }
    }

    /// The payload of the answer's `message` event (the created rows).
    pub fn created(&self) -> Option<serde_json::Value> {
        self.lock().events.iter().find_map(|e| match e {
            Event::Message(v) => Some(v.clone()),
            _ => None,
        })
    }

    /// Whether the answer is complete (or failed or stopped).
    pub fn is_finished(&self) -> bool {
        self.lock().finished
    }

    /// Ends the answer because its text cannot be written (status `error`).
    pub(super) fn cut_for_full_disk(&self) {
        self.lock().cut.get_or_insert(Cut::DiskFull);
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Asks the reader to stop; the partial text is kept as `stopped`.
    pub fn stop(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The events after `after_seq` (a `Last-Event-ID`), or all of them, then
    /// the new ones as they come, ending with `done` or `error`.
    pub fn subscribe(
        self: &Arc<Self>,
        after_seq: Option<u64>,
    ) -> impl Stream<Item = Event> + Send + 'static {
        futures_util::StreamExt::flat_map(self.subscribe_batches(after_seq), |batch| {
            futures_util::stream::iter(batch)
        })
    }

    /// [`Generation::subscribe`] in batches: every event there is when the
    /// subscriber looks, so that a stream writes them in one go.
    pub fn subscribe_batches(
        self: &Arc<Self>,
        after_seq: Option<u64>,
    ) -> impl Stream<Item = Vec<Event>> + Send + 'static {
        let start = match after_seq {
            None => 0,
            Some(seq) => {
                let state = self.lock();
                state
                    .events
                    .iter()
                    .position(|e| match e {
                        Event::Delta { seq: s, .. } => *s > seq,
                        Event::Message(_) => false,
                        Event::Done(_) | Event::Error(_) => true,
                    })
                    .unwrap_or(state.events.len())
            }
        };
        let rx = self.changed.subscribe();
        futures_util::stream::unfold(
            (self.clone(), start, rx),
            |(gen, next, mut rx)| async move {
                loop {
                    {
                        let state = gen.lock();
                        if next < state.events.len() {
                            let batch = state.events[next..].to_vec();
                            let end = state.events.len();
                            drop(state);
                            return Some((batch, (gen, end, rx)));
                        }
                        if state.finished {
                            return None;
                        }
                    }
                    if rx.changed().await.is_err() {
                        return None;
                    }
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{FutureExt, StreamExt};

    fn generation() -> Arc<Generation> {
        let (changed, _) = watch::channel(0);
        Arc::new(Generation {
            conversation_id: "c".into(),
            message_id: "m".into(),
            user_id: "u".into(),
            max_chars: 1000,
            state: Mutex::new(State::default()),
            changed,
            cancel: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            undelivered: AtomicBool::new(false),
        })
    }

    fn contents(batch: &[Event]) -> Vec<String> {
        batch
            .iter()
            .map(|e| match e {
                Event::Delta { content, .. } => content.clone(),
                Event::Done(_) => "done".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn the_first_token_goes_at_once_and_the_rest_together_at_the_tick() {
        let gen = generation();
        let mut batches = Box::pin(gen.subscribe_batches(None));
        // What wakes a subscriber waiting for more.
        let mut wakes = gen.changed.subscribe();
        gen.push_delta("a");
        assert!(
            wakes.has_changed().unwrap(),
            "the first token wakes at once"
        );
        wakes.mark_unchanged();
        let first = batches.next().now_or_never().flatten().expect("at once");
        assert_eq!(contents(&first), ["a"]);

        gen.push_delta("b");
        gen.push_delta("c");
        // No wake-up per token: the tick has not come.
        assert!(!wakes.has_changed().unwrap());
        gen.deliver();
        assert!(wakes.has_changed().unwrap(), "the tick wakes");
        wakes.mark_unchanged();
        let tick = batches
            .next()
            .now_or_never()
            .flatten()
            .expect("after the tick");
        assert_eq!(contents(&tick), ["b", "c"]);
        // Nothing new: the tick wakes nobody.
        gen.deliver();
        assert!(!wakes.has_changed().unwrap());
        assert!(batches.next().now_or_never().is_none());

        // `done` goes at once, with any delta still waiting.
        gen.push_delta("d");
        {
            let mut state = gen.lock();
            gen.push(&mut state, Event::Done(serde_json::json!({})));
            state.finished = true;
        }
        let last = batches
            .next()
            .now_or_never()
            .flatten()
            .expect("done at once");
        assert_eq!(contents(&last), ["d", "done"]);
        assert!(batches.next().now_or_never().expect("ended").is_none());

        // A late subscriber replays everything, one event at a time.
        let replay: Vec<Event> = gen.subscribe(Some(1)).collect().await;
        assert_eq!(contents(&replay), ["b", "c", "d", "done"]);
    }
}
