//! The Responses store: answers kept for `previous_response_id` and
//! `GET /v1/responses/{id}`, in memory, per replica, bounded by count,
//! bytes and age (`[responses]`); with `[limits] store = "redis"` also in
//! Redis, for every replica ([`Shelf`]). Each key sees only its own
//! responses.

use crate::config::responses::ResponsesSettings;
use bytes::Bytes;
use redis::aio::ConnectionManager;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One kept response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The `response` object, as `GET` returns it.
    pub response: Bytes,
    /// The conversation so far as input items (a JSON array): the request's
    /// input (earlier turns included) and the response's output.
    pub conversation: Bytes,
}

impl Stored {
    fn size(&self) -> usize {
        self.response.len() + self.conversation.len()
    }
}

/// Who kept it (the gateway key's name) and its id.
type Key = (Arc<str>, Box<str>);

/// The store; a short lock, never held across an await.
#[derive(Debug, Default)]
pub struct ResponseStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, (Stored, Instant)>,
    /// Keys in the order kept: the oldest (and first to expire) in front.
    order: VecDeque<Key>,
    bytes: usize,
}

impl ResponseStore {
    /// Keeps `stored` as `owner`'s response `id` until `now + ttl`, dropping
    /// the oldest entries over the bounds; one larger than `max_bytes` is
    /// not kept.
    pub fn put(
        &self,
        owner: &Arc<str>,
        id: &str,
        stored: Stored,
        bounds: &ResponsesSettings,
        now: Instant,
    ) {
        if stored.size() > bounds.max_bytes || bounds.max_entries == 0 {
            tracing::warn!(
                id,
                bytes = stored.size(),
                "response not stored: over [responses] store_max_bytes"
            );
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let key: Key = (owner.clone(), id.into());
        inner.bytes += stored.size();
        if let Some((old, _)) = inner
            .entries
            .insert(key.clone(), (stored, now + bounds.ttl))
        {
            inner.bytes -= old.size();
        } else {
            inner.order.push_back(key);
        }
        while inner.entries.len() > bounds.max_entries || inner.bytes > bounds.max_bytes {
            if !inner.evict_oldest() {
                break;
            }
        }
        inner.expire(now);
    }

    /// `owner`'s response `id`, unless it expired.
    pub fn get(&self, owner: &Arc<str>, id: &str, now: Instant) -> Option<Stored> {
        let mut inner = self.inner.lock().ok()?;
        inner.expire(now);
        let key: Key = (owner.clone(), id.into());
        inner.entries.get(&key).map(|(s, _)| s.clone())
    }
}

/// Whether `id` can be a response id (what the gateway makes: letters,
/// digits, `_` and `-`); any other is unknown without a lookup.
pub fn plausible_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Where one worker keeps and finds responses: this replica's memory, and
/// Redis when the limits store is Redis (written in the background, read
/// within `timeout` when memory does not have it).
#[derive(Clone)]
pub struct Shelf {
    pub memory: Arc<ResponseStore>,
    pub redis: Option<ConnectionManager>,
    pub timeout: Duration,
}

impl Shelf {
    /// The Redis key of a response: the owner's name, then the id (which
    /// [`plausible_id`] keeps free of `:`).
    fn key(owner: &str, id: &str) -> String {
        format!("llmgw:resp:{owner}:{id}")
    }

    /// Keeps `stored` here and, in the background, in Redis.
    pub fn put(&self, owner: &Arc<str>, id: &str, stored: Stored, bounds: &ResponsesSettings) {
        if let Some(conn) = self
            .redis
            .clone()
            .filter(|_| stored.size() <= bounds.max_bytes)
        {
            let (key, ttl) = (Self::key(owner, id), bounds.ttl.as_secs().max(1) as i64);
            let fields = [
                ("response", stored.response.clone()),
                ("conversation", stored.conversation.clone()),
            ];
            actix_web::rt::spawn(async move {
                let mut conn = conn;
                let fields: Vec<(&str, &[u8])> = fields.iter().map(|(k, v)| (*k, &v[..])).collect();
                let written: redis::RedisResult<()> = redis::pipe()
                    .atomic()
                    .hset_multiple(&key, &fields)
                    .ignore()
                    .expire(&key, ttl)
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = written {
                    tracing::warn!(error = %e, "a response could not be stored in Redis");
                }
            });
        }
        self.memory.put(owner, id, stored, bounds, Instant::now());
    }

    /// `owner`'s response `id`: from memory, else from Redis.
    pub async fn get(&self, owner: &Arc<str>, id: &str) -> Option<Stored> {
        if !plausible_id(id) {
            return None;
        }
        if let Some(found) = self.memory.get(owner, id, Instant::now()) {
            return Some(found);
        }
        let mut conn = self.redis.clone()?;
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(Self::key(owner, id))
            .arg("response")
            .arg("conversation");
        let asked = cmd.query_async::<(Option<Vec<u8>>, Option<Vec<u8>>)>(&mut conn);
        match tokio::time::timeout(self.timeout, asked).await {
            Ok(Ok((Some(response), Some(conversation)))) => Some(Stored {
                response: response.into(),
                conversation: conversation.into(),
            }),
            Ok(Ok(_)) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "a stored response could not be read from Redis");
                None
            }
            Err(_) => {
                tracing::warn!("a stored response could not be read from Redis in time");
                None
            }
        }
    }
}

impl Inner {
    fn evict_oldest(&mut self) -> bool {
        let Some(key) = self.order.pop_front() else {
            return false;
        };
        if let Some((old, _)) = self.entries.remove(&key) {
            self.bytes -= old.size();
        }
        true
    }

    /// Drops expired entries from the front (kept in order of expiry while
    /// the TTL stays; after a reload that shortens it, later ones expire on
    /// `get`).
    fn expire(&mut self, now: Instant) {
        while let Some(key) = self.order.front() {
            match self.entries.get(key) {
                Some((_, until)) if *until > now => break,
                _ => {
                    self.evict_oldest();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stored(n: usize) -> Stored {
        Stored {
            response: Bytes::from(vec![b'r'; n]),
            conversation: Bytes::from_static(b"[]"),
        }
    }

    fn bounds(entries: usize, bytes: usize) -> ResponsesSettings {
        ResponsesSettings {
            max_entries: entries,
            max_bytes: bytes,
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn responses_are_kept_per_key_and_expire() {
        let store = ResponseStore::default();
        let (alice, bob): (Arc<str>, Arc<str>) = ("alice".into(), "bob".into());
        let now = Instant::now();
        store.put(&alice, "resp_1", stored(10), &bounds(10, 1000), now);
        assert_eq!(store.get(&alice, "resp_1", now), Some(stored(10)));
        assert_eq!(store.get(&bob, "resp_1", now), None, "another key's");
        assert_eq!(
            store.get(&alice, "resp_1", now + Duration::from_secs(61)),
            None
        );
        assert_eq!(store.inner.lock().unwrap().bytes, 0);
    }

    #[test]
    fn only_ids_the_gateway_could_have_made_are_looked_up() {
        assert!(plausible_id("resp_0123abcdef"));
        for bad in ["", "a:b", "resp_x:team", "a b", &"x".repeat(129)] {
            assert!(!plausible_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_oldest_go_first_over_the_count_or_the_bytes() {
        let store = ResponseStore::default();
        let owner: Arc<str> = "k".into();
        let now = Instant::now();
        for i in 0..3 {
            store.put(
                &owner,
                &format!("resp_{i}"),
                stored(10),
                &bounds(2, 1000),
                now,
            );
        }
        assert_eq!(store.get(&owner, "resp_0", now), None);
        assert!(store.get(&owner, "resp_2", now).is_some());
        store.put(&owner, "big", stored(990), &bounds(10, 1000), now);
        assert_eq!(store.get(&owner, "resp_1", now), None, "evicted for bytes");
        assert!(store.get(&owner, "big", now).is_some());
        store.put(&owner, "huge", stored(2000), &bounds(10, 1000), now);
        assert_eq!(store.get(&owner, "huge", now), None, "never kept");
    }
}
