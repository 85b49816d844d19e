//! Writes with a client request id, retried while their outcome is unknown (HAM-CONTRACT M5).
//!
//! A write's answer tells its outcome: OK means committed; EAGAIN means not committed and never
//! will be; ETIMEDOUT (gRPC DEADLINE_EXCEEDED) means the serving node cannot know, and the
//! write may still commit. Every write call of [`Ham`] sends a fresh random request id in the
//! `ham-request-id` metadata, and a write answered ETIMEDOUT or EAGAIN is sent again with the
//! SAME id, as [`WriteRetry`] allows: the HAM applies an id at most once and answers a retry
//! with the first outcome, so a retried write never happens twice.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ham_proto::ham::v1::ham_client::HamClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::error::{Errno, HamError};
use crate::ham::{Ham, HamResult};

/// Metadata key of the client request id of a write.
pub const REQUEST_ID_METADATA: &str = ham_vocab::REQUEST_ID_METADATA_KEY;

/// How write calls are retried when their answer is ETIMEDOUT (outcome unknown) or EAGAIN (not
/// committed). The default makes up to 3 attempts, a new one only while it is expected to end
/// within 15 s of the first (a HAM answers ETIMEDOUT or EAGAIN after its proposal timeout, 5 s
/// by default), after a short pause. [`WriteRetry::NONE`] sends each write once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRetry {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// No new attempt when the last one's duration, added to the time spent, would exceed this.
    pub within: Duration,
    /// Pause before a retry (doubled each time).
    pub backoff: Duration,
}

impl WriteRetry {
    /// One attempt: the first answer is returned as it is.
    pub const NONE: WriteRetry = WriteRetry {
        attempts: 1,
        within: Duration::ZERO,
        backoff: Duration::ZERO,
    };
}

impl Default for WriteRetry {
    fn default() -> Self {
        WriteRetry {
            attempts: 3,
            within: Duration::from_secs(15),
            backoff: Duration::from_millis(100),
        }
    }
}

/// A fresh request id: 128 bits, as 32 hex digits. Drawn from the standard library's
/// randomly keyed hasher (seeded from the operating system), over a process-wide counter,
/// the time and the process id, so ids never repeat within a process and practically never
/// across processes.
pub fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let word = |half: u8| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(half);
        h.write_u64(n);
        h.write_u128(t);
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}", word(0), word(1))
}

fn retryable(e: &HamError) -> bool {
    matches!(e.errno, Errno::Etimedout | Errno::Eagain)
}

impl Ham {
    /// This connection with another retry policy for its write calls (clones share the
    /// channel, so `ham.with_write_retry(WriteRetry::NONE).entity(..)` opts one call out).
    pub fn with_write_retry(&self, retry: WriteRetry) -> Ham {
        let mut ham = self.clone();
        ham.retry = retry;
        ham
    }

    /// The retry policy of this connection's write calls.
    pub fn write_retry(&self) -> WriteRetry {
        self.retry
    }

    /// A write call: a fresh request id, sent again with the same id as the policy allows.
    pub(crate) async fn write<Q, R, F, Fut>(&self, req: Q, call: F) -> HamResult<R>
    where
        Q: Clone,
        F: Fn(HamClient<Channel>, Request<Q>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        self.write_with_id(&new_request_id(), req, call).await
    }

    /// [`Ham::write`] with a given request id.
    pub(crate) async fn write_with_id<Q, R, F, Fut>(
        &self,
        id: &str,
        req: Q,
        call: F,
    ) -> HamResult<R>
    where
        Q: Clone,
        F: Fn(HamClient<Channel>, Request<Q>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        let value: MetadataValue<_> = id
            .parse()
            .map_err(|_| HamError::new(Errno::Einval, "a request id is printable ASCII"))?;
        let start = Instant::now();
        let mut pause = self.retry.backoff;
        let mut attempt = 1;
        loop {
            let began = Instant::now();
            let mut request = Request::new(req.clone());
            request
                .metadata_mut()
                .insert(REQUEST_ID_METADATA, value.clone());
            let err = match call(self.c(), request).await {
                Ok(r) => return Ok(r.into_inner()),
                Err(status) => HamError::from(status),
            };
            let expected_end = start.elapsed() + pause + began.elapsed();
            if attempt >= self.retry.attempts
                || !retryable(&err)
                || expected_end > self.retry.within
            {
                return Err(err);
            }
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
            attempt += 1;
        }
    }

    /// Sends one write with the request id `id` and the retry policy of this connection: to
    /// learn the outcome of a write answered ETIMEDOUT, send it again with its id. Used by
    /// tests and tools that keep ids themselves; the write calls of [`Ham`] draw their own.
    pub async fn entity_with_request_id(
        &self,
        id: &str,
        node: impl Into<crate::node::NodeSel>,
        name: &str,
        flags: u32,
    ) -> HamResult<ham_proto::ham::v1::EntityHandle> {
        let req = ham_proto::ham::v1::EntityRequest {
            node: node.into().to_proto(),
            name: name.to_owned(),
            flags,
            ..Default::default()
        };
        self.write_with_id(id, req, |mut c, r| async move { c.entity(r).await })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m5_request_ids_are_fresh_128_bit_hex() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 32);
            assert!(id.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
        }
    }

    #[test]
    fn m5_only_unknown_or_refused_outcomes_are_retried() {
        assert!(retryable(&HamError::new(Errno::Etimedout, "")));
        assert!(retryable(&HamError::new(Errno::Eagain, "")));
        for e in [Errno::Eexist, Errno::Ebadf, Errno::Einval, Errno::Enomem] {
            assert!(!retryable(&HamError::new(e, "")), "{e}");
        }
        let status = HamError::new(Errno::Etimedout, "may still commit").to_status();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(HamError::from(status).errno, Errno::Etimedout);
    }
}
