//! Records what platform people do with catalogue content from `lyceum.lrs.statement.stored`.
//!
//! A statement about a course (`<public url>/courses/<id>`) is evidence on the course: the
//! verbs `completed` and `registered` as such, any other verb as activity. A statement about
//! a part of a course (`.../courses/<id>/items/<item>`, or an activity whose parent is the
//! course) is activity on the course. Any other activity is matched with catalogue items by
//! URL, now or when such an item is added.

use lyceum_bus::{EventHandler, HandlerError, subjects};
use lyceum_proto::events::v1::{Envelope, StatementStored};
use lyceum_proto::timestamp::to_time;
use lyceum_store::Tx;
use lyceum_xapi::platform::Identity;
use lyceum_xapi::vocab::verbs;
use prost::Message;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::catalog;
use crate::profile::{self, Interaction};
use crate::ranking::Evidence;

/// What a statement's object is, for the catalogue.
#[derive(Debug, PartialEq)]
enum Target {
    /// The course itself.
    Course(Uuid),
    /// A part of the course.
    PartOf(Uuid),
    /// Not a course of this platform.
    Other,
}

/// Applies `StatementStored` events to interactions.
pub(crate) struct StatementEvents {
    identity: Identity,
}

impl StatementEvents {
    pub fn new(identity: Identity) -> Self {
        Self { identity }
    }

    fn target(&self, activity_id: &str, statement: &Value) -> Target {
        if let Some(course) = self.identity.course_of(activity_id) {
            return Target::Course(course);
        }
        if let Some((course, item)) = activity_id.split_once("/items/")
            && !item.is_empty()
            && !item.contains('/')
            && let Some(course) = self.identity.course_of(course)
        {
            return Target::PartOf(course);
        }
        let context = &statement["context"]["contextActivities"];
        for key in ["parent", "grouping"] {
            let activities = match &context[key] {
                Value::Array(a) => a.iter().collect(),
                one @ Value::Object(_) => vec![one],
                _ => vec![],
            };
            for a in activities {
                if let Some(course) = a["id"].as_str().and_then(|id| self.identity.course_of(id)) {
                    return Target::PartOf(course);
                }
            }
        }
        Target::Other
    }
}

fn evidence_of_verb(verb: &str) -> Evidence {
    match verb {
        verbs::COMPLETED => Evidence::Completed,
        verbs::REGISTERED => Evidence::Registered,
        _ => Evidence::Activity,
    }
}

fn occurred_at(statement: &Value, envelope: &Envelope) -> OffsetDateTime {
    statement["timestamp"]
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .or_else(|| envelope.occurred_at.as_ref().and_then(to_time))
        .unwrap_or_else(OffsetDateTime::now_utc)
}

impl EventHandler for StatementEvents {
    async fn handle(&self, tx: &mut Tx, event: &Envelope) -> Result<(), HandlerError> {
        if event.r#type != subjects::STATEMENT_STORED {
            return Ok(());
        }
        let stored = StatementStored::decode(event.payload.as_slice())
            .map_err(|e| HandlerError::Permanent(format!("StatementStored: {e}")))?;
        let Ok(person_id) = stored.person_id.parse::<Uuid>() else {
            // Not a platform person (or none): nothing to personalise.
            return Ok(());
        };
        let statement_id: Uuid = stored.statement_id.parse().map_err(|_| {
            HandlerError::Permanent(format!(
                "statement id {:?} is not a UUID",
                stored.statement_id
            ))
        })?;
        let statement: Value = serde_json::from_str(&stored.statement_json).unwrap_or(Value::Null);
        if stored.verb_id == verbs::VOIDED {
            if let Some(target) = statement["object"]["id"]
                .as_str()
                .and_then(|id| id.parse().ok())
            {
                profile::void(tx, target).await?;
            }
            return Ok(());
        }
        let activity_id = stored.activity_id.trim();
        if activity_id.is_empty() {
            return Ok(());
        }
        let (item_id, evidence) = match self.target(activity_id, &statement) {
            Target::Course(id) => (Some(id), evidence_of_verb(&stored.verb_id)),
            Target::PartOf(id) => (Some(id), Evidence::Activity),
            Target::Other => (
                catalog::id_by_url(tx, activity_id).await?,
                evidence_of_verb(&stored.verb_id),
            ),
        };
        profile::record(
            tx,
            &Interaction {
                statement_id,
                person_id,
                item_id,
                activity_id: activity_id.to_string(),
                evidence,
                occurred_at: occurred_at(&statement, event),
            },
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_parts_count_as_activity_on_the_course() {
        let identity = Identity::new("http://lyceum.test");
        let events = StatementEvents::new(identity.clone());
        let (course, item) = (Uuid::now_v7(), Uuid::now_v7());
        let none = Value::Null;
        assert_eq!(
            events.target(&identity.course_activity(course), &none),
            Target::Course(course)
        );
        assert_eq!(
            events.target(&identity.item_activity(course, item), &none),
            Target::PartOf(course)
        );
        let with_parent = serde_json::json!({"context": {"contextActivities": {
            "parent": [{"id": identity.course_activity(course)}]}}});
        assert_eq!(
            events.target("https://cdn.example/au/1", &with_parent),
            Target::PartOf(course)
        );
        assert_eq!(
            events.target("https://elsewhere.example/courses/x", &none),
            Target::Other
        );
    }
}
