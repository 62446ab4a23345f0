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
}

impl Generation {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn push(&self, state: &mut State, event: Event) {
        state.events.push(event);
        self.changed.send_replace(state.events.len());
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
        self.push(
            &mut state,
            Event::Delta {
                seq,
                content: piece.to_string(),
            },
        );
        self.dirty.store(true, Ordering::Relaxed);
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
                        if let Some(event) = state.events.get(next) {
                            let event = event.clone();
                            drop(state);
                            return Some((event, (gen, next + 1, rx)));
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
