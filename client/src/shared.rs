//! Process-wide connection sharing (HAM-CONTRACT X7): one connection per HAM
//! address, shared by every task, counted by connect/disconnect.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};

use crate::connection::HamAddress;
use crate::error::{Errno, HamError};
use crate::ham::Ham;

/// Reference-counted values by HAM address.
#[derive(Debug)]
pub(crate) struct Registry<T> {
    map: Mutex<HashMap<HamAddress, (T, usize)>>,
}

impl<T: Clone> Registry<T> {
    pub(crate) fn new() -> Registry<T> {
        Registry {
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<HamAddress, (T, usize)>> {
        // A panic while holding the lock leaves the map consistent (every
        // update is a single insert/remove/increment), so poisoning is ignored.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one more reference to an existing entry.
    pub(crate) fn acquire(&self, addr: &HamAddress) -> Option<T> {
        let mut map = self.lock();
        let (value, refs) = map.get_mut(addr)?;
        *refs += 1;
        Some(value.clone())
    }

    /// Stores a freshly made value with one reference, unless another task
    /// stored one meanwhile: then that one gets the reference and is returned.
    pub(crate) fn insert_or_acquire(&self, addr: &HamAddress, value: T) -> T {
        let mut map = self.lock();
        let (value, refs) = map.entry(addr.clone()).or_insert((value, 0));
        *refs += 1;
        value.clone()
    }

    /// Drops one reference; the entry goes when none is left. Returns the
    /// references left; EBADF when there was no entry.
    pub(crate) fn release(&self, addr: &HamAddress) -> Result<usize, HamError> {
        let mut map = self.lock();
        let Some((_, refs)) = map.get_mut(addr) else {
            return Err(HamError::new(
                Errno::Ebadf,
                format!("not connected to the HAM at {addr}"),
            ));
        };
        *refs -= 1;
        let left = *refs;
        if left == 0 {
            map.remove(addr);
        }
        Ok(left)
    }

    /// Current number of references.
    pub(crate) fn count(&self, addr: &HamAddress) -> usize {
        self.lock().get(addr).map_or(0, |(_, refs)| *refs)
    }
}

static SHARED: LazyLock<Registry<Ham>> = LazyLock::new(Registry::new);

/// Connects to the local HAM ([`HamAddress::local`]) or takes one more
/// reference to the existing shared connection (ham_connect).
pub async fn ham_connect() -> Result<Ham, HamError> {
    ham_connect_to(&HamAddress::local()).await
}

/// Connects to the HAM at `addr`, or takes one more reference to the shared
/// connection to it. A new connection is checked with a handshake; EBADF when
/// the HAM cannot be reached.
pub async fn ham_connect_to(addr: &HamAddress) -> Result<Ham, HamError> {
    if let Some(ham) = SHARED.acquire(addr) {
        return Ok(ham);
    }
    let ham = Ham::connect(addr).await?;
    Ok(SHARED.insert_or_acquire(addr, ham))
}

/// Drops one reference to the shared connection to the local HAM
/// (ham_disconnect); the connection closes with the last one. EBADF when not
/// connected.
pub fn ham_disconnect() -> Result<(), HamError> {
    ham_disconnect_from(&HamAddress::local())
}

/// Drops one reference to the shared connection to `addr`.
pub fn ham_disconnect_from(addr: &HamAddress) -> Result<(), HamError> {
    SHARED.release(addr).map(|_| ())
}

/// How many `ham_connect` references to `addr` are held.
pub fn ham_connection_count(addr: &HamAddress) -> usize {
    SHARED.count(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: &str) -> HamAddress {
        HamAddress::Unix(format!("/nonexistent/{n}.sock").into())
    }

    #[test]
    fn x7_references_are_counted() {
        let reg: Registry<u32> = Registry::new();
        let a = addr("a");
        assert_eq!(reg.acquire(&a), None);
        assert_eq!(reg.insert_or_acquire(&a, 1), 1);
        assert_eq!(reg.acquire(&a), Some(1));
        // A racing second connection loses: the first value is shared.
        assert_eq!(reg.insert_or_acquire(&a, 2), 1);
        assert_eq!(reg.count(&a), 3);
        assert_eq!(reg.release(&a).unwrap(), 2);
        assert_eq!(reg.release(&a).unwrap(), 1);
        assert_eq!(reg.release(&a).unwrap(), 0);
        assert_eq!(reg.count(&a), 0);
        assert_eq!(reg.acquire(&a), None);
        assert_eq!(reg.release(&a).unwrap_err().errno, Errno::Ebadf);
    }

    #[test]
    fn x7_addresses_are_separate() {
        let reg: Registry<&str> = Registry::new();
        let (a, b) = (addr("a"), addr("b"));
        reg.insert_or_acquire(&a, "a");
        reg.insert_or_acquire(&b, "b");
        assert_eq!(reg.acquire(&b), Some("b"));
        assert_eq!(reg.release(&a).unwrap(), 0);
        assert_eq!(reg.count(&b), 2);
    }

    #[tokio::test]
    async fn x7_global_connect_failure_takes_no_reference() {
        let a = addr("global");
        let err = ham_connect_to(&a).await.unwrap_err();
        assert_eq!(err.errno, Errno::Ebadf);
        assert_eq!(ham_connection_count(&a), 0);
        assert_eq!(ham_disconnect_from(&a).unwrap_err().errno, Errno::Ebadf);
    }

    #[tokio::test]
    async fn x7_global_registry_shares_one_ham() {
        let a = addr("shared");
        let ham = Ham::lazy(&a).unwrap();
        SHARED.insert_or_acquire(&a, ham);
        let again = ham_connect_to(&a).await.unwrap();
        assert_eq!(again.address(), Some(&a));
        assert_eq!(ham_connection_count(&a), 2);
        ham_disconnect_from(&a).unwrap();
        ham_disconnect_from(&a).unwrap();
        assert_eq!(ham_connection_count(&a), 0);
    }
}
