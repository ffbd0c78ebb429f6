//! systemd's readiness protocol (sd_notify(3)), without libsystemd: under a `Type=notify`
//! unit, systemd passes a datagram socket in `NOTIFY_SOCKET` (a path, or an abstract name
//! starting with `@`); vpced sends `READY=1` once its workers run and its control socket
//! listens, `STOPPING=1` when it begins to stop, and — when the unit sets `WatchdogSec=`
//! (`WATCHDOG_USEC`, for this pid per `WATCHDOG_PID`) — `WATCHDOG=1` from the control loop at
//! half the interval, so that a wedged control loop gets the service restarted.
//!
//! Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Where to notify, read once from the environment.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let addr = address(path.as_encoded_bytes())?;
            Some((UnixDatagram::unbound().ok()?, addr))
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(Duration::from_micros);
        Notifier { socket, watchdog }
    }

    /// Sends one state line (`READY=1`, `STOPPING=1`, `WATCHDOG=1`, `STATUS=…`); errors are
    /// logged, never fatal (systemd may be gone while vpced stops).
    pub fn send(&self, state: &str) {
        if let Some((sock, addr)) = &self.socket {
            if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
                tracing::warn!(error = %e, state, "cannot notify systemd");
            }
        }
    }

    /// How often to send `WATCHDOG=1`: half the unit's `WatchdogSec=`, when it has one.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.socket.as_ref()?;
        self.watchdog.map(|w| w / 2)
    }
}

/// A `NOTIFY_SOCKET` value as a socket address: a path, or `@name` for an abstract one.
fn address(value: &[u8]) -> Option<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    match value.split_first()? {
        (b'@', name) => std::os::unix::net::SocketAddr::from_abstract_name(name).ok(),
        (b'/', _) => {
            use std::os::unix::ffi::OsStrExt;
            let path = std::path::Path::new(std::ffi::OsStr::from_bytes(value));
            std::os::unix::net::SocketAddr::from_pathname(path).ok()
        }
        _ => None,
    }
}
