//! The reader thread's stack after the request went out.
//!
//! Sending a request is the deepest a reader thread's stack ever gets
//! (ureq's call state machine, the connectors, a TLS handshake); reading the
//! stream that follows needs a fraction of it. Pages a thread has touched stay
//! in its resident memory until it ends, so a thousand answers being streamed
//! each kept ~40 KiB of stack resident, ~30 KiB of it dead (measured with
//! `/proc/<pid>/pagemap` on plain HTTP: 40 KiB touched, 8.6 KiB in use while
//! a read waits). [`release_unused`] hands the dead part back.

/// Gives the pages of the calling thread's stack below the current frame back
/// to the system (glibc on Linux; elsewhere it does nothing). They are mapped
/// again, zeroed, if the stack grows into them later: nothing below the
/// stack pointer is live, so this changes no data, only what stays resident.
pub(crate) fn release_unused() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    linux::release_unused();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod linux {
    /// Left alone below the current frame: the frame of the `madvise` call
    /// made from here lives there. (The pages the caller's later, deeper
    /// calls need come back as they touch them.)
    const HEADROOM: usize = 4 * 1024;

    pub(super) fn release_unused() {
        let Some(low) = stack_low() else {
            return;
        };
        // A local of this frame: at or above the stack pointer.
        let marker = 0u8;
        let here = std::hint::black_box(&marker) as *const u8 as usize;
        let page = page_size();
        let start = low.next_multiple_of(page);
        let end = here.saturating_sub(HEADROOM) / page * page;
        if end <= start {
            return;
        }
        // SAFETY: [start, end) lies within this thread's stack (between its
        // lowest usable address and the current frame, minus headroom), and
        // no live data is below the stack pointer. MADV_DONTNEED on private
        // anonymous memory only drops pages: they read as zeros if used again.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }

    /// The lowest usable address of this thread's stack (above its guard
    /// page), as glibc reports it.
    pub(super) fn stack_low() -> Option<usize> {
        // SAFETY: the attribute object is initialized by pthread_getattr_np
        // before it is read, and destroyed once.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                return None;
            }
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let got = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
            libc::pthread_attr_destroy(&mut attr);
            (got == 0 && !addr.is_null()).then_some(addr as usize)
        }
    }

    pub(super) fn page_size() -> usize {
        // SAFETY: sysconf reads a constant of the system.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size)
            .ok()
            .filter(|&s| s > 0)
            .unwrap_or(4096)
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Recurses `depth` times with a 4 KiB frame each (kept by black_box), so
    /// the stack is touched that deep; answers a sum that depends on every
    /// frame.
    #[inline(never)]
    fn deep(depth: usize) -> u64 {
        let mut frame = [0u8; 4096];
        frame[depth % 4096] = depth as u8;
        let frame = std::hint::black_box(frame);
        if depth == 0 {
            return u64::from(frame[0]);
        }
        u64::from(frame[depth % 4096]) + deep(depth - 1)
    }

    /// How many of the pages of [low, low + len) are resident.
    fn resident(low: usize, len: usize) -> usize {
        let page = linux::page_size();
        let pages = len / page;
        let mut vec = vec![0u8; pages];
        // SAFETY: the range is this thread's own stack mapping; `vec` has one
        // byte per page.
        let rc = unsafe { libc::mincore(low as *mut libc::c_void, pages * page, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        vec.iter().filter(|&&b| b & 1 == 1).count()
    }

    #[test]
    fn the_dead_part_of_the_stack_is_released_and_the_thread_goes_on() {
        let result = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(|| {
                let low = linux::stack_low().expect("the stack's bounds");
                let page = linux::page_size();
                let low = low.next_multiple_of(page);
                // From the bottom of the stack to well below this frame.
                let marker = 0u8;
                let here = std::hint::black_box(&marker) as *const u8 as usize;
                let probe = (here - 64 * 1024 - low) / page * page;
                let first = deep(64);
                let touched = resident(low, probe);
                release_unused();
                let after = resident(low, probe);
                // Deep again: the released pages come back (zeroed) and the
                // same computation gives the same answer.
                let again = deep(64);
                (first, again, touched, after)
            })
            .unwrap()
            .join()
            .unwrap();
        let (first, again, touched, after) = result;
        assert_eq!(first, again);
        assert!(
            touched >= 16,
            "the recursion touched {touched} pages of the lower stack"
        );
        assert!(
            after < touched / 4,
            "{after} of {touched} touched pages still resident after the release"
        );
    }

    #[test]
    fn a_shallow_stack_releases_nothing_and_survives() {
        // Called twice at once and from the main test thread's frame: no-op
        // or not, the thread keeps working.
        release_unused();
        release_unused();
        assert_eq!(deep(4), deep(4));
    }
}
