//! The shared store: every replica on the same Redis (or Valkey) shares each
//! key's rpm, tpm, `max_concurrent` and budget exactly.
//!
//! One Lua script admits a call in one round trip, atomically, on the
//! server's clock (`TIME`, so replicas' clocks do not matter); another
//! settles it when it is over (tokens, cost, its concurrency slot). The
//! counters of a key named `N` live under `llmgw:{N}:` — `rpm` and `tpm`
//! (GCRA arrival times in µs, expiring once full again), `inflight` (a
//! sorted set of leases scored by their expiry in ms) and
//! `spend:<period>:<first day>` (nano-dollars, expiring after the period).
//! A lease is renewed every third of `lease_seconds` while its call runs,
//! so a replica that dies frees its slots when they expire.
//!
//! Each worker has its own connection (a `ConnectionManager`, which
//! reconnects by itself) and a keeper task that renews and releases its
//! leases. A call never waits longer than `store_timeout_ms`; when the store
//! fails, the hot path leaves it alone for [`RETRY_AFTER`], counts each
//! skipped or failed operation in `llm_limits_store_errors_total`, logs the
//! outage once, and serves with the local counters (`allow`) or refuses
//! limited calls with 503 (`deny`).

use super::budget::unix_now;
use super::local::now_nanos;
use super::{Cost, Denied, KeyPolicy, KeyState, Limit, Permit, Refused, SharedView};
use super::{LimitsSettings, OnStoreError, RedisSettings, Store};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::sync::Notify;

/// After a failure, how long calls skip the store before trying it again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// The longest a settle, a renewal or a release waits (off the hot path).
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(2);

/// Admits one call. KEYS: rpm, tpm, inflight, spend. ARGV: µs per request
/// and per token (0: no limit), max concurrent (0: none), lease member,
/// lease ms, budget in nano-dollars (-1: none). Returns {code, retry ms,
/// rpm used µs, tpm used µs, spent}; code 0 admits, 1 rpm, 2 tpm,
/// 3 concurrency, 4 budget.
static ADMIT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local minute = 60000000
local rpm_i, tpm_i = tonumber(ARGV[1]), tonumber(ARGV[2])
local maxc, budget = tonumber(ARGV[3]), tonumber(ARGV[6])
local function used(key)
  return math.max(tonumber(redis.call('GET', key) or '0') - now, 0)
end
local rpm_used = rpm_i > 0 and used(KEYS[1]) or 0
local tpm_used = tpm_i > 0 and used(KEYS[2]) or 0
local spent = budget >= 0 and (redis.call('GET', KEYS[4]) or '0') or '0'
local function answer(code, wait_us)
  return {code, math.ceil(wait_us / 1000), math.floor(rpm_used), math.floor(tpm_used), spent}
end
if budget >= 0 and tonumber(spent) >= budget then return answer(4, 0) end
if tpm_i > 0 and tpm_used >= minute then return answer(2, tpm_used - minute + tpm_i) end
local now_ms = math.floor(now / 1000)
if maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now_ms))
  if redis.call('ZCARD', KEYS[3]) >= maxc then return answer(3, 1000000) end
end
if rpm_i > 0 then
  if rpm_used + rpm_i > minute then return answer(1, rpm_used + rpm_i - minute) end
  rpm_used = rpm_used + rpm_i
  redis.call('SET', KEYS[1], string.format('%.17g', now + rpm_used),
    'PX', string.format('%.0f', math.ceil(rpm_used / 1000) + 1000))
end
if maxc > 0 then
  local lease = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[3], string.format('%.0f', now_ms + lease), ARGV[4])
  redis.call('PEXPIRE', KEYS[3], lease + 1000)
end
return answer(0, 0)
",
    )
});

/// Settles a call. KEYS: tpm, spend, inflight. ARGV: µs per token (0: no
/// limit), tokens, cost in nano-dollars, spend TTL in seconds, lease member
/// ('' for none).
static SETTLE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tpm_i, tokens = tonumber(ARGV[1]), tonumber(ARGV[2])
if tpm_i > 0 and tokens > 0 then
  local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + tpm_i * tokens
  redis.call('SET', KEYS[1], string.format('%.17g', tat),
    'PX', string.format('%.0f', math.ceil((tat - now) / 1000) + 1000))
end
if ARGV[3] ~= '0' then
  redis.call('INCRBY', KEYS[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[3], ARGV[5]) end
return 1
",
    )
});

/// Renews leases. KEYS: inflight sets; ARGV[1]: lease ms; ARGV[i + 1]: the
/// member in KEYS[i]. A lease already gone (expired, released) stays gone.
static RENEW: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local lease = tonumber(ARGV[1])
local until_ms = string.format('%.0f', math.floor((tonumber(t[1]) * 1000000 + tonumber(t[2])) / 1000) + lease)
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', until_ms, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease + 1000)
end
return #KEYS
",
    )
});

/// The store of a process: how to reach Redis and whether it answers.
pub struct RedisStore {
    client: redis::Client,
    lease: Duration,
    /// Names this process's leases.
    replica: String,
    next_lease: AtomicU64,
    /// Whether an outage is going on (logged once when it starts).
    down: AtomicBool,
    /// [`now_nanos`] before which calls skip the store.
    retry_at: AtomicU64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// The store of `limits`, when it is Redis.
    pub fn from_settings(limits: &LimitsSettings) -> Option<Arc<Self>> {
        match &limits.store {
            Store::Local => None,
            Store::Redis(r) => match client(r) {
                Ok(client) => Some(Arc::new(Self {
                    client,
                    lease: r.lease,
                    replica: format!("{:x}-{:x}", std::process::id(), unix_nanos()),
                    next_lease: AtomicU64::new(0),
                    down: AtomicBool::new(false),
                    retry_at: AtomicU64::new(0),
                })),
                // Validation parsed the URL already.
                Err(e) => {
                    tracing::error!(error = %e, "the Redis URL is unusable; limits stay local");
                    None
                }
            },
        }
    }

    fn skipping(&self) -> bool {
        now_nanos() < self.retry_at.load(Ordering::Relaxed)
    }

    fn answered(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("the limits store answers again: limits are shared again");
        }
    }

    fn failed(&self, problem: &dyn std::fmt::Display, on_error: OnStoreError) {
        let retry = u64::try_from(RETRY_AFTER.as_nanos()).unwrap_or(u64::MAX);
        self.retry_at
            .store(now_nanos().saturating_add(retry), Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            let mode = match on_error {
                OnStoreError::Allow => "serving with each replica's local limits",
                OnStoreError::Deny => "refusing limited calls with 503",
            };
            tracing::error!(error = %problem, mode, "the limits store (Redis) is unreachable");
        }
    }
}

fn unix_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A client for `r`, with the password from the settings when given.
fn client(r: &RedisSettings) -> redis::RedisResult<redis::Client> {
    let mut info = redis::IntoConnectionInfo::into_connection_info(r.url.as_str())?;
    if let Some(p) = &r.password {
        let settings = info.redis_settings().clone().set_password(p.expose());
        info = info.set_redis_settings(settings);
    }
    redis::Client::open(info)
}

/// This worker's side of the store: its connection, its leases and its
/// keeper task. Built per worker (like the provider actors).
#[derive(Clone)]
pub struct WorkerStore(Rc<Worker>);

struct Worker {
    store: Arc<RedisStore>,
    /// Counts a store error of an operation (`llm_limits_store_errors_total`).
    on_error: Box<dyn Fn(&'static str)>,
    /// Made on first use, inside the worker's runtime.
    conn: OnceCell<ConnectionManager>,
    /// Leases of calls in flight on this worker, by id.
    leases: RefCell<HashMap<u64, Lease>>,
    /// Leases of calls that ended without settling, to release.
    released: RefCell<Vec<Lease>>,
    wake: Rc<Notify>,
}

/// A concurrency slot in a key's `inflight` set.
#[derive(Debug, Clone)]
struct Lease {
    set: Rc<str>,
    member: String,
}

/// Key names of one gateway key's counters.
struct Keys {
    prefix: String,
}

impl Keys {
    fn new(name: &str) -> Self {
        Self {
            prefix: format!("llmgw:{{{name}}}:"),
        }
    }

    fn key(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }

    /// The spend counter of the current period, and how long to keep it.
    fn spend(&self, policy: &KeyPolicy) -> (String, u64) {
        match &policy.budget {
            Some(b) => {
                let unix = unix_now();
                let w = b.period.bounds(unix);
                let name = self.key(&format!("spend:{}:{}", b.period.as_str(), w.start_day));
                (name, w.end.saturating_sub(unix) + 86_400)
            }
            None => (self.key("spend"), 0),
        }
    }
}

/// µs per unit of a per-minute limit (0: no limit), as the scripts take it.
fn interval_us(per_minute: Option<u32>) -> f64 {
    per_minute.map_or(0.0, |n| 60e6 / f64::from(n.max(1)))
}

impl WorkerStore {
    /// This worker's side of `store`, reporting each store error of an
    /// operation to `on_error`.
    pub fn new(store: Arc<RedisStore>, on_error: Box<dyn Fn(&'static str)>) -> Self {
        Self(Rc::new(Worker {
            store,
            on_error,
            conn: OnceCell::new(),
            leases: RefCell::default(),
            released: RefCell::default(),
            wake: Rc::new(Notify::new()),
        }))
    }

    /// Admits one call of the key `name` on the shared counters, or on the
    /// local ones when the store fails and `on_store_error = "allow"`.
    pub async fn admit(
        &self,
        limits: &LimitsSettings,
        name: &str,
        state: &KeyState,
    ) -> Result<Permit, Denied> {
        let w = &self.0;
        let policy = state.policy();
        if w.store.skipping() {
            (w.on_error)("admit");
            return self.fallback(limits, name, state);
        }
        let keys = Keys::new(name);
        let lease = policy.max_concurrent.map(|_| Lease {
            set: keys.key("inflight").into(),
            member: format!(
                "{}:{}",
                w.store.replica,
                w.store.next_lease.fetch_add(1, Ordering::Relaxed)
            ),
        });
        let (spend, _) = keys.spend(policy);
        let budget = policy.budget.map_or(-1, |b| b.limit.nanos() as i64);
        let mut call = ADMIT.prepare_invoke();
        call.key(keys.key("rpm"))
            .key(keys.key("tpm"))
            .key(keys.key("inflight"))
            .key(spend)
            .arg(interval_us(policy.rpm))
            .arg(interval_us(policy.tpm))
            .arg(policy.max_concurrent.unwrap_or(0))
            .arg(lease.as_ref().map_or("", |l| l.member.as_str()))
            .arg(w.store.lease.as_millis() as u64)
            .arg(budget);
        let Some(mut conn) = self.conn() else {
            return self.fallback(limits, name, state);
        };
        let answer = tokio::time::timeout(
            limits.store_timeout,
            call.invoke_async::<(i64, i64, i64, i64, String)>(&mut conn),
        )
        .await;
        let (code, retry_ms, rpm_used, tpm_used, spent) = match answer {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return self.failed_admit(limits, name, state, lease, &e),
            Err(_) => {
                let timeout = format!("no answer within {:?}", limits.store_timeout);
                return self.failed_admit(limits, name, state, lease, &timeout);
            }
        };
        w.store.answered();
        let us = |n: i64| Duration::from_micros(n.max(0) as u64);
        let view = SharedView {
            requests_used: us(rpm_used),
            tokens_used: us(tpm_used),
            spent: Cost::from_nanos(spent.parse().unwrap_or(0)),
        };
        state.mirror(&view);
        let limit = match code {
            0 => {
                let mut permit = state.admitted_shared();
                permit.shared = Some(self.hold(&keys, policy, lease));
                return Ok(permit);
            }
            1 => Limit::Rpm,
            2 => Limit::Tpm,
            3 => Limit::Concurrency,
            _ => Limit::Budget,
        };
        let retry_after = match (limit, policy.budget) {
            (Limit::Budget, Some(b)) => b.period.bounds(unix_now()).left(unix_now()),
            _ => Duration::from_millis(retry_ms.max(0) as u64),
        };
        Err(Denied::Limit(Refused { limit, retry_after }))
    }

    /// The connection, made on first use.
    fn conn(&self) -> Option<ConnectionManager> {
        let w = &self.0;
        if let Some(c) = w.conn.get() {
            return Some(c.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(BACKGROUND_TIMEOUT))
            .set_response_timeout(Some(BACKGROUND_TIMEOUT));
        let conn = match ConnectionManager::new_lazy_with_config(w.store.client.clone(), config) {
            Ok(c) => c,
            Err(e) => {
                (w.on_error)("connect");
                w.store.failed(&e, OnStoreError::Allow);
                return None;
            }
        };
        let _ = w.conn.set(conn.clone());
        actix_web::rt::spawn(keep(
            Rc::downgrade(&self.0),
            w.wake.clone(),
            w.store.lease / 3,
        ));
        // Connect now, whatever a call's timeout: a slow first connect (TLS
        // far away) is not an outage.
        let mut first = conn.clone();
        actix_web::rt::spawn(async move {
            let _ = redis::cmd("PING").query_async::<String>(&mut first).await;
        });
        Some(conn)
    }

    /// This worker's connection, for other state kept in the store (the
    /// Responses store); `None` while the store is failing.
    pub fn connection(&self) -> Option<ConnectionManager> {
        if self.0.store.skipping() {
            return None;
        }
        self.conn()
    }

    /// Starts connecting (call on the worker, at its start).
    pub fn warm(&self) {
        let _ = self.conn();
    }

    fn failed_admit(
        &self,
        limits: &LimitsSettings,
        name: &str,
        state: &KeyState,
        lease: Option<Lease>,
        problem: &dyn std::fmt::Display,
    ) -> Result<Permit, Denied> {
        let w = &self.0;
        (w.on_error)("admit");
        w.store.failed(problem, limits.on_store_error);
        // The script may have run: free its slot rather than wait for it
        // to expire.
        if let Some(l) = lease {
            w.released.borrow_mut().push(l);
            w.wake.notify_one();
        }
        self.fallback(limits, name, state)
    }

    /// The Redis-down mode: local limits (still settled in the store, which
    /// may answer again by then), or a refusal.
    fn fallback(
        &self,
        limits: &LimitsSettings,
        name: &str,
        state: &KeyState,
    ) -> Result<Permit, Denied> {
        match limits.on_store_error {
            OnStoreError::Deny => Err(Denied::StoreDown),
            OnStoreError::Allow => {
                let mut permit = state.admit().map_err(Denied::Limit)?;
                permit.shared = Some(self.hold(&Keys::new(name), state.policy(), None));
                Ok(permit)
            }
        }
    }

    fn hold(&self, keys: &Keys, policy: &KeyPolicy, lease: Option<Lease>) -> Hold {
        let lease = lease.map(|l| {
            let id = self.0.store.next_lease.fetch_add(1, Ordering::Relaxed);
            self.0.leases.borrow_mut().insert(id, l);
            id
        });
        Hold {
            worker: self.clone(),
            tpm: keys.key("tpm"),
            spend: keys.spend(policy),
            inflight: keys.key("inflight"),
            tpm_interval: interval_us(policy.tpm),
            lease,
        }
    }

    /// Runs `op` on the store off the hot path, counting a failure.
    fn background(&self, what: &'static str, call: redis::ScriptInvocation<'static>) {
        let Some(mut conn) = self.conn() else {
            return;
        };
        let me = self.clone();
        actix_web::rt::spawn(async move {
            let done =
                tokio::time::timeout(BACKGROUND_TIMEOUT, call.invoke_async::<i64>(&mut conn)).await;
            if !matches!(done, Ok(Ok(_))) {
                (me.0.on_error)(what);
            }
        });
    }

    /// Releases the leases of calls that ended without settling.
    fn release_queued(&self) {
        let released = std::mem::take(&mut *self.0.released.borrow_mut());
        for l in released {
            let mut call = SETTLE.prepare_invoke();
            call.key("").key("").key(&*l.set);
            call.arg(0).arg(0).arg(0).arg(0).arg(l.member);
            self.background("release", call);
        }
    }

    /// Renews the leases of calls in flight on this worker.
    fn renew(&self) {
        let leases = self.0.leases.borrow();
        if leases.is_empty() {
            return;
        }
        let mut call = RENEW.prepare_invoke();
        call.arg(self.0.store.lease.as_millis() as u64);
        for l in leases.values() {
            call.key(&*l.set).arg(&l.member);
        }
        drop(leases);
        self.background("renew", call);
    }
}

/// The keeper of a worker's leases: releases those of calls that ended
/// without settling as soon as they are queued, renews the live ones every
/// `every`. Ends with the worker.
async fn keep(worker: Weak<Worker>, wake: Rc<Notify>, every: Duration) {
    let mut next = tokio::time::Instant::now() + every;
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(next) => {}
        }
        let Some(w) = worker.upgrade() else {
            return;
        };
        let store = WorkerStore(w);
        store.release_queued();
        if tokio::time::Instant::now() >= next {
            store.renew();
            next = tokio::time::Instant::now() + every;
        }
    }
}

/// A call's hold on the shared store: settled with what it used, or
/// released when dropped unsettled.
pub struct Hold {
    worker: WorkerStore,
    tpm: String,
    spend: (String, u64),
    inflight: String,
    tpm_interval: f64,
    /// The id of its lease in the worker's table.
    lease: Option<u64>,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hold").field("lease", &self.lease).finish()
    }
}

impl Hold {
    /// Charges `tokens` and `cost` and frees the slot, in one round trip
    /// off the hot path.
    pub fn settle(mut self, tokens: u64, cost: Cost) {
        let lease = self
            .lease
            .take()
            .and_then(|id| self.worker.0.leases.borrow_mut().remove(&id));
        if lease.is_none() && (tokens == 0 || self.tpm_interval == 0.0) && cost == Cost::ZERO {
            return;
        }
        let mut call = SETTLE.prepare_invoke();
        call.key(&self.tpm).key(&self.spend.0).key(&self.inflight);
        call.arg(self.tpm_interval)
            .arg(tokens)
            .arg(cost.nanos())
            .arg(self.spend.1)
            .arg(lease.map_or(String::new(), |l| l.member));
        self.worker.background("settle", call);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let w = &self.worker.0;
        let Some(lease) = self
            .lease
            .take()
            .and_then(|id| w.leases.borrow_mut().remove(&id))
        else {
            return;
        };
        w.released.borrow_mut().push(lease);
        w.wake.notify_one();
    }
}
