//! Named network namespaces, as `ip netns` keeps them: a bind mount of a namespace's
//! `/proc/…/ns/net` on `/run/netns/NAME`, under a `/run/netns` that is a shared mount (so that
//! the names reach every mount namespace, as iproute2 arranges it). vpced creates, enters and
//! deletes them itself; `ip netns list` and `ip netns exec` see the same namespaces.
//!
//! Only [`add`] holds unsafe code: `unshare(CLONE_NEWNET)` in a thread of its own (see its
//! SAFETY note).

#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::mount::{self, MountPropagationFlags, UnmountFlags};
use rustix::thread::{LinkNameSpaceType, UnshareFlags};

/// Where named namespaces are mounted (iproute2's `NETNS_RUN_DIR`).
pub const RUN_DIR: &str = "/run/netns";

/// A namespace operation that failed, naming the namespace and what was being done.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} network namespace {name}: {source}")]
pub struct NetnsError {
    pub op: &'static str,
    pub name: String,
    #[source]
    pub source: io::Error,
}

fn fail(op: &'static str, name: &str) -> impl FnOnce(io::Error) -> NetnsError {
    let name = name.to_string();
    move |source| NetnsError { op, name, source }
}

/// The mount point of namespace `name`.
pub fn path(name: &str) -> PathBuf {
    Path::new(RUN_DIR).join(name)
}

pub fn exists(name: &str) -> bool {
    path(name).exists()
}

/// Makes `/run/netns` a shared mount, bind-mounting it on itself first if it is not a mount
/// point yet (what `ip netns add` does).
fn share_run_dir() -> io::Result<()> {
    std::fs::create_dir_all(RUN_DIR)?;
    let shared = MountPropagationFlags::SHARED | MountPropagationFlags::REC;
    match mount::mount_change(RUN_DIR, shared) {
        Err(rustix::io::Errno::INVAL) => {
            mount::mount_bind(RUN_DIR, RUN_DIR)?;
            mount::mount_change(RUN_DIR, shared)?;
        }
        r => r?,
    }
    Ok(())
}

/// Creates namespace `name` (an error if it exists).
pub fn add(name: &str) -> Result<(), NetnsError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(fail("create", name)(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a namespace name",
        )));
    }
    share_run_dir().map_err(fail("prepare /run/netns for", name))?;
    let target = path(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .map_err(fail("create", name))?;
    let made = std::thread::scope(|s| {
        s.spawn(|| -> io::Result<()> {
            // SAFETY: only the network namespace is unshared, never the file table
            // (`UnshareFlags::FILES`, the case `unshare_unsafe` warns of), and only in this
            // short-lived thread, which then ends: no other thread's view changes.
            unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) }?;
            mount::mount_bind("/proc/thread-self/ns/net", &target)?;
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")))
    });
    made.map_err(|e| {
        let _ = std::fs::remove_file(&target);
        fail("create", name)(e)
    })
}

/// Deletes namespace `name`: its mount and mount point (the namespace itself goes when its
/// last process and device have left).
pub fn delete(name: &str) -> Result<(), NetnsError> {
    let target = path(name);
    mount::unmount(&target, UnmountFlags::DETACH).map_err(|e| fail("unmount", name)(e.into()))?;
    std::fs::remove_file(&target).map_err(fail("delete", name))
}

/// An open handle on namespace `name` (for `IFLA_NET_NS_FD` and `setns`).
pub fn open(name: &str) -> Result<std::fs::File, NetnsError> {
    std::fs::File::open(path(name)).map_err(fail("open", name))
}

/// Moves the calling thread into namespace `name`. Threads it starts afterwards start there.
pub fn enter(name: &str) -> Result<(), NetnsError> {
    let f = open(name)?;
    rustix::thread::move_into_link_name_space(f.as_fd(), Some(LinkNameSpaceType::Network))
        .map_err(|e| fail("enter", name)(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_names_are_refused() {
        for bad in ["", "a/b", ".", ".."] {
            let e = add(bad).unwrap_err();
            assert_eq!(e.source.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.to_string().contains("cannot create network namespace"));
        }
    }
}
