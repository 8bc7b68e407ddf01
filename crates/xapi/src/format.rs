//! The statement formats of `GET /statements`: `exact` (as stored), `ids` (only the
//! identifiers of agents, groups, activities and verbs) and `canonical` (activities with the
//! LRS's canonical definition, every language map cut to the one language the client prefers).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::validate::IFIS;

/// How statements are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// As stored.
    #[default]
    Exact,
    /// Identifiers only.
    Ids,
    /// Canonical activity definitions, one language per language map.
    Canonical,
}

impl Format {
    /// Reads the `format` parameter.
    pub fn parse(value: &str) -> Option<Format> {
        match value {
            "exact" => Some(Format::Exact),
            "ids" => Some(Format::Ids),
            "canonical" => Some(Format::Canonical),
            _ => None,
        }
    }
}

/// The ids of every activity a stored statement names (object, context activities, and the
/// same inside a SubStatement).
pub fn activity_ids(statement: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = statement.as_object() {
        crate::statement::for_each_activity(s, &mut |a| {
            if let Some(id) = a.get("id").and_then(Value::as_str) {
                out.push(id.to_string());
            }
        });
    }
    out
}

/// Reduces a stored statement to identifiers.
pub fn to_ids(statement: &mut Value) {
    let Some(s) = statement.as_object_mut() else {
        return;
    };
    ids_in(s);
    if let Some(a) = s.get_mut("authority") {
        *a = agent_ids(a);
    }
}

fn ids_in(s: &mut Map<String, Value>) {
    if let Some(actor) = s.get_mut("actor") {
        *actor = agent_ids(actor);
    }
    if let Some(Value::Object(verb)) = s.get_mut("verb") {
        verb.retain(|k, _| k == "id");
    }
    if let Some(object) = s.get_mut("object") {
        match object.get("objectType").and_then(Value::as_str) {
            None | Some("Activity") => keep_activity_id(object),
            Some("Agent" | "Group") => *object = agent_ids(object),
            Some("SubStatement") => {
                if let Some(sub) = object.as_object_mut() {
                    ids_in(sub);
                }
            }
            _ => {}
        }
    }
    let Some(Value::Object(context)) = s.get_mut("context") else {
        return;
    };
    for key in ["instructor", "team"] {
        if let Some(a) = context.get_mut(key) {
            *a = agent_ids(a);
        }
    }
    if let Some(Value::Object(groups)) = context.get_mut("contextActivities") {
        for list in groups.values_mut() {
            match list {
                Value::Array(items) => items.iter_mut().for_each(keep_activity_id),
                one => keep_activity_id(one),
            }
        }
    }
    for (list, inner) in [("contextAgents", "agent"), ("contextGroups", "group")] {
        if let Some(Value::Array(entries)) = context.get_mut(list) {
            for e in entries {
                if let Some(a) = e.get_mut(inner) {
                    *a = agent_ids(a);
                }
            }
        }
    }
}

fn keep_activity_id(a: &mut Value) {
    if let Some(map) = a.as_object_mut() {
        map.retain(|k, _| k == "id");
    }
}

/// An agent or identified group: its identifier (and objectType); an anonymous group: its
/// objectType and its members' identifiers.
fn agent_ids(agent: &Value) -> Value {
    let Some(map) = agent.as_object() else {
        return agent.clone();
    };
    let mut out = Map::new();
    if let Some(t) = map.get("objectType") {
        out.insert("objectType".into(), t.clone());
    }
    let ifi = IFIS.iter().find_map(|k| map.get(*k).map(|v| (*k, v)));
    match ifi {
        Some((k, v)) => {
            out.insert(k.into(), v.clone());
        }
        None => {
            if let Some(Value::Array(members)) = map.get("member") {
                out.insert(
                    "member".into(),
                    Value::Array(members.iter().map(agent_ids).collect()),
                );
            }
        }
    }
    Value::Object(out)
}

/// The client's language preferences, from `Accept-Language`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Languages(Vec<String>);

impl Languages {
    /// Parses an `Accept-Language` header (`en-GB, en;q=0.8, *;q=0.1`), best first.
    pub fn from_header(header: Option<&str>) -> Languages {
        let mut prefs: Vec<(String, f32, usize)> = Vec::new();
        for (i, part) in header.unwrap_or_default().split(',').enumerate() {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default().trim();
            if tag.is_empty() {
                continue;
            }
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 {
                prefs.push((tag.to_ascii_lowercase(), q, i));
            }
        }
        prefs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
        Languages(prefs.into_iter().map(|(t, _, _)| t).collect())
    }

    /// The key of `map` to keep: the best preference matched exactly, then by prefix
    /// (`en` and `en-GB` match each other), then `en-US`, then the first.
    pub fn pick<'a>(&self, map: &'a Map<String, Value>) -> Option<&'a String> {
        for pref in &self.0 {
            if pref == "*" {
                return map.keys().next();
            }
            if let Some(k) = map.keys().find(|k| k.eq_ignore_ascii_case(pref)) {
                return Some(k);
            }
            let found = map.keys().find(|k| {
                let k = k.to_ascii_lowercase();
                k.starts_with(&format!("{pref}-")) || pref.starts_with(&format!("{k}-"))
            });
            if found.is_some() {
                return found;
            }
        }
        map.keys()
            .find(|k| k.eq_ignore_ascii_case("en-US"))
            .or_else(|| map.keys().next())
    }

    fn reduce(&self, value: &mut Value) {
        if let Value::Object(map) = value
            && let Some(keep) = self.pick(map).cloned()
        {
            map.retain(|k, _| *k == keep);
        }
    }
}

/// Rewrites a stored statement in the canonical format: every activity takes its canonical
/// definition from `definitions` (by activity id) where the LRS has one, and every language
/// map keeps one language.
pub fn to_canonical(
    statement: &mut Value,
    definitions: &HashMap<String, Value>,
    languages: &Languages,
) {
    let Some(s) = statement.as_object_mut() else {
        return;
    };
    canonical_in(s, definitions, languages);
    if let Some(Value::Array(list)) = s.get_mut("attachments") {
        for a in list {
            attachment_languages(a, languages);
        }
    }
}

fn canonical_in(
    s: &mut Map<String, Value>,
    definitions: &HashMap<String, Value>,
    languages: &Languages,
) {
    if let Some(display) = s.get_mut("verb").and_then(|v| v.get_mut("display")) {
        languages.reduce(display);
    }
    if let Some(Value::Object(object)) = s.get_mut("object") {
        match object.get("objectType").and_then(Value::as_str) {
            None | Some("Activity") => canonical_activity(object, definitions, languages),
            Some("SubStatement") => canonical_in(object, definitions, languages),
            _ => {}
        }
    }
    if let Some(Value::Object(groups)) = s
        .get_mut("context")
        .and_then(|c| c.get_mut("contextActivities"))
    {
        for list in groups.values_mut() {
            match list {
                Value::Array(items) => {
                    for a in items {
                        if let Value::Object(a) = a {
                            canonical_activity(a, definitions, languages);
                        }
                    }
                }
                Value::Object(a) => canonical_activity(a, definitions, languages),
                _ => {}
            }
        }
    }
}

fn canonical_activity(
    activity: &mut Map<String, Value>,
    definitions: &HashMap<String, Value>,
    languages: &Languages,
) {
    if let Some(id) = activity.get("id").and_then(Value::as_str)
        && let Some(d) = definitions.get(id)
    {
        activity.insert("definition".into(), d.clone());
    }
    let Some(Value::Object(definition)) = activity.get_mut("definition") else {
        return;
    };
    for key in ["name", "description"] {
        if let Some(map) = definition.get_mut(key) {
            languages.reduce(map);
        }
    }
    for key in ["choices", "scale", "source", "target", "steps"] {
        if let Some(Value::Array(components)) = definition.get_mut(key) {
            for c in components {
                if let Some(d) = c.get_mut("description") {
                    languages.reduce(d);
                }
            }
        }
    }
}

fn attachment_languages(a: &mut Value, languages: &Languages) {
    for key in ["display", "description"] {
        if let Some(map) = a.get_mut(key) {
            languages.reduce(map);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "actor": {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://example.com/v", "display": {"en-US": "did", "en-GB": "did (GB)"}},
            "object": {"objectType": "SubStatement",
                "actor": {"objectType": "Group", "name": "G", "mbox": "mailto:g@example.com"},
                "verb": {"id": "http://example.com/w", "display": {"en-US": "w"}},
                "object": {"objectType": "Activity", "id": "http://example.com/a",
                    "definition": {"name": {"en": "A", "en-GB": "A (GB)"}}}},
            "context": {"contextActivities": {"parent": [{"id": "http://example.com/p",
                "definition": {"name": {"en-US": "P"}}}]},
                "team": {"objectType": "Group", "member": [{"name": "B", "mbox": "mailto:b@example.com"}]}}
        })
    }

    #[test]
    fn ids_keep_only_identifiers() {
        let mut s = sample();
        to_ids(&mut s);
        assert_eq!(
            s["actor"],
            json!({"objectType": "Agent", "mbox": "mailto:ada@example.com"})
        );
        assert_eq!(s["verb"], json!({"id": "http://example.com/v"}));
        assert_eq!(
            s["object"]["actor"],
            json!({"objectType": "Group", "mbox": "mailto:g@example.com"})
        );
        assert_eq!(s["object"]["object"], json!({"id": "http://example.com/a"}));
        assert_eq!(
            s["context"]["team"],
            json!({"objectType": "Group", "member": [{"mbox": "mailto:b@example.com"}]})
        );
        assert_eq!(
            s["context"]["contextActivities"]["parent"][0],
            json!({"id": "http://example.com/p"})
        );
    }

    #[test]
    fn canonical_keeps_one_language_and_the_lrs_definition() {
        let mut s = sample();
        let mut defs = HashMap::new();
        defs.insert(
            "http://example.com/p".to_string(),
            json!({"name": {"en-US": "Parent", "fr": "Parent (fr)"}, "type": "http://example.com/t"}),
        );
        to_canonical(&mut s, &defs, &Languages::from_header(Some("en-GB")));
        assert_eq!(s["verb"]["display"], json!({"en-GB": "did (GB)"}));
        assert_eq!(
            s["object"]["object"]["definition"]["name"],
            json!({"en-GB": "A (GB)"})
        );
        assert_eq!(
            s["context"]["contextActivities"]["parent"][0]["definition"],
            json!({"name": {"en-US": "Parent"}, "type": "http://example.com/t"})
        );
        assert_eq!(
            s["actor"],
            json!({"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"})
        );
    }

    #[test]
    fn language_preferences() {
        let l = Languages::from_header(Some("fr;q=0.5, de-CH, en;q=0.8"));
        let map: Map<String, Value> =
            serde_json::from_value(json!({"de": "x", "en-GB": "y", "fr-FR": "z"})).unwrap();
        assert_eq!(l.pick(&map).unwrap(), "de");
        let l = Languages::from_header(None);
        assert_eq!(l.pick(&map).unwrap(), "de");
        assert_eq!(Format::parse("ids"), Some(Format::Ids));
        assert_eq!(Format::parse("IDS"), None);
    }
}
