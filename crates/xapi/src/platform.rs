//! Statements the platform makes about its own people and content. A platform person is the
//! actor `{"account": {"homePage": <public URL>, "name": <person id>}}`; activity ids live
//! under the public URL.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::vocab::{activity_types, verbs};

/// The platform's public base URL (no trailing slash), the root of its identifiers.
#[derive(Debug, Clone)]
pub struct Identity {
    home_page: String,
}

/// An activity the platform describes.
#[derive(Debug, Clone)]
pub struct Activity<'a> {
    /// Activity id (IRI).
    pub id: String,
    /// Activity type IRI.
    pub kind: &'a str,
    /// English name.
    pub name: &'a str,
}

impl Identity {
    /// Identifiers rooted at `public_url`.
    pub fn new(public_url: &str) -> Self {
        Self {
            home_page: public_url.trim_end_matches('/').to_string(),
        }
    }

    /// The account home page of platform people.
    pub fn home_page(&self) -> &str {
        &self.home_page
    }

    /// The agent of a platform person.
    pub fn agent(&self, person_id: Uuid, name: &str) -> Value {
        let mut agent = json!({
            "objectType": "Agent",
            "account": {"homePage": self.home_page, "name": person_id.to_string()},
        });
        if !name.is_empty() {
            agent["name"] = Value::String(name.to_string());
        }
        agent
    }

    /// The person id of an agent that is a platform account, if it is one.
    pub fn person_of(&self, agent: &Value) -> Option<Uuid> {
        let account = agent.get("account")?;
        if account.get("homePage")?.as_str()?.trim_end_matches('/') != self.home_page {
            return None;
        }
        account.get("name")?.as_str()?.parse().ok()
    }

    /// Activity id of a course.
    pub fn course_activity(&self, course_id: Uuid) -> String {
        format!("{}/courses/{course_id}", self.home_page)
    }

    /// Activity id of an item of a course.
    pub fn item_activity(&self, course_id: Uuid, item_id: Uuid) -> String {
        format!("{}/courses/{course_id}/items/{item_id}", self.home_page)
    }

    /// The course id of a course activity id of this platform.
    pub fn course_of(&self, activity_id: &str) -> Option<Uuid> {
        let rest = activity_id
            .strip_prefix(&self.home_page)?
            .strip_prefix("/courses/")?;
        if rest.contains('/') {
            return None;
        }
        rest.parse().ok()
    }

    /// A statement: `actor verb object`, optionally in `registration` and under `parent`.
    pub fn statement(
        &self,
        actor: Value,
        verb: &str,
        object: &Activity<'_>,
        registration: Option<Uuid>,
        parent: Option<&Activity<'_>>,
        at: OffsetDateTime,
    ) -> Value {
        let mut context = json!({"platform": "Lyceum", "language": "en-US"});
        if let Some(r) = registration {
            context["registration"] = Value::String(r.to_string());
        }
        if let Some(p) = parent {
            context["contextActivities"] = json!({"parent": [activity_json(p)]});
        }
        json!({
            "id": Uuid::new_v4().to_string(),
            "actor": actor,
            "verb": {"id": verb, "display": {"en-US": verbs::display(verb)}},
            "object": activity_json(object),
            "context": context,
            "timestamp": at.format(&Rfc3339).expect("RFC 3339 formatting of a valid time"),
        })
    }

    /// The course activity.
    pub fn course<'a>(&self, course_id: Uuid, title: &'a str) -> Activity<'a> {
        Activity {
            id: self.course_activity(course_id),
            kind: activity_types::COURSE,
            name: title,
        }
    }

    /// An item activity.
    pub fn item<'a>(
        &self,
        course_id: Uuid,
        item_id: Uuid,
        kind: &str,
        title: &'a str,
    ) -> Activity<'a> {
        Activity {
            id: self.item_activity(course_id, item_id),
            kind: activity_types::for_item_kind(kind),
            name: title,
        }
    }
}

fn activity_json(a: &Activity<'_>) -> Value {
    json!({
        "objectType": "Activity",
        "id": a.id,
        "definition": {"type": a.kind, "name": {"en-US": a.name}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_platform_people_by_account() {
        let id = Identity::new("http://lyceum.test/");
        let person = Uuid::now_v7();
        let course = Uuid::now_v7();
        let reg = Uuid::now_v7();
        let s = id.statement(
            id.agent(person, "Ada"),
            verbs::COMPLETED,
            &id.course(course, "SQL"),
            Some(reg),
            None,
            OffsetDateTime::now_utc(),
        );
        assert_eq!(s["actor"]["account"]["homePage"], "http://lyceum.test");
        assert_eq!(id.person_of(&s["actor"]), Some(person));
        assert_eq!(s["context"]["registration"], reg.to_string());
        assert_eq!(
            id.course_of(s["object"]["id"].as_str().unwrap()),
            Some(course)
        );
        assert_eq!(id.course_of(&id.item_activity(course, reg)), None);
        assert!(id.person_of(&json!({"mbox": "mailto:a@b.c"})).is_none());
    }
}
