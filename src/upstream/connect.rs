//! The TCP connector of upstream clients: awc's default, plus `TCP_NODELAY`
//! on every socket. Without it, a request written in pieces meets Nagle's
//! algorithm and the peer's delayed ACK and can stall ~40 ms.

use actix_service::Service;
use actix_tls::connect::{ConnectError, ConnectInfo, Connection, ConnectorService};
use awc::http::Uri;
use futures_util::future::LocalBoxFuture;
use tokio::net::TcpStream;

/// Resolves and connects like awc's default connector, then sets
/// `TCP_NODELAY`.
#[derive(Clone, Default)]
pub struct NoDelay(ConnectorService);

impl Service<ConnectInfo<Uri>> for NoDelay {
    type Response = Connection<Uri, TcpStream>;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_service::always_ready!();

    fn call(&self, req: ConnectInfo<Uri>) -> Self::Future {
        let connecting = self.0.call(req);
        Box::pin(async move {
            let conn = connecting.await?;
            // Best effort: a socket that refuses the option still works.
            let _ = conn.io_ref().set_nodelay(true);
            Ok(conn)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn upstream_sockets_have_nodelay_set() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let uri: Uri = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let conn = NoDelay::default()
            .call(ConnectInfo::new(uri))
            .await
            .unwrap();
        assert!(conn.io_ref().nodelay().unwrap());
    }
}
