//! One load worker: one connection, sending in a closed or an open loop until the end.

use super::client::Conn;
use super::schedule::Schedule;
use super::stats::{Live, Tally};
use super::target::Target;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Worker {
    pub conn: Conn,
    pub target: Arc<Target>,
    pub live: Arc<Live>,
    pub tally: Tally,
    /// Requests still waiting for their answer when the time was up (not in the tally).
    pub unfinished: u64,
}

impl Worker {
    pub fn new(target: Arc<Target>, live: Arc<Live>) -> anyhow::Result<Worker> {
        Ok(Worker {
            conn: Conn::new(&target)?,
            target,
            live,
            tally: Tally::new(),
            unfinished: 0,
        })
    }

    /// Opens the connection before the clock starts.
    pub async fn warm_up(&mut self) {
        self.conn.warm_up(&self.target).await;
    }

    /// Each request leaves when the previous one has been answered.
    pub async fn closed_loop(mut self, end: Instant) -> Worker {
        let deadline = tokio::time::sleep_until(end.into());
        tokio::pin!(deadline);
        loop {
            let sent = Instant::now();
            if sent >= end {
                break;
            }
            let timeout = self.timeout(sent, end);
            let outcome = tokio::select! {
                outcome = self.conn.send(&self.target, timeout) => outcome,
                _ = &mut deadline => {
                    self.unfinished += 1;
                    break;
                }
            };
            self.live.count(&outcome);
            self.tally.record(outcome, sent.elapsed());
        }
        self
    }

    /// Each request leaves at its due time, or as soon as this connection is free after
    /// it; its latency counts from the due time.
    pub async fn open_loop(mut self, schedule: Arc<Schedule>, end: Instant) -> Worker {
        let deadline = tokio::time::sleep_until(end.into());
        tokio::pin!(deadline);
        loop {
            let due = tokio::select! {
                due = schedule.next() => due,
                _ = &mut deadline => None,
            };
            let Some(due) = due else { break };
            let timeout = self.timeout(Instant::now(), end);
            let outcome = tokio::select! {
                outcome = self.conn.send(&self.target, timeout) => outcome,
                _ = &mut deadline => {
                    self.unfinished += 1;
                    break;
                }
            };
            self.live.count(&outcome);
            self.tally.record(outcome, due.elapsed());
        }
        self
    }

    /// The per-request timeout, left out when the run ends sooner anyway (saves a timer
    /// per request).
    fn timeout(&self, now: Instant, end: Instant) -> Option<Duration> {
        let t = self.target.timeout;
        (now + t < end).then_some(t)
    }
}
