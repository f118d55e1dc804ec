//! Provider actors: one per provider per worker, supervised, each owning the
//! `awc::Client` (connection pool, timeouts) of its provider.
//!
//! An actor notices that its provider's settings changed (a reload) when a
//! call arrives carrying different settings, and rebuilds its client for
//! that call and the ones after; streams in flight keep the connection they
//! have. A supervisor restart rebuilds the client too.
//!
//! An exchange runs in its actor, not in the caller's handler, so it would
//! outlive a caller who hangs up; each [`Dispatch`] therefore carries a
//! signal the caller's side drops when it stops waiting, and the actor then
//! drops the exchange (and with it the upstream connection).

use super::{exchange, Attempt, Drain, Reply};
use crate::config::ProviderSettings;
use crate::error::{ErrorKind, GatewayError};
use crate::governance::Permit;
use actix::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// A call for a provider actor.
pub struct Dispatch {
    pub call: Attempt,
    /// The process's drain signal (streams still open at the drain deadline
    /// end with an error event).
    pub drain: Drain,
    /// Resolves when the caller's side stops waiting (its sender is dropped,
    /// never used): the exchange is abandoned.
    pub abandoned: oneshot::Receiver<()>,
    /// Dropped when the exchange has ended (answered, failed or
    /// abandoned): the caller's side then frees the slot it held for it.
    pub ended: oneshot::Sender<()>,
}

impl Message for Dispatch {
    type Result = Result<Reply, GatewayError>;
}

/// Owns one provider's HTTP client on one worker.
pub struct ProviderActor {
    settings: Arc<ProviderSettings>,
    client: awc::Client,
}

impl ProviderActor {
    /// An actor for `settings`.
    pub fn new(settings: Arc<ProviderSettings>) -> Self {
        let client = build_client(&settings);
        Self { settings, client }
    }
}

/// The client for a provider: its timeouts, a keep-alive pool, `TCP_NODELAY`,
/// no redirects (a redirect would resend the provider key elsewhere).
fn build_client(settings: &ProviderSettings) -> awc::Client {
    let connector = awc::Connector::new()
        .connector(super::connect::NoDelay::default())
        .timeout(settings.connect_timeout)
        .conn_keep_alive(Duration::from_secs(60))
        .limit(0);
    awc::Client::builder()
        .connector(connector)
        .timeout(settings.timeout)
        .disable_redirects()
        .no_default_headers()
        .add_default_header((
            "user-agent",
            concat!("llm-gateway/", env!("CARGO_PKG_VERSION")),
        ))
        .finish()
}

impl Actor for ProviderActor {
    type Context = Context<Self>;
}

impl Supervised for ProviderActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.client = build_client(&self.settings);
    }
}

impl Handler<Dispatch> for ProviderActor {
    type Result = ResponseFuture<Result<Reply, GatewayError>>;

    fn handle(
        &mut self,
        Dispatch {
            call,
            drain,
            abandoned,
            ended,
        }: Dispatch,
        _ctx: &mut Self::Context,
    ) -> Self::Result {
        let settings = &call.target.provider;
        if !Arc::ptr_eq(settings, &self.settings) {
            if **settings != *self.settings {
                self.client = build_client(settings);
            }
            self.settings = settings.clone();
        }
        let exchange = exchange::execute(self.client.clone(), call, drain);
        Box::pin(async move {
            let _ended = ended;
            let gone = || GatewayError::new(ErrorKind::ClientClosed, "the caller went away");
            tokio::select! {
                biased;
                _ = abandoned => Err(gone()),
                result = exchange => result,
            }
        })
    }
}

/// This worker's provider actors, started on first use so that providers
/// added by a reload work on their next request.
pub struct ProviderPool {
    actors: RefCell<HashMap<Arc<str>, Addr<ProviderActor>>>,
    drain: Drain,
}

impl ProviderPool {
    /// An empty pool whose calls observe `drain`.
    pub fn new(drain: Drain) -> Self {
        Self {
            actors: RefCell::default(),
            drain,
        }
    }

    /// Sends `call` to its provider's actor on this worker; dropping the
    /// returned future (the caller hung up) abandons the exchange, and the
    /// caller's `slot` stays held until the exchange has ended.
    pub async fn dispatch(
        &self,
        call: Attempt,
        slot: Option<Rc<Permit>>,
    ) -> Result<Reply, GatewayError> {
        let addr = self.actor(&call.target.provider);
        let (_waiting, abandoned) = oneshot::channel();
        let (ended, exchange_over) = oneshot::channel();
        let mut hold = SlotHold {
            slot,
            exchange_over: Some(exchange_over),
        };
        let result = addr
            .send(Dispatch {
                call,
                drain: self.drain.clone(),
                abandoned,
                ended,
            })
            .await;
        hold.exchange_over = None;
        result.map_err(|_| GatewayError::new(ErrorKind::Internal, "the provider actor stopped"))?
    }

    fn actor(&self, settings: &Arc<ProviderSettings>) -> Addr<ProviderActor> {
        let mut actors = self.actors.borrow_mut();
        if let Some(addr) = actors.get(&settings.id) {
            if addr.connected() {
                return addr.clone();
            }
        }
        let s = settings.clone();
        let addr = Supervisor::start(move |_| ProviderActor::new(s));
        actors.insert(settings.id.clone(), addr.clone());
        addr
    }
}

/// The caller's concurrency slot during one exchange: when the caller hangs
/// up mid-exchange (this is dropped while `exchange_over` is still set), the
/// slot is held until the abandoned exchange has really ended.
struct SlotHold {
    slot: Option<Rc<Permit>>,
    exchange_over: Option<oneshot::Receiver<()>>,
}

impl Drop for SlotHold {
    fn drop(&mut self) {
        if let (Some(slot), Some(over)) = (self.slot.take(), self.exchange_over.take()) {
            actix_web::rt::spawn(async move {
                let _ = over.await;
                drop(slot);
            });
        }
    }
}
