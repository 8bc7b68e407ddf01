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

use lyceum_bus::Outbox;
use lyceum_store::Store;
use lyceum_xapi::platform::Identity;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::record::{self, Write};
use crate::consistency::Consistency;
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
    identity: Identity,
    consistency: Consistency,
}

impl Writer {
    /// Starts the writing task; it ends when every `Writer` is dropped.
    pub fn start(
        store: Store,
        outbox: Outbox,
        identity: Identity,
        consistency: Consistency,
    ) -> Writer {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let cx = Context {
            store,
            outbox,
            identity,
            consistency,
        };
        tokio::spawn(run(cx, jobs));
        Writer { queue }
    }

    /// Records a write; returns the ids in order.
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
        let result = alone(cx, job.write).await;
        let _ = job.reply.send(result);
        return;
    }
    // A joint write can be retried job by job only if the jobs are kept; split the writes
    // after the joint attempt by their lengths.
    let lengths: Vec<usize> = group.iter().map(|j| j.write.len()).collect();
    let (writes, replies): (Vec<Write>, Vec<_>) =
        group.into_iter().map(|j| (j.write, j.reply)).unzip();
    let joint = Write {
        statements: writes
            .iter()
            .flat_map(|w| w.statements.iter().cloned())
            .collect(),
        attachments: writes
            .iter()
            .flat_map(|w| w.attachments.iter().cloned())
            .collect(),
    };
    match alone(cx, joint).await {
        Ok(ids) => {
            let mut ids = ids.into_iter();
            for (n, reply) in lengths.into_iter().zip(replies) {
                let _ = reply.send(Ok(ids.by_ref().take(n).collect()));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, jobs = replies.len(), "joint write failed; writing one by one");
            for (write, reply) in writes.into_iter().zip(replies) {
                let result = alone(cx, write).await;
                let _ = reply.send(result);
            }
        }
    }
}

/// One transaction.
async fn alone(cx: &Context, write: Write) -> Result<Vec<Uuid>> {
    let guard = cx.consistency.begin_write();
    let mut tx = cx.store.begin().await?;
    let outcome = record::record(&mut tx, &cx.identity, write, guard.stored).await?;
    cx.outbox.commit(tx).await?;
    drop(guard);
    Ok(outcome.ids)
}
