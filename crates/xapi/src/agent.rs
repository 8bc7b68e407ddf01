//! Agents as an LRS finds them again: one canonical key per inverse functional identifier, so
//! "statements about this agent" is an equality lookup on one indexed column.

use serde_json::Value;

use crate::validate::{self, Invalid};

/// The canonical key of an Agent or identified Group:
///
/// - `mbox:mailto:ada@example.com`
/// - `mbox_sha1sum:<40 lower-case hex digits>`
/// - `openid:<IRI>`
/// - `account:<homePage> <name>` (a homePage is an IRI, so it holds no space)
///
/// `None` for an anonymous Group or a value without an identifier. Identifiers are compared
/// exactly, as the specification says, except the case of the hex digits of `mbox_sha1sum`.
pub fn key(agent: &Value) -> Option<String> {
    if let Some(mbox) = agent.get("mbox").and_then(Value::as_str) {
        return Some(format!("mbox:{mbox}"));
    }
    if let Some(sum) = agent.get("mbox_sha1sum").and_then(Value::as_str) {
        return Some(format!("mbox_sha1sum:{}", sum.to_ascii_lowercase()));
    }
    if let Some(openid) = agent.get("openid").and_then(Value::as_str) {
        return Some(format!("openid:{openid}"));
    }
    let account = agent.get("account")?;
    let home_page = account.get("homePage")?.as_str()?;
    let name = account.get("name")?.as_str()?;
    Some(format!("account:{home_page} {name}"))
}

/// Reads the `agent` query parameter (an Agent or identified Group, JSON) and returns its key.
pub fn filter_key(json: &str) -> Result<String, Invalid> {
    let value = parse_param("agent", json)?;
    key(&value).ok_or_else(|| {
        Invalid::new(
            "agent",
            "must be an Agent or an identified Group (one of mbox, mbox_sha1sum, openid, account)",
        )
    })
}

/// Reads a query parameter named `field` that holds an Agent (JSON), as the document and
/// agents resources take it; returns the agent and its key.
pub fn parse_agent_param(field: &str, json: &str) -> Result<(Value, String), Invalid> {
    let value = parse_param(field, json)?;
    if value.get("objectType").and_then(Value::as_str) == Some("Group") {
        return Err(Invalid::new(field, "must be an Agent, not a Group"));
    }
    let key = key(&value).ok_or_else(|| Invalid::new(field, "must identify an Agent"))?;
    Ok((value, key))
}

fn parse_param(field: &str, json: &str) -> Result<Value, Invalid> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| Invalid::new(field, format!("is not JSON: {e}")))?;
    validate::agent_or_group(field, &value)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_key_per_identifier() {
        assert_eq!(
            key(&json!({"mbox": "mailto:ada@example.com", "name": "Ada"})).as_deref(),
            Some("mbox:mailto:ada@example.com")
        );
        assert_eq!(
            key(&json!({"mbox_sha1sum": "ABCDEF0123456789ABCDEF0123456789ABCDEF01"})).as_deref(),
            Some("mbox_sha1sum:abcdef0123456789abcdef0123456789abcdef01")
        );
        assert_eq!(
            key(&json!({"openid": "http://id.example/ada"})).as_deref(),
            Some("openid:http://id.example/ada")
        );
        assert_eq!(
            key(&json!({"objectType": "Group", "account": {"homePage": "http://lyceum.test", "name": "g1"}}))
                .as_deref(),
            Some("account:http://lyceum.test g1")
        );
        assert_eq!(
            key(&json!({"objectType": "Group", "member": [{"mbox": "mailto:a@b.c"}]})),
            None
        );
    }

    #[test]
    fn the_filter_must_identify_someone() {
        assert_eq!(
            filter_key(r#"{"mbox": "mailto:a@b.c"}"#).unwrap(),
            "mbox:mailto:a@b.c"
        );
        assert_eq!(filter_key("{").unwrap_err().field, "agent");
        assert_eq!(
            filter_key(r#"{"mbox": "a@b.c"}"#).unwrap_err().field,
            "agent.mbox"
        );
        assert_eq!(
            filter_key(r#"{"objectType": "Group", "member": [{"mbox": "mailto:a@b.c"}]}"#)
                .unwrap_err()
                .field,
            "agent"
        );
    }
}
