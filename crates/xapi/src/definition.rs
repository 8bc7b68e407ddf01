//! Canonical activity definitions: what an LRS knows about an activity, merged from every
//! statement that described it (newer statements win; language maps gain languages).

use serde_json::{Map, Value};

/// Merges `incoming` (a definition from a newly stored statement) into `canonical`: language
/// maps (`name`, `description`) and `extensions` gain the incoming entries, every other
/// property takes the incoming value. Returns whether anything changed.
pub fn merge(canonical: &mut Map<String, Value>, incoming: &Map<String, Value>) -> bool {
    let mut changed = false;
    for (key, value) in incoming {
        match (key.as_str(), canonical.get_mut(key), value) {
            (
                "name" | "description" | "extensions",
                Some(Value::Object(old)),
                Value::Object(new),
            ) => {
                for (k, v) in new {
                    if old.get(k) != Some(v) {
                        old.insert(k.clone(), v.clone());
                        changed = true;
                    }
                }
            }
            (_, Some(old), new) if old == new => {}
            _ => {
                canonical.insert(key.clone(), value.clone());
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn languages_accumulate_and_newer_values_win() {
        let mut c = map(json!({"name": {"en-US": "A"}, "type": "http://example.com/t1"}));
        assert!(merge(
            &mut c,
            &map(json!({"name": {"fr": "A (fr)"}, "type": "http://example.com/t2"}))
        ));
        assert_eq!(
            Value::Object(c.clone()),
            json!({"name": {"en-US": "A", "fr": "A (fr)"}, "type": "http://example.com/t2"})
        );
        assert!(!merge(&mut c, &map(json!({"name": {"fr": "A (fr)"}}))));
    }
}
