//! Reading an answer no more often than it is delivered.
//!
//! The engine hands what its readers got to the answers' clients on a tick
//! that stretches past 200 running answers, up to 100 ms (`deliver_interval`
//! in `engine`). A reader woken by every token does work that no client sees
//! sooner: with a thousand answers at 20 tokens a second, 20,000 thread
//! wake-ups and socket reads a second, a third of the server's CPU (perf,
//! issue 19). So while the tick is long ([`PACE_FROM`]), a reader whose
//! tokens come faster than half a tick sleeps before its next read until a
//! quarter of a tick before the next delivery, then reads everything that
//! came meanwhile in one go, and sleeps again until a quarter before the
//! delivery after. Tokens that arrive in that last quarter wait for the
//! delivery after; below [`PACE_FROM`] (400 answers or fewer) and
//! for slow tokens nothing changes. Nor for the first token, which goes out
//! at once, not on a tick: a reader is paced from [`start_pacing`] on, which
//! it calls once it has the first token.
//!
//! The engine owns a [`Pace`] and tells it each tick when the next one is
//! due; its reader threads read through [`paced`]. The transport
//! ([`super::connector`]) asks [`before_read`] before it waits for input.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shortest tick with which readers are paced: at 20 ms (the usual
/// tick) a token a tick is the common case, and a pause would only add a
/// wake-up per token.
pub const PACE_FROM: Duration = Duration::from_millis(40);

/// When the engine's next delivery is due, for its readers.
#[derive(Debug)]
pub struct Pace {
    clock: Instant,
    /// Microseconds from `clock` to the next delivery; 0 when none is due.
    next: AtomicU64,
    /// The tick's length in microseconds.
    interval: AtomicU64,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            clock: Instant::now(),
            next: AtomicU64::new(0),
            interval: AtomicU64::new(0),
        }
    }
}

impl Pace {
    /// The next delivery is due at `next`, and the one after `interval` later.
    pub fn set(&self, next: Instant, interval: Duration) {
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.interval.store(micros(interval), Ordering::Relaxed);
        self.next.store(
            micros(next.saturating_duration_since(self.clock)).max(1),
            Ordering::Relaxed,
        );
    }

    /// No delivery is due (nothing runs): readers read at once.
    pub fn clear(&self) {
        self.next.store(0, Ordering::Relaxed);
    }

    /// How long a reader that waited `last_wait` for its previous input
    /// sleeps before it waits for more, now.
    fn pause(&self, last_wait: Duration) -> Option<Duration> {
        let next = self.next.load(Ordering::Relaxed);
        if next == 0 {
            return None;
        }
        pause(
            self.clock.elapsed(),
            Duration::from_micros(next),
            Duration::from_micros(self.interval.load(Ordering::Relaxed)),
            last_wait,
        )
    }
}

/// The pause before a read at `now` (from the pace's clock), when the next
/// delivery is due at `next`, every `interval`, and the previous read
/// waited `last_wait` for its input.
fn pause(
    now: Duration,
    next: Duration,
    interval: Duration,
    last_wait: Duration,
) -> Option<Duration> {
    if interval < PACE_FROM || last_wait >= interval / 2 {
        return None;
    }
    // A quarter of a tick before the next delivery; once past that (the
    // read just now was the one for that delivery), before the one after.
    let mut wake = next.checked_sub(interval / 4)?;
    if wake <= now {
        wake += interval;
    }
    let pause = wake.checked_sub(now)?;
    // Not for a moment, and never past a tick (a stale `next`).
    (pause >= Duration::from_millis(1)).then_some(pause.min(interval))
}

/// The pace of the reads on this thread, whether it applies yet
/// ([`start_pacing`]), and how long the last read waited for input.
struct Reads {
    pace: Arc<Pace>,
    started: bool,
    last_wait: Duration,
}

thread_local! {
    static READS: RefCell<Option<Reads>> = const { RefCell::new(None) };
}

#[cfg(test)]
thread_local! {
    /// How many times this thread waited for input.
    static INPUTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs `f` (a streamed call on this thread) with its reads paced by `pace`.
pub fn paced<T>(pace: &Arc<Pace>, f: impl FnOnce() -> T) -> T {
    let reads = Reads {
        pace: pace.clone(),
        started: false,
        last_wait: Duration::MAX,
    };
    super::connector::with_local(&READS, Some(reads), f)
}

/// From now on, the reads of this thread's [`paced`] call are paced (its
/// reader has the first token, which goes out at once).
pub fn start_pacing() {
    READS.with(|r| {
        if let Some(reads) = r.borrow_mut().as_mut() {
            reads.started = true;
        }
    });
}

/// How long this thread pauses before its next read, if at all.
fn pause_here() -> Option<Duration> {
    READS.with(|r| {
        let reads = r.borrow();
        let reads = reads.as_ref().filter(|reads| reads.started)?;
        reads.pace.pause(reads.last_wait)
    })
}

/// Called before the transport waits for input: sleeps when this thread's
/// reads are paced and the next delivery is far enough.
pub(super) fn before_read() {
    if let Some(pause) = pause_here() {
        std::thread::sleep(pause);
    }
}

/// Called after the transport waited `waited` for input.
pub(super) fn after_read(waited: Duration) {
    #[cfg(test)]
    INPUTS.with(|n| n.set(n.get() + 1));
    READS.with(|r| {
        if let Some(reads) = r.borrow_mut().as_mut() {
            reads.last_wait = waited;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn fast_tokens_wait_for_a_quarter_tick_before_a_long_tick() {
        // A 100 ms tick due at 1,000 ms; tokens 10 ms apart.
        assert_eq!(pause(MS(900), MS(1_000), MS(100), MS(10)), Some(MS(75)));
        assert_eq!(pause(MS(960), MS(1_000), MS(100), MS(10)), Some(MS(15)));
        // Within the last quarter, after the read for this delivery: until
        // a quarter before the next one.
        assert_eq!(pause(MS(975), MS(1_000), MS(100), MS(10)), Some(MS(100)));
        assert_eq!(pause(MS(980), MS(1_000), MS(100), MS(0)), Some(MS(95)));
        // A moment before the quarter: read at once.
        assert_eq!(
            pause(
                MS(974) + Duration::from_micros(500),
                MS(1_000),
                MS(100),
                MS(1)
            ),
            None
        );
    }

    #[test]
    fn no_pause_with_a_short_tick_slow_tokens_or_a_stale_delivery() {
        // The usual 20 ms tick.
        assert_eq!(pause(MS(900), MS(1_000), MS(20), MS(1)), None);
        assert_eq!(pause(MS(900), MS(1_000), MS(39), MS(1)), None);
        assert!(pause(MS(900), MS(1_000), PACE_FROM, MS(1)).is_some());
        // Tokens half a tick apart or slower.
        assert_eq!(pause(MS(900), MS(1_000), MS(100), MS(50)), None);
        assert_eq!(pause(MS(900), MS(1_000), MS(100), MS(400)), None);
        // The delivery is late (its tick and the one after are past).
        assert_eq!(pause(MS(1_080), MS(1_000), MS(100), MS(1)), None);
        assert_eq!(pause(MS(1_200), MS(1_000), MS(100), MS(1)), None);
        // Never more than a tick, whatever `next` says.
        assert_eq!(pause(MS(0), MS(10_000), MS(100), MS(1)), Some(MS(100)));
    }

    #[test]
    fn only_paced_threads_pause_and_not_before_their_first_token() {
        let pace = Arc::new(Pace::default());
        pace.set(Instant::now() + MS(400), MS(100));
        // Not paced: no state on the thread.
        after_read(MS(1));
        start_pacing();
        assert!(READS.with(|r| r.borrow().is_none()));
        assert_eq!(pause_here(), None);
        paced(&pace, || {
            assert_eq!(pause_here(), None, "the first read is not paced");
            after_read(MS(1));
            assert_eq!(pause_here(), None, "nor any before the first token");
            start_pacing();
            let pause = pause_here().expect("paced after a quick read");
            assert!(pause > MS(90) && pause <= MS(100), "{pause:?}");
            after_read(MS(60));
            assert_eq!(pause_here(), None, "slow input is not paced");
            pace.clear();
            after_read(MS(1));
            assert_eq!(pause_here(), None, "nothing is due");
        });
        assert!(READS.with(|r| r.borrow().is_none()), "reset after the call");
    }

    /// A real stream (the fake upstream over loopback, a token every 2 ms)
    /// read with a 100 ms tick: every token arrives, in order, in a few
    /// reads rather than one each; cleared, one read a token or so.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paced_stream_reads_every_token_in_a_few_reads() {
        const TOKENS: usize = 60;
        let fake = fake_llm::FakeLlm::start(fake_llm::Behavior {
            tokens: TOKENS,
            token_delay: MS(2),
            ..fake_llm::Behavior::default()
        })
        .await;
        let endpoint = crate::llm::Endpoint::new(crate::llm::Kind::OpenAi, fake.openai_url(), None);
        let pace = Arc::new(Pace::default());
        // The engine's delivery loop, in small.
        let ticking = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let ticker = {
            let (pace, ticking) = (pace.clone(), ticking.clone());
            std::thread::spawn(move || {
                while ticking.load(Ordering::Relaxed) {
                    pace.set(Instant::now() + MS(100), MS(100));
                    std::thread::sleep(MS(100));
                }
                pace.clear();
            })
        };
        let read = |pace: Arc<Pace>, endpoint: crate::llm::Endpoint| {
            tokio::task::spawn_blocking(move || {
                let request = crate::llm::ChatRequest {
                    model: "m".into(),
                    messages: vec![crate::llm::ChatMessage {
                        role: crate::llm::ChatRole::User,
                        content: "hello".into(),
                        images: Vec::new(),
                    }],
                    max_tokens: None,
                };
                let cancel = std::sync::atomic::AtomicBool::new(false);
                let mut text = String::new();
                INPUTS.with(|n| n.set(0));
                paced(&pace, || {
                    crate::llm::stream_chat(&endpoint, &request, &cancel, &mut |d| {
                        start_pacing();
                        text.push_str(d)
                    })
                })
                .unwrap();
                (text, INPUTS.with(|n| n.get()))
            })
        };
        let expected: String = fake_llm::answer_tokens("hello", TOKENS).concat();
        let (text, paced_reads) = read(pace.clone(), endpoint.clone()).await.unwrap();
        assert_eq!(text, expected);
        ticking.store(false, Ordering::Relaxed);
        ticker.join().unwrap();
        let (text, plain_reads) = read(pace.clone(), endpoint).await.unwrap();
        assert_eq!(text, expected);
        // 60 tokens over at least 120 ms: about one read a tick, a few more
        // for the head and the end.
        assert!(paced_reads <= 12, "{paced_reads} reads, paced");
        assert!(plain_reads > paced_reads, "{plain_reads} reads, not paced");
    }
}
