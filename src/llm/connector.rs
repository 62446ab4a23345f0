//! The agents' connector: ureq's default chain (TCP, CONNECT proxy, TLS)
//! with what ureq does not offer on a shared agent: cancelling one stream
//! whose reader is blocked on a socket, and the choice of which connections
//! are kept alive.
//!
//! Cancelling, with one thread for the whole process:
//!
//! - Every running stream registers its cancel flag for the time of the call
//!   ([`watch`]). One watcher thread, started with the first stream, looks at
//!   every registered flag each [`CANCEL_POLL`] while streams run (and sleeps
//!   while none does), and shuts down the socket of each cancelled call: the
//!   blocked read fails at once.
//! - The socket a call is using is learnt through [`CallConnector`]: each
//!   transport it makes ([`CallTransport`]) ties itself to the call running
//!   on the current thread whenever it is used, a new connection or one
//!   taken from the pool (ureq is blocking: all of a request's I/O runs on
//!   the caller's thread).
//! - A connection remembers the call that last used it, and the watcher shuts
//!   it down only while that is still the cancelled call: a connection that
//!   went back to the pool and on to another call is never cut.
//!
//! `Agent::shutdown()` is not used: it would close every connection of the
//! shared agent, every other user's answer included.
//!
//! Keep-alive: only TLS connections go back to the pool. They are the
//! expensive ones (a TLS handshake is one or two round trips to a provider
//! far away) and their servers (OpenAI, Anthropic, Azure, nginx or Caddy in
//! front of a self-hosted one) send small writes at once. A plain-HTTP server
//! is usually on this machine or the LAN, where connecting costs a tenth of a
//! millisecond, and some of them (llama.cpp's, Rust servers on hyper, our own
//! fake) leave Nagle's algorithm on: on a reused connection, whose delayed
//! ACKs are no longer quick, their first token then waits 40 ms (200 ms on
//! Windows) for our ACK. A fresh connection does not have that problem.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, LocalKey, Thread};
use std::time::Duration;

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, ShutdownHandle, Transport,
};

/// How often the watcher looks at the cancel flags (and how finely a retry's
/// wait is sliced): the upper bound on how late a cancel is noticed.
pub(crate) const CANCEL_POLL: Duration = Duration::from_millis(50);

/// Runs `f` (a call that reads from the network on this thread) while the
/// watcher shuts its socket down as soon as `cancel` is set.
pub(crate) fn watch<T>(cancel: &AtomicBool, f: impl FnOnce() -> T) -> T {
    let _registered = Registration::new(cancel);
    f()
}

/// Marks the start of a request on this thread; [`made_new_connection`] then
/// tells whether it had to connect (rather than reuse a pooled connection).
pub(crate) fn begin_request() {
    CONNECTED.with(|c| c.set(false));
}

/// Whether the request begun by [`begin_request`] on this thread opened a new
/// connection. `false`: it went over a kept-alive one from the pool.
pub(crate) fn made_new_connection() -> bool {
    CONNECTED.with(Cell::get)
}

/// Whether the connection of the last request on this thread goes back to
/// the pool once its response is read to the end.
pub(crate) fn kept_alive() -> bool {
    KEPT_ALIVE.with(Cell::get)
}

/// Keeps plain-HTTP connections alive too, for requests made on this thread
/// (tests of the pool use plain-HTTP servers).
#[cfg(test)]
pub(crate) fn keep_plain_connections_alive_on_this_thread() {
    PLAIN_KEEP_ALIVE.with(|k| k.set(true));
}

/// Runs `f` with every socket read on this thread waiting at most `limit`
/// (a read that waits longer fails with a timeout).
pub(crate) fn with_read_limit<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    with_local(&READ_LIMIT, Some(limit), f)
}

/// Runs `f` with the thread-local `key` holding `value`, then puts back
/// what it held before (also when `f` panics).
pub(super) fn with_local<T: 'static, R>(
    key: &'static LocalKey<RefCell<T>>,
    value: T,
    f: impl FnOnce() -> R,
) -> R {
    struct Reset<T: 'static>(&'static LocalKey<RefCell<T>>, Option<T>);
    impl<T> Drop for Reset<T> {
        fn drop(&mut self) {
            if let Some(before) = self.1.take() {
                self.0.with(|v| *v.borrow_mut() = before);
            }
        }
    }
    let _reset = Reset(key, Some(key.with(|v| v.replace(value))));
    f()
}

/// How many streams are registered with the watcher right now.
#[cfg(test)]
pub(crate) fn registered() -> usize {
    lock(&CALLS).len()
}

/// Whether the one watcher thread was started; `Some(id)` is its thread id.
#[cfg(test)]
pub(crate) fn watcher_thread() -> Option<thread::ThreadId> {
    lock(&WATCHER).as_ref().map(Thread::id)
}

/// Every stream running now, for the watcher.
static CALLS: Mutex<Vec<Arc<Call>>> = Mutex::new(Vec::new());
/// The watcher, started with the first stream (`None` until then, or while
/// it cannot be started: the next stream tries again).
static WATCHER: Mutex<Option<Thread>> = Mutex::new(None);
/// Call ids; 0 stands for "no call".
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The stream running on this thread, if any.
    static CURRENT: RefCell<Option<Arc<Call>>> = const { RefCell::new(None) };
    /// Set by [`CallConnector`] when it opens a connection.
    static CONNECTED: Cell<bool> = const { Cell::new(false) };
    /// See [`with_read_limit`].
    static READ_LIMIT: RefCell<Option<Duration>> = const { RefCell::new(None) };
    /// See [`kept_alive`].
    static KEPT_ALIVE: Cell<bool> = const { Cell::new(false) };
}

#[cfg(test)]
thread_local! {
    static PLAIN_KEEP_ALIVE: Cell<bool> = const { Cell::new(false) };
}

/// Whether a connection may go back to the pool (see the module documentation).
fn may_keep_alive(tls: bool) -> bool {
    #[cfg(test)]
    if PLAIN_KEEP_ALIVE.with(Cell::get) {
        return true;
    }
    tls
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One running stream.
struct Call {
    id: u64,
    /// The caller's flag, borrowed for the duration of [`watch`].
    flag: FlagRef,
    /// The connection the call used last.
    conn: Mutex<Option<Arc<Conn>>>,
}

/// A pointer to the caller's cancel flag.
///
/// SAFETY: a [`Call`] is reachable only from [`CALLS`], [`CURRENT`] and the
/// [`Registration`] of [`watch`], whose drop removes it from the first two
/// before `watch` returns, i.e. while the `&AtomicBool` it was given is still
/// borrowed; the watcher reads flags only under the lock of [`CALLS`]. So the
/// flag is never read after the borrow ends. `AtomicBool` is `Sync`, so
/// reading it from the watcher thread is fine.
struct FlagRef(NonNull<AtomicBool>);

unsafe impl Send for FlagRef {}
unsafe impl Sync for FlagRef {}

impl Call {
    fn cancelled(&self) -> bool {
        // SAFETY: see `FlagRef`.
        unsafe { self.flag.0.as_ref() }.load(Ordering::Acquire)
    }

    /// Shuts down the call's connection, if the call still holds it.
    fn cut(&self) {
        let conn = lock(&self.conn).clone();
        if let Some(conn) = conn {
            conn.shut_down_for(self.id);
        }
    }
}

/// Registers the stream on this thread with the watcher until dropped.
struct Registration {
    call: Arc<Call>,
    previous: Option<Arc<Call>>,
}

impl Registration {
    fn new(cancel: &AtomicBool) -> Registration {
        let call = Arc::new(Call {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            flag: FlagRef(NonNull::from(cancel)),
            conn: Mutex::new(None),
        });
        let previous = CURRENT.with(|c| c.replace(Some(call.clone())));
        let was_idle = {
            let mut calls = lock(&CALLS);
            calls.push(call.clone());
            calls.len() == 1
        };
        let mut watcher = lock(&WATCHER);
        match watcher.as_ref() {
            Some(thread) if was_idle => thread.unpark(),
            Some(_) => {}
            None => *watcher = start_watcher(),
        }
        Registration { call, previous }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = self.previous.take());
        let mut calls = lock(&CALLS);
        if let Some(i) = calls.iter().position(|c| c.id == self.call.id) {
            calls.swap_remove(i);
        }
    }
}

fn start_watcher() -> Option<Thread> {
    let spawned = thread::Builder::new()
        .name("llm-cancel".into())
        .stack_size(64 * 1024)
        .spawn(run_watcher);
    match spawned {
        Ok(handle) => Some(handle.thread().clone()),
        Err(e) => {
            // Cancel still works between chunks; only a silent upstream is
            // noticed late (at the idle timeout).
            log::warn!("could not start the LLM cancel watcher: {e}");
            None
        }
    }
}

fn run_watcher() {
    loop {
        let idle = {
            let calls = lock(&CALLS);
            for call in calls.iter().filter(|c| c.cancelled()) {
                call.cut();
            }
            calls.is_empty()
        };
        if idle {
            // Unparked by the next registration.
            thread::park();
        } else {
            thread::park_timeout(CANCEL_POLL);
        }
    }
}

/// The id of the stream running on this thread, 0 for none.
fn current_id() -> u64 {
    CURRENT.with(|c| c.borrow().as_ref().map_or(0, |c| c.id))
}

/// One connection: its sockets (the handles ureq's connectors register) and
/// the call that used it last.
#[derive(Default)]
struct Conn {
    state: Mutex<ConnState>,
}

#[derive(Default)]
struct ConnState {
    owner: u64,
    handles: Vec<Weak<dyn ShutdownHandle>>,
}

impl Conn {
    fn shut_down_for(&self, call: u64) {
        let state = lock(&self.state);
        if state.owner == call && call != 0 {
            for handle in state.handles.iter().filter_map(Weak::upgrade) {
                handle.shutdown();
            }
        }
    }

    /// Gives the connection to the stream running on this thread (or to
    /// nobody), cutting it at once if that stream is already cancelled.
    /// Answers the new owner's id.
    fn attach(self: &Arc<Conn>) -> u64 {
        CURRENT.with(|current| {
            let current = current.borrow();
            let id = current.as_ref().map_or(0, |c| c.id);
            lock(&self.state).owner = id;
            if let Some(call) = current.as_ref() {
                *lock(&call.conn) = Some(self.clone());
                if call.cancelled() {
                    self.shut_down_for(id);
                }
            }
            id
        })
    }

    fn add(&self, handle: Weak<dyn ShutdownHandle>) {
        let owner = {
            let mut state = lock(&self.state);
            state.handles.retain(|h| h.strong_count() > 0);
            state.handles.push(handle);
            state.owner
        };
        // Connecting takes a while (TLS, a proxy's CONNECT): a cancel that
        // came meanwhile cuts the new socket at once.
        let cancelled = CURRENT.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|c| c.id == owner && c.cancelled())
        });
        if cancelled {
            self.shut_down_for(owner);
        }
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Conn")
            .field("owner", &state.owner)
            .field("sockets", &state.handles.len())
            .finish()
    }
}

/// ureq's default connector chain (TCP, CONNECT proxy, TLS) whose transports
/// know which stream uses them. See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct CallConnector {
    inner: DefaultConnector,
}

impl Connector<()> for CallConnector {
    type Out = CallTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<CallTransport>, ureq::Error> {
        CONNECTED.with(|c| c.set(true));
        let conn = Arc::new(Conn::default());
        let attached = conn.attach();
        let outer = details.register_shutdown.clone();
        let registering = conn.clone();
        // The same details, except that the sockets the chain creates are
        // also registered with this connection (the agent still gets them).
        let details = ConnectionDetails {
            uri: details.uri,
            addrs: details.addrs.clone(),
            config: details.config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: Arc::new(move |handle: Weak<dyn ShutdownHandle>| {
                registering.add(handle.clone());
                outer(handle)
            }),
        };
        let Some(inner) = self.inner.connect(&details, chained)? else {
            return Ok(None);
        };
        Ok(Some(CallTransport {
            inner,
            conn,
            attached,
        }))
    }
}

/// A transport of [`CallConnector`]: ureq's, plus the bookkeeping.
#[derive(Debug)]
pub(crate) struct CallTransport {
    inner: Box<dyn Transport>,
    conn: Arc<Conn>,
    /// The call id this connection was last given to (saves the locks when
    /// the same call goes on using it).
    attached: u64,
}

impl CallTransport {
    fn attach(&mut self) {
        if current_id() != self.attached {
            self.attached = self.conn.attach();
        }
    }
}

impl Transport for CallTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.attach();
        KEPT_ALIVE.with(|k| k.set(may_keep_alive(self.inner.is_tls())));
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, mut timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.attach();
        if let Some(limit) = READ_LIMIT.with(|l| *l.borrow()) {
            let limit = limit.into();
            if timeout.per_read.is_none_or(|per_read| limit < per_read) {
                timeout.per_read = Some(limit);
            }
        }
        super::pace::before_read();
        let waiting = std::time::Instant::now();
        let input = self.inner.await_input(timeout);
        super::pace::after_read(waiting.elapsed());
        input
    }

    /// ureq asks this before it puts a connection back in the pool (on the
    /// thread that read the response) and when it takes one out (on the
    /// taking thread, which owns the connection from then on). `false` for a
    /// connection that is not to be kept alive makes ureq close it.
    fn is_open(&mut self) -> bool {
        self.attach();
        may_keep_alive(self.inner.is_tls()) && self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}
