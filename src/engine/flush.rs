//! The flush writer: one task writes the partial text of every running
//! answer once per [`FLUSH_INTERVAL`](super::FLUSH_INTERVAL), and the final
//! state of answers that could not be saved (a full disk) once space is
//! freed; it sleeps while no answer runs.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{Engine, Slot, FLUSH_INTERVAL};
use crate::db::conversation::{self, Usage};

/// The final state of an answer, waiting to be written.
#[derive(Clone)]
pub(super) struct Unsaved {
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

    pub(super) fn unsaved(&self) -> std::sync::MutexGuard<'_, Vec<Unsaved>> {
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
            .run(move |conn| -> Result<_, crate::db::DbError> {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for u in &attempt {
                    conversation::finish(
                        &tx,
                        &u.id,
                        &u.text,
                        u.status,
                        u.error.as_deref(),
                        u.usage,
                    )?;
                    if let Some(detail) = &u.detail {
                        conversation::set_error_detail(&tx, &u.id, detail)?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
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
