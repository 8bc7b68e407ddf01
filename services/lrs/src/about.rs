//! The About resource (`GET /xapi/about`): the versions this LRS speaks. It needs neither
//! credentials nor the version header.

use axum::response::Response;
use serde_json::json;

use crate::error::Result;
use crate::protocol::{self, XapiRequest};

/// Versions this LRS speaks.
const VERSIONS: [&str; 5] = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"];

/// `GET /xapi/about`.
pub(crate) fn get(req: XapiRequest) -> Result<Response> {
    req.params.only(&[])?;
    let body = json!({"version": VERSIONS, "extensions": {}});
    Ok(protocol::json_response(body.to_string()))
}
