//! The HTTP side of `[metrics] listen` (hyper, HTTP/1.1, on the process's one runtime):
//! `/metrics` for Prometheus and `/` for the stats page, until the token is cancelled.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Renders the page served at `/` (the stats page of the journal, read when asked).
pub type Page = Arc<dyn Fn() -> String + Send + Sync>;

/// Binds `listen`; failing to is the caller's error to report (a port taken, say).
pub async fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(listen).await
}

/// Serves `/metrics` and (when given) the page at `/` on `listener` until `token` is cancelled.
pub async fn serve(listener: TcpListener, page: Option<Page>, token: CancellationToken) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %err, "metrics: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = token.cancelled() => return,
        };
        let page = page.clone();
        let service = hyper::service::service_fn(move |request| answer(request, page.clone()));
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "metrics: connection");
            }
        });
    }
}

async fn answer(request: Request<Incoming>, page: Option<Page>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, kind, body) = match (request.uri().path(), page) {
        ("/metrics", _) => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            super::prometheus::get().text(),
        ),
        ("/", Some(page)) => {
            // Reading the journal is file I/O: off the async threads.
            let html = tokio::task::spawn_blocking(move || page()).await.unwrap_or_default();
            (StatusCode::OK, "text/html; charset=utf-8", html)
        }
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found: try /metrics\n".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = kind.parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    Ok(response)
}
