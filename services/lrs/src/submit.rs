//! The `lrs-submit` consumer: statements other services put on `lyceum.xapi.submit` (the
//! statement JSON as payload), stored under the platform's authority. Redelivered events are
//! absorbed by the inbox, resent statements by statement idempotency; a different statement
//! under a known id is refused for good.

use lyceum_bus::{EventHandler, HandlerError};
use lyceum_proto::events::v1::Envelope;
use lyceum_store::Tx;
use lyceum_xapi::platform::Identity;
use lyceum_xapi::{Statement, XapiVersion};
use serde_json::Value;

use crate::access::Caller;
use crate::consistency::Consistency;
use crate::error::LrsError;
use crate::statements::record::{self, Write};

/// Durable consumer name.
pub(crate) const DURABLE: &str = "lrs-submit";

/// Stores submitted statements. Their `statement.stored` events reach the bus on the outbox
/// relay's next poll: the inbox commits only after the handler returns.
pub(crate) struct SubmitHandler {
    identity: Identity,
    caller: Caller,
    consistency: Consistency,
}

impl SubmitHandler {
    pub fn new(identity: Identity, consistency: Consistency) -> Self {
        Self {
            caller: Caller::platform(&identity),
            identity,
            consistency,
        }
    }
}

impl EventHandler for SubmitHandler {
    async fn handle(&self, tx: &mut Tx, event: &Envelope) -> Result<(), HandlerError> {
        let value: Value = serde_json::from_slice(&event.payload)
            .map_err(|e| HandlerError::Permanent(format!("payload is not JSON: {e}")))?;
        let statement = Statement::parse_as(value, XapiVersion::V2)
            .map_err(|e| HandlerError::Permanent(format!("invalid statement: {e}")))?;
        // Held until the inbox commits this batch (the handler returns first), so the
        // consistency bound may be a moment early for bus statements; see `consistency`.
        let guard = self.consistency.begin_write();
        let write = Write::new(
            &self.caller,
            &self.identity,
            vec![(String::new(), statement)],
            XapiVersion::V1,
            guard.stored,
        );
        match record::record(tx, &[&write]).await {
            Ok(r) => {
                if r.stored > 0 {
                    tracing::debug!(statement = %r.ids[0], source = %event.source, "submitted statement stored");
                }
                Ok(())
            }
            Err(e @ LrsError::Conflict(_)) => {
                tracing::warn!(error = %e, source = %event.source, "submitted statement refused");
                Err(HandlerError::Permanent(e.to_string()))
            }
            Err(e @ LrsError::Invalid(_)) => Err(HandlerError::Permanent(e.to_string())),
            Err(e) => Err(HandlerError::Transient(e.to_string())),
        }
    }
}
