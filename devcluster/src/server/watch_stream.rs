//! Watch streams: newline-delimited JSON events (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR),
//! the synthetic initial state, resumption from a resourceVersion (an in-stream 410 ERROR when it
//! is too old), bookmarks, timeouts, and Table-encoded events for `kubectl get -w`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use http::{HeaderValue, Response, header};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::resources::{Format, partial_metadata};
use super::{App, Query, table};
use crate::cluster::{ListOptions, builtins};
use crate::errors::ApiError;
use crate::registry::ResourceInfo;
use crate::store::{EventType, WatchEvent};

const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct Watch {
    info: Arc<ResourceInfo>,
    ns: Option<String>,
    opts: ListOptions,
    fmt: Format,
    q: Query,
    bookmarks: bool,
    sent_table_header: bool,
}

impl Watch {
    fn matches(&self, ev: &WatchEvent, served: &Value) -> bool {
        ev.key.group == self.info.storage_group
            && ev.key.resource == self.info.storage_resource
            && self
                .ns
                .as_ref()
                .is_none_or(|ns| !self.info.namespaced || *ns == ev.key.namespace)
            && self.opts.labels.matches(served)
            && self.opts.fields.matches(served)
    }

    fn line(&mut self, kind: &str, obj: &Value) -> Bytes {
        let object = match self.fmt {
            Format::Object => obj.clone(),
            Format::Metadata => partial_metadata(obj),
            Format::Table => {
                let with_header = !self.sent_table_header;
                self.sent_table_header = true;
                let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
                table::table(
                    &self.info,
                    std::slice::from_ref(obj),
                    &meta,
                    with_header,
                    &self.q,
                )
            }
        };
        let mut s =
            serde_json::to_string(&json!({"type": kind, "object": object})).unwrap_or_default();
        s.push('\n');
        Bytes::from(s)
    }

    fn bookmark(&self, rev: i64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rev.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": meta});
        let mut s =
            serde_json::to_string(&json!({"type": "BOOKMARK", "object": obj})).unwrap_or_default();
        s.push('\n');
        Bytes::from(s)
    }
}

fn error_line(e: &ApiError) -> Bytes {
    let mut s = serde_json::to_string(&json!({"type": "ERROR", "object": e.to_status()}))
        .unwrap_or_default();
    s.push('\n');
    Bytes::from(s)
}

fn streaming_response(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    r
}

/// Start a watch; the response streams until timeout, shutdown or the client leaves.
pub fn start(
    app: Arc<App>,
    info: Arc<ResourceInfo>,
    ns: Option<String>,
    opts: ListOptions,
    q: &Query,
    fmt: Format,
) -> Result<Response<Body>, ApiError> {
    let rv = q.get("resourceVersion").filter(|s| !s.is_empty());
    let send_initial = q.flag("sendInitialEvents");
    let from = match rv {
        None | Some("0") => None,
        Some(r) => Some(
            r.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion: {r}")))?,
        ),
    };
    let timeout = match q.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()) {
        Some(t) if t > 0 => Duration::from_secs(t),
        _ => DEFAULT_TIMEOUT,
    };
    let mut w = Watch {
        info,
        ns,
        opts,
        fmt,
        q: q.clone(),
        bookmarks: q.flag("allowWatchBookmarks"),
        sent_table_header: false,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let store = &app.cluster.store;
    // Initial state: the subscription first, then the list, so nothing falls between them.
    let initial = from.is_none() || send_initial;
    let sub = match store.subscribe(if initial { None } else { from }) {
        Ok(s) => s,
        Err(e) => {
            let (etx, erx) = mpsc::channel(1);
            let _ = etx.try_send(error_line(&e));
            return Ok(streaming_response(erx));
        }
    };
    let mut pre: Vec<Bytes> = Vec::new();
    let mut skip_upto = 0;
    if initial {
        let list_opts = ListOptions {
            limit: None,
            continue_token: None,
            ..w.opts.clone()
        };
        let list = app.cluster.list(&w.info, w.ns.as_deref(), &list_opts)?;
        skip_upto = list["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        for item in list["items"].as_array().into_iter().flatten() {
            pre.push(w.line("ADDED", item));
        }
        if send_initial && w.bookmarks {
            pre.push(w.bookmark(skip_upto, true));
        }
    }
    let app2 = app.clone();
    tokio::spawn(async move {
        let mut shutdown = app2.shutdown.clone();
        let mut last_rev = if initial {
            skip_upto
        } else {
            from.unwrap_or(0)
        };
        for b in pre {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        for ev in sub.backlog {
            if !forward(&mut w, &tx, &ev, skip_upto, &mut last_rev).await {
                return;
            }
        }
        let mut rx = sub.rx;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        loop {
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(ev) => {
                        if !forward(&mut w, &tx, &ev, skip_upto, &mut last_rev).await {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too slow: end like kube-apiserver ends a watcher that cannot keep up.
                        let _ = tx.send(error_line(&ApiError::expired(last_rev, last_rev + 1))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick() => {
                    if w.bookmarks && tx.send(w.bookmark(last_rev, false)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => {
                    if w.bookmarks {
                        let _ = tx.send(w.bookmark(last_rev, false)).await;
                    }
                    return;
                }
                _ = tx.closed() => return,
                _ = shutdown.changed() => return,
            }
        }
    });
    Ok(streaming_response(rx))
}

/// Send one store event if it belongs to this watch; false when the client is gone.
async fn forward(
    w: &mut Watch,
    tx: &mpsc::Sender<Bytes>,
    ev: &WatchEvent,
    skip_upto: i64,
    last_rev: &mut i64,
) -> bool {
    if ev.rv <= skip_upto {
        return true;
    }
    // Every event seen (matching or not) moves the bookmark position, so idle watches stay resumable.
    *last_rev = ev.rv;
    if ev.key.group != w.info.storage_group || ev.key.resource != w.info.storage_resource {
        return true;
    }
    let served = builtins::to_served(&w.info, (*ev.object).clone());
    let now = w.matches(ev, &served);
    let kind = match ev.kind {
        EventType::Added if now => "ADDED",
        EventType::Deleted if now => "DELETED",
        EventType::Modified if w.opts.labels.is_empty() && w.opts.fields.is_empty() => "MODIFIED",
        EventType::Modified => {
            // With selectors, an object entering the selection is ADDED and one leaving it DELETED.
            let before = ev
                .previous
                .as_deref()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .map(|p| builtins::to_served(&w.info, p))
                .is_some_and(|p| w.matches(ev, &p));
            match (before, now) {
                (true, true) => "MODIFIED",
                (false, true) => "ADDED",
                (true, false) => "DELETED",
                (false, false) => return true,
            }
        }
        _ => return true,
    };
    tx.send(w.line(kind, &served)).await.is_ok()
}
