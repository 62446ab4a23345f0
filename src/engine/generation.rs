//! One answer being written: its [`Generation`] (the text so far, its
//! events, its cancel flag) and the subscribers that replay and follow it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::watch;

use super::Event;

/// The `message` event's payload from the text `push` wrote from a Value
/// (so it reads back).
fn read_created(text: &str) -> Option<serde_json::Value> {
    serde_json::from_str(text).ok()
}

/// An answer's events are kept compactly: the text once, with where each
/// delta ends in it, rather than a `String` and an [`Event`] per delta (a
/// thousand answers of a few hundred deltas each held ~20 KiB apiece that
/// way). Positions count the events in order: `message`, the deltas, then
/// `done` or `error`.
#[derive(Default)]
pub(super) struct State {
    /// The `message` event's payload (the created rows): the first event.
    /// Kept as JSON text, read again for each subscriber: the two messages
    /// as a `serde_json::Value` tree took ~8 KiB per answer (heaptrack),
    /// their text ~1.5 KiB, for as long as the answer is written.
    created: Option<Box<str>>,
    pub(super) text: String,
    /// Where each delta ends in `text`: delta `seq` is
    /// `text[ends[seq - 2]..ends[seq - 1]]` (the first starts at 0).
    ends: Vec<usize>,
    /// The last event: `done` or `error`.
    last: Option<Event>,
    /// Characters in `text`.
    pub(super) chars: usize,
    pub(super) finished: bool,
    /// Why the engine cut the answer, when it did.
    pub(super) cut: Option<Cut>,
}

impl State {
    /// How many events the answer has had so far.
    pub(super) fn events(&self) -> usize {
        usize::from(self.created.is_some()) + self.ends.len() + usize::from(self.last.is_some())
    }

    /// The events from position `from` on.
    fn events_from(&self, from: usize) -> Vec<Event> {
        let first_delta = usize::from(self.created.is_some());
        let deltas_end = first_delta + self.ends.len();
        let mut events = Vec::with_capacity(self.events().saturating_sub(from));
        for at in from..self.events() {
            let event = if at < first_delta {
                self.created().map(Event::Message)
            } else if at < deltas_end {
                let i = at - first_delta;
                let start = if i == 0 { 0 } else { self.ends[i - 1] };
                Some(Event::Delta {
                    seq: i as u64 + 1,
                    content: self.text[start..self.ends[i]].to_string(),
                })
            } else {
                self.last.clone()
            };
            events.extend(event);
        }
        events
    }

    /// The `message` event's payload, read from its text.
    fn created(&self) -> Option<serde_json::Value> {
        read_created(self.created.as_deref()?)
    }

    /// The position of the first event after delta `seq` (a `Last-Event-ID`):
    /// the next delta, or the last event. The `message` event is not sent again.
    fn after_delta(&self, seq: u64) -> usize {
        let seen = usize::try_from(seq)
            .unwrap_or(usize::MAX)
            .min(self.ends.len());
        usize::from(self.created.is_some()) + seen
    }
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

    /// Adds the `message` event (first) or the `done` or `error` event
    /// (last) and tells the subscribers at once (with any deltas still
    /// waiting for the delivery tick).
    pub(super) fn push(&self, state: &mut State, event: Event) {
        match event {
            Event::Message(created) => state.created = Some(created.to_string().into()),
            // (Not used: deltas come through `push_delta`, with its limits.)
            Event::Delta { content, .. } => {
                state.text.push_str(&content);
                state.ends.push(state.text.len());
            }
            last @ (Event::Done(_) | Event::Error(_)) => state.last = Some(last),
        }
        self.undelivered.store(false, Ordering::Relaxed);
        self.changed.send_replace(state.events());
    }

    /// Tells the subscribers of deltas added since they were last told
    /// (the engine's delivery tick).
    pub(super) fn deliver(&self) {
        if self.undelivered.swap(false, Ordering::AcqRel) {
            let len = self.lock().events();
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
        state.text.push_str(piece);
        let end = state.text.len();
        state.ends.push(end);
        self.dirty.store(true, Ordering::Relaxed);
        if state.ends.len() == 1 {
            // The first token goes out at once: it is what the user waits for.
            self.changed.send_replace(state.events());
        } else {
            // The rest at the engine's next delivery tick, several in one
            // write when they come fast (see `deliver_interval`).
            self.undelivered.store(true, Ordering::Release);
        }
    }

    /// The payload of the answer's `message` event (the created rows).
    pub fn created(&self) -> Option<serde_json::Value> {
        // Read outside the lock.
        let text = self.lock().created.clone()?;
        read_created(&text)
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
            Some(seq) => self.lock().after_delta(seq),
        };
        let rx = self.changed.subscribe();
        futures_util::stream::unfold(
            (self.clone(), start, rx),
            |(gen, next, mut rx)| async move {
                loop {
                    {
                        let state = gen.lock();
                        let end = state.events();
                        if next < end {
                            let batch = state.events_from(next);
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

    /// Each event as `kind:seq:content`, to compare whole replays.
    fn described(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Message(v) => format!("message:{}", v["id"]),
                Event::Delta { seq, content } => format!("delta:{seq}:{content}"),
                Event::Done(v) => format!("done:{}", v["id"]),
                Event::Error(v) => format!("error:{}", v["id"]),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_reconnect_replays_from_the_delta_after_its_last_event_id() {
        let gen = generation();
        {
            let mut state = gen.lock();
            gen.push(&mut state, Event::Message(serde_json::json!({"id": "m"})));
        }
        for piece in ["안녕", "하세요", "", "!"] {
            gen.push_delta(piece);
        }
        {
            let mut state = gen.lock();
            gen.push(&mut state, Event::Done(serde_json::json!({"id": "m"})));
            state.finished = true;
        }
        assert_eq!(gen.lock().text, "안녕하세요!");
        let replay = |after| {
            let gen = gen.clone();
            async move { described(&gen.subscribe(after).collect::<Vec<_>>().await) }
        };
        assert_eq!(
            replay(None).await,
            [
                "message:\"m\"",
                "delta:1:안녕",
                "delta:2:하세요",
                "delta:3:!",
                "done:\"m\""
            ]
        );
        // A resume never gets the `message` event again.
        assert_eq!(
            replay(Some(0)).await,
            ["delta:1:안녕", "delta:2:하세요", "delta:3:!", "done:\"m\""]
        );
        assert_eq!(replay(Some(2)).await, ["delta:3:!", "done:\"m\""]);
        assert_eq!(replay(Some(3)).await, ["done:\"m\""]);
        assert_eq!(replay(Some(u64::MAX)).await, ["done:\"m\""]);
    }

    #[test]
    fn an_answer_past_the_limit_keeps_what_fits_and_stops() {
        let gen = generation(); // 1,000 characters at most
        gen.push_delta(&"가".repeat(998));
        gen.push_delta("나다라");
        gen.push_delta("마");
        let state = gen.lock();
        assert_eq!(state.chars, 1000);
        assert!(state.text.ends_with("가나다"));
        assert_eq!(state.cut, Some(Cut::TooLong(1000)));
        assert!(gen.cancel.load(Ordering::Relaxed));
        let deltas = described(&state.events_from(0));
        assert_eq!(deltas.len(), 2);
        assert_eq!(deltas[1], "delta:2:나다");
    }
}
