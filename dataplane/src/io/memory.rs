//! Giving memory back to the system.
//!
//! A configuration of a million prefixes is parsed into millions of small allocations; once
//! an apply is done with them (rejected, or compiled into a few large tables), glibc keeps the
//! freed chunks in its arenas for reuse and the daemon's resident size stays at its peak
//! (2.4 GB after a rejected 54 MB file; issue 19). [`trim`] asks glibc to return free memory
//! at the top of each arena and every whole free page inside it.
#![allow(unsafe_code)]

/// Returns free heap memory to the system (glibc's `malloc_trim`); a no-op elsewhere.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only walks glibc's own arenas under their
    // locks; it is safe to call from any thread at any time (glibc manual, "Memory Allocation
    // Tunables"; malloc_trim(3)).
    unsafe {
        libc::malloc_trim(0);
    }
}
