//! Group commit: statement writes from concurrent requests (HTTP, gRPC) queue here, and one
//! task records everything that is waiting in one transaction. Each request still gets all
//! or nothing: when the joint transaction fails (a conflict, a duplicate id across requests,
//! a database error), the requests of the group are recorded again one by one, each in its own
//! transaction, so one request's failure never becomes another's.
//!
//! Writers are serialised anyway (PostgreSQL's advisory lock, SQLite's single writer), so the
//! price of a transaction (its round trips and its commit) is what limits throughput; sharing
//! it between the requests that arrived meanwhile is what lets single-statement POSTs from many
//! clients keep up. An idle LRS adds no delay: a lone request forms a group of one at once.
//!
//! Requests arrive here prepared ([`Write::new`]): everything that is CPU work (checks, digests,
//! stored JSON, indexed keys) is done by the request, in parallel with the others, so the
//! serial part is only the database's.

use lyceum_bus::Outbox;
use lyceum_store::Store;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::record::{self, Write};
use crate::error::{LrsError, Result};

/// Most statements one joint transaction takes; the rest wait for the next.
const GROUP_STATEMENTS: usize = 2_000;
/// Requests waiting before new ones wait for room (back-pressure on the HTTP handlers).
const QUEUE: usize = 4_096;

struct Job {
    write: Write,
    reply: oneshot::Sender<Result<Vec<Uuid>>>,
}

/// The queue of statement writes.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Job>,
}

/// What the writing task needs.
struct Context {
    store: Store,
    outbox: Outbox,
}

impl Writer {
    /// Starts the writing task; it ends when every `Writer` is dropped.
    pub fn start(store: Store, outbox: Outbox) -> Writer {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let cx = Context { store, outbox };
        tokio::spawn(run(cx, jobs));
        Writer { queue }
    }

    /// Records a write (prepared by the request, whose consistency guard covers it until this
    /// returns); returns the ids in order.
    pub async fn write(&self, write: Write) -> Result<Vec<Uuid>> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { write, reply })
            .await
            .map_err(|_| LrsError::Config("the statement writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| LrsError::Config("the statement writer has stopped".into()))?
    }
}

async fn run(cx: Context, mut jobs: mpsc::Receiver<Job>) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut size = first.write.len();
        let mut group = vec![first];
        while size < GROUP_STATEMENTS {
            match jobs.try_recv() {
                Ok(job) if size + job.write.len() > GROUP_STATEMENTS => {
                    carried = Some(job);
                    break;
                }
                Ok(job) => {
                    size += job.write.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        commit_group(&cx, group).await;
    }
}

async fn commit_group(cx: &Context, group: Vec<Job>) {
    if group.len() == 1 {
        let job = group.into_iter().next().expect("one job");
        let result = alone(cx, &[&job.write]).await;
        let _ = job.reply.send(result);
        return;
    }
    // The joint write reads the requests' statements without taking them, so each request
    // can still be written alone if the joint write fails.
    let writes: Vec<&Write> = group.iter().map(|j| &j.write).collect();
    match alone(cx, &writes).await {
        Ok(ids) => {
            let mut ids = ids.into_iter();
            for job in group {
                let n = job.write.len();
                let _ = job.reply.send(Ok(ids.by_ref().take(n).collect()));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, jobs = group.len(), "joint write failed; writing one by one");
            for job in group {
                let result = alone(cx, &[&job.write]).await;
                let _ = job.reply.send(result);
            }
        }
    }
}

/// One transaction.
async fn alone(cx: &Context, writes: &[&Write]) -> Result<Vec<Uuid>> {
    let mut tx = cx.store.begin().await?;
    let outcome = record::record(&mut tx, writes).await?;
    cx.outbox.commit(tx).await?;
    Ok(outcome.ids)
}
