//! `bulk_operations/finish` wakes the sync waiting for that operation: the webhook receiver
//! (and the webhook job) [`BulkFinishes::signal`] the operation's id; the bulk pass waits
//! for the signal or its next poll, whichever comes first ([`BulkFinishes::wait`]). A
//! signal that comes before the wait is kept (the wait then returns at once). The signal
//! reaches waiters of this process only: on another replica the poll finds the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Operations remembered at most (signals for operations nobody here waits for, such as
/// another replica's, would otherwise pile up).
const MAX_OPERATIONS: usize = 10_000;

#[derive(Default)]
pub struct BulkFinishes {
    by_operation: Mutex<HashMap<String, Arc<Notify>>>,
}

impl BulkFinishes {
    fn entry(&self, operation: &str) -> Arc<Notify> {
        let mut map = self.by_operation.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_OPERATIONS && !map.contains_key(operation) {
            map.clear();
        }
        map.entry(operation.to_owned()).or_default().clone()
    }

    /// The operation `gid://shopify/BulkOperation/…` ended.
    pub fn signal(&self, operation: &str) {
        self.entry(operation).notify_one();
    }

    /// Returns when the operation is signalled (at once when it was before).
    pub async fn wait(&self, operation: &str) {
        self.entry(operation).notified().await;
    }

    /// The pass is done with the operation.
    pub fn forget(&self, operation: &str) {
        self.by_operation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(operation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_signal_wakes_the_waiter_of_its_operation_even_when_it_came_first() {
        let f = Arc::new(BulkFinishes::default());
        f.signal("gid://shopify/BulkOperation/1");
        f.wait("gid://shopify/BulkOperation/1").await;
        let waiter = {
            let f = f.clone();
            tokio::spawn(async move { f.wait("gid://shopify/BulkOperation/2").await })
        };
        f.signal("gid://shopify/BulkOperation/3");
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "another operation's signal");
        f.signal("gid://shopify/BulkOperation/2");
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
