//! Who is calling and what they may do: xAPI clients (HTTP Basic, xAPI scopes) and platform
//! tokens (Bearer JWT, roles).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use lyceum_auth::{AuthError, Principal, Role};
use lyceum_server::{ApiError, ErrorKind};
use lyceum_xapi::Statement;
use lyceum_xapi::platform::Identity;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::App;
use crate::clients::{self, ALL, Client};
use crate::error::{LrsError, Result};

/// Which statements a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Every statement.
    All,
    /// Statements whose actor is this platform person (with the person's agent key).
    Person { person: Uuid, key: String },
    /// Statements stored under this authority (agent key): `statements/read/mine`.
    Authority(String),
}

/// Which statements a caller may record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteRight {
    /// Any statement.
    Any,
    /// Only statements whose actor is this platform person.
    OwnOnly(Uuid),
    /// None.
    Refused,
}

/// A caller of the LRS, with the authority its statements are stored under.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub authority: Value,
    pub write: WriteRight,
    pub read: Option<Reach>,
}

/// The agent that vouches for statements the platform itself submits (bus, service tokens).
pub(crate) fn platform_authority(identity: &Identity) -> Value {
    json!({
        "objectType": "Agent",
        "name": "Lyceum",
        "account": {"homePage": identity.home_page(), "name": "lyceum"},
    })
}

impl Caller {
    /// The platform itself (statements from the bus).
    pub fn platform(identity: &Identity) -> Caller {
        Caller {
            authority: platform_authority(identity),
            write: WriteRight::Any,
            read: Some(Reach::All),
        }
    }

    /// An xAPI client, by its scopes.
    pub fn client(client: Client) -> Caller {
        let write = if client.has_any(&[ALL, "statements/write"]) {
            WriteRight::Any
        } else {
            WriteRight::Refused
        };
        let read = if client.has_any(&[ALL, "all/read", "statements/read"]) {
            Some(Reach::All)
        } else if client.has_any(&["statements/read/mine"]) {
            lyceum_xapi::agent::key(&client.authority).map(Reach::Authority)
        } else {
            None
        };
        Caller {
            authority: client.authority,
            write,
            read,
        }
    }

    /// A platform token's holder: administrators and services do anything; instructors and
    /// managers read everything; everyone records and reads their own statements.
    pub fn principal(p: &Principal, identity: &Identity) -> Caller {
        let Some(person) = p.person_id else {
            return Caller::platform(identity);
        };
        let authority = identity.agent(person, p.name.as_deref().unwrap_or_default());
        let (write, read) = match p.role {
            Role::Admin | Role::Service => (WriteRight::Any, Reach::All),
            Role::Manager | Role::Instructor => (WriteRight::OwnOnly(person), Reach::All),
            Role::Learner | Role::Author => {
                let key = lyceum_xapi::agent::key(&authority).unwrap_or_default();
                (WriteRight::OwnOnly(person), Reach::Person { person, key })
            }
        };
        Caller {
            authority,
            write,
            read: Some(read),
        }
    }

    /// The statements this caller may read; refused without a read scope.
    pub fn reach(&self) -> Result<Reach> {
        self.read.clone().ok_or_else(|| {
            AuthError::Forbidden(
                "reading statements needs the scope statements/read, statements/read/mine, all/read or all"
                    .into(),
            )
            .into()
        })
    }

    /// Refuses unless the caller may record every statement of the batch. `field` names a
    /// statement's position in the request (`statements[1]`, or empty for a single one).
    pub fn check_write<'a>(
        &self,
        statements: impl IntoIterator<Item = (String, &'a Statement)>,
        identity: &Identity,
    ) -> Result<()> {
        match &self.write {
            WriteRight::Any => Ok(()),
            WriteRight::Refused => Err(AuthError::Forbidden(
                "recording statements needs the scope statements/write or all".into(),
            )
            .into()),
            WriteRight::OwnOnly(person) => {
                for (field, s) in statements {
                    if identity.person_of(s.actor()) != Some(*person) {
                        let at = if field.is_empty() {
                            "actor".to_string()
                        } else {
                            format!("{field}.actor")
                        };
                        return Err(AuthError::Forbidden(format!(
                            "{at}: you may only record statements about yourself"
                        ))
                        .into());
                    }
                }
                Ok(())
            }
        }
    }
}

/// Authenticates an xAPI HTTP request: `Basic` with an xAPI client or `Bearer` with a
/// platform token.
pub(crate) async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Caller> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| unauthenticated("missing credentials: use HTTP Basic or a Bearer token"))?
        .to_str()
        .map_err(|_| unauthenticated("the Authorization header is not ASCII"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
        let (key, secret) = decoded
            .split_once(':')
            .ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
        let client = clients::verify(&app.store, key, secret)
            .await?
            .ok_or_else(|| unauthenticated("invalid xAPI credentials"))?;
        Ok(Caller::client(client))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let principal = app.verifier.verify_header(Some(value))?;
        Ok(Caller::principal(&principal, &app.identity))
    } else {
        Err(unauthenticated(
            "unsupported authorization scheme: use HTTP Basic or a Bearer token",
        ))
    }
}

fn unauthenticated(message: &str) -> LrsError {
    ApiError::new(ErrorKind::Unauthenticated, message).into()
}
